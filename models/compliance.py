"""The compliance report's figures: pandas over the stage history, the deadlines and the decisions.

What a partnership puts in its yearly report, for one partnership or all of them, over a period:

- **Timeliness** of the three statutory clocks (notification in 5 working days, rapid review in 15, local review
  published in 6 months). A deadline counts in the period in which it fell due, so each is counted once across
  consecutive periods. As at the end of the period (or today, if that is earlier) it was met on time, met late,
  is still outstanding past its date, or is not yet due; the rate is on time over everything that fell due. A review
  whose edition does not define a clock has no such deadline, so that measure does not count it at all.
- **Working days in each stage**: every stage a review left during the period (from the day it entered to the
  day it left), median and 90th percentile (linear interpolation, as pandas computes it).
- **Overdue at the end of the period**: deadlines set by statute, regulation or statutory guidance (``BREACH_KINDS``)
  past their date and not met by then, of reviews not closed by then; the Panel's expectation and what happens in
  practice are never a breach.
- **Decisions** made in the period, by outcome, and the **practice themes** of the rapid reviews completed in
  it (a theme is recurring when two or more reviews raise it).

References, partnership codes and counts only: no name of anyone reaches the figures.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col

from models.calendar import today_in_england, working_days_by_partnership
from models.dates import long_date
from models.db import driver_chunks
from models.process.steps.local_review_decision import LocalDecision
from models.process.steps.publication import PublicationChoice
from models.process.steps.rapid_review import Recommendation, Theme
from models.refusals import Refused
from models.rulebook import BREACH_KINDS, Entry
from models.stages import Stage
from models.statistics import Statistics, statistics
from models.tables import Deadline, Decision, DecisionKind, Partnership, Review, StageEvent

if TYPE_CHECKING:
    from models.yearly_actions import ActionCounts

MEASURES = {
    Entry.NOTIFY_PANEL: "Notified to the Panel within 5 working days",
    Entry.RAPID_REVIEW: "Rapid review sent within 15 working days",
    Entry.LCSPR_PUBLICATION: "Local review published within 6 months",
}
OUTCOMES = ("on_time", "late", "outstanding", "not_yet_due")
# Where a decision records its own date; otherwise the day it was recorded counts.
DECISION_DATES = {
    DecisionKind.RAPID_REVIEW: "completed_on",
    DecisionKind.LCSPR_DECISION: "decided_on",
    DecisionKind.PANEL_RESPONSE: "responded_on",
}
DECISION_KINDS = {
    DecisionKind.RAPID_REVIEW: "Rapid review recommendations",
    DecisionKind.PANEL_RESPONSE: "Panel responses",
    DecisionKind.LCSPR_DECISION: "Decisions on a local review",
    DecisionKind.PUBLICATION: "Publication decisions",
}


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise Refused(f"the period ends ({long_date(self.end)}) before it starts ({long_date(self.start)})")

    @classmethod
    def month_before(cls, day: dt.date) -> Period:
        """The calendar month before the one ``day`` is in: what the monthly report covers."""
        end = day.replace(day=1) - dt.timedelta(days=1)
        return cls(end.replace(day=1), end)

    @property
    def label(self) -> str:
        return f"{long_date(self.start)} to {long_date(self.end)}"


@dataclass
class Compliance:
    period: Period
    as_of: dt.date
    partnership: str | None  # a code, or None for every partnership
    scope_name: str
    reviews: int  # reviews in scope (any stage)
    timeliness: pd.DataFrame  # measure, title, fell_due, on_time, late, outstanding, not_yet_due, percent_on_time
    stage_times: pd.DataFrame  # stage, label, spells, median, p90
    overdue: pd.DataFrame  # reference, partnership, deadline, due_on, working_days_overdue
    decisions: pd.DataFrame  # kind, decision, outcome, count
    themes: pd.DataFrame  # theme, reviews, recurring
    by_partnership: pd.DataFrame = field(default_factory=pd.DataFrame)  # partnership, reviews, each measure's %
    statistics: Statistics | None = None  # the Department's figures: by reporting year, the funnel, characteristics
    actions: ActionCounts | None = None  # the recommendations and actions section in numbers (models/yearly_actions.py)

    @property
    def overdue_reviews(self) -> int:
        return int(self.overdue["reference"].nunique()) if not self.overdue.empty else 0


class UnknownPartnership(Refused):
    pass


def _frame(session: Session, query: Any) -> pd.DataFrame:
    result = session.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


READ_CHUNK = 50_000  # rows turned into a frame at a time
# columns of few distinct values (a reference repeats once per deadline or event)
LABELS = frozenset({"reference", "partnership", "name", "title", "meaning", "kind", "to_stage", "outcome"})


DAYS = frozenset({"due_on", "met_on"})
MOMENTS = frozenset({"at"})


def _compact(part: pd.DataFrame) -> pd.DataFrame:
    """A chunk as the report keeps it: the label columns with each distinct value held once (the driver makes a new
    string for every row; through a category and back, so they stay plain text for everything that groups and
    compares them), dates as numpy days and moments as UTC times (8 bytes each, instead of a string per row)."""
    part = part.astype({c: "category" for c in part.columns if c in LABELS})
    part = part.astype({c: object for c in part.columns if c in LABELS})
    for column in DAYS & set(part.columns):
        part[column] = _days(part[column])
    for column in MOMENTS & set(part.columns):
        part[column] = pd.to_datetime(part[column], utc=True, format="ISO8601")
    return part


def _raw_frame(session: Session, query: Any) -> pd.DataFrame:
    """A large table read as the sweep reads, through the driver's cursor, a chunk at a time: each chunk transposed
    by pandas in C and compacted, so the rows as Python tuples never all exist at once."""
    parts, keys = [], [c.name for c in query.selected_columns]
    for keys, rows in driver_chunks(session, query, READ_CHUNK):
        parts.append(_compact(pd.DataFrame.from_records(rows, columns=keys)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keys)


def _days(values: pd.Series) -> np.ndarray:
    """Dates from SQLite text or PostgreSQL dates, as numpy days (NaT where missing): numpy parses the column."""
    days: np.ndarray = pd.to_datetime(values, format="ISO8601").to_numpy(dtype="datetime64[D]")
    return days


def _london_days(values: pd.Series) -> np.ndarray:
    """Timestamps (stored in UTC: SQLite's text without its zone, PostgreSQL's aware times) as the day they fell on
    in England."""
    stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    days: np.ndarray = stamps.dt.tz_convert("Europe/London").dt.tz_localize(None).to_numpy(dtype="datetime64[D]")
    return days


def _working_days(
    partnerships: pd.Series, starts: np.ndarray, ends: np.ndarray, closures: dict[str, list[str]]
) -> np.ndarray:
    """Working days from each start to each end, with each partnership's own closure days: one pass each."""
    return working_days_by_partnership(partnerships.groupby(partnerships, sort=False).indices, starts, ends, closures)


@dataclass
class Records:
    """What the report reads from the project database, one query per table, for the reviews in scope."""

    partnership: str | None
    scope_name: str
    closures: dict[str, list[str]]  # each partnership's closure days
    reviews: pd.DataFrame  # review_id, reference, partnership
    deadlines: pd.DataFrame  # reference, partnership, name, title, meaning, kind, due_on, met_on
    events: pd.DataFrame  # reference, partnership, seq, to_stage, at
    decisions: pd.DataFrame  # reference, partnership, kind, round, outcome, details, at


def queries(partnership: str | None) -> dict[str, Any]:
    """The report's four queries (also what the benchmark times as the floor)."""
    scope = [col(Review.partnership_id) == col(Partnership.id)]
    if partnership is not None:
        scope.append(col(Partnership.code) == partnership)

    def scoped(table: Any, *columns: Any) -> Any:  # one table's rows, for the reviews in scope
        return (
            sa.select(col(Review.reference), col(Partnership.code).label("partnership"), *columns)
            .select_from(table)
            .join(Review, col(Review.id) == table.review_id)
            .join(Partnership, sa.and_(*scope))
        )

    return {
        "reviews": sa.select(
            col(Review.id).label("review_id"), col(Review.reference), col(Partnership.code).label("partnership")
        ).where(*scope),
        "deadlines": scoped(
            Deadline,
            col(Deadline.name),
            col(Deadline.title),
            col(Deadline.meaning),
            col(Deadline.kind),
            col(Deadline.due_on),
            col(Deadline.met_on),
        ),
        "events": scoped(StageEvent, col(StageEvent.seq), col(StageEvent.to_stage), col(StageEvent.at)).order_by(
            col(Review.reference), col(StageEvent.seq)
        ),
        "decisions": scoped(
            Decision,
            col(Decision.kind),
            col(Decision.round),
            col(Decision.outcome),
            col(Decision.details),
            col(Decision.at),
        ).where(col(Decision.kind).in_(list(DECISION_KINDS))),
    }


def read(session: Session, partnership: str | None = None) -> Records:
    partnerships = _frame(
        session, sa.select(col(Partnership.code), col(Partnership.name), col(Partnership.closure_days))
    )
    if partnership is not None and partnership not in set(partnerships["code"]):
        known = ", ".join(sorted(partnerships["code"])) or "none yet"
        raise UnknownPartnership(f"there is no partnership {partnership!r} (partnerships: {known})")
    # the reviews through SQLAlchemy (their ids as UUIDs, for the statistics' own reads); the rest as the sweep reads
    frames = {
        name: (_frame if name == "reviews" else _raw_frame)(session, q) for name, q in queries(partnership).items()
    }
    deadlines, events, decisions = frames["deadlines"], frames["events"], frames["decisions"]
    decisions["details"] = [json.loads(d) if isinstance(d, str) else d for d in decisions["details"]]  # SQLite's text
    deadlines["due_on"], deadlines["met_on"] = _days(deadlines["due_on"]), _days(deadlines["met_on"])
    events["on"] = _london_days(events["at"]) if not events.empty else np.array([], dtype="datetime64[D]")
    # a rapid review sent back and done again is one recommendation: its latest round
    latest = decisions.groupby(["reference", "kind"])["round"].transform("max")
    decisions = decisions[(decisions["kind"] != DecisionKind.RAPID_REVIEW) | (decisions["round"] == latest)]
    names = dict(zip(partnerships["code"], partnerships["name"], strict=True))
    return Records(
        partnership=partnership,
        scope_name="All partnerships" if partnership is None else str(names[partnership]),
        closures=dict(zip(partnerships["code"], partnerships["closure_days"], strict=True)),
        reviews=frames["reviews"],
        deadlines=deadlines,
        events=events,
        decisions=decisions,
    )


def figures(records: Records, period: Period, as_of: dt.date) -> Compliance:
    """Every figure of the report, from what was read: pandas and numpy, no loop per review."""
    events, deadlines, decisions = records.events, records.deadlines, records.decisions
    closed = events[events["to_stage"] == Stage.CLOSED].groupby("reference")["on"].min()
    result = Compliance(
        period=period,
        as_of=as_of,
        partnership=records.partnership,
        scope_name=records.scope_name,
        reviews=len(records.reviews),
        timeliness=_timeliness(deadlines, period, as_of),
        stage_times=_stage_times(events, period, records.closures),
        overdue=_overdue(deadlines, closed, as_of, records.closures),
        decisions=_decisions(decisions, period),
        themes=_themes(decisions, period),
    )
    if records.partnership is None:
        result.by_partnership = _by_partnership(records.reviews, deadlines, period, as_of, result.overdue)
    return result


def compliance(
    session: Session, period: Period, partnership: str | None = None, *, today: dt.date | None = None
) -> Compliance:
    """Every figure of the compliance report for ``period``, for one partnership (by code) or all of them, as at
    the period's end or today, whichever is earlier."""
    as_of = min(period.end, today or today_in_england())
    result = figures(read(session, partnership), period, as_of)
    result.statistics = statistics(session, as_of, partnership)
    return result


def _outcomes(deadlines: pd.DataFrame, period: Period, as_of: dt.date) -> pd.DataFrame:
    """The three statutory clocks that fell due in the period, each with its outcome as at ``as_of``."""
    start, end, day = (np.datetime64(d, "D") for d in (period.start, period.end, as_of))
    due = deadlines[deadlines["name"].isin(list(MEASURES))]
    due = due[(due["due_on"] >= start) & (due["due_on"] <= end)].copy()
    met = due["met_on"].to_numpy(dtype="datetime64[D]")
    on = due["due_on"].to_numpy(dtype="datetime64[D]")
    done = ~np.isnat(met) & (met <= day)
    due["outcome"] = np.select(
        [done & (met <= on), done, on < day], ["on_time", "late", "outstanding"], default="not_yet_due"
    )
    return due


def _rates(counts: pd.DataFrame) -> pd.Series:
    fell_due = counts["on_time"] + counts["late"] + counts["outstanding"]
    return (100 * counts["on_time"] / fell_due.where(fell_due > 0)).round(1)


def _timeliness(deadlines: pd.DataFrame, period: Period, as_of: dt.date) -> pd.DataFrame:
    due = _outcomes(deadlines, period, as_of)
    counts = pd.crosstab(due["name"], due["outcome"]) if not due.empty else pd.DataFrame()
    counts = counts.reindex(index=list(MEASURES), columns=list(OUTCOMES), fill_value=0).fillna(0).astype(int)
    table = counts.assign(
        title=[MEASURES[m] for m in counts.index],
        fell_due=counts["on_time"] + counts["late"] + counts["outstanding"],
        percent_on_time=_rates(counts),
    )
    return table.rename_axis("measure").reset_index()[["measure", "title", "fell_due", *OUTCOMES, "percent_on_time"]]


def _stage_times(events: pd.DataFrame, period: Period, closures: dict[str, list[str]]) -> pd.DataFrame:
    columns = ["stage", "label", "spells", "median", "p90"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    spells = events.assign(left_on=events.groupby("reference")["on"].shift(-1)).dropna(subset=["left_on"])
    start, end = np.datetime64(period.start, "D"), np.datetime64(period.end, "D")
    left = spells["left_on"].to_numpy(dtype="datetime64[D]")
    spells = spells[(left >= start) & (left <= end)]
    if spells.empty:
        return pd.DataFrame(columns=columns)
    spells = spells.assign(
        days=_working_days(
            spells["partnership"].reset_index(drop=True),
            spells["on"].to_numpy(dtype="datetime64[D]"),
            spells["left_on"].to_numpy(dtype="datetime64[D]"),
            closures,
        )
    )
    grouped = spells.groupby("to_stage")["days"]
    table = pd.DataFrame({"spells": grouped.size(), "median": grouped.median(), "p90": grouped.quantile(0.9)})
    order = {stage.value: n for n, stage in enumerate(Stage)}  # the order a review goes through them
    table = table.loc[sorted(table.index, key=order.__getitem__)].rename_axis("stage").reset_index()
    table["label"] = table["stage"].map(stage_label)
    return table[columns]


def stage_label(stage: str) -> str:
    return stage.replace("_", " ").capitalize().replace("panel", "Panel")


def _overdue(
    deadlines: pd.DataFrame, closed: pd.Series, as_of: dt.date, closures: dict[str, list[str]]
) -> pd.DataFrame:
    day = np.datetime64(as_of, "D")
    met = deadlines["met_on"].to_numpy(dtype="datetime64[D]")
    late = deadlines[
        (deadlines["meaning"] == "due by")
        & deadlines["kind"].isin(BREACH_KINDS)  # a duty or statutory guidance: the others are never a breach
        & (deadlines["due_on"].to_numpy(dtype="datetime64[D]") < day)
        & (np.isnat(met) | (met > day))
    ]
    closed_by = closed[closed.to_numpy(dtype="datetime64[D]") <= day].index
    late = late[~late["reference"].isin(closed_by)]
    columns = ["reference", "partnership", "deadline", "due_on", "working_days_overdue"]
    if late.empty:
        return pd.DataFrame(columns=columns)
    days = _working_days(
        late["partnership"].reset_index(drop=True),
        late["due_on"].to_numpy(dtype="datetime64[D]"),
        np.full(len(late), day),
        closures,
    )
    table = late.assign(deadline=late["title"], working_days_overdue=days)
    order = ["working_days_overdue", "reference", "deadline"]
    return table.sort_values(order, ascending=[False, True, True])[columns].reset_index(drop=True)


def _decided_in(decisions: pd.DataFrame, period: Period) -> pd.DataFrame:
    if decisions.empty:
        return decisions.assign(on=pd.Series(dtype="datetime64[s]"))
    recorded = _london_days(decisions["at"])
    own = [
        (details or {}).get(DECISION_DATES.get(kind, ""), None)
        for kind, details in zip(decisions["kind"], decisions["details"], strict=True)
    ]
    on = np.where(pd.isna(_days(pd.Series(own))), recorded, _days(pd.Series(own)))
    start, end = np.datetime64(period.start, "D"), np.datetime64(period.end, "D")
    return decisions.assign(on=on)[(on >= start) & (on <= end)]


def outcome_label(kind: str, outcome: str) -> str:
    enums: dict[str, Any] = {
        DecisionKind.RAPID_REVIEW: Recommendation,
        DecisionKind.LCSPR_DECISION: LocalDecision,
        DecisionKind.PUBLICATION: PublicationChoice,
    }
    if kind in enums and outcome in enums[kind].__members__:
        return str(enums[kind][outcome].value)
    return outcome.replace("_", " ")


def _decisions(decisions: pd.DataFrame, period: Period) -> pd.DataFrame:
    made = _decided_in(decisions, period)
    columns = ["kind", "decision", "outcome", "count"]
    if made.empty:
        return pd.DataFrame(columns=columns)
    table = made.groupby(["kind", "outcome"]).size().rename("count").reset_index()
    table["decision"] = table["kind"].map(DECISION_KINDS)
    table["outcome"] = [outcome_label(k, o) for k, o in zip(table["kind"], table["outcome"], strict=True)]
    order = {kind: n for n, kind in enumerate(DECISION_KINDS)}
    table = table.sort_values(by=["kind", "count"], key=lambda s: s.map(order) if s.name == "kind" else -s)
    return table[columns].reset_index(drop=True)


def _themes(decisions: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Themes of the rapid reviews completed in the period: each review's latest round, counted once."""
    columns = ["theme", "reviews", "recurring"]
    rapid = _decided_in(decisions[decisions["kind"] == DecisionKind.RAPID_REVIEW], period)
    if rapid.empty:
        return pd.DataFrame(columns=columns)
    themes = rapid.assign(theme=rapid["details"].map(lambda d: list((d or {}).get("themes") or []))).explode("theme")
    counts = themes.dropna(subset=["theme"]).groupby("theme")["reference"].nunique()
    order = {theme.value: n for n, theme in enumerate(Theme)}
    table = pd.DataFrame({"theme": counts.index, "reviews": counts.to_numpy()})
    table = table.sort_values(by=["reviews", "theme"], key=lambda s: -s if s.name == "reviews" else s.map(order))
    return table.assign(recurring=table["reviews"] >= 2)[columns].reset_index(drop=True)


def _by_partnership(
    reviews: pd.DataFrame, deadlines: pd.DataFrame, period: Period, as_of: dt.date, overdue: pd.DataFrame
) -> pd.DataFrame:
    """One row per partnership: its reviews, each measure's rate on time, and its reviews overdue."""
    due = _outcomes(deadlines, period, as_of)
    table = reviews.groupby("partnership").size().rename("reviews").to_frame()
    for measure in MEASURES:
        mine = due[due["name"] == measure]
        counts = pd.crosstab(mine["partnership"], mine["outcome"]) if not mine.empty else pd.DataFrame()
        counts = counts.reindex(index=table.index, columns=list(OUTCOMES), fill_value=0).fillna(0).astype(int)
        table[measure] = _rates(counts)
    late = overdue.groupby("partnership")["reference"].nunique() if not overdue.empty else pd.Series(dtype=int)
    table["overdue_reviews"] = late.reindex(table.index, fill_value=0).astype(int)
    return table.rename_axis("partnership").reset_index()
