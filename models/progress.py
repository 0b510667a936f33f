"""Where a review stands, read from its history: what the steps, the answers and the documents all ask.

Reads only; every function works inside the caller's session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, select

from models.review.timetable import milestones_of
from models.review.transitions import history, latest_decision
from models.rulebook import Event
from models.stages import Transition
from models.tables import Decision, DecisionKind, Review, StageEvent


def deferred_until(session: Session, review: Review) -> dt.date | None:
    """The date to look again at a deferred publication (the latest deferral's)."""
    events = [e for e in history(session, review.id) if e.transition == Transition.DEFER_PUBLICATION]
    if not events:
        return None
    return dt.date.fromisoformat(events[-1].details["look_again_on"])


def times_taken(session: Session, review: Review, move: Transition) -> int:
    """How often the review has taken ``move``. Counted, not loaded: the tasks page reads it, with no key to open a
    stage event's sealed reason."""
    return session.exec(
        select(sa.func.count())
        .select_from(StageEvent)
        .where(StageEvent.review_id == review.id, StageEvent.transition == move.value)
    ).one()


def sign_off_round(session: Session, review: Review) -> int:
    """Which rapid review is being signed: 1, or more after a partner sent it back."""
    return times_taken(session, review, Transition.RECORD_RAPID_REVIEW)


class SignOff(NamedTuple):
    actor_role: str
    outcome: str
    actor_id: uuid.UUID | None
    details: dict[str, Any]  # its dates; a free-text value in it stays sealed (read with no key)


def _sign_offs(session: Session, review: Review) -> list[SignOff]:
    """The sign-offs given so far to the rapid review now awaiting sign-off. Columns, not decisions: the tasks page
    reads who has signed, with no key to open a decision's sealed reasons."""
    rows = session.exec(
        select(Decision.actor_role, Decision.outcome, Decision.actor_id, Decision.details).where(
            Decision.review_id == review.id,
            Decision.kind == DecisionKind.SIGN_OFF,
            Decision.round == sign_off_round(session, review),
        )
    ).all()
    return [SignOff(*row) for row in rows]


def signed_by(session: Session, review: Review) -> dict[str, str]:
    """Partner role -> outcome, for the rapid review now awaiting sign-off."""
    return {d.actor_role: d.outcome for d in _sign_offs(session, review)}


def signers(session: Session, review: Review) -> set[str]:
    """The accounts of the people who have signed (or sent back) the rapid review now awaiting sign-off."""
    return {str(d.actor_id) for d in _sign_offs(session, review) if d.actor_id is not None}


def sign_off_dates(session: Session, review: Review) -> list[dt.date]:
    return [dt.date.fromisoformat(d.details["on"]) for d in _sign_offs(session, review) if "on" in d.details]


def milestone_on(session: Session, review: Review, event: Event) -> dt.date | None:
    return milestones_of(session, review.id).get(event)


def decisions_made(session: Session, review: Review, kind: DecisionKind) -> int:
    return latest_decision(session, review, kind)[0]


def panel_chose_national(session: Session, review: Review) -> bool | None:
    """The Panel's response: a national review (True) or not (False); None before it responded."""
    row = session.exec(
        select(Decision).where(Decision.review_id == review.id, Decision.kind == DecisionKind.PANEL_RESPONSE)
    ).first()
    return None if row is None else row.outcome == "national_review"
