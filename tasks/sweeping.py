"""The deadline sweep as Prefect tasks: classify and escalate in the database, then tell Prefect's event
system about each escalation (references, stages and days only)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from prefect import get_run_logger, task
from prefect.events import emit_event

from models import sweep
from models.db import transaction

OVERDUE_EVENT = "cspr.deadline.overdue"


@dataclass(frozen=True)
class SweepResult:
    as_of: dt.date
    deadlines: int
    counts: dict[str, int]
    by_partnership: list[dict[str, object]]
    overdue: list[dict[str, object]]  # reference, partnership, deadline, status, working days overdue
    escalations: list[sweep.Escalation]


@task(name="sweep-deadlines")
def sweep_deadlines(as_of: dt.date) -> SweepResult:
    with transaction() as session:
        frame, raised = sweep.sweep(session, as_of)
    result = _result(as_of, frame, raised)
    for escalation in raised:
        emit_event(
            event=OVERDUE_EVENT,
            resource={
                "prefect.resource.id": f"cspr.review.{escalation.reference}",
                "prefect.resource.name": escalation.reference,
                "cspr.partnership": escalation.partnership,
            },
            payload={
                "reference": escalation.reference,
                "deadline": escalation.deadline,
                "stage": escalation.stage,
                "level": escalation.level,
                "working_days_overdue": escalation.days_overdue,
            },
        )
    get_run_logger().info(
        "%s: %d open deadlines; %s; %d escalation(s) raised",
        as_of.isoformat(), result.deadlines, ", ".join(f"{k} {v}" for k, v in result.counts.items()), len(raised),
    )  # fmt: skip
    return result


def _result(as_of: dt.date, frame: pd.DataFrame, raised: list[sweep.Escalation]) -> SweepResult:
    counts = {status: 0 for status in sweep.STATUSES}
    overdue: list[dict[str, object]] = []
    if not frame.empty:
        counts.update(frame["sweep_status"].value_counts().to_dict())
        late = frame[frame["working_days_left"] < 0].sort_values(["reference", "name"])
        overdue = [
            {"reference": r.reference, "partnership": r.partnership, "deadline": r.title,
             "status": r.sweep_status, "working_days_overdue": int(-r.working_days_left)}
            for r in late.itertuples()
        ]  # fmt: skip
    return SweepResult(
        as_of=as_of,
        deadlines=len(frame),
        counts={k: int(v) for k, v in counts.items()},
        by_partnership=sweep.summary(frame).to_dict(orient="records"),
        overdue=overdue,
        escalations=raised,
    )
