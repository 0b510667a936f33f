"""The retention schedule (``retention.toml``: each kind of record, its period, what it is counted from, and its
source) and what it makes due: which reviews to erase, which documents and messages to delete, on a given day.

Erasing a review destroys its data key (models/review_keys.py): every name, date of birth and piece of free text of it
becomes unreadable at once, in the database and in every backup made from then on (a backup made before still holds
the wrapped key, which the master key opens, until that backup expires). What was never personal stays: its
reference, its stages and dates, its deadlines, the hashes of its audit trail, and the erasure itself, recorded in
its history. A review under legal hold is never due. Deleting the stored objects is tasks/erasure.py's: restricted
documents (the actions' evidence documents among them) go a period after the review closed, before its case records.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from models import claims, drafts, review_keys
from models.calendar import london_day, only_a_dry_run_looks_ahead
from models.refusals import Refused
from models.review.transitions import Actor, Noted, note
from models.stages import Stage
from models.tables import Action, Delivery, EvidenceDocument, Outbox, Report, Review, StageEvent
from models.work import evidence

SCHEDULE = Path(__file__).resolve().parent / "retention.toml"
RETENTION = Actor("cspr retention", "system")  # who erases, in a review's history


class RecordKind(StrEnum):
    CASE_RECORDS = "case_records"
    RESTRICTED_DOCUMENTS = "restricted_documents"
    PUBLISHED_REPORTS = "published_reports"
    OUTBOX = "outbox"
    RUN_HISTORY = "run_history"


class CountedFrom(StrEnum):
    CLOSED = "closed"  # the day the review closed
    PUBLISHED = "published"
    SENT = "sent"  # the day a message was accepted by the relay
    ENDED = "ended"  # the day a run ended


AFTER = {  # how a period reads: "35 years after the review closed"
    CountedFrom.CLOSED: "the review closed",
    CountedFrom.PUBLISHED: "publication",
    CountedFrom.SENT: "the message was sent",
    CountedFrom.ENDED: "the run ended",
}


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RecordKind
    title: str
    years: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    counted_from: CountedFrom
    choice: bool  # the partnership's own choice, not set by any source
    source: str = Field(min_length=1)

    @property
    def kept_for_good(self) -> bool:
        return self.years is None and self.days is None

    def until(self, start: dt.date) -> dt.date | None:
        """The last day a record counted from ``start`` is kept; None: kept for good."""
        if self.kept_for_good:
            return None
        return start + relativedelta(years=self.years or 0, days=self.days or 0)

    def kept_since(self, today: dt.date) -> dt.date | None:
        """The first day a record must be counted from to be still kept on ``today``; None: kept for good."""
        if self.kept_for_good:
            return None
        return today - relativedelta(years=self.years or 0, days=self.days or 0)

    def describe(self) -> str:
        if self.kept_for_good:
            return "with no end date"
        count, unit = (self.years, "year") if self.years else (self.days or 0, "day")
        return f"{count} {unit}{'' if count == 1 else 's'} after {AFTER[self.counted_from]}"


class Schedule(BaseModel):
    periods: list[Period]


@lru_cache(maxsize=1)
def schedule() -> dict[RecordKind, Period]:
    periods = Schedule.model_validate(tomllib.loads(SCHEDULE.read_text())).periods
    by_kind = {p.kind: p for p in periods}
    missing = set(RecordKind) - set(by_kind)
    if missing or len(by_kind) != len(periods):
        raise ValueError(f"the retention schedule must give each kind of record once (missing: {sorted(missing)})")
    return by_kind


@dataclass(frozen=True)
class Due:
    kind: RecordKind
    reference: str  # the review's, or "" for a message about no review
    what: str  # what goes: "its data key", an object key, a message's purpose
    since: dt.date  # the day the period was counted from
    due_on: dt.date  # the day after the last day it is kept
    held: bool = False  # under legal hold: listed, never erased


def check_day(day: dt.date, *, dry_run: bool) -> None:
    """Only a dry run may look ahead: erasing "as of" a day to come would erase, today, what is not yet due."""
    only_a_dry_run_looks_ahead(
        day,
        dry_run=dry_run,
        refusal=(
            f"{day:%d %B %Y} is still to come: nothing is erased before it is due. Use a dry run to see what will go."
        ),
    )


def closed_on(session: Session) -> dict[uuid.UUID, dt.date]:
    """The day each closed review closed (in England)."""
    rows = session.execute(
        sa.select(col(StageEvent.review_id), sa.func.min(col(StageEvent.at)))
        .where(col(StageEvent.to_stage) == Stage.CLOSED.value)
        .group_by(col(StageEvent.review_id))
    ).all()
    return {review_id: london_day(at) for review_id, at in rows}


def _past(period: Period, since: dt.date, today: dt.date) -> dt.date | None:
    until = period.until(since)
    return None if until is None or until >= today else until + dt.timedelta(days=1)


def due(session: Session, today: dt.date) -> list[Due]:
    """Everything in the database past its retention on ``today``, in the schedule's order."""
    periods = schedule()
    closed = closed_on(session)
    reviews = {r.id: r for r in session.exec(select(Review).where(col(Review.id).in_(list(closed))))}
    found: list[Due] = []
    for review_id, on in sorted(closed.items(), key=lambda item: reviews[item[0]].reference):
        review = reviews[review_id]
        when = _past(periods[RecordKind.CASE_RECORDS], on, today)
        if when and review.erased_on is None:
            found.append(Due(RecordKind.CASE_RECORDS, review.reference, "its data key", on, when, review.legal_hold))
        when = _past(periods[RecordKind.RESTRICTED_DOCUMENTS], on, today)
        if when:
            # the actions' evidence documents are restricted documents too: never published, sealed, they go with
            # the review's others (tasks/erasure.py)
            keys = [report.object_key for report in _restricted(session, review_id)]
            keys += [document.object_key for document in evidence.of_review(session, review_id)]
            for key in keys:
                found.append(Due(RecordKind.RESTRICTED_DOCUMENTS, review.reference, key, on, when, review.legal_hold))
    found += _messages(session, today)
    return found


def _restricted(session: Session, review_id: uuid.UUID) -> Iterator[Report]:
    yield from session.exec(
        select(Report).where(Report.review_id == review_id, col(Report.published).is_(False)).order_by(col(Report.kind))
    )


def _old_messages(session: Session, today: dt.date) -> list[tuple[Outbox, Review | None, dt.date, dt.date]]:
    """Each sent message past its period: the message, its review, the day it was sent and the day it fell due."""
    period = schedule()[RecordKind.OUTBOX]
    since = period.kept_since(today)
    if since is None:
        return []
    # sent more than a day before the first day kept (in UTC): the rest is decided on the day in England below
    cutoff = dt.datetime.combine(since + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    found = []
    query = select(Outbox).where(col(Outbox.sent_at).is_not(None), col(Outbox.sent_at) < cutoff)
    for message in session.exec(query.order_by(col(Outbox.sent_at))):
        assert message.sent_at is not None
        sent = london_day(message.sent_at)
        when = _past(period, sent, today)
        if when:
            review = None if message.review_id is None else session.get(Review, message.review_id)
            found.append((message, review, sent, when))
    return found


def _held(review: Review | None) -> bool:
    return review is not None and review.legal_hold


def _messages(session: Session, today: dt.date) -> list[Due]:
    return [
        Due(
            RecordKind.OUTBOX,
            review.reference if review else "",
            message.purpose,
            sent,
            when,
            bool(review and review.legal_hold),
        )
        for message, review, sent, when in _old_messages(session, today)
    ]


def erase(session: Session, review: Review, today: dt.date, *, by: Actor = RETENTION) -> None:
    """Erase a review: destroy its data key, delete its people's drafts, claims and follow-up dates, and record that
    it was erased (and what was kept) in its history."""
    if review.legal_hold:
        raise Refused(f"{review.reference} is under legal hold: it is kept until the hold is lifted")
    review_keys.destroy(session, review.id)
    # sealed with the gate's key, not the review's: destroying its key leaves them readable, so they go
    drafts.forget_review(session, review.id)
    claims.forget_review(session, review.id)
    review.erased_on = today
    session.add(review)
    session.flush()
    note(
        session,
        review,
        Noted.ERASED,
        actor=by,
        details={
            "destroyed": "the review's data key: its names, dates of birth and free text",
            "kept": "its reference, stages, dates, deadlines and this history's hashes",
            "schedule": periods_note(RecordKind.CASE_RECORDS),
        },
    )


def periods_note(kind: RecordKind) -> str:
    period = schedule()[kind]
    return f"{period.title}: kept {period.describe()}"


def forget_document(session: Session, review: Review, report: Report, *, by: Actor = RETENTION) -> None:
    """A restricted document deleted from the object store: its row goes, and its deletion is recorded."""
    _forget(session, review, report, by, {"document": report.kind, "version": report.version, "sha256": report.sha256})


def forget_evidence(session: Session, review: Review, document: EvidenceDocument, *, by: Actor = RETENTION) -> None:
    """An action's evidence document deleted from the object store: its row goes, the action no longer links to it,
    and its deletion is recorded."""
    session.execute(
        sa.update(Action)
        .where(col(Action.review_id) == review.id, col(Action.evidence_key) == document.object_key)
        .values(evidence_key=None)
        .execution_options(synchronize_session=False)
    )
    about = {
        "document": "evidence",
        "evidence_document": str(document.id),
        "action": document.action_number,
        "sha256": document.sha256,
    }
    _forget(session, review, document, by, about)


def _forget(session: Session, review: Review, row: Report | EvidenceDocument, by: Actor, about: dict[str, Any]) -> None:
    """A stored document's row deleted, and its deletion recorded on the review's timeline (``about``: which)."""
    session.delete(row)
    session.flush()
    note(session, review, Noted.DOCUMENT_DELETED, actor=by, details=about)


def forget_messages(session: Session, today: dt.date) -> int:
    """Delete the messages past their period (and their deliveries), except a held review's."""
    gone = 0
    for message, review, _, _ in _old_messages(session, today):
        if not _held(review):
            session.execute(sa.delete(Delivery).where(col(Delivery.outbox_id) == message.id))
            session.delete(message)
            gone += 1
    session.flush()
    return gone


def hold(session: Session, review: Review, *, reason: str, by: Actor, lift: bool = False) -> None:
    """Put a review under legal hold (an inquiry, a court, the coroner), or lift it; recorded in its history."""
    if not reason.strip():
        raise Refused("say why: the inquiry, court or case the hold is for")
    if review.legal_hold != lift:
        raise Refused(f"{review.reference} is {'not ' if lift else ''}under legal hold already")
    review.legal_hold = not lift
    session.add(review)
    session.flush()
    note(session, review, Noted.HOLD_LIFTED if lift else Noted.LEGAL_HOLD, actor=by, reason=reason.strip())
