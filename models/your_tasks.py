"""A person's tasks: the steps waiting for them, what waits in the partnerships they coordinate, the work around the
reviews that is theirs to see, and what they did lately. Read from the project database alone, with no key: the tasks
page (gate/tasks_app.py) shows it.

The worklist (models/worklist.py) is the one source: every step waiting for a person in any review, and every item of
the work around a review (agencies' information requests, actions on recommendations). Here it is cut to the person
by the register on the day: a step is theirs where they hold, in the review's partnership, a role the step still waits
on. A coordinator also sees every other step waiting in their partnerships; an operator sees every step waiting, and
answers none.

An item is seen by a coordinator or a partner of its review's partnership, and by a contact of its own agency; by
nobody else, an operator included (``item_roles``): an agency's contact sees their own agency's open requests and
actions, and nothing of any other agency's or of the review's steps; a coordinator sees each request's status and each
open action's; a partner, the actions waiting for the partnership to accept them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import partnerships_of, roles_in
from models.agencies import agency_ids_of
from models.process import STEPS
from models.review.transitions import Noted
from models.roles import PARTNERS, Role
from models.sealing import PREFIX as SEALED
from models.stages import HUMAN_LABELS, Stage
from models.tables import Account, Decision, Partnership, Review, StageEvent
from models.work.items import ItemKind
from models.worklist import ITEM_TITLES, ItemWaiting, Waiting, work_items, worklist

DONE_RECENTLY = dt.timedelta(days=30)
DONE_SHOWN = 50
SAME_ANSWER = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Task:
    waiting: Waiting
    yours: frozenset[Role]  # the roles in which this person may answer it (none: shown to them, not theirs)


@dataclass(frozen=True)
class ItemTask:
    item: ItemWaiting
    yours: frozenset[Role]  # the roles in which this person may answer it now (none: they see it, it is not theirs)

    @property
    def for_your_agency(self) -> bool:
        """Their own agency's request or action (they are its contact)."""
        return Role.AGENCY_CONTACT in self.yours

    @property
    def to_accept(self) -> bool:
        """An action its owner says is done, or cannot be done, for this person (coordinator or partner) to decide."""
        return self.item.awaiting and bool(self.yours & SEES_ITEMS)


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
    work: list[ItemTask] = field(default_factory=list)  # the items of reviews' work theirs to see, soonest due first


SEES_ITEMS = frozenset({Role.COORDINATOR, *PARTNERS})  # the partnership's people, who see every item of its reviews


def item_roles(
    session: Session, account_id: uuid.UUID | str, partnership: Partnership, agency_id: uuid.UUID, today: dt.date
) -> frozenset[Role]:
    """The roles in which a person may see an item of a review of ``partnership`` whose agency is ``agency_id``, on
    ``today``: coordinator or partner of the partnership, or a contact of that very agency. None: it is not theirs to
    see at all (the checker shows it to nobody else, and the tasks page tells them nothing of it)."""
    held = roles_in(session, str(account_id), partnership, today) & SEES_ITEMS
    if agency_id in agency_ids_of(session, account_id, partnership.id, today):
        held |= {Role.AGENCY_CONTACT}
    return held


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
    done = done_recently(session, account_id, today)
    return YourTasks(yours, others, done, roles, operator, items_for(session, account, roles, today))


def items_for(session: Session, account: Account, roles: dict[str, frozenset[Role]], today: dt.date) -> list[ItemTask]:
    """The items of reviews' work the person sees on their tasks page: their own agency's open requests and actions;
    every request in view and every open action of the partnerships they coordinate; and, for a partner, the actions
    waiting for the partnership to accept them."""
    agencies: set[uuid.UUID] = set()
    partnerships = {code: session.exec(select(Partnership).where(Partnership.code == code)).one() for code in roles}
    for partnership in partnerships.values():
        agencies |= agency_ids_of(session, account.id, partnership.id, today)
    if not agencies and not any(held & SEES_ITEMS for held in roles.values()):
        return []  # most people: nothing to read
    found: list[ItemTask] = []
    for item in work_items(session, today):
        held = roles.get(item.partnership, frozenset())
        if item.agency_id in agencies and item.is_open:
            found.append(ItemTask(item, frozenset({Role.AGENCY_CONTACT})))
        elif Role.COORDINATOR in held:
            found.append(ItemTask(item, frozenset({Role.COORDINATOR}) if item.is_open else frozenset()))
        elif held & PARTNERS and item.awaiting:
            found.append(ItemTask(item, held & PARTNERS))
    return found


def done_recently(session: Session, account_id: uuid.UUID, today: dt.date) -> list[Done]:
    """What the person answered in the last 30 days, newest first: each answer that moved a review (a stage event of
    theirs), and each decision of theirs that moved none (a partner's sign-off while others are still to sign)."""
    since = dt.datetime.combine(today - DONE_RECENTLY, dt.time.min, tzinfo=dt.UTC)
    moves = session.exec(
        select(Review.reference, StageEvent.from_stage, StageEvent.to_stage, StageEvent.at)
        .join(Review, col(Review.id) == col(StageEvent.review_id))
        .where(
            StageEvent.actor_id == account_id,
            col(StageEvent.at) >= since,
            col(StageEvent.from_stage).is_not(None),
            col(StageEvent.from_stage) != col(StageEvent.to_stage),  # a move, not a note in the history
        )
        .order_by(col(StageEvent.at).desc())
        .limit(DONE_SHOWN)
    ).all()
    item_notes = session.exec(
        select(Review.reference, StageEvent.transition, StageEvent.details, StageEvent.at)
        .join(Review, col(Review.id) == col(StageEvent.review_id))
        .where(
            StageEvent.actor_id == account_id,
            col(StageEvent.at) >= since,
            col(StageEvent.transition).in_([Noted.INFORMATION_REQUEST.value, Noted.ACTION.value]),
        )
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
    # an item's note made with a move (agencies asked as the notification is recorded) is that move: shown once
    done += [
        Done(reference, *_item_done(kind, details), at)
        for reference, kind, details, at in item_notes
        if not any(d.reference == reference and abs(_utc(d.at) - _utc(at)) < SAME_ANSWER for d in done)
    ]
    return sorted(done, key=lambda d: d.at, reverse=True)[:DONE_SHOWN]


_ITEM_EVENTS = {  # what a note of an item's history says was done, as people read it
    "return": "information returned",
    "extend": "more time given",
    "chase": "chased",
    "not-needed": "closed as not needed",
    "not needed": "closed as not needed",
    "send-back": "sent back",
    "accept": "accepted",
    "close": "closed",
}


def _item_done(kind: str, details: Mapping[str, Any]) -> tuple[str, str]:
    """What an item's note says, as a line of "done recently": "Information request 2 (Riverside Medical Practice)",
    "information returned". Only the item's number, its agency and the event are read: nothing sealed."""
    item = ItemKind.REQUEST if kind == Noted.INFORMATION_REQUEST.value else ItemKind.ACTION
    number = details.get(item.value)
    agency, event = details.get("agency"), details.get("happened")
    where = f" ({agency})" if isinstance(agency, str) and not agency.startswith(SEALED) else ""
    if not isinstance(event, str) or event.startswith(SEALED):  # sealed as a free-text field's name would be
        return f"{ITEM_TITLES[item]} {number}{where}", "answered"
    return f"{ITEM_TITLES[item]} {number}{where}", _ITEM_EVENTS.get(event, event.replace("-", " "))


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives a stored time back without its zone


def _step_title(stage: Stage) -> str:
    step = STEPS.get(stage)
    return step.title if step is not None else HUMAN_LABELS[stage]


def _in_words(kind: str) -> str:
    return kind.replace("_", " ").capitalize()
