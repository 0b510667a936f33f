"""A partnership's reviews, recommendations and actions as CSV, in the shape of NHS England's Safeguarding Case Review
Tracker (S-CRT, information standard DCB3124), so that health partners need not type them in again.

One row per action. A recommendation with no action yet has one row with the action's columns empty, and a review
with no recommendation yet one row with both empty, so that every review is there. Rows go by review reference,
recommendation and action number. The columns:

=====================  =============================================================================================
review_reference       the review's reference (CSPR-2026-0042): never a name or a pseudonym
review_type            what the review became: ``rapid review`` (no local review, or none decided yet), ``local
                       review`` or ``national review``
review_status          ``open``; ``embargoed`` when the final report is approved but not published yet, or its
                       publication is deferred; ``closed`` once the report (or the information about improvements)
                       is published, the partners decided against a local review, or the review is closed in cspr.
                       The tracker counts a review as closed once it is published; the actions' own statuses say
                       what remains open
theme_1 .. theme_3     the first three practice themes of the review's latest rapid review, as recorded (the rest,
                       if any, are in the compliance report)
recommendation_number  1, 2, ... within the review
recommendation_text    as adopted
action_number          1, 2, ... within the review
action_text            what is to be done
owner_agency           the agency that owns the action
owner                  the named person there
due_date               YYYY-MM-DD
action_status          not started, in progress, done (awaiting acceptance), cannot be done (awaiting acceptance),
                       accepted, closed
closed_date            YYYY-MM-DD, once accepted or closed
=====================  =============================================================================================

Every value is quoted, and a value that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
prefixed with an apostrophe, so that a spreadsheet shows it as text instead of running it as a formula (CSV
injection). The free text is opened from the database with each review's names masked (models/yearly_actions.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from sqlmodel import Session

from models.stages import Stage
from models.tables import ActionStatus
from models.yearly_actions import ReviewLines, read_lines

COLUMNS = (
    "review_reference",
    "review_type",
    "review_status",
    "theme_1",
    "theme_2",
    "theme_3",
    "recommendation_number",
    "recommendation_text",
    "action_number",
    "action_text",
    "owner_agency",
    "owner",
    "due_date",
    "action_status",
    "closed_date",
)
THEMES = 3  # the tracker has room for three
EMBARGOED = frozenset({Stage.REPORT_APPROVED, Stage.AWAITING_PUBLICATION, Stage.PUBLICATION_DEFERRED})
CLOSED = frozenset(
    {Stage.PUBLISHED, Stage.IMPROVEMENTS_PUBLISHED, Stage.ACTIONS_UNDER_WAY, Stage.NO_REVIEW, Stage.CLOSED}
)
STATUSES = {
    ActionStatus.DONE: "done (awaiting acceptance)",
    ActionStatus.CANNOT: "cannot be done (awaiting acceptance)",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def review_status(stage: Stage) -> str:
    if stage in EMBARGOED:
        return "embargoed"
    return "closed" if stage in CLOSED else "open"


def safe_cell(value: str) -> str:
    """A value a spreadsheet shows as it is: one that would start a formula gets an apostrophe in front."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def rows(reviews: list[ReviewLines]) -> Iterator[tuple[str, ...]]:
    """The tracker's rows, before they are made safe: every value a string."""
    for review in reviews:
        themes = [*review.themes[:THEMES], *[""] * (THEMES - len(review.themes[:THEMES]))]
        about = (review.reference, review.kind.value, review_status(review.stage), *themes)
        if not review.recommendations:
            yield (*about, *[""] * (len(COLUMNS) - len(about)))
        for r in review.recommendations:
            recommendation = (*about, str(r.number), r.text)
            if not r.actions:
                yield (*recommendation, *[""] * (len(COLUMNS) - len(recommendation)))
            for a in r.actions:
                status = STATUSES.get(a.status, a.status.value)
                yield (
                    *recommendation,
                    str(a.number),
                    a.text,
                    a.agency,
                    a.owner,
                    _day(a.due_on),
                    status,
                    _day(a.closed_on),
                )


def tracker_csv(session: Session, partnership: str) -> str:
    """The partnership's tracker export as CSV text (a header, then the rows); ``UnknownPartnership`` for a code
    nobody has."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(tuple(map(safe_cell, row)) for row in rows(read_lines(session, partnership, every_review=True)))
    return out.getvalue()
