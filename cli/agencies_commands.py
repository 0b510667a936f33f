"""``cspr agencies``: each partnership's register of agencies (asked for information, given actions), with dates, and
the working days they are given to return their information."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Column

from cli.common import console, operator, parse_date, register_change
from cli.listing import print_listing

if TYPE_CHECKING:
    from models.agencies import AgencyChange, AgencyRow

app = typer.Typer(
    help="Each partnership's agencies (relevant agencies, and others it names) and who answers for them, with dates.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    """The kinds of agency as the command line names them (models.tables.AgencyKind, shorter)."""

    RELEVANT = "relevant"  # of a kind in the Schedule to SI 2018/789
    NAMED = "named"  # one the partnership's arrangements name besides


@app.command("list")
def agencies_list(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership (its code).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Every agency, the dates it is one of the partnership's, and who answers for it."""
    from models.agencies import agencies

    with register_change() as session:
        rows = agencies(session, partnership)
    print_listing(
        rows,
        as_json=as_json,
        empty="No agencies recorded yet: add them with cspr agencies add.",
        columns=("partnership", "agency", "kind", "from", "to", Column("contacts", overflow="fold")),
        cells=_agency_cells,
    )


def _agency_cells(r: AgencyRow) -> tuple[str, ...]:
    from models.tables import AgencyKind

    kind = Kind.RELEVANT if r.kind == AgencyKind.RELEVANT else Kind.NAMED  # as --kind names it; --json says it whole
    return (r.partnership, r.name, kind.value, str(r.from_on), str(r.to_on or "now"), "\n".join(r.contacts))


@app.command("add")
def agencies_add(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    name: Annotated[str, typer.Option(help='The agency\'s name, e.g. "Northshire Primary School".')],
    kind: Annotated[
        Kind,
        typer.Option(
            help="relevant: of a kind in the Schedule to SI 2018/789 (a school, a GP practice, probation...); "
            "named: one the partnership's arrangements name besides (housing, say)."
        ),
    ] = Kind.RELEVANT,
    from_on: Annotated[
        str | None, typer.Option("--from", help="The first day it is one of the partnership's, YYYY-MM-DD (today).")
    ] = None,
    partner: Annotated[
        str | None,
        typer.Option(
            help='The safeguarding partner it answers to ("local authority", "police" or "health"): told when its '
            "action is overdue."
        ),
    ] = None,
) -> None:
    """Record an agency of a partnership, from a date: it can be asked for information and given actions."""
    from models.agencies import add_agency
    from models.calendar import today_in_england
    from models.roles import Role
    from models.tables import AgencyKind

    first = parse_date(from_on, "--from") or today_in_england()
    kinds = {Kind.RELEVANT: AgencyKind.RELEVANT, Kind.NAMED: AgencyKind.NAMED}
    with register_change() as session:
        answers_to = Role.from_label(partner) if partner else None
        agency = add_agency(session, partnership, name, kinds[kind], first, by=operator(), partner=answers_to)
    console.print(f"{agency.name} is one of {partnership}'s agencies ({agency.kind.value}) from {first:%d %B %Y}.")


@app.command("end")
def agencies_end(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    name: Annotated[str, typer.Option(help="The agency's name.")],
    last_day: Annotated[str, typer.Option(help="Its last day as one of the partnership's, YYYY-MM-DD (included).")],
    with_open_work: Annotated[
        bool,
        typer.Option(
            "--with-open-work",
            help="End it even though requests to it or actions of it are still open: they are recorded with its "
            "ending, and the coordinator must close each.",
        ),
    ] = False,
) -> None:
    """An agency stops being one of the partnership's after a day: it is asked nothing more and its contacts no longer
    answer for it. Refused while a request to it waits for its return or an action of it is open (the refusal lists
    them): close each on its page first, or end it anyway with --with-open-work."""
    from models.agencies import end_agency

    last = parse_date(last_day, "--last-day")
    with register_change() as session:
        ended = end_agency(session, partnership, name, last, by=operator(), with_open_work=with_open_work)
    console.print(f"{ended.agency.name} is one of {partnership}'s agencies until {last:%d %B %Y}, that day included.")
    if ended.left_open:
        console.print(
            f"[bold yellow]Left open:[/] {', '.join(ended.left_open)} (recorded with its ending). The coordinator must "
            "deal with each: close a request as not needed, or have the partnership close an action, with a reason, "
            "on its page."
        )


@app.command("information-days")
def agencies_information_days(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    days: Annotated[int, typer.Argument(help="Working days, from 1 to 30.")],
) -> None:
    """How many working days an agency is given to return its information for a rapid review (5 unless changed).
    This is the partnership's own expectation, not a statutory deadline: neither the Regulations nor Working Together
    set one. Requests made from now on are due that many working days after they are made."""
    from models.agencies import set_information_days

    with register_change() as session:
        found = set_information_days(session, partnership, days, by=operator())
    if found.changed:
        console.print(
            f"{found.partnership} gives agencies {days} working day(s) to return their information (was {found.was})."
        )
    else:
        console.print(f"{found.partnership} gives agencies {days} working day(s) already: nothing changed.")


@app.command("history")
def agencies_history(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership (its code).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """The register's history of agencies, oldest first: each agency added or ended (with any work it left open) and
    each change of the working days agencies have to return their information, with when and who."""
    from models.agencies import agency_history

    with register_change() as session:
        rows = agency_history(session, partnership)
    print_listing(
        rows,
        as_json=as_json,
        empty="Nothing recorded about agencies yet.",
        columns=("when (UTC)", "partnership", Column("what", overflow="fold"), "by"),
        cells=_change_cells,
    )


def _change_cells(r: AgencyChange) -> tuple[str, ...]:
    import datetime as dt

    at = r.at.astimezone(dt.UTC) if r.at.tzinfo else r.at  # SQLite gives it back without its zone: UTC
    return (f"{at:%Y-%m-%d %H:%M}", r.partnership, r.what, r.by)
