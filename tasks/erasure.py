"""Applying the retention schedule (models/retention.py): erase the reviews past their period, delete their restricted
documents with every stored version, the messages past theirs, and Prefect's runs that ended before the run-history
period. Each review is erased in a transaction of its own, so one that fails leaves the others done."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID

from prefect import get_client, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from sqlalchemy.engine import Engine
from sqlmodel import select

from models import retention
from models.db import get_engine, purge_deleted, transaction
from models.retention import Due, RecordKind
from models.review import lookup
from models.tables import AnswerDraft, Report, ReviewKey
from tasks import evidence
from tasks.storage import ObjectStore, open_store

ENDED = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]


@dataclass
class Applied:
    due: list[Due]
    erased: list[str] = field(default_factory=list)  # references
    documents_deleted: list[str] = field(default_factory=list)  # object keys
    messages_deleted: int = 0
    runs_deleted: int = 0
    purged: bool = True  # the destroyed keys' old bytes gone from the database's files too (models/db.py)
    held: list[str] = field(default_factory=list)  # references kept for their legal hold
    failed: list[str] = field(default_factory=list)  # what could not be done this time, and why

    def counts(self) -> dict[str, int]:
        return {
            "due": len(self.due),
            "erased": len(self.erased),
            "documents_deleted": len(self.documents_deleted),
            "messages_deleted": self.messages_deleted,
            "runs_deleted": self.runs_deleted,
            "held": len(self.held),
            "failed": len(self.failed),
        }


def what_is_due(today: dt.date, engine: Engine | None = None) -> list[Due]:
    with transaction(engine) as session:
        return retention.due(session, today)


def delete_every_version(store: ObjectStore, key: str) -> None:
    """An object and every earlier version of it: a delete that only adds a marker would leave it all readable."""
    for version in store.versions(key):
        store.delete(key, version_id=version)


@task(name="apply-retention", cache_policy=NO_CACHE, persist_result=False)
def apply_retention(today: dt.date) -> Applied:
    return apply_schedule(today, open_store(), runs=True)


def apply_schedule(today: dt.date, store: ObjectStore, *, runs: bool, engine: Engine | None = None) -> Applied:
    """Everything the schedule makes due on ``today`` erased or deleted (Prefect's old runs too when ``runs``). Each
    item in a transaction of its own that reads the review's hold again, under its lock: a hold placed since the list
    was made keeps it. One that fails is reported and the rest go on."""
    applied = Applied(due=what_is_due(today, engine))
    # documents first: erasure ends with the review's head over what is left
    order = sorted(applied.due, key=lambda item: item.kind is RecordKind.CASE_RECORDS)
    for item in order:
        if item.kind not in (RecordKind.RESTRICTED_DOCUMENTS, RecordKind.CASE_RECORDS):
            continue
        try:
            with transaction(engine) as session:
                review = lookup.review_by_reference(session, item.reference, lock=True)
                if review.legal_hold:
                    if item.reference not in applied.held:
                        applied.held.append(item.reference)
                elif item.kind is RecordKind.RESTRICTED_DOCUMENTS:
                    delete_every_version(store, item.what)
                    report = session.exec(select(Report).where(Report.object_key == item.what)).first()
                    if report is not None:
                        retention.forget_document(session, review, report)
                    document = evidence.by_key(session, item.what)
                    if document is not None:
                        retention.forget_evidence(session, review, document)
                    applied.documents_deleted.append(item.what)
                else:
                    retention.erase(session, review, today)
                    applied.erased.append(item.reference)
        except Exception as exc:  # reported by reference and object key, never a name (none is in these messages)
            applied.failed.append(f"{item.reference} ({item.kind.value.replace('_', ' ')}): {exc}")
    if applied.erased:  # the destroyed keys' old bytes out of the files too, not only unreachable; and the drafts'
        # (sealed with the gate's key, which stays)
        tables = (ReviewKey.__tablename__, AnswerDraft.__tablename__)
        applied.purged = all([purge_deleted(engine or get_engine(), table) for table in tables])
    with transaction(engine) as session:
        applied.messages_deleted = retention.forget_messages(session, today)
    applied.runs_deleted = forget_old_runs(today) if runs else 0
    return applied


def _old_runs(today: dt.date) -> list[UUID]:
    since = retention.schedule()[RecordKind.RUN_HISTORY].kept_since(today)
    if since is None:
        return []
    cutoff = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    found: list[UUID] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=["cspr"]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ENDED)),
                    end_time=FlowRunFilterEndTime(before_=cutoff),
                ),
                limit=200,
                offset=len(found),
            )
            found += [run.id for run in page]
            if len(page) < 200:
                return found


def forget_old_runs(today: dt.date) -> int:
    """Delete cspr's runs that ended before the run-history period (their logs and inputs go with them)."""
    runs = _old_runs(today)
    with get_client(sync_client=True) as client:
        for run_id in runs:
            client.delete_flow_run(run_id)
    return len(runs)


def runs_due(today: dt.date) -> int:
    return len(_old_runs(today))
