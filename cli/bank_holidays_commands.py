"""``cspr calendar``: the bank holiday list working days are counted with, and importing a newer one from GOV.UK."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, fail
from cli.listing import print_json

app = typer.Typer(help="The bank holidays that working days are counted with.", no_args_is_help=True)


@app.command("show")
def calendar_show() -> None:
    """Which bank holiday list is in use, the years it covers, and its holidays of this year and the next."""
    from models.bank_holidays import published_list
    from models.calendar import today_in_england

    published = published_list()
    console.print(f"{published.source}: {published.first_year} to {published.last_year}.")
    console.print(f"Dates counted past {published.last_year} use the regular holidays and are provisional.")
    year = today_in_england().year
    for day, name in sorted(published.days.items()):
        if year <= day.year <= year + 1:
            console.print(f"  {day:%a %d %b %Y}  {name}")


@app.command("import")
def calendar_import(
    file: Annotated[
        Path, typer.Argument(help="A bank-holidays.json downloaded from https://www.gov.uk/bank-holidays.json")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Count working days with a newer GOV.UK list: checks it, keeps it, and counts every open deadline
    again, reporting each one that moved. A file that cannot be used changes nothing."""
    from models.bank_holidays import BankHolidayListError, import_list
    from models.db import transaction
    from models.review.timetable import recount_open

    try:
        before, now = import_list(file)
    except BankHolidayListError as exc:
        raise fail(f"{exc}. The calendar is unchanged.") from None
    with transaction() as session:
        recounted = recount_open(session)
    moved = [r for r in recounted if r.moved]
    if as_json:
        print_json(
            {
                "published_to": now.last_year,
                "was_published_to": before.last_year,
                "recounted": len(recounted),
                "moved": [
                    {
                        "reference": r.reference,
                        "deadline": r.title,
                        "was": r.was.isoformat(),
                        "now": r.now.isoformat(),
                        "provisional": r.provisional,
                    }
                    for r in moved
                ],
                "still_provisional": sum(r.provisional for r in recounted),
            }
        )
        return
    console.print(f"Bank holidays now published to {now.last_year} (was {before.last_year}).")
    console.print(f"{len(recounted)} open deadline(s) counted again; {len(moved)} moved.")
    for r in moved:
        console.print(
            f"  {r.reference}: {r.title}: {r.was:%a %d %b %Y} -> {r.now:%a %d %b %Y}"
            + (" (still provisional)" if r.provisional else "")
        )
