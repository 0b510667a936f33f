"""A person's tasks: the steps waiting for them, what waits in the partnerships they coordinate, and what they did
lately. Read from the project database alone, with no key: the tasks page (gate/tasks_app.py) shows it.

The worklist (models/worklist.py) is the one source: every step waiting for a person in any review. Here it is cut
to the person by the register on the day: a step is theirs where they hold, in the review's partnership, a role the
step still waits on. A coordinator also sees every other step waiting in their partnerships; an operator sees every
step waiting, and answers none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.accounts import partnerships_of, roles_in
from models.process import STEPS
from models.roles import Role
from models.stages import HUMAN_LABELS, Stage
from models.tables import Account, Decision, Partnership, Review, StageEvent
from models.worklist import Waiting, worklist

DONE_RECENTLY = dt.timedelta(days=30)
DONE_SHOWN = 50
SAME_ANSWER = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Task:
    waiting: Waiting
    yours: frozenset[Role]  # the roles in which this person may answer it (none: shown to them, not theirs)


@dataclass(frozen=True)
class Done:
    reference: str
    what: str  # the step answered, or the decision, in words
    outcome: str  # where the review went, or the decision's outcome
    at: dt.datetime


@dataclass(frozen=True)
class YourTasks:
    yours: list[Task]  # waiting for this person, soonest deadline first
    others: list[Task]  # waiting for someone else in a partnership they coordinate (an operator: everywhere)
    done: list[Done]  # what they answered in the last 30 days, newest first
    roles: dict[str, frozenset[Role]]  # their roles in force today, by partnership code
    operator: bool


def roles_today(session: Session, account: Account, today: dt.date) -> dict[str, frozenset[Role]]:
    """The person's roles in force today, by partnership code (their registration and partner body both)."""
    held: dict[str, frozenset[Role]] = {}
    for code in sorted(partnerships_of(session, account)):
        partnership = session.exec(select(Partnership).where(Partnership.code == code)).one()
        roles = roles_in(session, str(account.id), partnership, today)
        if roles:
            held[code] = roles
    return held


def your_tasks(session: Session, account_id: uuid.UUID, today: dt.date, *, operator: bool = False) -> YourTasks:
    """Everything the tasks page lists for the person."""
    account = session.get_one(Account, account_id)
    roles = roles_today(session, account, today)
    yours: list[Task] = []
    others: list[Task] = []
    for waiting in worklist(session, today):
        held = roles.get(waiting.partnership, frozenset())
        answers = held & frozenset(waiting.who)
        if answers:
            yours.append(Task(waiting, answers))
        elif operator or Role.COORDINATOR in held:
            others.append(Task(waiting, frozenset()))
    return YourTasks(yours, others, done_recently(session, account_id, today), roles, operator)


def done_recently(session: Session, account_id: uuid.UUID, today: dt.date) -> list[Done]:
    """What the person answered in the last 30 days, newest first: each answer that moved a review (a stage event of
    theirs), and each decision of theirs that moved none (a partner's sign-off while others are still to sign)."""
    since = dt.datetime.combine(today - DONE_RECENTLY, dt.time.min, tzinfo=dt.UTC)
    moves = session.exec(
        select(Review.reference, StageEvent.from_stage, StageEvent.to_stage, StageEvent.at)
        .join(Review, col(Review.id) == col(StageEvent.review_id))
        .where(StageEvent.actor_id == account_id, col(StageEvent.at) >= since, col(StageEvent.from_stage).is_not(None))
        .order_by(col(StageEvent.at).desc())
        .limit(DONE_SHOWN)
    ).all()
    decisions = session.exec(
        select(Review.reference, Decision.kind, Decision.outcome, Decision.at)
        .join(Review, col(Review.id) == col(Decision.review_id))
        .where(Decision.actor_id == account_id, col(Decision.at) >= since)
        .order_by(col(Decision.at).desc())
        .limit(DONE_SHOWN)
    ).all()
    done = [
        Done(reference, _step_title(Stage(before)), HUMAN_LABELS[Stage(after)], at)
        for reference, before, after, at in moves
        if before is not None
    ]
    # a decision recorded with a move (in the same transaction, a moment apart) is that move: shown once
    done += [
        Done(reference, _in_words(str(kind)), outcome.replace("_", " "), at)
        for reference, kind, outcome, at in decisions
        if not any(d.reference == reference and abs(_utc(d.at) - _utc(at)) < SAME_ANSWER for d in done)
    ]
    return sorted(done, key=lambda d: d.at, reverse=True)[:DONE_SHOWN]


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives a stored time back without its zone


def _step_title(stage: Stage) -> str:
    step = STEPS.get(stage)
    return step.title if step is not None else HUMAN_LABELS[stage]


def _in_words(kind: str) -> str:
    return kind.replace("_", " ").capitalize()
