"""`deadline-sweep`: every weekday at 07:00 (London), every open deadline of every open review classified, each
escalation raised once, and a summary for operators. Safe to run twice at once: the second changes nothing."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models.calendar import today_in_england
from models.dates import long_date
from models.summaries import sweep_summary
from tasks.notices import deliver_outbox
from tasks.runs import restore_lost_runs
from tasks.sweeping import sweep_deadlines


@flow(name="deadline-sweep", flow_run_name="deadline-sweep · {as_of}")
def deadline_sweep(as_of: dt.date | None = None) -> dict[str, int]:
    """Classify every open statutory deadline as of a day (default today) and escalate what is overdue."""
    day = as_of or today_in_england()
    result = sweep_deadlines(day)
    for reference in sorted({e.reference for e in result.escalations}):
        deliver_outbox(reference)
    restored = restore_lost_runs()
    nothing = {"reference": "none overdue", "partnership": "", "deadline": "", "status": "", "working_days_overdue": 0}
    create_table_artifact(
        key="deadline-sweep-overdue", table=result.overdue or [nothing], description=f"Overdue on {long_date(day)}"
    )
    create_markdown_artifact(
        key="deadline-sweep", markdown=sweep_summary(result, restored), description="Deadline sweep summary"
    )
    return result.counts
