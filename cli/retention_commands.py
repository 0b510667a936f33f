"""``cspr retention``: applying the retention schedule (what is erased or deleted when), and legal holds."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, fail, operator, parse_date, review_change
from models.refusals import Refused

app = typer.Typer(
    help="The retention schedule: what is erased or deleted when, and legal holds.", invoke_without_command=True
)


@app.callback()
def retention_run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go, and change nothing.")] = False,
    as_of: Annotated[str | None, typer.Option(help="The day to apply the schedule on (YYYY-MM-DD).")] = None,
) -> None:
    """Erase the reviews past their retention and delete what else is past it (or, with --dry-run, list it)."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from rich.markdown import Markdown

    from cli.system import LocalSystem, prefect_env, server_is_up
    from models.calendar import today_in_england
    from models.retention import check_day
    from models.summaries import retention_summary
    from tasks.erasure import apply_schedule, runs_due, what_is_due
    from tasks.storage import open_store

    day = parse_date(as_of, "--as-of") or today_in_england()
    try:
        check_day(day, dry_run=dry_run)
    except Refused as exc:
        raise fail(str(exc)) from None
    os.environ.update({k: v for k, v in prefect_env(LocalSystem().api_url).items() if v and k not in os.environ})
    up = server_is_up(os.environ["PREFECT_API_URL"])
    failed: list[str] = []
    if dry_run:
        due, runs = what_is_due(day), runs_due(day) if up else 0
    else:
        applied = apply_schedule(day, open_store(), runs=up)
        due, runs, failed = applied.due, applied.runs_deleted, applied.failed
    console.print(Markdown(retention_summary(due, day, applied=not dry_run, runs=runs, failed=failed)))
    if not up:
        console.print(
            f"[dim]No Prefect server at {os.environ['PREFECT_API_URL']}: its run history was not looked at.[/]"
        )


@app.command("hold")
def retention_hold(
    reference: Annotated[str, typer.Argument(help="The review's reference, e.g. CSPR-2026-0042.")],
    reason: Annotated[str, typer.Option(help="The inquiry, court or case the hold is for.")],
    lift: Annotated[bool, typer.Option("--lift", help="Lift the hold instead.")] = False,
) -> None:
    """Keep a review whatever its retention says (an inquiry, a court, the coroner), or lift the hold."""
    from models import retention
    from models.review import lookup

    with review_change() as session:
        retention.hold(session, lookup.review_by_reference(session, reference), reason=reason, by=operator(), lift=lift)
    console.print(f"{reference}: legal hold {'lifted' if lift else 'in place'}, recorded in its history.")
