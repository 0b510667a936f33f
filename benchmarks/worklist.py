"""Benchmark of the worklist's work per step: what a review's turn does for its partnership's worklist artifact, at 1
and at N open reviews (default 200) of one partnership, in one process, against the way before (every turn
refreshing the whole worklist).

Needs CSPR_HOME and Prefect's environment set for a home of its own (the command does both): starts a Prefect server
of its own (on SQLite), makes the project database (SQLite) and the demo partnership, and records one invented review
waiting at its first step ("Record the notification"). Then, at 1 open review and again once N are open:

- a burst of ``steps`` turns, inside one flow run as a review's turns are, each the call a turn makes
  (``note_turn``, the body of the ``refresh-worklist`` task: count the change, and refresh the artifact if nobody
  has for a minute; the burst starts after a quiet minute, so its first turn refreshes), then the look for changes
  (``publish_changed_worklists``, every few minutes) that refreshes what the burst left;
- ``per_step_seconds``: everything that burst cost the worklist, its turns and the look, divided by its steps;
  ``turn_median_seconds`` and ``turn_p90_seconds``: of the turns' calls (one of them refreshed: ``turn_max``);
- ``refresh_seconds``: one refresh of the whole worklist (read, then written as an artifact), the work each turn did
  before, the median of five.

The ratio of ``per_step_seconds`` at N to at 1 is the figure the target is on (at most 1.5). Prefect's own cost of
running a task around the call (the same at any size) is not in it. A burst here is faster than a real one (turns back
to back, with no step's own work between), so all its turns fall within one minute: a real burst refreshes once a
minute, and its per-step share of ``refresh_seconds`` is that divided by the steps taken in the minute.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from prefect import flow
from prefect.utilities.context import get_task_and_flow_run_ids

from benchmarks.step import percentile
from tasks import worklist_artifacts

PARTNERSHIP = "northshire"  # the demo partnership
REFRESHES = 5


def add_reviews(count: int, first: int) -> None:
    """``count`` invented reviews waiting at their first step, in the demo partnership."""
    from flows.notify_incident import _record
    from models.db import transaction
    from models.forms import Identity, IncidentNotification
    from models.process.demo_case import Case
    from models.review import creation, transitions

    coordinator = transitions.Actor("Chris Lee", "coordinator")
    for n in range(first, first + count):
        case = Case(pseudonym=f"Child W{n}", child_name=f"Bench Child {n}")
        incident = _record(
            IncidentNotification.model_validate(case.notification()), Identity.model_validate(case.identity())
        )
        with transaction() as session:
            creation.create_review(session, incident, actor=coordinator)


def quiet() -> None:
    """As if nobody had refreshed the partnership's worklist for a minute: the burst's first turn refreshes it."""
    import sqlalchemy as sa

    from models.db import transaction
    from models.tables import WorklistRefresh

    with transaction() as session:
        session.execute(sa.update(WorklistRefresh).values(refreshed_at=None))


@flow(name="bench-worklist", persist_result=False)
def burst(steps: int) -> dict[str, Any]:
    """The turns of a burst, the look after it, and the old way's refresh, timed in one flow run."""
    from models.tables import utcnow

    quiet()
    turns, refreshed = [], 0
    for _ in range(steps):
        started = time.perf_counter()
        refreshed += worklist_artifacts.note_turn(PARTNERSHIP)
        turns.append(time.perf_counter() - started)
    started = time.perf_counter()
    looked = worklist_artifacts.publish_changed_worklists()
    look = time.perf_counter() - started
    _, run_id = get_task_and_flow_run_ids()
    whole = []
    for _ in range(REFRESHES):
        started = time.perf_counter()
        listed = worklist_artifacts.refresh_now(PARTNERSHIP, run_id, utcnow())
        whole.append(time.perf_counter() - started)
    return {
        "rows": listed,
        "refreshed_by_turns": refreshed,
        "refreshed_by_the_look": len(looked),
        "per_step_seconds": round((sum(turns) + look) / steps, 5),
        "turn_median_seconds": round(statistics.median(turns), 5),
        "turn_p90_seconds": round(percentile(turns, 0.9), 5),
        "turn_max_seconds": round(max(turns), 5),
        "look_seconds": round(look, 4),
        "refresh_seconds": round(statistics.median(whole), 4),
    }


def run(reviews: int, steps: int, port: int) -> dict[str, Any]:
    from cli.system import LocalSystem
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo

    if reviews < 2 or steps < 1:
        raise ValueError("at least two open reviews, and one step")
    system = LocalSystem(port=port)
    try:
        system.start_server()
        migrate(get_engine())
        with transaction() as session:
            seed_demo(session)
        add_reviews(1, 0)
        burst(steps)  # warm-up: the first flow run and artifacts of this process, not counted
        at_one = burst(steps)
        add_reviews(reviews - 1, 1)
        at_n = burst(steps)
    finally:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # the flow runs' last log lines, before the server goes
        system.stop()
    per_step = at_n["per_step_seconds"] / at_one["per_step_seconds"]
    before = at_n["refresh_seconds"] / at_one["refresh_seconds"]
    return {
        "open_reviews": [1, reviews],
        "steps_per_burst": steps,
        "at_1": at_one,
        f"at_{reviews}": at_n,
        "per_step_ratio": round(per_step, 2),
        "target_ratio": 1.5,
        "within_target": per_step <= 1.5,
        "refresh_every_turn_ratio": round(before, 2),  # the way before: each step refreshed the whole worklist
    }
