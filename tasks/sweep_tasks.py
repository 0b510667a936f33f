"""The deadline sweep as Prefect tasks: classify and escalate in the database, then tell Prefect's event
system about each escalation (references, stages and days only), and delete the drafts, claims and follow-up dates
nobody will come back to, and the evidence documents uploaded with an answer never recorded; a dry run's read-only
look; and, at the end of each sweep, anchor the audit trail in the object store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from prefect import get_run_logger, task
from prefect.events import emit_event
from sqlmodel import Session

from models import claims, drafts, sweep
from models.db import get_engine, transaction
from models.tables import utcnow
from models.work import evidence
from models.work.chasing import chase_items
from tasks.anchors import write_anchor
from tasks.evidence import purge_unattached
from tasks.storage import ObjectStore, open_store

OVERDUE_EVENT = "cspr.deadline.overdue"


@task(name="sweep-deadlines")
def sweep_deadlines(as_of: dt.date) -> sweep.SweepResult:
    with transaction() as session:
        frame, raised = sweep.sweep(session, as_of)
        chased = chase_items(session, as_of)  # the agencies' requests and the actions: their own dates
    result = replace(sweep.sweep_result(as_of, frame, raised), items_chased=tuple(map(str, chased)))
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
    purged = purge_task_storage()  # after the events: they are told once, whatever happens here
    get_run_logger().info(
        "%s: %s; %d escalation(s) raised; %d reminder(s) and escalation(s) of requests and actions; %d draft(s) "
        "not saved for %d days, %d claim(s) and follow-up date(s) of steps since left, and %d evidence document(s) "
        "attached to nothing for %d days, deleted",
        as_of.isoformat(),
        _tally(result),
        len(raised),
        len(chased),
        purged.drafts,
        drafts.KEPT_FOR.days,
        purged.claims,
        purged.evidence,
        evidence.UNATTACHED_FOR.days,
    )
    return result


@dataclass(frozen=True)
class Purged:
    drafts: int
    claims: int  # and follow-up dates
    evidence: int = 0  # evidence documents whose answer was refused or never recorded (models/work/evidence.py)


def purge_task_storage(store: ObjectStore | None = None) -> Purged:
    """What people kept on their tasks page that nobody will come back to (models/drafts.py, models/claims.py), and
    the evidence documents they uploaded with an answer that was never recorded (from ``store``, by default the
    project's): in a transaction of its own, by today's clock, whatever day the sweep is as of."""
    now = utcnow()
    with transaction() as session:
        return Purged(
            drafts.purge(session, now),
            claims.purge(session),
            purge_unattached(session, (lambda: store) if store is not None else open_store, now),
        )


@task(name="preview-deadlines")
def preview_deadlines(as_of: dt.date) -> sweep.SweepResult:
    """A dry run: what a sweep as of ``as_of`` would find and raise, read in a transaction that is rolled back;
    no event emitted."""
    with Session(get_engine()) as session:  # never committed: what is chased here is rolled back with the rest
        frame, would_raise = sweep.preview(session, as_of)
        would_chase = chase_items(session, as_of)
        session.rollback()
    result = sweep.sweep_result(as_of, frame, would_raise, dry_run=True)
    result = replace(result, items_chased=tuple(map(str, would_chase)))
    get_run_logger().info(
        "dry run as of %s, nothing changed: %s; %d escalation(s) a sweep on that day would raise; %d reminder(s) and "
        "escalation(s) of requests and actions it would send",
        as_of.isoformat(),
        _tally(result),
        len(would_raise),
        len(would_chase),
    )
    return result


def _tally(result: sweep.SweepResult) -> str:
    """The open deadlines counted by status, for the sweep's log line."""
    return f"{result.deadlines} open deadlines; " + ", ".join(f"{k} {v}" for k, v in result.counts.items())


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
