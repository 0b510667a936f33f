"""Who is on a task ("I'm on it"), and the day each person means to come back to one (their follow-up date).

A claim is shown, not enforced: anyone who may answer the step still can. It is there so that two people do not do
the same work unknowingly, so there is one holder at a time, and taking a task someone else holds is refused with
their name; the holder lets it go, or a coordinator does for them. A claim by an account since disabled holds
nothing: its holder can no longer act, and the task is free to take.

Both are kept for a task, one visit of a review to a step (models/task_ref.py): once the review moves on they are
not shown, and ``purge`` (run by the daily deadline sweep) deletes them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.calendar import london_day
from models.dates import long_date
from models.refusals import Refused
from models.tables import Account, FollowUp, TaskClaim
from models.task_ref import CHUNK, TaskRef, check_current, current_tasks, matching, upsert


class Taken(Refused):
    """Someone else holds the task: ``str()`` says who, and since when."""

    def __init__(self, holder: ClaimView) -> None:
        super().__init__(
            f"{holder.name} has been on this step since {long_date(london_day(holder.taken_at))}: ask them, or a "
            "coordinator, to let it go before you take it"
        )
        self.holder = holder


class NotYours(Refused):
    """A release asked by someone who neither holds the task nor coordinates."""


@dataclass(frozen=True)
class ClaimView:
    account_id: uuid.UUID
    name: str
    taken_at: dt.datetime  # in UTC


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)  # SQLite gives no zone back


def holders(session: Session, tasks: list[TaskRef]) -> dict[TaskRef, ClaimView]:
    """Who holds each of ``tasks`` that is held, by an account still active."""
    found: dict[TaskRef, ClaimView] = {}
    unique = list(dict.fromkeys(tasks))
    for start in range(0, len(unique), CHUNK):
        rows = session.exec(
            select(TaskClaim, Account)
            .join(Account, col(Account.id) == col(TaskClaim.account_id))
            .where(matching(TaskClaim, unique[start : start + CHUNK]), col(Account.active).is_(True))
        ).all()
        for claim, account in rows:
            task = TaskRef(claim.review_id, claim.stage, claim.visit)
            found[task] = ClaimView(account.id, account.name, _utc(claim.taken_at))
    return found


def _claim(session: Session, task: TaskRef) -> tuple[TaskClaim, Account] | None:
    row = session.exec(
        select(TaskClaim, Account)
        .join(Account, col(Account.id) == col(TaskClaim.account_id))
        .where(matching(TaskClaim, [task]))
        .with_for_update(of=TaskClaim)
    ).first()
    return None if row is None else (row[0], row[1])


def take(session: Session, task: TaskRef, account_id: uuid.UUID, at: dt.datetime) -> None:
    """The person takes the task; taking it again changes nothing. Refused (``Taken``) when another active account
    holds it, and (``MovedOn``) when the review has left it."""
    check_current(session, task)
    upsert(
        session,
        TaskClaim,
        {
            "id": uuid.uuid4(),
            "review_id": task.review_id,
            "stage": task.stage,
            "visit": task.visit,
            "account_id": account_id,
            "taken_at": at.astimezone(dt.UTC),
        },
        keys=["review_id", "stage", "visit"],
        update=[],  # the one there stays: checked below, under its lock
    )
    held = _claim(session, task)
    assert held is not None  # inserted, or there already
    claim, holder = held
    if claim.account_id == account_id:
        return
    if holder.active:
        raise Taken(ClaimView(holder.id, holder.name, _utc(claim.taken_at)))
    claim.account_id = account_id  # its holder can no longer act: the task was free
    claim.taken_at = at.astimezone(dt.UTC)
    session.add(claim)
    session.flush()


def release(session: Session, task: TaskRef, by_account_id: uuid.UUID, *, coordinator: bool) -> None:
    """The task let go, by its holder or a coordinator (someone away, a task stuck with them); anyone else is refused
    (``NotYours``). Letting go of a task nobody holds changes nothing."""
    held = _claim(session, task)
    if held is None:
        return
    claim, holder = held
    if claim.account_id != by_account_id and not coordinator:
        raise NotYours(f"{holder.name} is on this step: only they, or a coordinator, can let it go")
    session.delete(claim)
    session.flush()


def release_task(session: Session, task: TaskRef) -> None:
    """The task let go, whoever held it: its answer was accepted, and there is nothing left to be on."""
    session.execute(sa.delete(TaskClaim).where(matching(TaskClaim, [task])))


def set_follow_up(session: Session, task: TaskRef, account_id: uuid.UUID, on: dt.date | None) -> None:
    """The day the person means to come back to the task, or (None) no day. Their own: nobody else sees it."""
    if on is None:
        session.execute(sa.delete(FollowUp).where(col(FollowUp.account_id) == account_id, matching(FollowUp, [task])))
        return
    check_current(session, task)
    upsert(
        session,
        FollowUp,
        {
            "id": uuid.uuid4(),
            "account_id": account_id,
            "review_id": task.review_id,
            "stage": task.stage,
            "visit": task.visit,
            "on": on,
        },
        keys=["account_id", "review_id", "stage", "visit"],
        update=["on"],
    )


def follow_ups(session: Session, account_id: uuid.UUID, tasks: list[TaskRef]) -> dict[TaskRef, dt.date]:
    """The person's follow-up date of each of ``tasks`` that has one."""
    found: dict[TaskRef, dt.date] = {}
    unique = list(dict.fromkeys(tasks))
    for start in range(0, len(unique), CHUNK):
        rows = session.exec(
            select(FollowUp).where(FollowUp.account_id == account_id, matching(FollowUp, unique[start : start + CHUNK]))
        ).all()
        found.update({TaskRef(row.review_id, row.stage, row.visit): row.on for row in rows})
    return found


def forget_review(session: Session, review_id: uuid.UUID) -> None:
    """Every claim and follow-up date of the review: it is being erased."""
    session.execute(sa.delete(TaskClaim).where(col(TaskClaim.review_id) == review_id))
    session.execute(sa.delete(FollowUp).where(col(FollowUp.review_id) == review_id))


def purge(session: Session) -> int:
    """Delete the claims and follow-up dates of tasks their reviews have left: they are never shown again (a step
    asked again is a new visit). Returns how many went."""
    gone = _purge_moved_on(session, TaskClaim)
    gone += _purge_moved_on(session, FollowUp)
    return gone


Kept = TypeVar("Kept", TaskClaim, FollowUp)


def _purge_moved_on(session: Session, model: type[Kept]) -> int:
    rows = session.exec(select(model)).all()  # a few rows: at most one a person and task
    current = current_tasks(session, (row.review_id for row in rows))
    stale = [row.id for row in rows if current.get(row.review_id) != TaskRef(row.review_id, row.stage, row.visit)]
    for start in range(0, len(stale), CHUNK):
        session.execute(sa.delete(model).where(col(model.id).in_(stale[start : start + CHUNK])))
    return len(stale)
