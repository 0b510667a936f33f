"""The deadline sweep: every open deadline of every open review classified in one pass, and escalations raised
once per deadline per level, however often (or however concurrently) the sweep runs.

Classification is vectorised (numpy over the whole table, one calendar per set of closure days), never a Python
loop per review. Statuses, by working days from ``as_of`` to the due date:

- ``on_track``: more than 2 working days left;  ``due_soon``: 1 or 2;  ``due_today``: 0;
- ``overdue``: past the due date (escalation level 1);
- ``escalated``: overdue by ``ESCALATE_AFTER`` working days or more (escalation level 2).

Before a deadline falls due, whoever must act is reminded: once when it is due within ``DUE_SOON`` working days
(reminder level 1) and again on the day (level 2). An escalation goes to the coordinator and to each partner whose
answer is missing (models/messages.py says who). Each reminder and escalation is a compare-and-set on the deadline's
level, so each is raised once, for each person once, however often or concurrently the sweep runs.

Only a duty in statute or regulation and statutory guidance are escalated (models/rulebook.py ``RuleKind``): the
Panel's expectation and what happens in practice (the Panel's response) are classified but never escalated, and
nobody in the partnership can be chased for them.

A sweep as of a day to come is only ever a dry run (``preview``: classified and reported, nothing recorded, queued
or sent): acting as of it would escalate, today, what is not overdue yet, and the sweep on the real day would then
find nothing left to raise. A past day is swept as before: levels only rise, so it raises no more than was due then.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col

from models import messages
from models.calendar import only_a_dry_run_looks_ahead, working_days_by_partnership
from models.dates import long_date
from models.db import driver_rows
from models.review.lookup import review_by_reference
from models.review.outbox import Occasion, enqueue
from models.rulebook import BREACH_KINDS
from models.stages import Stage
from models.tables import Deadline, DeadlineStatus, Partnership, Review

DUE_SOON = 2  # working days
ESCALATE_AFTER = 5  # working days overdue before the second level
STATUSES = ("on_track", "due_soon", "due_today", "overdue", "escalated")


def check_day(day: dt.date, *, dry_run: bool) -> None:
    """Only a dry run may sweep as of a day to come (models/calendar.py ``only_a_dry_run_looks_ahead``)."""
    only_a_dry_run_looks_ahead(
        day,
        dry_run=dry_run,
        refusal=(
            f"A sweep can look ahead only as a dry run: {long_date(day)} is still to come, and sweeping as of it "
            "would mark deadlines overdue and send escalations before they are due (the sweep on the day itself "
            "would then raise nothing). Nothing was changed. Run it with dry run to see what would be overdue on "
            "that day, or leave the day empty to sweep as of today."
        ),
    )


@dataclass(frozen=True)
class Escalation:
    deadline_id: str
    reference: str
    partnership: str
    deadline: str
    stage: str
    level: int
    days_overdue: int


def open_deadlines_query() -> Any:
    """Every open "due by" deadline of every review that is not closed, with what the sweep needs for every row:
    one query. What only an escalation needs (the review's stage, its record) is read for those few rows."""
    return (
        sa.select(
            sa.cast(col(Deadline.id), sa.String).label("deadline_id"),  # PostgreSQL's uuid as text, like SQLite's
            col(Deadline.name),
            col(Deadline.title),
            col(Deadline.kind),
            col(Deadline.due_on),
            col(Deadline.provisional),
            col(Deadline.escalation_level),
            col(Deadline.reminder_level),
            col(Review.reference),
            col(Partnership.code).label("partnership"),
        )
        .join(Review, col(Review.id) == col(Deadline.review_id))
        .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
        .where(
            col(Deadline.status) == DeadlineStatus.OPEN,
            col(Deadline.meaning) == "due by",
            col(Review.stage) != Stage.CLOSED,
        )
    )


def fetch_open_deadlines(session: Session) -> tuple[list[str], Sequence[Any]]:
    """The query's column names and rows as the database driver returns them (models/db.py ``driver_rows``: half of
    the sweep at national scale was SQLAlchemy's per-value processing)."""
    return driver_rows(session, open_deadlines_query())


def open_deadlines(session: Session) -> pd.DataFrame:
    keys, rows = fetch_open_deadlines(session)
    frame = pd.DataFrame.from_records(rows, columns=keys)  # transposed in C, not row by row in Python
    # SQLite hands back ISO text, PostgreSQL dates: numpy parses either, a column at a time
    frame["due_on"] = np.array(frame["due_on"].to_numpy(), dtype="datetime64[D]")
    frame["provisional"] = frame["provisional"].astype(bool)  # SQLite's 0 and 1, PostgreSQL's booleans
    closures = dict(session.execute(sa.select(col(Partnership.code), col(Partnership.closure_days))).all())
    frame.attrs["closure_days"] = closures  # per partnership: 150 rows, not one per deadline
    return frame


def classify(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Add ``working_days_left``, ``sweep_status``, ``level`` (0, 1 or 2) and ``reminder`` (0, 1 or 2) to the
    deadlines, vectorised."""
    if frame.empty:
        return frame.assign(working_days_left=[], sweep_status=[], level=[], reminder=[])
    due = frame["due_on"].to_numpy(dtype="datetime64[D]")
    closures: dict[str, list[str]] = frame.attrs.get("closure_days", {})
    rows = frame.groupby("partnership", sort=False).indices  # one calendar per partnership
    left = working_days_by_partnership(rows, np.datetime64(as_of, "D"), due, closures)
    status = np.select(
        [left > DUE_SOON, left > 0, left == 0, left > -ESCALATE_AFTER],
        ["on_track", "due_soon", "due_today", "overdue"],
        default="escalated",
    )
    level = np.select([left >= 0, left > -ESCALATE_AFTER], [0, 1], default=2)
    # only a duty or statutory guidance is chased (models/rulebook.py RuleKind.escalated): the Panel's expectation
    # and what happens in practice are classified, never escalated, nor are kinds stored before they were named
    # as "expectation"
    expectation = ~frame["kind"].isin(BREACH_KINDS).to_numpy()
    level = np.where(expectation, 0, level)
    reminder = np.where(expectation, 0, np.select([left == 0, (left > 0) & (left <= DUE_SOON)], [2, 1], default=0))
    return frame.assign(working_days_left=left, sweep_status=status, level=level, reminder=reminder)


def sweep(session: Session, as_of: dt.date) -> tuple[pd.DataFrame, list[Escalation]]:
    """Classify every open deadline, record each one's status, and raise the escalations that are due.

    An escalation is a compare-and-set on the deadline's level (``... WHERE status = 'open' AND escalation_level
    < :level``), so of two sweeps running together only one raises it, and a deadline met meanwhile is not
    escalated; with it goes an outbox message to the coordinator.
    """
    frame = classify(open_deadlines(session), as_of)
    if frame.empty:
        return frame, []
    session.execute(  # ORM bulk UPDATE by primary key: one executemany for the whole table
        sa.update(Deadline),
        [
            {"id": uuid.UUID(str(k)), "sweep_status": s}
            for k, s in zip(frame["deadline_id"], frame["sweep_status"], strict=True)
        ],
    )
    raised: list[Escalation] = []
    reviews: dict[str, Review] = {}  # a review with two deadlines overdue is read once
    for row in _rising(frame).itertuples():  # only the few deadlines whose level rises today
        if not _raise_level(session, row.deadline_id, "escalation_level", int(row.level)):
            continue  # another sweep raised it first, or the deadline was met meanwhile
        review = _review(session, reviews, row.reference)
        escalation = _escalation(row, review)
        enqueue(
            session,
            review,
            Occasion.chased(str(row.name), int(row.level), overdue=True),
            messages.chased_for(session, review, str(row.name), overdue=True),
            f"{row.reference}: {row.title} is overdue by {escalation.days_overdue} working day(s)"
            + (" and escalated" if row.level == 2 else ""),
            json.dumps({"deadline": row.name, "due_on": str(row.due_on)[:10], "level": int(row.level)}),
        )
        raised.append(escalation)
    _remind(session, frame[frame["reminder"] > frame["reminder_level"]], reviews)
    return frame, raised


def preview(session: Session, as_of: dt.date) -> tuple[pd.DataFrame, list[Escalation]]:
    """A dry run: every open deadline classified as of ``as_of`` and the escalations a sweep on that day would
    raise, read only. No status is recorded, no level raised, no message queued."""
    frame = classify(open_deadlines(session), as_of)
    if frame.empty:
        return frame, []
    reviews: dict[str, Review] = {}
    rising = _rising(frame).itertuples()
    return frame, [_escalation(row, _review(session, reviews, row.reference)) for row in rising]


def _rising(frame: pd.DataFrame) -> pd.DataFrame:
    """The deadlines whose escalation level a sweep on the frame's day raises."""
    return frame[frame["level"] > frame["escalation_level"]]


def _escalation(row: Any, review: Review) -> Escalation:
    return Escalation(
        str(row.deadline_id),
        row.reference,
        row.partnership,
        str(row.name),
        review.stage,
        int(row.level),
        int(-row.working_days_left),
    )


def _remind(session: Session, due: pd.DataFrame, reviews: dict[str, Review]) -> None:
    """The reminders that are due: each deadline's level raised by compare-and-set, so only one sweep sends it."""
    for row in due.itertuples():
        if not _raise_level(session, row.deadline_id, "reminder_level", int(row.reminder)):
            continue
        review = _review(session, reviews, row.reference)
        when = "today" if row.reminder == 2 else f"in {int(row.working_days_left)} working day(s)"
        enqueue(
            session,
            review,
            Occasion.chased(str(row.name), int(row.reminder), overdue=False),
            messages.chased_for(session, review, str(row.name), overdue=False),
            f"{row.reference}: reminder: {row.title} is due {when}",
        )


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts per partnership and status (no personal data: references and codes only)."""
    if frame.empty:
        return pd.DataFrame(columns=["partnership", *STATUSES, "provisional"])
    table = frame.pivot_table(index="partnership", columns="sweep_status", values="deadline_id", aggfunc="count")
    table = table.reindex(columns=list(STATUSES), fill_value=0).fillna(0).astype(int)
    table["provisional"] = frame.groupby("partnership")["provisional"].sum().astype(int)
    return table.reset_index()


@dataclass(frozen=True)
class SweepResult:
    """What a sweep found, in plain values (what the flow returns and the summaries show)."""

    as_of: dt.date
    deadlines: int
    counts: dict[str, int]
    by_partnership: list[dict[str, object]]
    overdue: list[dict[str, object]]  # reference, partnership, deadline, status, working days overdue
    escalations: list[Escalation]
    provisional: int = 0  # open deadlines counted past GOV.UK's published bank holidays
    dry_run: bool = False  # a look only (``preview``): the escalations are those a sweep on that day would raise
    # the reminders and escalations of agencies' requests and of actions (models/work/chasing.py), as listed; None:
    # not chased by this sweep (``cspr sweep`` sweeps the statutory deadlines alone)
    items_chased: tuple[str, ...] | None = None


def sweep_result(
    as_of: dt.date, frame: pd.DataFrame, raised: list[Escalation], *, dry_run: bool = False
) -> SweepResult:
    """The sweep's classified deadlines and escalations, counted: by status, by partnership, and what is overdue."""
    counts = {status: 0 for status in STATUSES}
    overdue: list[dict[str, object]] = []
    if not frame.empty:
        counts.update(frame["sweep_status"].value_counts().to_dict())
        late = frame[frame["working_days_left"] < 0].sort_values(["reference", "name"])
        overdue = [
            {
                "reference": r.reference,
                "partnership": r.partnership,
                "deadline": r.title,
                "status": r.sweep_status,
                "working_days_overdue": int(-r.working_days_left),
            }
            for r in late.itertuples()
        ]
    return SweepResult(
        as_of=as_of,
        deadlines=len(frame),
        counts={k: int(v) for k, v in counts.items()},
        by_partnership=summary(frame).to_dict(orient="records"),
        overdue=overdue,
        escalations=raised,
        provisional=int(frame["provisional"].sum()) if not frame.empty else 0,
        dry_run=dry_run,
    )


def _raise_level(session: Session, deadline_id: Any, column: str, level: int) -> bool:
    """Compare-and-set one of an open deadline's levels (escalation or reminder) up to ``level``: True for the one
    sweep that raised it; False when another did first, or the deadline was met meanwhile."""
    levels = getattr(Deadline, column)
    result = session.execute(
        sa.update(Deadline)
        .where(
            col(Deadline.id) == uuid.UUID(str(deadline_id)),
            col(Deadline.status) == DeadlineStatus.OPEN,
            col(levels) < level,
        )
        .values({column: level})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _review(session: Session, reviews: dict[str, Review], reference: str) -> Review:
    """The review, read once however many of its deadlines rise in one sweep."""
    if reference not in reviews:
        reviews[reference] = review_by_reference(session, reference)
    return reviews[reference]
