"""The deadline sweep as Prefect tasks: classify and escalate in the database, then tell Prefect's event
system about each escalation (references, stages and days only)."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.events import emit_event

from models import sweep
from models.db import transaction

OVERDUE_EVENT = "cspr.deadline.overdue"


@task(name="sweep-deadlines")
def sweep_deadlines(as_of: dt.date) -> sweep.SweepResult:
    with transaction() as session:
        frame, raised = sweep.sweep(session, as_of)
    result = sweep.sweep_result(as_of, frame, raised)
    for escalation in raised:
        emit_event(
            event=OVERDUE_EVENT,
            resource={
                "prefect.resource.id": f"cspr.review.{escalation.reference}",
                "prefect.resource.name": escalation.reference,
                "cspr.partnership": escalation.partnership,
            },
            payload={
                "reference": escalation.reference,
                "deadline": escalation.deadline,
                "stage": escalation.stage,
                "level": escalation.level,
                "working_days_overdue": escalation.days_overdue,
            },
        )
    get_run_logger().info(
        "%s: %d open deadlines; %s; %d escalation(s) raised",
        as_of.isoformat(),
        result.deadlines,
        ", ".join(f"{k} {v}" for k, v in result.counts.items()),
        len(raised),
    )
    return result
