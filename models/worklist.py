"""The worklist: every step a review waits at for a person, who may answer it, since when, and by when; and every item
of the work around a review (an agency's information request, an action on a recommendation) with where it stands.

Read from the project database alone (the review's stage, its history, its open deadlines and the register's roles;
an item's dates and status, never its sealed text), with no key; the link to each task's page is added by the caller
(``cspr tasks``, the ``cspr-worklist`` artifact, the tasks pages). Ordered by deadline, soonest first; steps with no
deadline last.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import messages, process
from models.calendar import calendar_for
from models.roles import PARTNERS, Role
from models.stages import Stage
from models.tables import (
    OPEN_ACTION,
    Action,
    ActionStatus,
    Agency,
    CasePerson,
    Deadline,
    DeadlineStatus,
    InformationRequest,
    Partnership,
    Recommendation,
    RequestStatus,
    Review,
    StageEvent,
    WorklistRefresh,
    action_is_open,
    request_is_open,
)
from models.work.actions import AWAITING
from models.work.items import ItemKind, ItemRef

# A request answered or closed stays in view this long after the date it was due: long enough for the coordinator to
# see which came in and which went missing while the rapid review (15 working days) is written and signed off.
KEPT_IN_VIEW = dt.timedelta(days=30)
OVERDUE = "overdue"  # a request still open after its date: the status a coordinator reads
ITEM_TITLES = {ItemKind.REQUEST: "Information request", ItemKind.ACTION: "Action"}  # "Information request 2"


@dataclass(frozen=True)
class Waiting:
    reference: str
    partnership: str
    step: str
    who: tuple[Role, ...]  # the roles that may answer it now
    waiting_since: dt.date
    deadline: dt.date | None
    working_days_left: int | None  # negative once overdue
    stage: Stage
    pseudonyms: tuple[str, ...] = ()  # the children's and family's pseudonyms ("Child Q"): never a name
    provisional: bool = False  # the deadline is counted over bank holidays GOV.UK has not published yet
    review_id: uuid.UUID | None = None
    edition: str = ""  # the review's edition of the guidance: what it calls the health partner

    def row(self, link: str) -> dict[str, str | int | None]:
        """As a table row (the artifact, `cspr tasks --json`)."""
        return {
            "reference": self.reference,
            "partnership": self.partnership,
            "step": self.step,
            "who may answer": ", ".join(role.label for role in self.who),
            "waiting since": self.waiting_since.isoformat(),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "working days left": self.working_days_left,
            "link": link,
        }


def worklist(
    session: Session, today: dt.date, *, partnership: str | None = None, role: Role | None = None
) -> list[Waiting]:
    """Every step waiting for a person, in ``partnership`` (a code) and for ``role`` if given."""
    query = (
        select(Review, Partnership)
        .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
        .where(col(Review.stage).in_([stage.value for stage in process.STEPS]))
    )
    if partnership:
        query = query.where(Partnership.code == partnership)
    rows = session.exec(query).all()
    # the same reviews as a subquery, not a list of ids: a database takes only so many values in one statement
    ids = query.with_only_columns(col(Review.id)).scalar_subquery()
    # two queries for every review at once, not two for each: every lifecycle turn refreshes the worklist
    entered = {
        (review_id, stage): at
        for review_id, stage, at in session.exec(
            select(StageEvent.review_id, StageEvent.to_stage, sa.func.max(StageEvent.at))
            .where(col(StageEvent.review_id).in_(ids))
            .group_by(col(StageEvent.review_id), col(StageEvent.to_stage))
        ).all()
    }
    open_deadlines = {
        (review_id, name): (due_on, provisional)
        for review_id, name, due_on, provisional in session.exec(
            select(col(Deadline.review_id), col(Deadline.name), col(Deadline.due_on), col(Deadline.provisional)).where(
                col(Deadline.review_id).in_(ids), Deadline.status == DeadlineStatus.OPEN
            )
        ).all()
    }
    pseudonyms = _pseudonyms(session, ids)
    found = []
    for review, where in rows:
        step = process.STEPS[Stage(review.stage)]
        who = messages.waiting_on(session, review, step)
        if role is not None and role not in who:
            continue
        since = entered[(review.id, review.stage)]
        name = process.deadline_for(review, step)
        due, provisional = open_deadlines.get((review.id, name), (None, False)) if name else (None, False)
        closures = tuple(dt.date.fromisoformat(d) for d in where.closure_days)
        left = None if due is None else calendar_for(closures).between(today, due)
        found.append(
            Waiting(
                review.reference,
                where.code,
                step.title,
                tuple(sorted(who)),
                since.date(),
                due,
                left,
                Stage(review.stage),
                tuple(pseudonyms.get(review.id, ())),
                provisional,
                review.id,
                review.edition,
            )
        )
    return sorted(found, key=lambda w: (w.deadline is None, w.deadline or dt.date.max, w.reference))


def _pseudonyms(session: Session, ids: Any) -> dict[uuid.UUID, list[str]]:
    """The children's and family's pseudonyms of each review in ``ids`` (a subquery of review ids), by pseudonym."""
    found: dict[uuid.UUID, list[str]] = {}
    for review_id, pseudonym in session.exec(
        select(col(CasePerson.review_id), col(CasePerson.pseudonym))
        .where(col(CasePerson.review_id).in_(ids))
        .order_by(col(CasePerson.pseudonym))
    ).all():
        found.setdefault(review_id, []).append(pseudonym)
    return found


# --- the work around a review ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemWaiting:
    """An item of the work around a review, as lists show it: nothing sealed (the action's own words are read on its
    page, through the checker), only what it is, whose it is, where it stands and by when."""

    reference: str
    partnership: str  # its code
    review_id: uuid.UUID
    stage: Stage  # the review's
    item: ItemRef
    agency: str
    agency_id: uuid.UUID
    what: str  # what is asked, in words: "Information for the rapid review", "Action 3 on recommendation 1"
    status: str  # where it stands: a request's status (or "overdue"), an action's
    is_open: bool
    awaiting: bool  # an action whose owner says it is done, or cannot be: for the partnership to accept
    who: tuple[Role, ...]  # who it waits on now (none: closed)
    since: dt.date  # asked on (a request), given on (an action)
    due_on: dt.date
    working_days_left: int  # negative once overdue
    answer_seq: int
    pseudonyms: tuple[str, ...] = ()
    owner: str = ""  # an action's named owner at its agency

    @property
    def title(self) -> str:
        """ "Information request 2", "Action 3"."""
        return f"{ITEM_TITLES[self.item.kind]} {self.item.number}"

    @property
    def step(self) -> str:
        """The item as a line of the worklist: what it is, the agency, and where it stands."""
        return f"{self.title} ({self.agency}): {self.status}"

    def row(self, link: str) -> dict[str, str | int | None]:
        """As a row of the worklist's table, beside the steps' (``Waiting.row``)."""
        return {
            "reference": self.reference,
            "partnership": self.partnership,
            "step": self.step,
            "who may answer": ", ".join(role.label for role in self.who),
            "waiting since": self.since.isoformat(),
            "deadline": self.due_on.isoformat() if self.is_open else None,
            "working days left": self.working_days_left if self.is_open else None,
            "link": link,
        }


PARTNERSHIP_ROLES = (Role.COORDINATOR, *sorted(PARTNERS))  # who accepts an action its owner says is done


def work_items(
    session: Session,
    today: dt.date,
    *,
    partnership: str | None = None,
    review_id: uuid.UUID | None = None,
    item: ItemRef | None = None,
    open_only: bool = False,
) -> list[ItemWaiting]:
    """The items of the work around reviews, soonest due first: every request still open, or due within
    ``KEPT_IN_VIEW`` (so the coordinator sees which came in and which went missing), and every open action; in
    ``partnership`` (a code), of one review, or one item of it (then whatever its status), and only the open ones if
    asked."""
    found = [
        *_requests(session, today, partnership, review_id, item, open_only),
        *_actions(session, today, partnership, review_id, item, open_only),
    ]
    return sorted(found, key=lambda w: (not w.is_open, w.due_on, w.reference, w.item))


def _reviews(partnership: str | None, review_id: uuid.UUID | None) -> Any:
    query = select(Review.id).join(Partnership, col(Partnership.id) == col(Review.partnership_id))
    if partnership:
        query = query.where(Partnership.code == partnership)
    if review_id is not None:
        query = query.where(Review.id == review_id)
    return query.scalar_subquery()


def _requests(
    session: Session,
    today: dt.date,
    partnership: str | None,
    review_id: uuid.UUID | None,
    item: ItemRef | None,
    open_only: bool,
) -> list[ItemWaiting]:
    if item is not None and item.kind is not ItemKind.REQUEST:
        return []
    ids = _reviews(partnership, review_id)
    query = (
        sa.select(
            col(InformationRequest.number),
            col(InformationRequest.status),
            col(InformationRequest.asked_at_stage),
            col(InformationRequest.asked_on),
            col(InformationRequest.due_on),
            col(InformationRequest.answer_seq),
            col(Agency.id),
            col(Agency.name),
            Review,
            Partnership,
        )
        .join(Agency, col(Agency.id) == col(InformationRequest.agency_id))
        .join(Review, col(Review.id) == col(InformationRequest.review_id))
        .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
        .where(col(InformationRequest.review_id).in_(ids))
    )
    if item is not None:
        query = query.where(col(InformationRequest.number) == item.number)
    elif open_only:
        query = query.where(request_is_open())
    else:
        query = query.where(
            sa.or_(
                request_is_open(),
                col(InformationRequest.due_on) >= today - KEPT_IN_VIEW,
            )
        )
    rows = session.execute(query).all()
    pseudonyms = _pseudonyms(session, ids)
    found = []
    for number, status, asked_at, asked_on, due_on, seq, agency_id, agency, review, where in rows:
        is_open = status == RequestStatus.REQUESTED
        stage = "the rapid review" if asked_at == Stage.RAPID_REVIEW else "the local review"
        found.append(
            ItemWaiting(
                review.reference,
                where.code,
                review.id,
                Stage(review.stage),
                ItemRef(ItemKind.REQUEST, number),
                agency,
                agency_id,
                f"Information for {stage}",
                OVERDUE if is_open and due_on < today else RequestStatus(status).value,
                is_open,
                False,
                (Role.AGENCY_CONTACT,) if is_open else (),
                asked_on,
                due_on,
                _left(where, today, due_on),
                seq,
                tuple(pseudonyms.get(review.id, ())),
            )
        )
    return found


def _actions(
    session: Session,
    today: dt.date,
    partnership: str | None,
    review_id: uuid.UUID | None,
    item: ItemRef | None,
    open_only: bool,
) -> list[ItemWaiting]:
    if item is not None and item.kind is not ItemKind.ACTION:
        return []
    ids = _reviews(partnership, review_id)
    query = (
        sa.select(
            col(Action.number),
            col(Action.status),
            col(Action.created_at),
            col(Action.due_on),
            col(Action.answer_seq),
            col(Action.owner),
            col(Recommendation.number),
            col(Agency.id),
            col(Agency.name),
            Review,
            Partnership,
        )
        .join(Recommendation, col(Recommendation.id) == col(Action.recommendation_id))
        .join(Agency, col(Agency.id) == col(Action.agency_id))
        .join(Review, col(Review.id) == col(Action.review_id))
        .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
        .where(col(Action.review_id).in_(ids))
    )
    # a closed action is in the review's history and the yearly report: lists show what is still to do
    query = query.where(col(Action.number) == item.number if item is not None else action_is_open())
    rows = session.execute(query).all()
    pseudonyms = _pseudonyms(session, ids)
    found = []
    for number, status, created_at, due_on, seq, owner, rec, agency_id, agency, review, where in rows:
        state = ActionStatus(status)
        is_open, awaiting = state in OPEN_ACTION, state in AWAITING
        who = PARTNERSHIP_ROLES if awaiting else (Role.AGENCY_CONTACT,) if is_open else ()
        found.append(
            ItemWaiting(
                review.reference,
                where.code,
                review.id,
                Stage(review.stage),
                ItemRef(ItemKind.ACTION, number),
                agency,
                agency_id,
                f"Action {number} on recommendation {rec}",
                state.value,
                is_open,
                awaiting,
                who,
                created_at.date(),
                due_on,
                _left(where, today, due_on),
                seq,
                tuple(pseudonyms.get(review.id, ())),
                owner,
            )
        )
    return [w for w in found if w.is_open or not open_only]


def _left(partnership: Partnership, today: dt.date, due_on: dt.date) -> int:
    closures = tuple(dt.date.fromisoformat(d) for d in partnership.closure_days)
    return calendar_for(closures).between(today, due_on)


# --- when the worklist artifacts were refreshed (tasks/worklist_artifacts.py) --------------------------------------
# Reading a partnership's worklist reads every open review of it: done at every turn of every review, a burst of N
# reviews costs N² reads. Instead a turn counts a change on its partnership's row (one statement) and refreshes the
# artifact only if nobody has for ``window``; what is left over is refreshed by ``claim_changed``'s caller. Each
# claim is a compare-and-set in one UPDATE, so two processes at once never both refresh for the same change, and a
# change counted after a claim is still there for the next.


@dataclass(frozen=True)
class Claim:
    """A refresh to make: the partnership's code, and the flow run the artifact is to belong to."""

    partnership: str
    run_id: uuid.UUID | None


def count_change(session: Session, partnership: str, run_id: uuid.UUID | None) -> None:
    """Count a turn that may have changed the partnership's worklist, made by the flow run ``run_id``."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(WorklistRefresh)
    statement = insert.values(partnership=partnership, changes=1, shown=0, run_id=run_id)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["partnership"],
            set_={"changes": col(WorklistRefresh.changes) + 1, "run_id": statement.excluded.run_id},
        )
    )


def claim_if_quiet(session: Session, partnership: str, now: dt.datetime, window: dt.timedelta) -> bool:
    """Take the refresh of a partnership's worklist if it was last refreshed ``window`` or longer before ``now`` (or
    never): then it is this caller's to make, and nobody else's for ``window``."""
    at = col(WorklistRefresh.refreshed_at)
    return _claim(
        session, now, col(WorklistRefresh.partnership) == partnership, sa.or_(at.is_(None), at <= now - window)
    )


def claim_changed(session: Session, now: dt.datetime) -> list[Claim]:
    """Take the refresh of every partnership's worklist with a change counted since its last refresh, whenever
    that was; each with the flow run of its latest turn."""
    behind = col(WorklistRefresh.shown) != col(WorklistRefresh.changes)
    query = select(WorklistRefresh.partnership, WorklistRefresh.run_id).where(behind)
    found = session.exec(query.order_by(col(WorklistRefresh.partnership))).all()  # one order: no deadlock
    # each taken unless another caller took it meanwhile
    return [
        Claim(p, run_id) for p, run_id in found if _claim(session, now, col(WorklistRefresh.partnership) == p, behind)
    ]


def _claim(session: Session, now: dt.datetime, *where: sa.ColumnElement[bool]) -> bool:
    """Mark the refresh taken, in one UPDATE that finds the row only if it still matches ``where``: a compare-and-set
    (on PostgreSQL a second writer waits for the first, then finds the row no longer matches)."""
    result = session.execute(
        sa.update(WorklistRefresh)
        .where(*where)
        .values(refreshed_at=now, shown=col(WorklistRefresh.changes))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def refresh_failed(session: Session, partnership: str) -> None:
    """A refresh taken and not made: the partnership's worklist is behind again, for the next caller."""
    session.execute(
        sa.update(WorklistRefresh)
        .where(col(WorklistRefresh.partnership) == partnership)
        .values(shown=-1)
        .execution_options(synchronize_session=False)
    )
