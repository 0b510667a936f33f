"""``cspr sweep``: the deadline sweep run straight against the project database (the scheduled ``deadline-sweep``
deployment does the same from Prefect)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, fail, parse_date


def sweep_command(
    as_of: Annotated[
        str | None,
        typer.Option(help="The day to sweep as of (default today), YYYY-MM-DD; a day to come only with --dry-run."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be overdue on that day, and change nothing.")
    ] = False,
) -> None:
    """Classify every open deadline and raise the escalations due, straight against the project database.

    The scheduled `deadline-sweep` deployment does the same and also emits a Prefect event per escalation.
    """
    from rich.markdown import Markdown
    from sqlmodel import Session

    from models import sweep
    from models.calendar import CalendarRangeError, StillToCome, today_in_england
    from models.db import get_engine, transaction
    from models.summaries import sweep_summary

    day = parse_date(as_of, "--as-of") or today_in_england()
    try:
        sweep.check_day(day, dry_run=dry_run)
        if dry_run:
            with console.status("Looking at every open deadline ..."), Session(get_engine()) as session:
                frame, raised = sweep.preview(session, day)  # read only, never committed
        else:
            with console.status("Sweeping every open deadline ..."), transaction() as session:
                frame, raised = sweep.sweep(session, day)
    except (CalendarRangeError, StillToCome) as exc:
        raise fail(str(exc)) from None
    console.print(Markdown(sweep_summary(sweep.sweep_result(day, frame, raised, dry_run=dry_run))))
