"""A task: one visit of a review to a step, named by the review, the stage and the visit, the ``seq`` of the stage
event that moved the review into the stage.

The visit is what tells a step answered before from the same step asked again (a rapid review sent back, a draft
returned to the reviewer): a draft, a claim or a follow-up date kept for the first visit is never shown on the
second. A note in the review's history (a legal hold, a correction) moves nothing, so it starts no new visit.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from models.refusals import Refused
from models.stages import Stage
from models.tables import Review, StageEvent

CHUNK = 500  # reviews or tasks per statement: a database takes only so many values in one


@dataclass(frozen=True)
class TaskRef:
    review_id: uuid.UUID
    stage: Stage
    visit: int


class MovedOn(Refused):
    """The task is no longer waiting: its review has moved on since the page was shown."""


def _moves() -> sa.ColumnElement[bool]:
    """The stage events that moved a review (the first, its creation, included), not the notes: a note stays where
    it is, and the state machine has no move from a stage to itself."""
    return sa.or_(col(StageEvent.from_stage).is_(None), col(StageEvent.from_stage) != col(StageEvent.to_stage))


def current_task(session: Session, review: Review) -> TaskRef:
    """The visit of ``review`` to the stage it is at (as read by the caller)."""
    visit = session.exec(
        select(sa.func.max(StageEvent.seq)).where(
            StageEvent.review_id == review.id, StageEvent.to_stage == review.stage.value, _moves()
        )
    ).one()
    if visit is None:  # every review's history starts with the move into its first stage
        raise LookupError(f"{review.reference} has no move into its stage in its history")
    return TaskRef(review.id, Stage(review.stage), visit)


def current_tasks(session: Session, review_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TaskRef]:
    """The current task of each review, in a few statements however many there are: for a page listing them all."""
    ids = list(dict.fromkeys(review_ids))
    found: dict[uuid.UUID, TaskRef] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.exec(
            select(col(Review.id), col(Review.stage), sa.func.max(StageEvent.seq))
            .join(StageEvent, col(StageEvent.review_id) == col(Review.id))
            .where(col(Review.id).in_(ids[start : start + CHUNK]), col(StageEvent.to_stage) == col(Review.stage))
            .where(_moves())
            .group_by(col(Review.id), col(Review.stage))
        ).all()
        found.update({review_id: TaskRef(review_id, Stage(stage), visit) for review_id, stage, visit in rows})
    return found


def check_current(session: Session, task: TaskRef) -> None:
    """Refuse, in words the person reads, a task its review has left: what they meant to do no longer applies."""
    if current_tasks(session, [task.review_id]).get(task.review_id) != task:
        raise MovedOn("this step has moved on since the page was shown: reload the page to see where it stands now")


def matching(model: type[SQLModel], tasks: list[TaskRef]) -> sa.ColumnElement[bool]:
    """A model's rows for any of ``tasks`` (at most ``CHUNK`` of them): (review_id, stage, visit) in the list."""
    columns: Any = model
    return sa.tuple_(columns.review_id, columns.stage, columns.visit).in_(
        [(t.review_id, t.stage.value, t.visit) for t in tasks]
    )


def upsert(
    session: Session, model: type[SQLModel], values: Mapping[str, Any], *, keys: list[str], update: list[str]
) -> None:
    """Insert a row, or where one with the same ``keys`` is there already, change its ``update`` columns (none:
    leave it as it is). One statement, so two writers at once (two tabs saving the same draft) never collide."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)
    statement = insert.values(dict(values))
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement)


TASKS = "/tasks"  # where the gate serves the tasks pages (gate/tasks_app.py)


def task_path(reference: str, stage: Stage) -> str:
    """The address of a step's task page, under the gate's own: the emails link there, and the page lives there."""
    return f"{TASKS}/{urllib.parse.quote(reference, safe='')}/{stage.value.replace('_', '-')}"
