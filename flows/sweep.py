"""`deadline-sweep`: every weekday at 07:00 (London), every open deadline of every open review classified, each
escalation raised once, and a summary for operators. Safe to run twice at once: the second changes nothing."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from models.calendar import today_in_england
from tasks.notices import deliver_outbox
from tasks.runs import restore_lost_runs
from tasks.sweeping import sweep_deadlines


@flow(name="deadline-sweep", flow_run_name="deadline-sweep · {as_of}")
def deadline_sweep(as_of: dt.date | None = None) -> dict[str, int]:
    """Classify every open statutory deadline as of a day (default today) and escalate what is overdue."""
    day = as_of or today_in_england()
    result = sweep_deadlines(day)
    for reference in sorted({e.reference for e in result.escalations}):
        deliver_outbox(reference)
    restored = restore_lost_runs()
    nothing = {"reference": "none overdue", "partnership": "", "deadline": "", "status": "", "working_days_overdue": 0}
    create_table_artifact(
        key="deadline-sweep-overdue", table=result.overdue or [nothing], description=f"Overdue on {day:%d %B %Y}"
    )
    lines = [f"# Deadline sweep, {day:%A %d %B %Y}", "", f"{result.deadlines} open deadlines.", "",
             "| status | deadlines |", "|---|---|"]  # fmt: skip
    lines += [f"| {status.replace('_', ' ')} | {count} |" for status, count in result.counts.items()]
    lines += ["", "## By partnership", "", "| partnership | on track | due soon | due today | overdue | escalated |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for row in result.by_partnership:
        lines.append(f"| {row['partnership']} | {row['on_track']} | {row['due_soon']} | {row['due_today']} | "
                     f"{row['overdue']} | {row['escalated']} |")  # fmt: skip
    lines += ["", f"## Overdue: {len(result.overdue)}", ""]
    lines += [f"- {o['reference']} ({o['partnership']}): {o['deadline']}, {o['working_days_overdue']} working day(s) "
              f"overdue, {str(o['status']).replace('_', ' ')}" for o in result.overdue]  # fmt: skip
    lines += ["", f"## Escalations raised by this sweep: {len(result.escalations)}", ""]
    lines += [f"- {e.reference}: {e.deadline.replace('_', ' ')}, level {e.level}, {e.days_overdue} working day(s) "
              "overdue" for e in result.escalations]  # fmt: skip
    lines += ["", f"## Reviews whose lost run was restored: {len(restored)}", "", *(f"- {r}" for r in restored)]
    create_markdown_artifact(key="deadline-sweep", markdown="\n".join(lines), description="Deadline sweep summary")
    return result.counts
