"""The worklist: every step a review waits at for a person, who may answer it, since when, and by when.

Read from the project database alone (the review's stage, its history, its open deadlines and the register's roles);
the link to each run's form is Prefect's, and is added by the caller (``cspr tasks``, the ``cspr-worklist``
artifact). Ordered by deadline, soonest first; steps with no deadline last.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import messages, process
from models.calendar import calendar_for
from models.roles import Role
from models.stages import Stage
from models.tables import CasePerson, Deadline, DeadlineStatus, Partnership, Review, StageEvent


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
    pseudonyms: dict[uuid.UUID, list[str]] = {}
    for review_id, pseudonym in session.exec(
        select(col(CasePerson.review_id), col(CasePerson.pseudonym))
        .where(col(CasePerson.review_id).in_(ids))
        .order_by(col(CasePerson.pseudonym))
    ).all():
        pseudonyms.setdefault(review_id, []).append(pseudonym)
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
