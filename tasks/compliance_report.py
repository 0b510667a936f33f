"""The compliance report as a document: the figures (models/compliance.py) drawn as charts, laid out with the
document templates, rendered to PDF and kept in the object store.

Keys name the scope and the period, never a person: ``compliance/northshire/2027-01-01_2027-01-31/v1.pdf``
(``all`` for every partnership); producing the same report again stores the next version beside it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from prefect import task
from sqlmodel import col, func, select

from models import rulebook
from models.compliance import MEASURES, Compliance, Period, compliance
from models.dates import long_date
from models.db import transaction
from models.department import SUPPRESSED, SUPPRESSED_MEANS
from models.statistics import FUNNEL, SUPPRESS_BELOW, Statistics
from models.tables import ActionStatus, Report, utcnow
from models.yearly_actions import STATUS_LABELS, ActionLine, YearlyActions, yearly_actions
from tasks.charts import horizontal_bars_svg
from tasks.pdf import render_pdf
from tasks.storage import open_store

KIND = "compliance-report"
STEPS = {
    "figures": "Working out the figures",
    "charts": "Drawing the charts",
    "pdf": "Rendering the PDF",
    "store": "Storing it",
}
OVERDUE_LISTED = 100  # the most overdue, by name of review; a national report would otherwise run to pages


def _d_from_numpy(value: Any) -> str:
    return long_date(pd.Timestamp(value).date())


def _percent(value: float) -> str:
    return "none due" if value is None or math.isnan(value) else f"{value:g}"


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")  # type: ignore[no-any-return]


def charts(figures: Compliance) -> dict[str, str | None]:
    t, s, th = figures.timeliness, figures.stage_times, figures.themes
    return {
        "timeliness": horizontal_bars_svg(
            list(t["title"]),
            {"on time": [float(v) for v in t["percent_on_time"]]},
            title="Timescales met on time",
            xlabel="Per cent of those that fell due",
            xmax=100,
            unit="%",
        ),
        "stages": horizontal_bars_svg(
            list(s["label"]),
            {"median": [float(v) for v in s["median"]], "90th percentile": [float(v) for v in s["p90"]]},
            title="Working days in each stage",
            xlabel="Working days",
        )
        if not s.empty
        else None,
        "themes": horizontal_bars_svg(
            [str(v).capitalize() for v in th["theme"]],
            {"rapid reviews": [float(v) for v in th["reviews"]]},
            title="Themes raised by rapid reviews",
            xlabel="Rapid reviews",
        )
        if not th.empty
        else None,
    }


def context(
    figures: Compliance, drawn: dict[str, str | None], produced: dt.datetime, yearly: YearlyActions | None = None
) -> dict[str, Any]:
    scope = figures.partnership or "all"
    overdue = figures.overdue.head(OVERDUE_LISTED).assign(due_on=lambda f: f["due_on"].map(_d_from_numpy))
    return {
        "title": f"Compliance report: {figures.period.label}",
        "description": f"Compliance with the statutory timescales, {figures.scope_name}, {figures.period.label}",
        "reference": f"Compliance report · {scope} · {figures.period.start:%Y-%m-%d} to {figures.period.end:%Y-%m-%d}",
        "marking": "OFFICIAL",
        "scope_name": figures.scope_name,
        "period": figures.period.label,
        "as_of": long_date(figures.as_of),
        "produced": f"{long_date(produced)} {produced:%H:%M} UTC",
        "reviews": figures.reviews,
        "editions": _in_words([e.title for e in rulebook.editions()]),
        "edition_rule": rulebook.EDITION_RULE,
        "timeliness": [dict(r, percent=_percent(r["percent_on_time"])) for r in _rows(figures.timeliness)],
        "stage_times": [
            dict(r, median=_number(r["median"]), p90=_number(r["p90"])) for r in _rows(figures.stage_times)
        ],
        "overdue": _rows(overdue),
        "overdue_total": len(figures.overdue),
        "overdue_reviews": figures.overdue_reviews,
        "many_partnerships": figures.partnership is None,
        "decisions": _rows(figures.decisions),
        "themes": _rows(figures.themes),
        "by_partnership": [{**r, **{m: _percent(r[m]) for m in MEASURES}} for r in _rows(figures.by_partnership)],
        "statistics": _statistics(figures),
        "yearly": _yearly(yearly),
        "charts": drawn,
    }


def _in_words(items: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _statistics(figures: Compliance) -> dict[str, Any] | None:
    """The statistics for the template: the funnel by reporting year; the Department's figures, one table per
    breakdown with a column per nature; care leavers' deaths; and the project's own count of every child, grouped."""
    found = figures.statistics
    if found is None:
        return None
    own: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(found.characteristics):
        own.setdefault(row["label"], []).append(row)
    return {
        "year": found.year,
        "label": found.label,
        "notifications": found.notifications_shown,
        "funnel": FUNNEL,
        "years": _rows(found.years),
        "department": _department_tables(found),
        "quarters": _rows(found.quarters),
        "care_leaver_deaths": found.care_leaver_deaths_shown,
        "care_leavers": [r for r in _rows(found.care_leavers) if r["breakdown_topic"] != "Total"],
        "unmapped": found.unmapped,
        "unmapped_children": found.unmapped_children,
        "children": found.children,
        "children_shown": found.children_shown,
        "characteristics": own,
        "suppress_below": SUPPRESS_BELOW,
        "suppressed": SUPPRESSED,
        "suppressed_means": SUPPRESSED_MEANS,
    }


def _department_tables(found: Statistics) -> list[dict[str, Any]]:
    """Each breakdown as the report shows it: its heading, its columns (the natures) and a row per value."""
    tables: dict[str, dict[str, Any]] = {}
    for r in _rows(found.department):
        table = tables.setdefault(r["breakdown_topic"], {"topic": r["breakdown_topic"], "heading": r["heading"]})
        columns: list[str] = table.setdefault("columns", [])
        if r["nature"] not in columns:
            columns.append(r["nature"])
        rows: dict[str, list[str]] = table.setdefault("by_value", {})
        rows.setdefault(r["breakdown"], []).append(r["number"])
    return [
        {
            "topic": t["topic"],
            "heading": t["heading"],
            "columns": t["columns"],
            "rows": [{"breakdown": value, "numbers": numbers} for value, numbers in t["by_value"].items()],
        }
        for t in tables.values()
    ]


# what an action's owner gave at the end: the evidence it is done, or the reason it cannot be
SHOWS_EVIDENCE = frozenset({ActionStatus.DONE, ActionStatus.ACCEPTED})
SENT_BACK = frozenset({ActionStatus.NOT_STARTED, ActionStatus.IN_PROGRESS})  # a reason on an open one: sent back


def _evidence(text: str, document: bool) -> str:
    return text or ("a document, kept with the review" if document else "")


def _notes(a: ActionLine) -> list[dict[str, str]]:
    """The evidence and the reason, labelled as a partner reads them; the one that says how it ended first."""
    evidence = _evidence(a.evidence, a.evidence_document)
    notes = [("Evidence", evidence), ("Sent back" if a.status in SENT_BACK else "Reason", a.reason)]
    if a.status not in SHOWS_EVIDENCE:
        notes.reverse()
    return [{"label": label, "text": text} for label, text in notes if text]


def _action(a: ActionLine) -> dict[str, Any]:
    return {
        "number": a.number,
        "agency": a.agency,
        "owner": a.owner,
        "text": a.text,
        "done_when": a.done_when,
        "due": long_date(a.due_on),
        "status": STATUS_LABELS[a.status],
        "notes": _notes(a),
    }


def _listed(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Overdue or closed actions as the tables show them: dates in words, statuses as they read."""
    return [
        {
            **r,
            "due": long_date(r["due_on"]),
            "closed": long_date(r["closed_on"]) if isinstance(r["closed_on"], dt.date) else "",
            "status": STATUS_LABELS[ActionStatus(r["status"])],
            "note": _evidence(r["evidence"], r["evidence_document"])
            if ActionStatus(r["status"]) in SHOWS_EVIDENCE
            else r["reason"],
        }
        for r in _rows(frame)
    ]


def _yearly(yearly: YearlyActions | None) -> dict[str, Any] | None:
    """The recommendations and actions section: each review's, then what is overdue, what closed, the themes."""
    if yearly is None:
        return None
    return {
        "as_of": long_date(yearly.as_of),
        "counts": yearly.counts,
        "by_status": _rows(yearly.by_status),
        "reviews": [
            {
                "reference": review.reference,
                "partnership": review.partnership,
                "kind": review.kind.value,
                "recommendations": [
                    {
                        "number": r.number,
                        "source": r.source.value,
                        "text": r.text,
                        "actions": [_action(a) for a in r.actions],
                    }
                    for r in review.recommendations
                ],
            }
            for review in yearly.reviews
        ],
        "overdue": _listed(yearly.overdue),
        "closed": _listed(yearly.closed),
        "themes": _rows(yearly.themes),
    }


def key_for(partnership: str | None, period: Period, version: int) -> str:
    return f"compliance/{partnership or 'all'}/{period.start:%Y-%m-%d}_{period.end:%Y-%m-%d}/v{version}.pdf"


@dataclass
class Produced:
    key: str
    version: int
    sha256: str
    size: int
    figures: Compliance
    seconds: dict[str, float] = field(default_factory=dict)  # where the time went, step by step


@contextmanager
def _timed(seconds: dict[str, float], step: str, progress: Callable[[str], None] | None) -> Iterator[None]:
    if progress:
        progress(step)
    started = time.perf_counter()
    yield
    seconds[step] = round(time.perf_counter() - started, 3)


def produce(
    period: Period,
    partnership: str | None = None,
    *,
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> Produced:
    """Work out the figures, draw them, render the PDF and store it as the next version for this scope and period."""
    seconds: dict[str, float] = {}
    with _timed(seconds, "figures", progress), transaction() as session:
        figures = compliance(session, period, partnership, today=today)
        # the section's text stays here, for the PDF: only its counts go on with the figures (and so into Prefect)
        yearly = yearly_actions(session, period, partnership, figures.as_of)
        figures.actions = yearly.counts
    with _timed(seconds, "charts", progress):
        drawn = charts(figures)
    with _timed(seconds, "pdf", progress):
        pdf = render_pdf("compliance_report.html", context(figures, drawn, utcnow(), yearly)).pdf
    with _timed(seconds, "store", progress), transaction() as session:
        prefix = key_for(partnership, period, 0).removesuffix("v0.pdf")
        earlier = (
            select(func.count())
            .select_from(Report)
            .where(Report.kind == KIND, col(Report.object_key).startswith(prefix))
        )
        version = 1 + session.exec(earlier).one()
        key = key_for(partnership, period, version)
        about = {"kind": KIND, "scope": partnership or "all", "period": f"{period.start}_{period.end}"}
        stored = open_store().put(key, pdf, content_type="application/pdf", metadata=about)
        session.add(
            Report(
                review_id=None, kind=KIND, version=version, object_key=key, sha256=stored.sha256, size_bytes=stored.size
            )
        )
    return Produced(key, version, stored.sha256, stored.size, figures, seconds)


@task(name="compliance-report", retries=2, retry_delay_seconds=[5, 30])
def compliance_report(period: Period, partnership: str | None) -> Produced:
    return produce(period, partnership)
