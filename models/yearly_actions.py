"""The recommendations and actions partners report on in their yearly report (Working Together: at least every 12
months), for one partnership or all of them, over a reporting period.

- **Each review's recommendations and actions**, by reference only: every recommendation made by the period's end
  with its actions (agency, named owner, due date, status, and the evidence or reason recorded), leaving out what
  was closed before the period began.
- **Overdue** on the as-of day: actions not closed by then whose due date had passed.
- **Closed in the year**: actions closed (accepted as done, or closed by the partners) in the period.
- **Counts by status**, and the **themes** of the reviews listed, counted across them (reviews raising each theme,
  from each review's latest rapid review round).

Statuses, evidence and reasons are the latest recorded; whether an action was overdue or closed is worked out from
its dates as at the as-of day. The free text (recommendations, actions, evidence, reasons) is sealed in the
database and opened here by loading the rows; before it leaves for a document or a spreadsheet, every name and
date of birth of the review's children and family members is masked (``mask_names``): a professional may have
typed one. The tracker export (models/tracker.py) reads the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import review_keys
from models.compliance import Period, UnknownPartnership
from models.dates import long_date
from models.process.steps.rapid_review import Theme
from models.stages import Stage
from models.tables import (
    OPEN_ACTION,
    Action,
    ActionStatus,
    Agency,
    CasePerson,
    Decision,
    DecisionKind,
    Partnership,
    Recommendation,
    RecommendationSource,
    Review,
    StageEvent,
)

# How a status reads in the report: the two an owner sets at the end wait for the partnership to accept them.
STATUS_LABELS: dict[ActionStatus, str] = {
    ActionStatus.NOT_STARTED: "Not started",
    ActionStatus.IN_PROGRESS: "In progress",
    ActionStatus.DONE: "Done, awaiting acceptance",
    ActionStatus.CANNOT: "Cannot be done, awaiting acceptance",
    ActionStatus.ACCEPTED: "Accepted as done",
    ActionStatus.CLOSED: "Closed by the partners",
}
NATIONAL_STAGES = frozenset({Stage.NATIONAL_REVIEW, Stage.NATIONAL_REVIEW_UNDER_WAY})
LOCAL_STAGES = frozenset(
    {
        Stage.COMMISSIONING,
        Stage.REVIEW_UNDER_WAY,
        Stage.QUALITY_ASSURANCE,
        Stage.REPORT_APPROVED,
        Stage.AWAITING_PUBLICATION,
        Stage.PUBLICATION_DEFERRED,
        Stage.PUBLISHED,
        Stage.IMPROVEMENTS_PUBLISHED,
        Stage.ACTIONS_UNDER_WAY,
    }
)
REMOVED = "[name removed]"


# --- what is read: each review with its recommendations and actions ---------------------------------------------


@dataclass(frozen=True)
class ActionLine:
    number: int  # within the review: "action 3"
    agency: str
    owner: str
    text: str
    done_when: str
    due_on: dt.date
    status: ActionStatus
    evidence: str  # "" when none was given
    evidence_document: bool  # a document was given as evidence (kept in the object store, sealed)
    reason: str  # why it cannot be done, why it was sent back, or why it was closed: the latest
    closed_on: dt.date | None
    created_on: dt.date


@dataclass(frozen=True)
class RecommendationLine:
    number: int
    source: RecommendationSource
    text: str
    created_on: dt.date
    actions: tuple[ActionLine, ...]


@dataclass(frozen=True)
class ReviewLines:
    reference: str
    partnership: str  # its code
    stage: Stage
    kind: RecommendationSource  # what the review became: a rapid review only, a local or a national review
    themes: tuple[str, ...]  # its latest rapid review round's, in the order recorded
    recommendations: tuple[RecommendationLine, ...]


def review_kind(stages: Iterable[Stage]) -> RecommendationSource:
    """What a review became, from every stage it has been at: a national review, a local review, or a rapid review
    only (so far, or because the partners decided against a local review)."""
    seen = set(stages)
    if seen & NATIONAL_STAGES:
        return RecommendationSource.NATIONAL_REVIEW
    if seen & LOCAL_STAGES:
        return RecommendationSource.LOCAL_REVIEW
    return RecommendationSource.RAPID_REVIEW


def scope_name(session: Session, partnership: str | None) -> str:
    """The partnership's name (``UnknownPartnership`` for a code nobody has), or "All partnerships"."""
    if partnership is None:
        return "All partnerships"
    name = session.exec(select(Partnership.name).where(Partnership.code == partnership)).first()
    if name is None:
        known = ", ".join(sorted(session.exec(select(Partnership.code)).all())) or "none yet"
        raise UnknownPartnership(f"there is no partnership {partnership!r} (partnerships: {known})")
    return name


def read_lines(session: Session, partnership: str | None, *, every_review: bool = False) -> list[ReviewLines]:
    """The reviews in scope with their recommendations and actions (the free text opened and its names masked), by
    reference. Only the reviews with a recommendation, unless ``every_review``: then every review that is a review
    (a notification needing none, a care leaver's death for one, is not)."""
    scope_name(session, partnership)
    in_scope = sa.select(col(Review.id)).join(Partnership, col(Partnership.id) == col(Review.partnership_id))
    if partnership is not None:
        in_scope = in_scope.where(col(Partnership.code) == partnership)
    recommended = sa.select(col(Recommendation.review_id)).where(col(Recommendation.review_id).in_(in_scope))
    wanted = in_scope if every_review else recommended
    reviews = session.execute(
        sa.select(
            col(Review.id),
            col(Review.reference),
            col(Partnership.code),
            col(Review.stage),
            col(Review.rapid_review_follows),
        )
        .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
        .where(col(Review.id).in_(wanted))
        .order_by(col(Review.reference))
    ).all()
    with_recommendations = set(session.execute(recommended.distinct()).scalars()) if every_review else None
    stages = _stages(session, wanted)
    themes = _themes(session, wanted)
    review_keys.preload(session, [r[0] for r in reviews])
    names = _name_patterns(session, wanted)
    agencies = dict(session.exec(select(Agency.id, Agency.name)).all())
    actions: dict[uuid.UUID, list[ActionLine]] = {}
    for a in session.exec(select(Action).where(col(Action.review_id).in_(wanted)).order_by(col(Action.number))):
        mask = names.get(a.review_id)
        actions.setdefault(a.recommendation_id, []).append(
            ActionLine(
                number=a.number,
                agency=agencies.get(a.agency_id, ""),
                owner=a.owner,
                text=mask_names(a.text, mask),
                done_when=mask_names(a.done_when, mask),
                due_on=a.due_on,
                status=ActionStatus(a.status),
                evidence=mask_names(a.evidence, mask),
                evidence_document=a.evidence_key is not None,
                reason=mask_names(a.reason, mask),
                closed_on=a.closed_on,
                created_on=a.created_at.date(),
            )
        )
    recommendations: dict[uuid.UUID, list[RecommendationLine]] = {}
    query = select(Recommendation).where(col(Recommendation.review_id).in_(wanted))
    for r in session.exec(query.order_by(col(Recommendation.number))):
        recommendations.setdefault(r.review_id, []).append(
            RecommendationLine(
                number=r.number,
                source=RecommendationSource(r.source),
                text=mask_names(r.text, names.get(r.review_id)),
                created_on=r.created_at.date(),
                actions=tuple(actions.get(r.id, ())),
            )
        )
    return [
        ReviewLines(
            reference=reference,
            partnership=code,
            stage=Stage(stage),
            kind=review_kind([Stage(stage), *stages.get(review_id, ())]),
            themes=themes.get(review_id, ()),
            recommendations=tuple(recommendations.get(review_id, ())),
        )
        for review_id, reference, code, stage, follows in reviews
        if follows or (with_recommendations is not None and review_id in with_recommendations)
    ]


def _stages(session: Session, wanted: Any) -> dict[uuid.UUID, set[Stage]]:
    """The local and national review stages each review has been at (what it became)."""
    found: dict[uuid.UUID, set[Stage]] = {}
    query = (
        select(StageEvent.review_id, StageEvent.to_stage)
        .where(
            col(StageEvent.review_id).in_(wanted), col(StageEvent.to_stage).in_(list(NATIONAL_STAGES | LOCAL_STAGES))
        )
        .distinct()
    )
    for review_id, stage in session.exec(query):
        found.setdefault(review_id, set()).add(Stage(stage))
    return found


def _themes(session: Session, wanted: Any) -> dict[uuid.UUID, tuple[str, ...]]:
    """Each review's themes, from its latest rapid review round (a round sent back and done again replaces it).
    Themes are not free text: a plain read of the details gives them."""
    latest: dict[uuid.UUID, tuple[int, tuple[str, ...]]] = {}
    query = select(Decision.review_id, Decision.round, Decision.details).where(
        Decision.kind == DecisionKind.RAPID_REVIEW, col(Decision.review_id).in_(wanted)
    )
    for review_id, round_, details in session.exec(query):
        if review_id not in latest or round_ > latest[review_id][0]:
            latest[review_id] = (round_, tuple(str(t) for t in (details or {}).get("themes") or ()))
    return {review_id: themes for review_id, (_, themes) in latest.items()}


# --- names typed into the free text ------------------------------------------------------------------------------


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _date_forms(day: dt.date) -> list[str]:
    return [day.isoformat(), f"{day:%d/%m/%Y}", f"{day.day}/{day.month}/{day.year}", long_date(day), f"{day:%d %B %Y}"]


def names_pattern(names: Sequence[str], births: Sequence[dt.date] = ()) -> re.Pattern[str] | None:
    """What to mask for a review's people: each whole name in any case, with spaces or hyphens between its parts,
    with or without accents; each part of four letters or more as a name is written (capitalised, or in capitals),
    so that "will" in "the school will" stays when a child is called Will; each date of birth as people write it."""
    needles: set[str] = set()
    for name in filter(None, names):
        for form in {name, _folded(name)}:
            parts = [p for p in re.split(r"[\s\-]+", form.strip()) if p]
            if parts:
                needles.add("(?i:" + r"[\s\-]*".join(map(re.escape, parts)) + ")")
            for part in parts:
                if len(part) >= 4:
                    needles |= {re.escape(v) for v in (part, part.upper(), part[:1].upper() + part[1:])}
    needles |= {re.escape(form) for day in births for form in _date_forms(day)}
    if not needles:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(needles, key=len, reverse=True)) + r")(?!\w)")


def mask_names(text: str | None, pattern: re.Pattern[str] | None) -> str:
    """The text with every match of the review's names replaced; "" for no text (or a review erased since)."""
    if not text:
        return ""
    return pattern.sub(REMOVED, text) if pattern is not None else text


def _name_patterns(session: Session, wanted: Any) -> dict[uuid.UUID, re.Pattern[str] | None]:
    people: dict[uuid.UUID, tuple[list[str], list[dt.date]]] = {}
    for person in session.exec(select(CasePerson).where(col(CasePerson.review_id).in_(wanted))):
        names, births = people.setdefault(person.review_id, ([], []))
        names += [person.name or "", *_former_names(person.former_names)]
        if person.date_of_birth:
            births.append(dt.date.fromisoformat(person.date_of_birth))
    return {review_id: names_pattern(names, births) for review_id, (names, births) in people.items()}


def _former_names(value: str | None) -> list[str]:
    return [str(n) for n in json.loads(value or "[]")]


# --- the yearly report's figures ----------------------------------------------------------------------------------

ACTION_COLUMNS = [
    "reference",
    "partnership",
    "recommendation",
    "action",
    "agency",
    "owner",
    "text",
    "due_on",
    "status",
    "evidence",
    "evidence_document",
    "reason",
    "closed_on",
]


@dataclass(frozen=True)
class ActionCounts:
    """The section in numbers, for the report's summary: no text, so it may travel through Prefect."""

    reviews: int
    recommendations: int
    actions: int
    open: int
    overdue: int
    closed_in_period: int


@dataclass
class YearlyActions:
    period: Period
    as_of: dt.date
    partnership: str | None
    reviews: list[ReviewLines]  # the reviews listed, each with the recommendations and actions in the period
    actions: pd.DataFrame  # one row per action listed: ACTION_COLUMNS
    overdue: pd.DataFrame  # ACTION_COLUMNS and days_overdue, the most overdue first
    closed: pd.DataFrame  # ACTION_COLUMNS, closed in the period, in the order they closed
    by_status: pd.DataFrame  # status, label, actions: every status, in the order an action goes through them
    themes: pd.DataFrame  # theme, reviews, recurring
    counts: ActionCounts = field(init=False)

    def __post_init__(self) -> None:
        self.counts = ActionCounts(
            reviews=len(self.reviews),
            recommendations=sum(len(r.recommendations) for r in self.reviews),
            actions=len(self.actions),
            open=int(self.actions["status"].isin(list(OPEN_ACTION)).sum()),
            overdue=len(self.overdue),
            closed_in_period=len(self.closed),
        )


def _in_period(recommendation: RecommendationLine, period: Period) -> RecommendationLine | None:
    """The recommendation as the period's report lists it: made by the period's end, with its actions made by then
    and not closed before it began; None when nothing of it is left to report."""
    if recommendation.created_on > period.end:
        return None
    actions = tuple(
        a
        for a in recommendation.actions
        if a.created_on <= period.end and (a.closed_on is None or a.closed_on >= period.start)
    )
    if recommendation.actions and not actions:
        return None
    return replace(recommendation, actions=actions)


def _listed(lines: list[ReviewLines], period: Period) -> list[ReviewLines]:
    listed = []
    for review in lines:
        kept = tuple(r for r in (_in_period(r, period) for r in review.recommendations) if r is not None)
        if kept:
            listed.append(replace(review, recommendations=kept))
    return listed


def _actions_frame(reviews: list[ReviewLines]) -> pd.DataFrame:
    rows = [
        (
            review.reference,
            review.partnership,
            recommendation.number,
            a.number,
            a.agency,
            a.owner,
            a.text,
            a.due_on,
            a.status,
            a.evidence,
            a.evidence_document,
            a.reason,
            a.closed_on,
        )
        for review in reviews
        for recommendation in review.recommendations
        for a in recommendation.actions
    ]
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def _themes_across(reviews: list[ReviewLines]) -> pd.DataFrame:
    """Reviews raising each theme, the most raised first (then in the rapid review form's order)."""
    columns = ["theme", "reviews", "recurring"]
    pairs = pd.DataFrame(
        [(r.reference, t) for r in reviews for t in dict.fromkeys(r.themes)], columns=["reference", "theme"]
    )
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    counts = pairs.groupby("theme")["reference"].nunique()
    order = {theme.value: n for n, theme in enumerate(Theme)}
    table = pd.DataFrame({"theme": counts.index, "reviews": counts.to_numpy()})
    table = table.sort_values(
        by=["reviews", "theme"], key=lambda s: -s if s.name == "reviews" else s.map(lambda t: order.get(t, len(order)))
    )
    return table.assign(recurring=table["reviews"] >= 2)[columns].reset_index(drop=True)


def figures(lines: list[ReviewLines], period: Period, as_of: dt.date, partnership: str | None) -> YearlyActions:
    reviews = _listed(lines, period)
    actions = _actions_frame(reviews)
    # dates as numpy days (NaT for an action not closed), so that each test below is one vectorised comparison
    due, closed_on = (pd.to_datetime(actions[c]).to_numpy(dtype="datetime64[D]") for c in ("due_on", "closed_on"))
    day, start, end = (np.datetime64(d, "D") for d in (as_of, period.start, period.end))
    late = actions[~(closed_on <= day) & (due < day)]  # NaT compares False: an action not closed is not closed by
    overdue = late.assign(days_overdue=(day - due[~(closed_on <= day) & (due < day)]).astype(int))
    overdue = overdue.sort_values(["days_overdue", "reference", "action"], ascending=[False, True, True])
    closed = actions[(closed_on >= start) & (closed_on <= end)].sort_values(["closed_on", "reference", "action"])
    counts = actions["status"].value_counts()
    by_status = pd.DataFrame(
        {
            "status": [s.value for s in ActionStatus],
            "label": [STATUS_LABELS[s] for s in ActionStatus],
            "actions": [int(counts.get(s, 0)) for s in ActionStatus],
        }
    )
    return YearlyActions(
        period=period,
        as_of=as_of,
        partnership=partnership,
        reviews=reviews,
        actions=actions,
        overdue=overdue.reset_index(drop=True),
        closed=closed.reset_index(drop=True),
        by_status=by_status,
        themes=_themes_across(reviews),
    )


def yearly_actions(session: Session, period: Period, partnership: str | None, as_of: dt.date) -> YearlyActions:
    """The recommendations and actions section for ``period``, for one partnership (by code) or all of them, with
    what was overdue as at ``as_of`` (the compliance report's own day: the period's end, or today if earlier)."""
    return figures(read_lines(session, partnership), period, as_of, partnership)
