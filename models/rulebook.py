"""The statutory rulebook: guidance editions as data, and a review's timetable computed from them.

Each edition is a TOML file in ``models/rulebooks``. A rule measures the interval between two events of a
review (``from`` and ``to``), in working days or calendar months, and names its source:

- ``limit = "within"``: the ``to`` event is due by ``from`` + count (a deadline, named by the rule's id);
- ``limit = "at_least"``: the ``to`` event may not happen before ``from`` + count (``earliest_name``), and,
  when the ``to`` event is planned, the ``from`` event is due by ``to`` - count (``latest_from_name``).

A review is pinned to the edition in force when it was notified, so a new edition never moves the
deadlines of reviews already running.

An edition carries only the deadlines it defines. The code names the timetable entries it looks up (``Entry``), but
no edition has to give all of them: a new step's deadline goes into the edition that brings it, and the editions
before it stay as they are. Under an edition that does not define an entry, a review simply has no such deadline:
nothing is shown for it above a form or in a document, the sweep has nothing to chase, and the compliance report
does not count it (``Edition.defines`` says which entries an edition gives).

Each edition also says, for every kind of notification the local authority makes (``[[notifications]]``), who is
told, which rule sets the time, and what follows: a rapid review, a rapid review only if the serious incident
criteria also hold, or nothing. A rule applies to the serious incident process (``applies_to = ["serious"]``, the
default) or to the notification of one kind only.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.calendar import WorkingCalendar, add_calendar_months, as_date, calendar_for
from models.recipients import RECIPIENTS

RULEBOOK_DIR = Path(__file__).resolve().parent / "rulebooks"


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_MONTHS = "calendar_months"


class Limit(StrEnum):
    WITHIN = "within"
    AT_LEAST = "at_least"


class RuleKind(StrEnum):
    STATUTORY = "statutory"  # the Act, the Regulations or Working Together (statutory guidance)
    EXPECTATION = "expectation"  # what happens in practice; shown, never escalated as a breach


class Event(StrEnum):
    """Dates in a review's life that rules measure from and to."""

    AWARE_ON = "aware_on"
    NOTIFIED_ON = "notified_on"
    PARTNERS_TOLD_ON = "partners_told_on"
    RAPID_REVIEW_SENT_ON = "rapid_review_sent_on"
    PANEL_RESPONDED_ON = "panel_responded_on"
    LCSPR_DECIDED_ON = "lcspr_decided_on"
    FINAL_REPORT_SENT_ON = "final_report_sent_on"
    PUBLISHED_ON = "published_on"
    WITHDRAWN_ON = "withdrawn_on"
    ACTIONS_REPORTED_ON = "actions_reported_on"


EVENT_LABELS: dict[Event, str] = {
    Event.AWARE_ON: "the local authority becoming aware",
    Event.NOTIFIED_ON: "the notification to the Panel",
    Event.PARTNERS_TOLD_ON: "telling the local partners",
    Event.RAPID_REVIEW_SENT_ON: "sending the rapid review",
    Event.PANEL_RESPONDED_ON: "the Panel's response",
    Event.LCSPR_DECIDED_ON: "the decision to start a local review",
    Event.FINAL_REPORT_SENT_ON: "sending the final report",
    Event.PUBLISHED_ON: "publication",
    Event.WITHDRAWN_ON: "withdrawal",
    Event.ACTIONS_REPORTED_ON: "reporting on the actions",
}


class NotificationKind(StrEnum):
    """Every kind of notification the local authority makes through the national notification route."""

    SERIOUS_INCIDENT = "serious_incident"  # abuse or neglect known or suspected; died or seriously harmed
    OUTSIDE_ENGLAND = "outside_england"  # a child normally resident here, died or seriously harmed outside England
    LOOKED_AFTER_DEATH = "looked_after_death"  # the death of a looked-after child, whatever the cause
    CARE_LEAVER_DEATH = "care_leaver_death"  # the death of a care leaver up to and including age 24


class Follows(StrEnum):
    """What follows a notification."""

    RAPID_REVIEW = "rapid_review"
    RAPID_REVIEW_IF_CRITERIA = "rapid_review_if_criteria"  # only if it is also a serious incident


SERIOUS = "serious"  # the rules of the serious incident process: notification, rapid review and what follows


@dataclass(frozen=True)
class NotificationRule:
    kind: NotificationKind
    title: str
    tell: tuple[str, ...]  # who is told (outbox recipients: models/messages.py)
    deadline: str  # the id of the rule that sets when
    follows: Follows
    source: str
    note: str = ""


class Entry(StrEnum):
    """The timetable entries the code names: a "within" rule's own deadline (its id), or the dates an "at least" rule
    gives (its ``earliest_name`` and ``latest_from_name``).

    An edition need not define each of them (``Edition.defines``): whatever looks one up copes with its absence, as
    with an entry whose starting event has not happened yet. Each is defined by at least one edition
    (tests/unit/test_rulebook.py), so a name the code looks up is never one no rulebook gives."""

    NOTIFY_PANEL = "notify_panel"
    NOTIFY_PARTNERS = "notify_partners"
    RAPID_REVIEW = "rapid_review"
    PANEL_RESPONSE = "panel_response"
    LCSPR_PUBLICATION = "lcspr_publication"
    PUBLISH_NOT_BEFORE = "publish_not_before"
    SEND_FINAL_REPORT_BY = "send_final_report_by"
    KEEP_PUBLISHED_UNTIL = "keep_published_until"


class RulebookError(ValueError):
    """An edition file is malformed, or no edition covers a date."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    from_event: Event
    to_event: Event
    limit: Limit
    count: int
    unit: Unit
    kind: RuleKind
    source: str
    from_options: tuple[Event, ...] = ()
    earliest_name: str | None = None
    latest_from_name: str | None = None
    note: str = ""
    applies_to: tuple[str, ...] = (SERIOUS,)

    def offset(
        self, dates: npt.ArrayLike, calendar: WorkingCalendar, *, backward: bool = False
    ) -> npt.NDArray[np.datetime64]:
        """Vectorised: ``dates`` + count (or - count when ``backward``) in this rule's unit."""
        n = -self.count if backward else self.count
        if self.unit is Unit.WORKING_DAYS:
            return calendar.add_working_days(dates, n)
        return add_calendar_months(dates, n)

    def provisional(self, start: dt.date, end: dt.date, calendar: WorkingCalendar) -> bool:
        """Whether the count from ``start`` to ``end`` rests on holidays GOV.UK has not published yet (calendar
        months do not count holidays, so they never do)."""
        return self.unit is Unit.WORKING_DAYS and calendar.is_provisional(start, end)


@dataclass(frozen=True)
class TimetableEntry:
    """One computed date of a review's timetable."""

    name: str  # the deadline's key, e.g. "notify_panel" or "send_final_report_by" (an Entry where the code names it)
    rule: Rule
    due_on: dt.date
    basis: Event  # the event the date was counted from
    basis_on: dt.date
    meaning: str  # "due by", "not before" or "until at least"
    # counted over a day past GOV.UK's published bank holidays: a one-off holiday may still move it
    provisional: bool = False

    def explain(self) -> str:
        """How the date was counted, in words: "15 working days from the local authority becoming aware (...)"."""
        amount = f"{self.rule.count} {self.rule.unit.value.replace('_', ' ')}"
        relation = f"at least {amount} before" if self.name == self.rule.latest_from_name else f"{amount} from"
        return f"{relation} {EVENT_LABELS[self.basis]} ({self.basis_on:%d %b %Y})"


@dataclass(frozen=True)
class Edition:
    id: str
    title: str
    in_force_from: dt.date
    health_partner: str
    sources: Mapping[str, str]
    rules: tuple[Rule, ...]
    notifications: Mapping[NotificationKind, NotificationRule]
    path: Path = field(compare=False)
    in_force_note: str = ""  # what could not be confirmed about the date it took effect
    by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            raise KeyError(f"{self.id} has no rule {rule_id!r}") from None

    @property
    def entry_names(self) -> frozenset[str]:
        """Every name a timetable of this edition can hold: each "within" rule's id, and the names of the dates each
        "at least" rule gives."""
        return frozenset(_names_given(self.rules))

    def defines(self, entry: str) -> bool:
        """Whether this edition gives the timetable entry at all (a review under it may still not have it yet: its
        starting event has not happened, or the rule does not apply to the review's kind of notification)."""
        return entry in self.entry_names

    def timetable(
        self,
        events: Mapping[Event, dt.date],
        *,
        planned: Mapping[Event, dt.date] | None = None,
        closure_days: tuple[dt.date, ...] = (),
        rapid_review_from: Event = Event.AWARE_ON,
        applies: frozenset[str] = frozenset({SERIOUS}),
    ) -> list[TimetableEntry]:
        """Every date the rulebook can compute from the events that have happened (``events``) and,
        for "at least" rules counted backwards, from the ones that are only planned (``planned``).

        A rule whose starting event has not happened yet gives no entry: nothing is guessed. Only the rules that
        apply to the review (``applies``: ``SERIOUS`` and its kind of notification; see :meth:`applying`) count.
        """
        calendar = calendar_for(tuple(sorted(closure_days)))
        entries: list[TimetableEntry] = []
        for rule in self.rules:
            if not applies & set(rule.applies_to):
                continue
            start = rule.from_event
            if rule.from_options:
                if rapid_review_from not in rule.from_options:
                    raise RulebookError(
                        f"{rule.title} can be counted from {', '.join(rule.from_options)}, not {rapid_review_from}"
                    )
                start = rapid_review_from
            if start in events:
                due = as_date(rule.offset(np.datetime64(events[start], "D"), calendar))
                provisional = rule.provisional(events[start], due, calendar)
                if rule.limit is Limit.WITHIN:
                    entries.append(TimetableEntry(rule.id, rule, due, start, events[start], "due by", provisional))
                elif rule.earliest_name:
                    meaning = "not before" if rule.to_event is Event.PUBLISHED_ON else "until at least"
                    entries.append(
                        TimetableEntry(rule.earliest_name, rule, due, start, events[start], meaning, provisional)
                    )
            if rule.limit is Limit.AT_LEAST and rule.latest_from_name and planned and rule.to_event in planned:
                basis_on = planned[rule.to_event]
                due = as_date(rule.offset(np.datetime64(basis_on, "D"), calendar, backward=True))
                provisional = rule.provisional(basis_on, due, calendar)
                entries.append(
                    TimetableEntry(rule.latest_from_name, rule, due, rule.to_event, basis_on, "due by", provisional)
                )
        return entries

    def applying(self, kind: NotificationKind, rapid_review_follows: bool) -> frozenset[str]:
        """The rules a review of this kind follows: its notification's, and the serious incident process's when a
        rapid review follows."""
        return frozenset({kind.value} | ({SERIOUS} if rapid_review_follows else set()))


def _names_given(rules: tuple[Rule, ...]) -> list[str]:
    """The timetable entries the rules give, in order, repeats kept (a repeat is refused when an edition loads)."""
    names: list[str] = []
    for rule in rules:
        if rule.limit is Limit.WITHIN:
            names.append(rule.id)
        else:
            names += [n for n in (rule.earliest_name, rule.latest_from_name) if n]
    return names


def parse_edition(path: Path) -> Edition:
    """One edition file, checked (:class:`RulebookError` if it is malformed)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        sources: dict[str, str] = dict(raw["sources"])
        rules = tuple(
            Rule(
                id=r["id"],
                title=r["title"],
                from_event=Event(r["from"]),
                to_event=Event(r["to"]),
                limit=Limit(r["limit"]),
                count=int(r["count"]),
                unit=Unit(r["unit"]),
                kind=RuleKind(r["kind"]),
                source=r["source"],
                from_options=tuple(Event(e) for e in r.get("from_options", ())),
                earliest_name=r.get("earliest_name"),
                latest_from_name=r.get("latest_from_name"),
                note=r.get("note", ""),
                applies_to=tuple(r.get("applies_to", (SERIOUS,))),
            )
            for r in raw["rules"]
        )
        notifications = {
            NotificationKind(n["kind"]): NotificationRule(
                kind=NotificationKind(n["kind"]),
                title=n["title"],
                tell=tuple(n["tell"]),
                deadline=n["deadline"],
                follows=Follows(n["follows"]),
                source=n["source"],
                note=n.get("note", ""),
            )
            for n in raw["notifications"]
        }
        edition = Edition(
            id=raw["edition"],
            title=raw["title"],
            in_force_from=raw["in_force_from"],
            health_partner=raw["health_partner"],
            sources=sources,
            rules=rules,
            notifications=notifications,
            path=path,
            in_force_note=raw.get("in_force_note", ""),
        )
    except (KeyError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise RulebookError(f"rulebook {path.name} is malformed: {exc}") from exc
    _validate(edition)
    return edition


def _validate(edition: Edition) -> None:
    ids = [r.id for r in edition.rules]
    if len(ids) != len(set(ids)):
        raise RulebookError(f"{edition.path.name}: duplicate rule ids")
    for rule in edition.rules:
        if not rule.source.strip():
            raise RulebookError(f"{edition.path.name}: rule {rule.id} names no source")
        if not _cites(rule.source, edition):
            raise RulebookError(f"{edition.path.name}: rule {rule.id} cites none of {sorted(edition.sources)}")
        if rule.count <= 0:
            raise RulebookError(f"{edition.path.name}: rule {rule.id} must count forward a positive amount")
        if rule.from_options and rule.from_event not in rule.from_options:
            raise RulebookError(f"{edition.path.name}: rule {rule.id}'s default start is not among its options")
        if rule.limit is Limit.WITHIN and (rule.earliest_name or rule.latest_from_name):
            raise RulebookError(f"{edition.path.name}: rule {rule.id} names dates only an at_least rule gives")
    names = _names_given(edition.rules)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RulebookError(f"{edition.path.name}: two rules give the timetable entries {', '.join(repeated)}")
    kinds = {SERIOUS, *NotificationKind}
    for rule in edition.rules:
        if not set(rule.applies_to) <= kinds:
            raise RulebookError(f"{edition.path.name}: rule {rule.id} applies to an unknown kind {rule.applies_to}")
    for kind in NotificationKind:
        notice = edition.notifications.get(kind)
        if notice is None:
            raise RulebookError(f"{edition.path.name}: no [[notifications]] entry for {kind.value}")
        if notice.deadline not in edition.by_id:
            raise RulebookError(f"{edition.path.name}: {kind.value} is timed by an unknown rule {notice.deadline}")
        if not edition.defines(notice.deadline):  # the step that records it shows this entry as its deadline
            raise RulebookError(f"{edition.path.name}: {kind.value} is timed by {notice.deadline}, not a deadline")
        if not _cites(notice.source, edition):
            raise RulebookError(f"{edition.path.name}: the {kind.value} notification cites no source")
        unknown = set(notice.tell) - set(RECIPIENTS)
        if unknown:
            raise RulebookError(f"{edition.path.name}: the {kind.value} notification tells unknown {sorted(unknown)}")


def _cites(source: str, edition: Edition) -> bool:
    return bool({token.strip(";,") for token in source.split()} & set(edition.sources))


def load_editions(directory: Path) -> tuple[Edition, ...]:
    """Every edition file in ``directory``, checked, oldest first."""
    found = sorted((parse_edition(p) for p in directory.glob("*.toml")), key=lambda e: e.in_force_from)
    if not found:
        raise RulebookError(f"no rulebook editions in {directory}")
    return tuple(found)


@lru_cache(maxsize=1)
def editions() -> tuple[Edition, ...]:
    """Every edition in ``RULEBOOK_DIR``, oldest first."""
    return load_editions(RULEBOOK_DIR)


def edition(edition_id: str) -> Edition:
    for ed in editions():
        if ed.id == edition_id:
            return ed
    known = ", ".join(e.id for e in editions())
    raise RulebookError(f"unknown guidance edition {edition_id!r}; known editions: {known}")


def edition_in_force(on: dt.date) -> Edition:
    """The edition in force on a date: the newest whose ``in_force_from`` is on or before it."""
    current = [e for e in editions() if e.in_force_from <= on]
    if not current:
        first = editions()[0]
        raise RulebookError(
            f"{on.isoformat()} is before the child safeguarding practice review regime began "
            f"({first.title}, in force from {first.in_force_from.isoformat()})"
        )
    return current[-1]
