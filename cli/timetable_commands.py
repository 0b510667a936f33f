"""``cspr deadlines``: a review's statutory timetable from its dates, each deadline with the rule and source it
comes from. It reads the rulebooks alone: it answers without a database or Prefect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column

from cli.common import console, fail, parse_date
from cli.listing import print_listing

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
        typer.Option(help="Guidance edition, e.g. wt2023; default: the one in force on --aware-on."),
    ] = None,
    notified_on: Annotated[str | None, typer.Option(help="Date the Panel was notified, if it has been.")] = None,
    rapid_review_from: Annotated[
        RapidReviewFrom, typer.Option(help="Count the rapid review's 15 working days from awareness or notification.")
    ] = RapidReviewFrom.aware,
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
    """Print the statutory timetable of a review, with the source of each rule."""
    from models import rulebook
    from models.bank_holidays import published_list
    from models.calendar import PROVISIONAL_NOTE, CalendarRangeError
    from models.rulebook import Entry, Event, RulebookError

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
    start = Event.AWARE_ON if rapid_review_from is RapidReviewFrom.aware else Event.NOTIFIED_ON
    if start is Event.NOTIFIED_ON and notified is None:
        raise fail("counting the rapid review from the notification needs --notified-on")
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
    except (CalendarRangeError, RulebookError) as exc:
        raise fail(str(exc)) from None

    def as_object(shown: Sequence[TimetableEntry]) -> dict[str, object]:
        return {
            "edition": book.id,
            "aware_on": aware.isoformat(),
            "deadlines": {e.name: e.due_on.isoformat() for e in shown},
            "provisional": [e.name for e in shown if e.provisional],
            "bank_holidays_published_to": published_list().last_year,
        }

    def cells(e: TimetableEntry) -> tuple[str, str, str, str]:
        when = f"{e.meaning} {e.due_on:%a %d %b %Y}" + ("\n[yellow]provisional[/]" if e.provisional else "")
        return e.rule.title, when, e.explain(), e.rule.source

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
            Column("Source", ratio=2),
        ),
        cells=cells,
    )
    if as_json:
        return
    if any(e.provisional for e in shown):
        console.print(f"[yellow]A provisional date is {PROVISIONAL_NOTE}.[/]")
    console.print(
        "Working days: Monday to Friday, less the bank holidays of England and Wales (with substitute days), "
        "Christmas Day and Good Friday" + (f", and {len(closures)} local closure day(s)" if closures else "") + ". "
        "The awareness date is day 0.",
        style="dim",
    )
