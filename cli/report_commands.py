"""``cspr report``: the compliance report for a period, produced here as the ``partnership-report`` deployment
produces it; ``cspr report tracker``: a partnership's reviews, recommendations and actions as CSV for NHS England's
Safeguarding Case Review Tracker (models/tracker.py); ``cspr report department``: the Department for Education's
figures for a reporting year as CSV in the shape of its data sets (models/statistics.py ``department_csv``).

``report`` is a group whose own callback is the compliance report, so ``cspr report --from ...`` works as it always
did and ``cspr report tracker`` is a command of it. Registered in cli/main.py as ``app.add_typer(report_commands.app,
name="report")``; ``report_command`` also works on its own as a plain command."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, err, fail, parse_date
from models.refusals import Refused

app = typer.Typer(
    help="The compliance report for a period; `tracker` for the NHS case review tracker's CSV; `department` for the "
    "Department's figures as CSV.",
    invoke_without_command=True,
)


@app.callback()
def report_command(
    ctx: typer.Context,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day of the period (default: last month).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day of the period (default: last month).")] = None,
    partnership: Annotated[str | None, typer.Option(help="One partnership's code; default every partnership.")] = None,
    out: Annotated[str | None, typer.Option(help="Also save a copy of the PDF here.")] = None,
) -> None:
    """Produce the compliance report for a period (a PDF kept in the object store), as `partnership-report` does."""
    if ctx.invoked_subcommand is not None:
        return
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


@app.command("tracker")
def tracker_command(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    out: Annotated[str | None, typer.Option(help="Write the CSV to this file (default: print it).")] = None,
) -> None:
    """A partnership's reviews, recommendations and actions as CSV, in the NHS Safeguarding Case Review Tracker's
    shape: one row per action (see docs/operators.md for the columns)."""
    import csv
    import io
    from pathlib import Path

    from models.compliance import UnknownPartnership
    from models.db import transaction
    from models.tracker import tracker_csv

    try:
        with transaction() as session:
            text = tracker_csv(session, partnership)
    except UnknownPartnership as exc:
        raise fail(str(exc)) from None
    if out is None:
        typer.echo(text, nl=False)
        return
    # with a byte order mark, so that a spreadsheet opening the file reads it as UTF-8 (accents, dashes)
    Path(out).write_text(text, encoding="utf-8-sig", newline="")
    rows = len(list(csv.reader(io.StringIO(text)))) - 1  # a value may hold a line break: count as a reader does
    err.print(f"Wrote {out}: the tracker's columns for {partnership}, {rows} row{'s' if rows != 1 else ''}")


@app.command("department")
def department_command(
    partnership: Annotated[str | None, typer.Option(help="One partnership's code; default every partnership.")] = None,
    year: Annotated[
        int | None,
        typer.Option(help="The reporting year, by the year it ends: 2026 is April 2025 to March 2026 (default: now)."),
    ] = None,
    output: Annotated[str | None, typer.Option(help="Write the CSV to this file (default: print it).")] = None,
) -> None:
    """The Department's serious incident notification figures for a reporting year as CSV, in the shape of its data
    sets: one child per notification, care leavers' deaths apart, small counts withheld as "c" (see
    docs/operators.md)."""
    from pathlib import Path

    from sqlmodel import select

    from models.calendar import today_in_england
    from models.db import transaction
    from models.department import year_label
    from models.statistics import department_csv, statistics
    from models.tables import Partnership

    with transaction() as session:
        name = "All partnerships"
        if partnership is not None:
            found = session.exec(select(Partnership).where(Partnership.code == partnership)).first()
            if found is None:
                raise fail(f"there is no partnership {partnership!r}")
            name = found.name
        figures = statistics(session, today_in_england(), partnership, year=year)
        text = department_csv(figures, partnership, name)
    if output is None:
        typer.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8-sig", newline="")  # a spreadsheet reads it as UTF-8
    err.print(f"Wrote {output}: the Department's figures, {year_label(figures.year)}, for {name}")
