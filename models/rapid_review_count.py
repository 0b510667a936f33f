"""Where a partnership counts its rapid reviews' 15 working days from: the local authority becoming aware, the
notification to the Panel, or as the edition does (models/rulebooks: from awareness under Working Together 2018, from
the notification under 2023 and 2026, as the Panel's practice guidance counts).

A review pins the count when it is recorded (models/review/creation.py), so a partnership's new choice moves no
running review's dates: the choice applies to the reviews recorded after it. An operator who wants the running ones
counted the new way too recounts them (``recount``): the open reviews whose rapid review has not been sent yet are
pinned to the new count and their timetables counted again, and what moved is reported, as ``cspr calendar import``
reports a newer bank holiday list. Each choice, and each recount with the reviews it moved, is an entry of the
register's hash-chained history (``RegisterAction.RAPID_REVIEW_COUNT``), with who made it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from models import rulebook
from models.people import record_change, register_partnership
from models.review.timetable import Recounted, milestones_of, recount
from models.review.transitions import Actor
from models.rulebook import Event
from models.stages import Stage
from models.tables import Deadline, Partnership, RegisterAction, Review, utcnow


class Count(StrEnum):
    """A partnership's choice, as the command names it."""

    AWARE = "aware"  # from the day the local authority became aware (Working Together 2018's count)
    NOTIFICATION = "notification"  # from the day the notification was sent to the Panel (the Panel's count)
    EDITION = "edition"  # as the edition a review follows counts

    @property
    def event(self) -> Event | None:
        return {Count.AWARE: Event.AWARE_ON, Count.NOTIFICATION: Event.NOTIFIED_ON, Count.EDITION: None}[self]

    @classmethod
    def of(cls, event: Event | None) -> Count:
        return {Event.AWARE_ON: cls.AWARE, Event.NOTIFIED_ON: cls.NOTIFICATION, None: cls.EDITION}[event]

    @property
    def words(self) -> str:
        return {
            Count.AWARE: "from the day the local authority became aware",
            Count.NOTIFICATION: "from the day the notification was sent to the Panel",
            Count.EDITION: "as the edition each review follows counts",
        }[self]


@dataclass(frozen=True)
class CountChosen:
    """What a choice did: the count before and after, the reviews running, and, with a recount, what moved."""

    partnership: str  # its code
    was: Count
    now: Count
    running: tuple[str, ...]  # references of the open reviews whose rapid review has not been sent
    recounted: tuple[Recounted, ...] = ()  # their open deadlines counted again (recount only), the moved first
    # a deadline a recount took away until its new start happens (counted from a notification not yet recorded)
    waiting: tuple[str, ...] = ()  # "CSPR-2026-0001: Rapid review completed and sent to the Panel"
    recorded: bool = True  # False: nothing changed, so nothing was written to the register's history

    @property
    def moved(self) -> tuple[Recounted, ...]:
        return tuple(r for r in self.recounted if r.moved)


def count_of(review: Review) -> Event:
    """Where a review's rapid review counts from: its pinned count, or from awareness (the earlier date) for a review
    with none (models/review/timetable.py counts the same way)."""
    return review.rapid_review_from or Event.AWARE_ON


def running(session: Session, partnership: Partnership) -> list[Review]:
    """The partnership's open reviews a new count could still move: a rapid review follows and has not been sent."""
    reviews = session.exec(
        select(Review)
        .where(Review.partnership_id == partnership.id, col(Review.stage) != Stage.CLOSED)
        .where(col(Review.rapid_review_follows).is_(True))
        .order_by(col(Review.reference))
    ).all()
    return [r for r in reviews if Event.RAPID_REVIEW_SENT_ON not in milestones_of(session, r.id)]


def choose(
    session: Session,
    code: str,
    count: Count,
    *,
    recount_running: bool = False,
    by: Actor,
    at: dt.datetime | None = None,
) -> CountChosen:
    """Record a partnership's count for the reviews it records from now on; with ``recount_running``, pin its running
    reviews to it too and count their timetables again. Refuses an unknown partnership (``RegisterRefusal``)."""
    partnership = register_partnership(session, code)
    was = Count.of(partnership.rapid_review_count)
    reviews = running(session, partnership)
    references = tuple(r.reference for r in reviews)
    if was is count and not recount_running:
        return CountChosen(code, was, count, references, recorded=False)
    partnership.rapid_review_count = count.event
    session.add(partnership)
    repinned: list[Review] = []
    if recount_running:
        for review in reviews:
            pinned = count.event or rulebook.edition(review.edition).rapid_review_count
            if count_of(review) is not pinned:
                review.rapid_review_from = pinned
                session.add(review)
                repinned.append(review)
    before = {
        (r.reference, d.name): d.title
        for r in repinned
        for d in session.exec(select(Deadline).where(Deadline.review_id == r.id))
    }
    recounted = tuple(recount(session, repinned))
    after = {
        (r.reference, d.name)
        for r in repinned
        for d in session.exec(select(Deadline).where(Deadline.review_id == r.id))
    }
    waiting = tuple(f"{ref}: {title}" for (ref, name), title in sorted(before.items()) if (ref, name) not in after)
    if was is count and not repinned:
        return CountChosen(code, was, count, references, recorded=False)
    record_change(
        session,
        RegisterAction.RAPID_REVIEW_COUNT,
        None,
        by,
        at or utcnow(),
        partnership=code,
        count=count.value,
        was=was.value,
        recounted=[r.reference for r in repinned],  # references only: a review's own history stays its own
    )
    return CountChosen(code, was, count, references, recounted, waiting)
