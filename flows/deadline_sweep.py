"""`deadline-sweep`: every weekday at 07:00 (London), every open deadline of every open review classified, each
escalation raised once, and a summary for operators. Safe to run twice at once: the second changes nothing.
Run it by hand with ``dry_run`` to see the position on any day, a day to come included, changing nothing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import Field

from models import sweep
from models.calendar import today_in_england
from models.dates import long_date
from models.summaries import sweep_summary
from tasks.notices import deliver_outbox, references_with_messages_waiting, send_daily_digests
from tasks.runs import forget_ended_runs, restore_lost_runs
from tasks.sweep_tasks import anchor_audit_trail, preview_deadlines, sweep_deadlines
from tasks.work_tasks import restore_lost_item_runs
from tasks.worklist_artifacts import publish_worklist

DRY_RUN_KEY = "deadline-sweep-dry-run"  # a dry run's artifacts: the real sweep's latest ones stay what they were


@flow(name="deadline-sweep", flow_run_name="deadline-sweep · {as_of}")
def deadline_sweep(
    as_of: Annotated[
        dt.date | None, Field(title="As of", description="Leave empty for today. A day to come needs a dry run.")
    ] = None,
    dry_run: Annotated[
        bool,
        Field(
            title="Dry run",
            description="Show what would be overdue on that day, and change nothing: no status recorded, no "
            "escalation raised, no message sent.",
        ),
    ] = False,
) -> dict[str, int]:
    """Classify every open statutory deadline as of a day (default today) and escalate what is overdue."""
    day = as_of or today_in_england()
    sweep.check_day(day, dry_run=dry_run)  # first: a day to come is refused before anything is read or changed
    if dry_run:  # a look only: no escalation, message, run restored or forgotten, worklist or anchor
        result = preview_deadlines(day)
        _report(result, DRY_RUN_KEY, sweep_summary(result))
        return result.counts
    result = sweep_deadlines(day)
    # the escalations' messages, and every email a mail relay did not take yet: tried again here
    waiting = {e.reference for e in result.escalations} | set(references_with_messages_waiting())
    undelivered = [str(failure) for reference in sorted(waiting) for failure in deliver_outbox(reference).failed]
    undelivered += [str(failure) for failure in send_daily_digests().failed]  # the sweep runs once a working day
    restored = restore_lost_runs() + restore_lost_item_runs()  # the reviews' own runs, then their items'
    forgotten = forget_ended_runs()  # what a run that died between saving an answer and forgetting it left
    publish_worklist()
    _report(result, "deadline-sweep", sweep_summary(result, restored, undelivered, forgotten))
    anchor_audit_trail()  # last: where every review's audit trail stands after this sweep, out of the database's reach
    return result.counts


def _report(result: sweep.SweepResult, key: str, summary: str) -> None:
    """The overdue table and the summary, as artifacts (``key`` and ``key``-overdue)."""
    nothing = {"reference": "none overdue", "partnership": "", "deadline": "", "status": "", "working_days_overdue": 0}
    dry = " (dry run: nothing was changed)" if result.dry_run else ""
    create_table_artifact(
        key=f"{key}-overdue",
        table=result.overdue or [nothing],
        description=f"Overdue on {long_date(result.as_of)}{dry}",
    )
    create_markdown_artifact(key=key, markdown=summary, description=f"Deadline sweep summary{dry}")
