"""The statutory rulebook: guidance editions as data, and a review's timetable computed from them.

Each edition is a TOML file in ``models/rulebooks``. A rule measures the interval between two events of a
review (``from`` and ``to``), in working days or calendar months, and names its source:

- ``limit = "within"``: the ``to`` event is due by ``from`` + count (a deadline, named by the rule's id);
- ``limit = "at_least"``: the ``to`` event may not happen before ``from`` + count (``earliest_name``), and,
  when the ``to`` event is planned, the ``from`` event is due by ``to`` - count (``latest_from_name``).

One rule says which edition a review follows (``EDITION_RULE``, quoted by ``cspr deadlines``, the README and the
documents): the edition in force on the day the local authority became aware of the incident. The review is pinned
to it when it is recorded, so a new edition never moves the deadlines of reviews already running. An edition's first
day is one named setting of its file (``[in_force]``), with the evidence for it.

Each rule says what kind of rule it is (``RuleKind``): a duty in statute or regulation, statutory guidance, the
Panel's expectation, or what happens in practice where nothing fixes a time. Documents and forms say the kind in
words; only the first two are escalated as a breach when missed, the others are shown and never chased.

A rule that can be counted from more than one event (the rapid review's 15 working days: from awareness, or from the
notification to the Panel) names each start with its own source (``[[rules.from_options]]``); the edition's own
count is its ``from``. A timetable gives the date counted from the other start too (``alternative_on``), shown beside
the due date and never chased.

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


EDITION_RULE = (
    "A review follows the edition of Working Together to Safeguard Children in force on the day the local authority "
    "became aware of the incident."
)


class RuleKind(StrEnum):
    """What a rule is, which says whether missing its date is a breach. Stored on each deadline (``Deadline.kind``,
    20 characters at most)."""

    STATUTE = "statute"  # a duty in the Children Act 2004 or SI 2018/789
    STATUTORY_GUIDANCE = (
        "statutory_guidance"  # Working Together, which partners must follow unless there is good reason
    )
    PANEL_EXPECTATION = "panel_expectation"  # the Panel's own guidance and practice: no statutory force
    PRACTICE = "practice"  # nothing fixes a time: what happens in practice (the Panel's reply, about 10 working days)

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def escalated(self) -> bool:
        """Whether a missed date is escalated and counted as a breach: a duty or statutory guidance is; the Panel's
        expectation and what happens in practice are shown, never chased (nobody in the partnership can make the
        Panel reply, and no law sets the time)."""
        return self in (RuleKind.STATUTE, RuleKind.STATUTORY_GUIDANCE)


KIND_LABELS: dict[RuleKind, str] = {
    RuleKind.STATUTE: "a duty in statute and regulation",
    RuleKind.STATUTORY_GUIDANCE: "statutory guidance",
    RuleKind.PANEL_EXPECTATION: "the Panel's expectation",
    RuleKind.PRACTICE: "what happens in practice (no time is fixed)",
}

# The kinds stored on deadlines before each rule's kind was named, read until the deadline is next counted again:
# "statutory" covered the Act, the Regulations and Working Together alike (escalated); "expectation" was never
# escalated.
LEGACY_KINDS: dict[str, tuple[str, bool]] = {
    "statutory": ("statutory (the Act, the Regulations or Working Together)", True),
    "expectation": ("an expectation, not statutory", False),
}

# every stored ``Deadline.kind`` whose missed date is a breach: what the sweep escalates and the compliance report
# counts as overdue
BREACH_KINDS: frozenset[str] = frozenset(
    {k.value for k in RuleKind if k.escalated} | {k for k, (_, escalated) in LEGACY_KINDS.items() if escalated}
)


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
class StartOption:
    """One event a rule can be counted from, with the source that counts it so."""

    event: Event
    source: str
    note: str = (
        ""  # how the date counted from it reads beside the due date: "an earlier date a partnership may aim for"
    )


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
    starts: tuple[StartOption, ...] = ()  # the events it can be counted from, each with its source
    earliest_name: str | None = None
    latest_from_name: str | None = None
    note: str = ""
    applies_to: tuple[str, ...] = (SERIOUS,)

    @property
    def from_options(self) -> tuple[Event, ...]:
        """The events this rule can be counted from (none: only ``from_event``)."""
        return tuple(option.event for option in self.starts)

    def start(self, event: Event) -> StartOption:
        for option in self.starts:
            if option.event is event:
                return option
        raise KeyError(f"{self.id} is not counted from {event}")

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
    # the same rule counted from its other start (the rapid review's from awareness, when it counts from the
    # notification), if that event has happened: shown beside the due date, never chased
    alternative_basis: Event | None = None
    alternative_on: dt.date | None = None

    @property
    def source(self) -> str:
        """The rule's source, and, for a rule with a choice of start, the source of the start it was counted from."""
        if not self.rule.from_options or self.basis not in self.rule.from_options:
            return self.rule.source
        return f"{self.rule.source}; counted from {EVENT_LABELS[self.basis]}: {self.rule.start(self.basis).source}"

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
    in_force_note: str = ""  # the evidence for its first day, and what could not be confirmed about it
    reissued: tuple[dt.date, ...] = ()  # days the same edition was published again, which move nothing
    # what each kind of rule rests on in this edition, as documents and forms say it: "Working Together ... 2023"
    kind_sources: Mapping[RuleKind, str] = field(default_factory=dict)
    by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            raise KeyError(f"{self.id} has no rule {rule_id!r}") from None

    @property
    def rapid_review_count(self) -> Event:
        """Where this edition counts the rapid review's working days from (from awareness in an edition with no such
        clock: nothing is counted then anyway)."""
        rapid = self.by_id.get(Entry.RAPID_REVIEW)
        return Event.AWARE_ON if rapid is None else rapid.from_event

    def kind_words(self, kind: str) -> str:
        """A deadline's kind in words, from its stored value: "statutory guidance (Working Together to Safeguard
        Children 2023)". A value stored before each rule's kind was named reads as it was meant then."""
        if kind in LEGACY_KINDS:
            return LEGACY_KINDS[kind][0]
        known = RuleKind(kind)
        basis = self.kind_sources.get(known)
        return f"{known.label} ({basis})" if basis else known.label

    def alternative_words(self, rule_id: str, basis: str, on: str) -> str:
        """The date counted from a rule's other start, in words: "Fri 8 Jan 2027 counted from the local authority
        becoming aware: an earlier date a partnership may aim for"."""
        event = Event(basis)
        words = f"{on} counted from {EVENT_LABELS[event]}"
        rule = self.by_id.get(rule_id)
        note = rule.start(event).note if rule is not None and event in rule.from_options else ""
        return f"{words}: {note}" if note else words

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
        rapid_review_from: Event | None = None,
        applies: frozenset[str] = frozenset({SERIOUS}),
    ) -> list[TimetableEntry]:
        """Every date the rulebook can compute from the events that have happened (``events``) and,
        for "at least" rules counted backwards, from the ones that are only planned (``planned``).

        A rule whose starting event has not happened yet gives no entry: nothing is guessed. Only the rules that
        apply to the review (``applies``: ``SERIOUS`` and its kind of notification; see :meth:`applying`) count.
        ``rapid_review_from`` is where a rule with a choice of start counts from (None: the edition's own count);
        the date counted from its other start, when that event has happened, comes beside it.
        """
        calendar = calendar_for(tuple(sorted(closure_days)))
        entries: list[TimetableEntry] = []
        for rule in self.rules:
            if not applies & set(rule.applies_to):
                continue
            start = rule.from_event
            if rule.from_options and rapid_review_from is not None:
                if rapid_review_from not in rule.from_options:
                    raise RulebookError(
                        f"{rule.title} can be counted from {', '.join(rule.from_options)}, not {rapid_review_from}"
                    )
                start = rapid_review_from
            if start in events:
                due = as_date(rule.offset(np.datetime64(events[start], "D"), calendar))
                provisional = rule.provisional(events[start], due, calendar)
                if rule.limit is Limit.WITHIN:
                    other = [e for e in rule.from_options if e is not start and e in events]
                    alternative = (
                        as_date(rule.offset(np.datetime64(events[other[0]], "D"), calendar)) if other else None
                    )
                    entries.append(
                        TimetableEntry(
                            rule.id,
                            rule,
                            due,
                            start,
                            events[start],
                            "due by",
                            provisional,
                            other[0] if other else None,
                            alternative,
                        )
                    )
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
        in_force = raw["in_force"]
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
                starts=tuple(
                    StartOption(Event(o["event"]), o["source"], o.get("note", "")) for o in r.get("from_options", ())
                ),
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
            in_force_from=in_force["from"],
            health_partner=raw["health_partner"],
            sources=sources,
            rules=rules,
            notifications=notifications,
            path=path,
            in_force_note=in_force["evidence"],
            reissued=tuple(in_force.get("reissued", ())),
            kind_sources={RuleKind(k): v for k, v in raw.get("kinds", {}).items()},
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
        for option in rule.starts:
            if not _cites(option.source, edition):
                raise RulebookError(f"{edition.path.name}: rule {rule.id}'s start {option.event} cites no source")
        if rule.limit is Limit.WITHIN and (rule.earliest_name or rule.latest_from_name):
            raise RulebookError(f"{edition.path.name}: rule {rule.id} names dates only an at_least rule gives")
    if not isinstance(edition.in_force_from, dt.date) or not edition.in_force_note.strip():
        raise RulebookError(f"{edition.path.name}: [in_force] needs a first day (from) and its evidence")
    if any(not isinstance(day, dt.date) or day < edition.in_force_from for day in edition.reissued):
        raise RulebookError(f"{edition.path.name}: a re-issue is dated before the edition's first day")
    missing = set(RuleKind) - set(edition.kind_sources)
    if missing:
        raise RulebookError(f"{edition.path.name}: [kinds] does not say what {sorted(missing)} rest on")
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
