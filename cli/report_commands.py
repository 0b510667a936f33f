"""``cspr report``: the compliance report for a period, produced here as the ``partnership-report`` deployment
produces it."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, err, fail, parse_date
from models.refusals import Refused


def report_command(
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day of the period (default: last month).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day of the period (default: last month).")] = None,
    partnership: Annotated[str | None, typer.Option(help="One partnership's code; default every partnership.")] = None,
    out: Annotated[str | None, typer.Option(help="Also save a copy of the PDF here.")] = None,
) -> None:
    """Produce the compliance report for a period (a PDF kept in the object store), as `partnership-report` does."""
    from pathlib import Path

    from rich.markdown import Markdown
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from models.calendar import CalendarRangeError, today_in_england
    from models.compliance import Period, UnknownPartnership
    from models.summaries import compliance_summary
    from tasks.compliance_report import STEPS, produce

    month = Period.month_before(today_in_england())
    start, end = parse_date(date_from, "--from") or month.start, parse_date(date_to, "--to") or month.end
    try:
        period = Period(start, end)
    except Refused as exc:
        raise fail(str(exc)) from None
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            job = bar.add_task("Compliance report", total=len(STEPS))
            produced = produce(
                period,
                partnership,
                progress=lambda step: bar.update(job, description=STEPS[step], completed=list(STEPS).index(step)),
            )
    except (UnknownPartnership, CalendarRangeError) as exc:
        raise fail(str(exc)) from None
    summary = compliance_summary(produced.figures, key=produced.key, version=produced.version, size=produced.size)
    console.print(Markdown(summary))
    if out:
        from tasks.storage import open_store

        Path(out).write_bytes(open_store().get(produced.key, sha256=produced.sha256))
        console.print(f"Saved a copy to {out}")
