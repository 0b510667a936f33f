"""What an item's run waits for, and applying an answer to it: the same checks as a step's answer
(models/answers.py): only an answer the gate signed, from a person the register has in a role that may give it, and,
for an agency's answer, a contact of that very agency. Either way the item's counter moves on, so its next form has
a new key; an answer whose key is spent was applied already (a replayed run) and is ignored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlmodel import Session, col

from models.agencies import agency_ids_of
from models.answers import Outcome, acting, explain
from models.calendar import today_in_england
from models.identity import Identity
from models.process.step import Refusal
from models.stages import IllegalTransition
from models.tables import Agency, Partnership, Review, utcnow
from models.work.items import F, ItemRef, Row, Work, item_key, row_of


@dataclass(frozen=True)
class AskFor:
    key: str
    description: str


@dataclass(frozen=True)
class ItemClosed:
    pass


def next_for(session: Session, review: Review, work: Work[Any], number: int) -> AskFor | ItemClosed:
    """What the item's run does next, from the database: wait for its form under a new key, or end."""
    row = row_of(session, review, work, number)
    if not work.is_open(row):
        return ItemClosed()
    ref = ItemRef(work.kind, number)
    lines = work.describe(session, review, row)
    if row.refusal:
        lines += [f"> **The last answer was not accepted:** {row.refusal}", "> Nothing was changed."]
    return AskFor(item_key(ref, row.answer_seq), "\n".join(lines))


def apply_item_answer(
    session: Session,
    review: Review,
    work: Work[F],
    number: int,
    key: str,
    data: dict[str, Any],
    *,
    signer: Identity | str,
    at: dt.datetime | None = None,
    today: dt.date | None = None,
) -> Outcome:
    """Apply an answer to an item, as ``apply_answer`` does a step's."""
    at, today = at or utcnow(), today or today_in_england()
    row = row_of(session, review, work, number)
    if key != item_key(ItemRef(work.kind, number), row.answer_seq):
        return Outcome(True, "this answer was recorded already", already_applied=True)
    if isinstance(signer, str):
        return _refuse(session, row, signer)
    try:
        answer = work.form.model_validate(data)
    except pydantic.ValidationError as exc:
        return _refuse(session, row, explain(exc, work.form))
    try:
        partnership = session.get_one(Partnership, review.partnership_id)
        actor = acting(session, partnership, signer, work.roles(answer))
        if work.from_its_agency(answer):
            its_agency(session, partnership, row, signer, today)
        with session.begin_nested():  # a refusal part-way through undoes whatever the handler wrote
            message = work.handler(session, review, row, answer, actor, at, today)
    except (Refusal, IllegalTransition) as exc:
        session.refresh(row)
        return _refuse(session, row, str(exc))
    _advance(session, row, refusal=None)
    return Outcome(True, message)


def its_agency(session: Session, partnership: Partnership, row: Row, signer: Identity, today: dt.date) -> None:
    """Refuse an agency contact answering for an agency that is not theirs."""
    if row.agency_id not in agency_ids_of(session, signer.person_id, partnership.id, today):
        agency = session.get_one(Agency, row.agency_id)
        raise Refusal(
            f"you are not registered as a contact of {agency.name}, so this answer cannot be accepted and nothing was "
            f"recorded. {agency.name}'s contact must answer it; ask the partnership's cspr operator if that is you"
        )


def _refuse(session: Session, row: Row, message: str) -> Outcome:
    _advance(session, row, refusal=message[:2000])
    return Outcome(False, message)


def _advance(session: Session, row: Row, *, refusal: str | None) -> None:
    table: Any = type(row)
    session.execute(
        sa.update(table)
        .where(col(table.id) == row.id)
        .values(answer_seq=table.answer_seq + 1)
        .execution_options(synchronize_session=False)
    )
    row.refusal = refusal  # through the ORM: sealed as every other free text of the item
    session.add(row)
    session.flush()
    session.refresh(row)
