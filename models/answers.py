"""Acting on a person's answer to a step's form: validate it against the case, then record it and move on.

``apply_answer`` is one transaction. An accepted answer writes the decision, the transition, the deadlines and
any outbox messages together; a refused one writes only the refusal (shown with the form when it is asked
again) and changes nothing else. Either way the review's answer counter moves on, so the next form has a new
key. An answer whose key no longer matches the review has been applied already: it is ignored, which is what
makes a replayed run safe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import forms, records, steps
from models.calendar import today_in_england
from models.handlers import Refusal
from models.records import Actor
from models.stages import IllegalTransition, Stage, Transition
from models.tables import Partnership, Representative, Review, utcnow


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    message: str
    already_applied: bool = False


def apply_answer(
    session: Session,
    review: Review,
    key: str,
    data: dict[str, Any],
    *,
    at: dt.datetime | None = None,
    today: dt.date | None = None,
    refusal: str | None = None,
) -> Outcome:
    """Apply an answer; ``refusal`` is a check made outside the database (the redaction gate) saying no."""
    at = at or utcnow()
    today = today or today_in_england()
    if key != steps.step_key(review):
        return Outcome(True, "this answer was recorded already", already_applied=True)
    step = steps.STEPS[Stage(review.stage)]
    try:
        answer = step.form.model_validate(data)
    except pydantic.ValidationError as exc:
        return _refuse(session, review, explain(exc, step.form))
    if refusal:
        return _refuse(session, review, refusal)
    if (unregistered := not_registered(session, review, step, answer)) is not None:
        return _refuse(session, review, unregistered)
    try:
        with session.begin_nested():  # a refusal part-way through undoes whatever the handler wrote
            message = step.handler(session, review, answer, at, today)
    except (Refusal, IllegalTransition) as exc:
        session.refresh(review)
        return _refuse(session, review, str(exc))
    _advance_counter(session, review, refusal=None)
    return Outcome(True, message)


def explain(exc: pydantic.ValidationError, form: type[pydantic.BaseModel]) -> str:
    """Pydantic's errors in the coordinator's words: the field's title and what is wrong, never the value."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [p for p in error["loc"] if isinstance(p, str)]
        field = form.model_fields.get(loc[0]) if loc else None
        title = (field.title if field and field.title else loc[0].replace("_", " ")) if loc else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{title}: {message}" if title else message)
    return "; ".join(parts)


def _refuse(session: Session, review: Review, message: str) -> Outcome:
    _advance_counter(session, review, refusal=message[:2000])
    return Outcome(False, message)


def _advance_counter(session: Session, review: Review, *, refusal: str | None) -> None:
    session.execute(
        sa.update(Review)
        .where(col(Review.id) == review.id)
        .values(step_seq=Review.step_seq + 1, step_refusal=refusal)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(review)


# --- who may answer ---------------------------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def not_registered(session: Session, review: Review, step: steps.Step, answer: forms.FormModel) -> str | None:
    """Why the person named on the form may not answer this step, or None if they may: only an active
    representative registered in the review's partnership for one of the step's roles (for a sign-off, for the
    very partner signed for). The message never repeats the name typed: it could be anyone's."""
    roles = {answer.partner} if isinstance(answer, forms.SignOff) else set(step.roles)
    people = session.exec(
        select(Representative).where(
            Representative.partnership_id == review.partnership_id,
            col(Representative.active).is_(True),
            col(Representative.role).in_(roles),
        )
    ).all()
    if any(_same_name(person.name, str(getattr(answer, "your_name", ""))) for person in people):
        return None
    partnership = session.get_one(Partnership, review.partnership_id)
    who = " or ".join(sorted(role.label for role in roles))
    return (
        f'the name given under "Your name" is not registered as a {who} representative of {partnership.name}, '
        "so this answer cannot be accepted and nothing was recorded. Check the spelling of your name, or ask the "
        "partnership's coordinator to register you"
    )


def apply_automatic(session: Session, review: Review, transition: Transition, *, at: dt.datetime | None = None) -> None:
    """Moves that need no person: closing a no-review case once others are told; reconsidering a deferral."""
    records.apply_transition(session, review, transition, actor=Actor("cspr", "system"), at=at)
