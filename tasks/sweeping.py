"""The deadline sweep as Prefect tasks: classify and escalate in the database, then tell Prefect's event
system about each escalation (references, stages and days only); and, at the end of each sweep, anchor the audit
trail in the object store."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.events import emit_event

from models import sweep
from models.db import transaction
from tasks.anchors import write_anchor

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


@task(name="anchor-audit-trail", retries=3, retry_delay_seconds=[2, 10, 30])
def anchor_audit_trail() -> str:
    """Write the audit trail's anchor for this sweep (tasks/anchors.py); returns its object key."""
    anchored = write_anchor()
    logger = get_run_logger()
    logger.info(
        "audit trail anchored: %d review(s) and the register, as %s in %s, kept until %s",
        anchored.reviews,
        anchored.key,
        anchored.store,
        anchored.retain_until.isoformat(),
    )
    if not anchored.locked:
        logger.warning("%s cannot lock objects: %s is not protected against deletion", anchored.store, anchored.key)
    return anchored.key
