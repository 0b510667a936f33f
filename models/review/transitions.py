"""A review's moves from stage to stage, the decisions recorded on the way, and what its history notes besides.

A transition is a compare-and-set on the review's stage: ``UPDATE review SET stage = :to WHERE id = :id AND
stage = :expected``. Of two writers racing from the same stage exactly one updates a row; the other gets
``StaleStage`` and writes nothing. Each move, note and decision is appended to one of the review's hash chains
(models/chain.py), and the review's signed head is stored again (models.audit.store_head).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import chain, stages
from models.audit import decision_hash, event_hash, store_head
from models.review.timetable import refresh_deadlines, set_milestones
from models.rulebook import Event
from models.stages import Facts, Stage
from models.tables import Decision, DecisionKind, Review, StageEvent, utcnow


class StaleStage(RuntimeError):
    """The review was no longer at the expected stage: someone else moved it first. Nothing was written."""

    def __init__(self, reference: str, expected: str, actual: str | None) -> None:
        super().__init__(
            f"{reference} has already moved on (expected stage {expected!r}, found {actual!r}); nothing was changed"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Actor:
    """Who acts: a person as the register knows them (with how they proved it), or the system itself."""

    name: str
    role: str
    person_id: str | None = None  # their account's id; None for the system, or an operator at the command line
    signed_in_with: str | None = None  # "password+totp", "password" (a demo account) or "oidc"; None likewise


def apply_transition(
    session: Session,
    review: Review,
    name: stages.Transition,
    *,
    actor: Actor,
    facts: Facts | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    milestones: Mapping[Event, dt.date] | None = None,
    at: dt.datetime | None = None,
) -> StageEvent:
    """Move ``review`` along transition ``name`` from the stage it was read at.

    Raises ``IllegalTransition`` (not allowed, or a guard fails) or ``StaleStage`` (another writer moved it
    first); in both cases nothing is written.
    """
    at = at or utcnow()
    expected = review.stage
    move = stages.check(expected, name, facts or Facts())
    result = session.execute(
        sa.update(Review)
        .where(col(Review.id) == review.id, col(Review.stage) == expected)
        .values(stage=move.target, version=Review.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        actual = session.execute(sa.select(col(Review.stage)).where(col(Review.id) == review.id)).scalar()
        raise StaleStage(review.reference, expected.value, None if actual is None else str(actual))
    session.refresh(review)
    event = append_event(
        session,
        review,
        transition=name,
        from_stage=expected,
        to_stage=move.target,
        actor=actor,
        reason=reason,
        details=dict(details or {}),
        at=at,
    )
    if milestones:
        set_milestones(session, review, milestones)
    refresh_deadlines(session, review)
    return event


def append_event(
    session: Session,
    review: Review,
    *,
    transition: str,
    from_stage: Stage | None,
    to_stage: Stage,
    actor: Actor,
    reason: str | None,
    details: dict[str, Any],
    at: dt.datetime,
) -> StageEvent:
    """Append an event to the review's history (its stage events' chain) and sign its head again."""
    event = StageEvent(
        review_id=review.id,
        transition=transition,
        from_stage=from_stage.value if from_stage else None,
        to_stage=to_stage.value,
        actor_name=actor.name,
        actor_role=actor.role,
        actor_id=_account_id(actor),
        actor_signed_in_with=actor.signed_in_with,
        reason=reason,
        details=details,
        at=at,
    )
    chain.append(session, event, hashed=event_hash, chain=col(StageEvent.review_id) == review.id)
    store_head(session, review)
    return event


class Noted(StrEnum):
    """What a review's history records besides its moves: its stage stays where it is."""

    LEGAL_HOLD = "legal_hold"  # kept whatever its retention says (models/retention.py)
    HOLD_LIFTED = "legal_hold_lifted"
    ERASED = "erased"  # its data key destroyed
    DOCUMENT_DELETED = "document_deleted"  # a restricted document past its retention
    PERSON_CORRECTED = "person_corrected"  # a person's recorded name or date of birth put right
    INFORMATION_REQUEST = "information_request"  # an agency's information request: asked, answered, changed
    ACTION = "action"  # an action on a recommendation: given, its progress, accepted, sent back, closed


def note(
    session: Session,
    review: Review,
    what: Noted,
    *,
    actor: Actor,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> StageEvent:
    """Record in the review's history something done to it that is not a move: the chain and the head cover it."""
    return append_event(
        session,
        review,
        transition=what,
        from_stage=review.stage,
        to_stage=review.stage,
        actor=actor,
        reason=reason,
        details=dict(details or {}),
        at=at or utcnow(),
    )


def record_decision(
    session: Session,
    review: Review,
    kind: DecisionKind,
    outcome: str,
    actor: Actor,
    *,
    round: int = 1,
    reasons: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Decision:
    """Append a decision to the review's audit trail (its decisions' chain) and sign its head again."""
    row = Decision(
        review_id=review.id,
        kind=kind,
        round=round,
        outcome=outcome,
        actor_name=actor.name,
        actor_role=actor.role,
        actor_id=_account_id(actor),
        actor_signed_in_with=actor.signed_in_with,
        reasons=reasons,
        details=dict(details or {}),
        at=at or utcnow(),
    )
    chain.append(session, row, hashed=decision_hash, chain=col(Decision.review_id) == review.id)
    store_head(session, review)
    return row


def _account_id(actor: Actor) -> uuid.UUID | None:
    return None if actor.person_id is None else uuid.UUID(actor.person_id)


def latest_decision(session: Session, review: Review, kind: DecisionKind) -> tuple[int, Decision | None]:
    """How many decisions of ``kind`` the review has, and the latest of them."""
    rows = session.exec(
        select(Decision).where(Decision.review_id == review.id, Decision.kind == kind).order_by(col(Decision.at))
    ).all()
    return len(rows), (rows[-1] if rows else None)


def history(session: Session, review_id: uuid.UUID) -> list[StageEvent]:
    return list(session.exec(select(StageEvent).where(StageEvent.review_id == review_id).order_by(col(StageEvent.seq))))
