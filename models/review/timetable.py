"""A review's timetable: the dates its events happened (milestones) and the deadlines its pinned guidance edition
counts from them, stored with whether each was met."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import rulebook
from models.audit import store_head
from models.rulebook import Entry, Event
from models.stages import Stage
from models.tables import Deadline, DeadlineStatus, Milestone, Partnership, Review, utcnow


def set_milestones(
    session: Session, review: Review, milestones: Mapping[Event, dt.date], *, replace: bool = False
) -> None:
    """Record when events happened. A milestone already recorded keeps its first date unless ``replace`` (an
    event that truly happened again, such as a corrected report sent again)."""
    known = {m.event: m for m in session.exec(select(Milestone).where(Milestone.review_id == review.id))}
    changed = False
    for event, on in milestones.items():
        row = known.get(event)
        if row is None:
            session.add(Milestone(review_id=review.id, event=event, on=on))
            changed = True
        elif replace and row.on != on:
            row.on = on
            session.add(row)
            changed = True
    session.flush()
    if changed:  # the head covers the milestones: deadlines are counted from them
        store_head(session, review)


def milestones_of(session: Session, review_id: uuid.UUID) -> dict[Event, dt.date]:
    rows = session.exec(select(Milestone).where(Milestone.review_id == review_id))
    return {m.event: m.on for m in rows}


def deadline_on(session: Session, review: Review, name: Entry) -> dt.date | None:
    """The date of one entry of the review's stored timetable, if it has that entry."""
    row = session.exec(select(Deadline).where(Deadline.review_id == review.id, Deadline.name == name)).first()
    return None if row is None else row.due_on


def refresh_deadlines(session: Session, review: Review) -> list[Deadline]:
    """Recompute the review's timetable from its pinned edition, its pinned rapid review count and its milestones,
    and store it.

    The count is the review's own (``Review.rapid_review_from``, pinned when it was recorded and moved only by an
    operator's recount: models/rapid_review_count.py), never its partnership's current choice, so a later choice
    moves no running review's dates. A review with none pinned counts from awareness, the earlier date: it can only
    be early, never late, by the Panel's count."""
    partnership = session.get(Partnership, review.partnership_id)
    assert partnership is not None
    events = milestones_of(session, review.id)
    edition = rulebook.edition(review.edition)
    entries = edition.timetable(
        events,
        closure_days=tuple(dt.date.fromisoformat(d) for d in partnership.closure_days),
        rapid_review_from=review.rapid_review_from or Event.AWARE_ON,
        applies=edition.applying(review.notification_kind, review.rapid_review_follows),
    )
    stored = {d.name: d for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))}
    now = utcnow()
    kept: list[Deadline] = []
    for entry in entries:
        status, met_on = _status(entry, events)
        row = stored.pop(entry.name, None) or Deadline(
            review_id=review.id, name=entry.name, basis_on=entry.basis_on, due_on=entry.due_on
        )
        row.rule_id = entry.rule.id
        row.title = entry.rule.title
        row.meaning = entry.meaning
        row.kind = entry.rule.kind.value
        row.source = entry.source
        row.basis = entry.basis.value
        row.basis_on = entry.basis_on
        row.due_on = entry.due_on
        row.provisional = entry.provisional
        row.alternative_basis = entry.alternative_basis.value if entry.alternative_basis else None
        row.alternative_on = entry.alternative_on
        row.status = status
        row.met_on = met_on
        row.updated_at = now
        session.add(row)
        kept.append(row)
    for stale in stored.values():  # a corrected milestone can make an entry disappear
        session.delete(stale)
    session.flush()
    return kept


@dataclass(frozen=True)
class Recounted:
    """An open deadline counted again: with a newer bank holiday list, or with a rapid review count an operator
    chose for the review (models/rapid_review_count.py)."""

    reference: str
    title: str
    was: dt.date
    now: dt.date
    provisional: bool  # still past the newer list's last year

    @property
    def moved(self) -> bool:
        return self.was != self.now


def recount_open(session: Session) -> list[Recounted]:
    """Count again every open deadline of every open review with the bank holiday list now in use (after ``cspr
    calendar import``): the provisional ones past the old list, and any other a one-off holiday added inside the years
    it covered has moved. What each was and is now, the ones that moved first."""
    reviews = session.exec(
        select(Review)
        .where(col(Review.stage) != Stage.CLOSED)
        .where(col(Review.id).in_(select(Deadline.review_id).where(col(Deadline.status) == DeadlineStatus.OPEN)))
        .order_by(col(Review.reference))
    ).all()
    return recount(session, reviews)


def recount(session: Session, reviews: Sequence[Review]) -> list[Recounted]:
    """Count the reviews' timetables again, as they stand now, and say what each open deadline was and is: the ones
    that moved first."""
    found: list[Recounted] = []
    for review in reviews:
        before = {
            d.name: d
            for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))
            if d.status == DeadlineStatus.OPEN
        }
        was = {name: d.due_on for name, d in before.items()}
        for row in refresh_deadlines(session, review):
            if row.name in was:
                found.append(Recounted(review.reference, row.title, was[row.name], row.due_on, row.provisional))
    return sorted(found, key=lambda r: (not r.moved, r.reference, r.now))


def _status(entry: rulebook.TimetableEntry, events: Mapping[Event, dt.date]) -> tuple[DeadlineStatus, dt.date | None]:
    rule = entry.rule
    if entry.meaning == "due by":
        # a "within" deadline is met by the rule's end event; a "latest start" one by its start event
        done = rule.to_event if entry.name == rule.id else rule.from_event
        happened = events.get(done)
        if happened is None:
            return DeadlineStatus.OPEN, None
        return (DeadlineStatus.MET if happened <= entry.due_on else DeadlineStatus.MISSED), happened
    happened = events.get(rule.to_event)  # "not before" / "until at least": broken if the end came too early
    if happened is None:
        return DeadlineStatus.OPEN, None
    return (DeadlineStatus.MET if happened >= entry.due_on else DeadlineStatus.MISSED), happened
