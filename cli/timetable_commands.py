"""``cspr deadlines``: a review's statutory timetable from its dates, each deadline with the rule, its kind and the
source it comes from. It reads the rulebooks alone: it answers without a database or Prefect. Which edition applies
is the rulebook's one rule (``EDITION_RULE``), quoted in the help and the output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column

from cli.common import console, fail, parse_date
from cli.listing import print_listing
from models.rulebook import EDITION_RULE

if TYPE_CHECKING:
    from models.rulebook import TimetableEntry


class RapidReviewFrom(StrEnum):
    aware = "aware"
    notification = "notification"


def deadlines(
    aware_on: Annotated[str, typer.Option(help="Date the local authority became aware of the incident (day 0).")],
    # any edition the rulebook files hold (checked when the timetable is computed): a new edition file needs no
    # change here, and the rulebooks are read only by the command that needs them
    edition: Annotated[
        str | None,
        typer.Option(help=f"Guidance edition, e.g. wt2023. Default, by the one rule: {EDITION_RULE}"),
    ] = None,
    notified_on: Annotated[str | None, typer.Option(help="Date the Panel was notified, if it has been.")] = None,
    rapid_review_from: Annotated[
        RapidReviewFrom | None,
        typer.Option(
            help="Count the rapid review's 15 working days from awareness or from the notification to the Panel. "
            "Default: as the edition counts (from awareness under wt2018, from the notification since wt2023); the "
            "date counted the other way is shown beside it."
        ),
    ] = None,
    lcspr_decided_on: Annotated[
        str | None, typer.Option(help="Date the partners decided to start a local review (6 months run from it).")
    ] = None,
    publish_on: Annotated[
        str | None,
        typer.Option(help="Planned publication date (the final report must go at least 7 working days before)."),
    ] = None,
    closure_day: Annotated[
        list[str] | None, typer.Option(help="An extra local closure day (repeatable), YYYY-MM-DD.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Print the statutory timetable of a review, with the kind and source of each rule."""
    from models import rulebook
    from models.bank_holidays import published_list
    from models.calendar import PROVISIONAL_NOTE, CalendarRangeError
    from models.rulebook import EVENT_LABELS, Entry, Event, RulebookError

    # only what follows from the dates given; an event's own follow-ups (retention) need it to happen
    wanted = {
        Entry.NOTIFY_PANEL,
        Entry.NOTIFY_PARTNERS,
        Entry.RAPID_REVIEW,
        Entry.LCSPR_PUBLICATION,
        Entry.SEND_FINAL_REPORT_BY,
    }

    aware = parse_date(aware_on, "--aware-on")
    events: dict[Event, dt.date] = {Event.AWARE_ON: aware}
    notified = parse_date(notified_on, "--notified-on")
    if notified is not None:
        if notified < aware:
            raise fail("--notified-on is before --aware-on: the Panel cannot be notified before the LA knew")
        events[Event.NOTIFIED_ON] = notified
    chosen = {RapidReviewFrom.aware: Event.AWARE_ON, RapidReviewFrom.notification: Event.NOTIFIED_ON, None: None}
    start = chosen[rapid_review_from]
    decided = parse_date(lcspr_decided_on, "--lcspr-decided-on")
    if decided is not None:
        events[Event.LCSPR_DECIDED_ON] = decided
    planned: dict[Event, dt.date] = {}
    publish = parse_date(publish_on, "--publish-on")
    if publish is not None:
        planned[Event.PUBLISHED_ON] = publish
    closures = tuple(parse_date(c, "--closure-day") for c in closure_day or ())

    try:
        book = rulebook.edition(edition) if edition else rulebook.edition_in_force(aware)
        entries = book.timetable(events, planned=planned, closure_days=closures, rapid_review_from=start)
        rapid = book.by_id.get(Entry.RAPID_REVIEW)
        counted_from = start or (rapid.from_event if rapid else None)
        # the rapid review counted from an event that has not happened (the notification): no date yet, but the date
        # counted from the other start is shown, as beside a due date
        waiting: dict[str, tuple[Event, dt.date]] = {}
        if rapid is not None and counted_from is not None and counted_from not in events:
            other = [e for e in rapid.from_options if e in events]
            if other:
                shown_other = book.timetable(events, closure_days=closures, rapid_review_from=other[0])
                waiting = {e.name: (e.basis, e.due_on) for e in shown_other if e.name == Entry.RAPID_REVIEW}
    except (CalendarRangeError, RulebookError) as exc:
        raise fail(str(exc)) from None
    alternatives = {
        e.name: (e.alternative_basis, e.alternative_on)
        for e in entries
        if e.alternative_basis is not None and e.alternative_on is not None
    } | waiting

    def beside(name: str) -> str:
        basis, on = alternatives[name]
        return book.alternative_words(rapid.id if rapid else name, basis.value, f"{on:%a %d %b %Y}")

    def as_object(shown: Sequence[TimetableEntry]) -> dict[str, object]:
        return {
            "edition": book.id,
            "edition_in_force_from": book.in_force_from.isoformat(),
            "edition_rule": EDITION_RULE,
            "aware_on": aware.isoformat(),
            "deadlines": {e.name: e.due_on.isoformat() for e in shown},
            "kinds": {e.name: e.rule.kind.value for e in shown},
            "rapid_review_counted_from": counted_from.value if counted_from else None,
            # the same rule counted from its other start: shown beside the due date, never a deadline
            "alternatives": {
                name: {"counted_from": basis.value, "on": on.isoformat()} for name, (basis, on) in alternatives.items()
            },
            "provisional": [e.name for e in shown if e.provisional],
            "bank_holidays_published_to": published_list().last_year,
        }

    def cells(e: TimetableEntry) -> tuple[str, str, str, str]:
        when = f"{e.meaning} {e.due_on:%a %d %b %Y}" + ("\n[yellow]provisional[/]" if e.provisional else "")
        counted = e.explain() + (f"\n[dim]Beside it: {beside(e.name)}.[/]" if e.name in alternatives else "")
        return e.rule.title, when, counted, f"{book.kind_words(e.rule.kind)}\n[dim]{e.source}[/]"

    shown = [e for e in entries if e.name in wanted]
    print_listing(
        shown,
        as_json=as_json,
        data=as_object,
        title=f"Statutory timetable under {book.title}",
        columns=(
            Column("What", ratio=3),
            Column("Date", no_wrap=True),
            Column("Counted", ratio=3),
            Column("Kind and source", ratio=2),
        ),
        cells=cells,
    )
    if as_json:
        return
    console.print(f"{book.title}, in force from {book.in_force_from:%d %B %Y}. {EDITION_RULE}")
    if rapid is not None and Entry.RAPID_REVIEW in waiting and counted_from is not None:
        console.print(
            f"{rapid.title}: counted from {EVENT_LABELS[counted_from]}, which has not happened yet (give "
            f"--notified-on); {beside(Entry.RAPID_REVIEW)}."
        )
    if any(e.provisional for e in shown):
        console.print(f"[yellow]A provisional date is {PROVISIONAL_NOTE}.[/]")
    console.print(
        "Working days: Monday to Friday, less the bank holidays of England and Wales (with substitute days), "
        "Christmas Day and Good Friday" + (f", and {len(closures)} local closure day(s)" if closures else "") + ". "
        "The awareness date is day 0.",
        style="dim",
    )
