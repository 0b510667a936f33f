"""The figures the Department for Education publishes, for one partnership or all: notifications by reporting year,
the funnel from notification to publication, and the characteristics of the children notified.

- A **reporting year** runs from 1 April to 31 March ("2025-26"), as in the Department's serious incident
  notification statistics. A notification counts in the year it was made (its ``notified_on``).
- **The funnel**: of the notifications made in a year, how many were serious incidents (a rapid review follows),
  how many rapid reviews went to the Panel, how many local reviews were decided on and how many were published.
- **Characteristics**: sex, age band, ethnicity, disability, looked after, and a child in need or child protection
  plan, for each child notified in the reporting year. They are stored encrypted, like names, and shown only as
  counts. Where a characteristic has a count from 1 to 4, every count under 5 in it is **suppressed** (zeros too:
  a shown zero beside one hidden count gives it away) together with its smallest count of 5 or more, and with no
  such count the whole characteristic is; fewer than 5 children in the year suppresses the total as well. A
  partnership can look at disproportionality, as Working Together 2026 asks, without a small count pointing at a
  child.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col

from models import forms, review_keys, sealing
from models.rulebook import Event
from models.tables import CasePerson, Milestone, Partnership, PersonKind, Review

SUPPRESS_BELOW = 5
SUPPRESSED = "suppressed"  # how a suppressed count reads in the report
DIMENSIONS = {  # what is counted, in the order the report shows it, with the values each can take
    "sex": ("Sex", [s.value for s in forms.Sex]),
    "age_band": ("Age band", [a.value for a in forms.AgeBand]),
    "ethnicity": ("Ethnicity", [e.value for e in forms.Ethnicity]),
    "disability": ("Disability", [d.value for d in forms.Disability]),
    "looked_after": ("Looked after", ["looked after", "not looked after"]),
    "plan": ("Child in need or child protection plan", [p.value for p in forms.Plan]),
}
FUNNEL = {
    "notifications": "Notifications",
    "serious_incidents": "of which serious incidents",
    "rapid_reviews": "Rapid reviews sent to the Panel",
    "local_reviews": "Local reviews decided on",
    "published": "Local reviews published",
}


def reporting_year(day: dt.date) -> str:
    """The Department's reporting year a day falls in: 1 April to 31 March, e.g. "2025-26"."""
    first = day.year if day.month >= 4 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


@dataclass
class Statistics:
    years: pd.DataFrame  # year and each FUNNEL count, oldest year first
    year: str  # the reporting year the characteristics are for
    children: int  # children notified in that year
    characteristics: pd.DataFrame  # dimension, label, value, count (a number as text, or SUPPRESSED)


def statistics(session: Session, as_of: dt.date, partnership: str | None = None) -> Statistics:
    """The figures, for the reporting year ``as_of`` falls in (characteristics) and every year (the funnel)."""
    reviews = _reviews(session, partnership)
    year = reporting_year(as_of)
    notified = reviews.dropna(subset=["notified_on"])
    children = _children(session, notified[notified["year"] == year])
    return Statistics(
        years=_funnel(notified),
        year=year,
        children=len(children),
        characteristics=_characteristics(children),
    )


def _reviews(session: Session, partnership: str | None) -> pd.DataFrame:
    """One row per review: its milestones, and the reporting year of its notification."""
    events = [Event.NOTIFIED_ON, Event.RAPID_REVIEW_SENT_ON, Event.LCSPR_DECIDED_ON, Event.PUBLISHED_ON]
    columns = [
        sa.select(col(Milestone.on))
        .where(col(Milestone.review_id) == col(Review.id), col(Milestone.event) == event)
        .scalar_subquery()
        .label(event.value)
        for event in events
    ]
    query: Any = sa.select(
        col(Review.id).label("review_id"), col(Review.rapid_review_follows), col(Review.looked_after), *columns
    ).join(Partnership, col(Partnership.id) == col(Review.partnership_id))
    if partnership is not None:
        query = query.where(col(Partnership.code) == partnership)
    result = session.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    # SQLite gives ISO text, PostgreSQL dates, and pandas a missing value as None or NaN
    notified = [None if pd.isna(v) else dt.date.fromisoformat(str(v)[:10]) for v in frame[Event.NOTIFIED_ON.value]]
    frame["notified_on"] = notified
    frame["year"] = [None if day is None else reporting_year(day) for day in notified]
    return frame


def _funnel(notified: pd.DataFrame) -> pd.DataFrame:
    if notified.empty:
        return pd.DataFrame(columns=["year", *FUNNEL])
    grouped = notified.groupby("year")
    return (
        pd.DataFrame(
            {
                "notifications": grouped.size(),
                "serious_incidents": grouped["rapid_review_follows"].sum(),
                "rapid_reviews": grouped[Event.RAPID_REVIEW_SENT_ON.value].count(),
                "local_reviews": grouped[Event.LCSPR_DECIDED_ON.value].count(),
                "published": grouped[Event.PUBLISHED_ON.value].count(),
            }
        )
        .astype(int)
        .reset_index()
        .sort_values("year")
    )


def _children(session: Session, reviews: pd.DataFrame) -> pd.DataFrame:
    """The children of these reviews with their characteristics, decrypted here and counted, never listed."""
    looked_after = dict(zip(reviews["review_id"].map(str), reviews["looked_after"], strict=True))
    rows = []
    for i in range(0, len(looked_after), 500):  # a bounded IN list
        ids = [r for r in reviews["review_id"].iloc[i : i + 500]]
        people = session.execute(
            sa.select(
                col(CasePerson.id), col(CasePerson.review_id), col(CasePerson.age_band), col(CasePerson.characteristics)
            ).where(col(CasePerson.review_id).in_(ids), col(CasePerson.kind) == PersonKind.CHILD)
        ).all()
        review_keys.preload(session, ids)
        for person_id, review_id, age_band, sealed in people:
            characteristics = sealing.open_value(session, review_id, CasePerson, "characteristics", person_id, sealed)
            known = json.loads(characteristics) if characteristics else {}
            rows.append(
                {
                    "sex": known.get("sex", forms.Sex.not_known.value),
                    "age_band": age_band or "",
                    "ethnicity": known.get("ethnicity", forms.Ethnicity.not_known.value),
                    "disability": known.get("disability", forms.Disability.not_known.value),
                    "looked_after": "looked after" if looked_after[str(review_id)] else "not looked after",
                    "plan": known.get("plan", forms.Plan.not_known.value),
                }
            )
    return pd.DataFrame(rows, columns=list(DIMENSIONS))


def _characteristics(children: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for dimension, (label, values) in DIMENSIONS.items():
        counts = children[dimension].value_counts().reindex(values, fill_value=0).astype(int)
        for value, shown in suppress(counts).items():
            rows.append({"dimension": dimension, "label": label, "value": value, "count": shown})
    return pd.DataFrame(rows, columns=["dimension", "label", "value", "count"])


def suppress(counts: pd.Series) -> pd.Series:
    """One characteristic's counts as text. With no count from 1 to 4, all are shown. Otherwise every count under 5
    is suppressed, zeros included (a zero shown beside one hidden count would give it away, as the total is shown),
    and so is the smallest count of 5 or more, so that the hidden ones add up to at least 5 and no hidden count can be
    worked out from the total; with no such count, all are."""
    if not ((counts > 0) & (counts < SUPPRESS_BELOW)).any():
        return counts.astype(str)
    hidden = counts < SUPPRESS_BELOW
    larger = counts[~hidden]
    if larger.empty:
        hidden[:] = True
    else:
        hidden[larger.idxmin()] = True
    return counts.astype(str).where(~hidden, SUPPRESSED)


def shown_total(total: int) -> str:
    """The number of children, suppressed under 5 like any count."""
    return str(total) if total == 0 or total >= SUPPRESS_BELOW else SUPPRESSED
