"""Checks, moves and recipients that several steps' handlers share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from models.forms import FormModel
from models.process.step import Refusal
from models.review import transitions
from models.review.transitions import Actor
from models.stages import Facts, Transition
from models.tables import Review


def not_before(day: dt.date, earliest: dt.date | None, what: str, than: str) -> None:
    if earliest is not None and day < earliest:
        raise Refusal(f"{what} ({day:%d %B %Y}) cannot be before {than} ({earliest:%d %B %Y})")


def summary(form: FormModel) -> dict[str, Any]:
    """An answer as JSON-ready data, for the decision's details."""
    return form.model_dump(mode="json")


def send_back(
    session: Session,
    review: Review,
    move: Transition,
    actor: Actor,
    reason: str,
    *,
    details: dict[str, Any] | None = None,
    at: dt.datetime,
) -> None:
    """A move back a step, which the state machine allows only with a reason; the reason goes in the history."""
    facts = Facts(reason=reason)
    transitions.apply_transition(session, review, move, actor=actor, facts=facts, reason=reason, details=details, at=at)
