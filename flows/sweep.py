"""`deadline-sweep`: every weekday at 07:00 (London), every open deadline of every open review classified, each
escalation raised once, and a summary for operators. Safe to run twice at once: the second changes nothing."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models.calendar import today_in_england
from models.dates import long_date
from models.summaries import sweep_summary
from tasks.notices import deliver_outbox, references_with_messages_waiting, send_daily_digests
from tasks.runs import forget_ended_runs, restore_lost_runs
from tasks.sweeping import anchor_audit_trail, sweep_deadlines
from tasks.worklist import publish_worklist


@flow(name="deadline-sweep", flow_run_name="deadline-sweep · {as_of}")
def deadline_sweep(as_of: dt.date | None = None) -> dict[str, int]:
    """Classify every open statutory deadline as of a day (default today) and escalate what is overdue."""
    day = as_of or today_in_england()
    result = sweep_deadlines(day)
    # the escalations' messages, and every email a mail relay did not take yet: tried again here
    waiting = {e.reference for e in result.escalations} | set(references_with_messages_waiting())
    undelivered = [str(failure) for reference in sorted(waiting) for failure in deliver_outbox(reference).failed]
    undelivered += [str(failure) for failure in send_daily_digests().failed]  # the sweep runs once a working day
    restored = restore_lost_runs()
    forgotten = forget_ended_runs()  # what a run that died between saving an answer and forgetting it left
    publish_worklist()
    nothing = {"reference": "none overdue", "partnership": "", "deadline": "", "status": "", "working_days_overdue": 0}
    create_table_artifact(
        key="deadline-sweep-overdue", table=result.overdue or [nothing], description=f"Overdue on {long_date(day)}"
    )
    create_markdown_artifact(
        key="deadline-sweep",
        markdown=sweep_summary(result, restored, undelivered, forgotten),
        description="Deadline sweep summary",
    )
    anchor_audit_trail()  # last: where every review's audit trail stands after this sweep, out of the database's reach
    return result.counts
