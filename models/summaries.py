"""The deadline sweep's and the compliance report's summaries, as markdown: the flows keep them as Prefect
artifacts and the command line prints them. References, partnership codes and counts only, never a name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from models.calendar import PROVISIONAL_NOTE
from models.compliance import Compliance
from models.dates import long_date, weekday_date
from models.retention import Due, schedule
from models.sweep import STATUSES, Escalation, SweepResult


def _words(name: str) -> str:
    return name.replace("_", " ")


def _row(*cells: object) -> str:
    return f"| {' | '.join(str(c) for c in cells)} |"


def _header(*columns: str) -> list[str]:
    return [_row(*columns), "|" + "---|" * len(columns)]


def _overdue(row: dict[str, object]) -> str:
    return (
        f"- {row['reference']} ({row['partnership']}): {row['deadline']}, {row['working_days_overdue']} working "
        f"day(s) overdue, {_words(str(row['status']))}"
    )


def _escalation(e: Escalation) -> str:
    return f"- {e.reference}: {_words(e.deadline)}, level {e.level}, {e.days_overdue} working day(s) overdue"


def sweep_summary(
    result: SweepResult,
    restored: Sequence[str] | None = None,
    undelivered: Sequence[str] | None = None,
    forgotten: int | None = None,
) -> str:
    """The sweep's counts by status and by partnership, what is overdue, the escalations it raised, the reminders and
    escalations of requests and actions it sent and, from the flow, the reviews and items whose lost run it started
    again and the messages it gave up delivering. A dry run says so first, and lists the escalations, reminders and
    escalations a sweep on that day would raise and send."""
    lines = [f"# Deadline sweep, {weekday_date(result.as_of)}{', dry run' if result.dry_run else ''}", ""]
    if result.dry_run:
        lines += [
            f"**Dry run as of {long_date(result.as_of)}: nothing was changed.** No status was recorded, no "
            "escalation raised, no message queued or sent; this is what a sweep on that day would find.",
            "",
        ]
    lines += [f"{result.deadlines} open deadlines.", ""]
    lines += [*_header("status", "deadlines"), *(_row(_words(s), n) for s, n in result.counts.items())]
    if result.provisional:
        lines += ["", f"{result.provisional} of the open deadlines are provisional: {PROVISIONAL_NOTE}."]
    columns = (*STATUSES, "provisional")
    lines += ["", "## By partnership", "", *_header("partnership", *map(_words, columns))]
    lines += [_row(row["partnership"], *(row[s] for s in columns)) for row in result.by_partnership]
    lines += ["", f"## Overdue: {len(result.overdue)}", "", *map(_overdue, result.overdue)]
    raised = "a sweep on that day would raise" if result.dry_run else "raised by this sweep"
    lines += ["", f"## Escalations {raised}: {len(result.escalations)}", ""]
    lines += map(_escalation, result.escalations)
    if result.items_chased is not None:
        chased = "a sweep on that day would send" if result.dry_run else "sent by this sweep"
        lines += ["", f"## Reminders and escalations of requests and actions {chased}: {len(result.items_chased)}", ""]
        lines += [f"- {line}" for line in result.items_chased]
    if restored is not None:
        lines += ["", f"## Lost runs started again: {len(restored)}", "", *(f"- {r}" for r in restored)]
    if undelivered is not None:
        lines += ["", f"## Messages that could not be delivered: {len(undelivered)}", ""]
        lines += [f"- {line}" for line in undelivered]
    if forgotten is not None:
        lines += ["", f"Form answers left in Prefect by runs that ended, deleted: {forgotten}."]
    return "\n".join(lines)


def compliance_summary(figures: Compliance, *, key: str, version: int, size: int) -> str:
    """The compliance report's timeliness table and overdue reviews, and where the PDF is stored."""
    as_of = long_date(figures.as_of)
    lines = [f"# Compliance report: {figures.scope_name}", "", f"{figures.period.label}, as at {as_of}.", ""]
    lines += [f"Stored as `{key}` (version {version}, {size:,} bytes).", ""]
    lines += _header("timescale", "fell due", "on time", "late", "outstanding", "on time (%)")
    for r in figures.timeliness.itertuples():
        rate = "none due" if r.fell_due == 0 else f"{r.percent_on_time:g}"
        lines.append(_row(r.title, r.fell_due, r.on_time, r.late, r.outstanding, rate))
    lines += ["", f"Reviews with a statutory deadline overdue on {as_of}: {figures.overdue_reviews}."]
    if figures.actions is not None:
        a = figures.actions
        lines += [
            "",
            f"Actions on recommendations: {a.actions} in {a.reviews} review(s); {a.open} open, {a.overdue} overdue "
            f"on {as_of}, {a.closed_in_period} closed in the period.",
        ]
    return "\n".join(lines)


def retention_summary(
    due: Sequence[Due], today: dt.date, *, applied: bool, runs: int, failed: Sequence[str] = ()
) -> str:
    """What the schedule makes due on a day (a dry run), or what was erased and deleted."""
    verb = "Erased or deleted" if applied else "Would go (dry run: nothing was changed)"
    lines = [f"## Retention on {long_date(today)}", "", f"**{verb}:**", ""]
    lines += _header("Kind", "Review", "What", "Counted from", "Due since", "Legal hold")
    for item in due:
        held = "yes: kept" if item.held else ""
        lines.append(
            _row(
                _words(item.kind), item.reference or "-", item.what, long_date(item.since), long_date(item.due_on), held
            )
        )
    if not due:
        lines.append(_row("nothing", "", "", "", "", ""))
    if failed:
        lines += ["", "**Not done this time** (the next run tries again):", ""] + [f"- {f}" for f in failed]
    lines += ["", f"Prefect runs ended before the run-history period: {runs}.", "", "**The schedule:**", ""]
    lines += [f"- {period.title}. Kept {period.describe()}." for period in schedule().values()]
    return "\n".join(lines)
