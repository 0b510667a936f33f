"""The sweep's part for the work around a review: each open request's and action's due date, with reminders before
it (to the agency's contacts: once when due within 2 working days, again on the day) and an escalation once it has
passed (to the coordinator, the agency's contacts and, for an action, the partner the owner agency answers to). An
agency past its last day, ended with its work left open (``cspr agencies end --with-open-work``), has no contacts
any more: it is reminded of nothing, and its overdue items are escalated without it.
Each is a compare-and-set on the item's own level, so each is raised once, for each person once, however often or
concurrently the sweep runs; a due date moved on (more time given) starts the levels again.

Working days are the partnership's own (bank holidays and its closure days), as for every deadline. The dates are
the partnership's own expectations, not statutory deadlines: they never move the review's clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col

from models.calendar import calendar_for
from models.dates import weekday_date
from models.recipients import AgencyContacts, Group, Recipient, for_role
from models.review import outbox
from models.stages import Stage
from models.sweep import DUE_SOON
from models.tables import (
    Action,
    Agency,
    InformationRequest,
    Partnership,
    Review,
    action_is_open,
    request_is_open,
)
from models.work.items import ItemKind, ItemRef, item_path


@dataclass(frozen=True)
class Chased:
    reference: str
    item: str  # "request-2"
    agency: str
    due_on: dt.date
    overdue: bool  # an escalation; else a reminder
    level: int

    def __str__(self) -> str:
        """As the sweep's summary lists it: "CSPR-2026-0042 request 2 (Riverside Medical Practice): reminded, due by
        Friday 11 December 2026"."""
        what = "escalated, overdue since" if self.overdue else "reminded, due by"
        label = ItemRef.parse(self.item).label
        return f"{self.reference} {label} ({self.agency}): {what} {weekday_date(self.due_on)}"


def chase_items(session: Session, as_of: dt.date) -> list[Chased]:
    """Raise the reminders and escalations due on ``as_of`` for every open request and action of open reviews."""
    chased: list[Chased] = []
    for kind, table in ((ItemKind.REQUEST, InformationRequest), (ItemKind.ACTION, Action)):
        rows = _open(session, kind, table)
        if not rows:
            continue
        left = _working_days_left(session, rows, as_of)
        for row, days in zip(rows, left, strict=True):
            reminder = 2 if days == 0 else 1 if 0 < days <= DUE_SOON else 0
            overdue = 1 if days < 0 else 0
            # an agency past its last day (ended with its work left open) has no contacts to remind: its overdue
            # items are escalated to the coordinator (and partner) only
            ended = row.to_on is not None and row.to_on < as_of
            if overdue and _raise(session, table, row.id, "escalation_level", overdue):
                chased.append(_tell(session, kind, row, ended=ended, overdue=True, level=overdue, days=int(days)))
            elif reminder and not ended and _raise(session, table, row.id, "reminder_level", reminder):
                chased.append(_tell(session, kind, row, ended=False, overdue=False, level=reminder, days=int(days)))
    return chased


def _open(session: Session, kind: ItemKind, table: Any) -> list[Any]:
    still = request_is_open() if kind is ItemKind.REQUEST else action_is_open()
    query = (
        sa.select(
            table.id,
            table.number,
            table.due_on,
            table.agency_id,
            col(Agency.to_on),
            col(Review.id).label("review_id"),
            col(Review.partnership_id),
        )
        .join(Review, col(Review.id) == table.review_id)
        .join(Agency, col(Agency.id) == table.agency_id)
        .where(still, col(Review.stage) != Stage.CLOSED)
    )
    return list(session.execute(query).all())


def _working_days_left(session: Session, rows: list[Any], as_of: dt.date) -> np.ndarray[Any, Any]:
    """Working days from ``as_of`` to each row's due date, with its partnership's calendar: one call per partnership."""
    left = np.zeros(len(rows), dtype=np.int64)
    by_partnership: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        by_partnership.setdefault(row.partnership_id, []).append(i)
    for partnership_id, index in by_partnership.items():
        partnership = session.get_one(Partnership, partnership_id)
        closures = tuple(sorted(dt.date.fromisoformat(d) for d in partnership.closure_days or ()))
        due = np.array([rows[i].due_on for i in index], dtype="datetime64[D]")
        left[index] = calendar_for(closures).working_days_between(np.datetime64(as_of, "D"), due)
    return left


def _raise(session: Session, table: Any, row_id: Any, column: str, level: int) -> bool:
    result = session.execute(
        sa.update(table)
        .where(col(table.id) == row_id, col(getattr(table, column)) < level)
        .values({column: level})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _tell(session: Session, kind: ItemKind, row: Any, *, ended: bool, overdue: bool, level: int, days: int) -> Chased:
    review = session.get_one(Review, row.review_id)
    agency = session.get_one(Agency, row.agency_id)
    ref = ItemRef(kind, row.number)
    what = f"information from {agency.name}" if kind is ItemKind.REQUEST else f"action {row.number} ({agency.name})"
    to: tuple[Recipient, ...] = () if ended else (AgencyContacts(agency.id),)
    if overdue:
        to = (
            Group.COORDINATOR,
            *to,
            *((for_role(agency.partner),) if kind is ItemKind.ACTION and agency.partner else ()),
        )
        subject = f"{review.reference}: {what} is overdue (it was due by {weekday_date(row.due_on)})"
    elif days == 0:
        subject = f"{review.reference}: reminder: {what} is due today"
    else:
        subject = f"{review.reference}: reminder: {what} is due by {weekday_date(row.due_on)}"
    event = f"{'escalation' if overdue else 'reminder'}-{level}"
    # the due date is part of the occasion: more time given, the reminders and the escalation are due again
    occasion = outbox.Occasion.item(str(ref), f"{event}:{row.due_on.isoformat()}", 0)
    for message in outbox.enqueue(session, review, occasion, to, subject):
        message.link = item_path(review.reference, ref)
        session.add(message)
    session.flush()
    return Chased(review.reference, str(ref), agency.name, row.due_on, overdue, level)
