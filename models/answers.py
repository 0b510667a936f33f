"""Acting on a person's answer to a step's form: validate it against the case, then record it and move on.

``apply_answer`` is one transaction. Only an answer the gate signed, from a person the register has in a role that
may answer the step in the review's partnership, is looked at. An accepted answer writes the decision, the
transition, the deadlines and any outbox messages together; a refused one writes only the refusal (shown with the
form when it is asked again) and changes nothing else. Either way the review's answer counter moves on, so the next
form has a new key. An answer whose key no longer matches the review has been applied already: it is ignored, which
is what makes a replayed run safe.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from dataclasses import dataclass
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlmodel import Session, col

from models.accounts import roles_in
from models.calendar import today_in_england
from models.forms import FormModel
from models.identity import Identity
from models.process import AUTOMATIC, STEPS, Refusal, Step, step_key
from models.review import transitions
from models.review.transitions import Actor
from models.roles import Role
from models.stages import IllegalTransition, Stage, Transition
from models.tables import Account, Partnership, Review, utcnow


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
    signer: Identity | str,
    at: dt.datetime | None = None,
    today: dt.date | None = None,
    refusal: str | None = None,
) -> Outcome:
    """Apply an answer given by ``signer``: the person the gate signed onto it (models/identity.py), or why no one
    could be trusted to have given it. ``refusal`` is a check made outside the database (the redaction gate)
    saying no."""
    at = at or utcnow()
    today = today or today_in_england()
    if key != step_key(review):
        return Outcome(True, "this answer was recorded already", already_applied=True)
    step = STEPS[Stage(review.stage)]
    if isinstance(signer, str):  # nothing in an answer nobody can be held to is looked at
        return _refuse(session, review, signer)
    try:
        answer = step.form.model_validate(data)
    except pydantic.ValidationError as exc:
        return _refuse(session, review, explain(exc, step.form))
    try:
        actor = acting(session, session.get_one(Partnership, review.partnership_id), signer, roles_for(step, answer))
    except Refusal as exc:
        return _refuse(session, review, str(exc))
    if refusal:
        return _refuse(session, review, refusal)
    try:
        with session.begin_nested():  # a refusal part-way through undoes whatever the handler wrote
            message = step.handler(session, review, answer, actor, at, today)
    except (Refusal, IllegalTransition) as exc:
        session.refresh(review)
        return _refuse(session, review, str(exc))
    _advance_counter(session, review, refusal=None)
    return Outcome(True, message)


def explain(exc: pydantic.ValidationError, form: type[pydantic.BaseModel]) -> str:
    """Pydantic's errors in the coordinator's words: where (the field's title, and in a table its row and column)
    and what is wrong, never the value."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = _where(error["loc"], form)
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _where(loc: tuple[int | str, ...], form: type[pydantic.BaseModel]) -> str:
    """An error's place as people read it: "Actions on the recommendations, row 2, Named owner"."""
    said: list[str] = []
    model: type[pydantic.BaseModel] | None = form
    for part in loc:
        if isinstance(part, int):
            said.append(f"row {part + 1}")
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:  # a field the form does not have, by its name; pydantic's own places ("function-after")
            said += [part.replace("_", " ")] if part.isidentifier() else []
            model = None
            continue
        said.append(field.title or part.replace("_", " "))
        model = _rows_of(field.annotation)
    return ", ".join(said)


def _rows_of(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The model a field holds, itself or in a list (a form's table of rows); else None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, pydantic.BaseModel):
            return candidate
    return None


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


def roles_for(step: Step[Any], answer: FormModel) -> frozenset[Role]:
    """The roles that may give this answer: the step's, or those the answer itself names where the step says so (a
    sign-off: the very partner signed for)."""
    return step.answered_by(answer) if step.answered_by is not None else step.roles


def acting(session: Session, partnership: Partnership, signer: Identity | str, roles: frozenset[Role]) -> Actor:
    """The person who answered, as the register knows them today: an active account registered (and active) in
    ``partnership`` in one of ``roles``, with the role the register gives them, never the token's. Otherwise a
    Refusal saying what to do; it repeats nothing typed, and nothing of the person's but their own name."""
    if isinstance(signer, str):
        raise Refusal(signer)
    held = roles_in(session, signer.person_id, partnership) & roles
    if not held and roles_in(session, signer.person_id, partnership, any_day=True) & roles:
        raise Refusal(
            f"your registration for {partnership.name} is not in force today ({today_in_england():%d %B %Y}): it has "
            "ended, or not yet begun, or the partner body you act for has changed. Nothing was recorded. The "
            "partner's representative on the day must answer it; ask the partnership's cspr operator "
            "(cspr partnerships) if that should be you"
        )
    if not held:
        who = " or ".join(sorted(role.label for role in roles))
        raise Refusal(
            f"you are not registered as a {who} representative of {partnership.name}, so this answer cannot be "
            f"accepted and nothing was recorded. The {who} representative must answer it; if that is you, ask the "
            "partnership's cspr operator to register you"
        )
    account = session.get_one(Account, uuid.UUID(signer.person_id))
    # one registration per partnership, so one role; the gate's choice stands if it named one of them
    role = Role(signer.role) if signer.role in held else min(held)
    return Actor(account.name, role, signer.person_id, signer.signed_in_with)


def apply_automatic(session: Session, review: Review, transition: Transition, *, at: dt.datetime | None = None) -> None:
    """Moves that need no person: closing a no-review case once others are told; reconsidering a deferral; closing
    a review once every action on its recommendations is closed."""
    auto = AUTOMATIC.get(Stage(review.stage))
    facts = auto.facts(session, review) if auto is not None and auto.facts is not None else None
    marks = {auto.marks: today_in_england()} if auto is not None and auto.marks is not None else None
    transitions.apply_transition(
        session, review, transition, actor=Actor("cspr", "system"), facts=facts, milestones=marks, at=at
    )
