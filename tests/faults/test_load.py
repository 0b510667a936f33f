"""Load: 200 incidents notified at once on the team set-up (Prefect and the project database on PostgreSQL, two
process workers, runs started warm, S3). Every one reaches its first form, the sweep runs over them all, and no
review is lost or made twice; the workers' pick-ups and those turned away are counted. The times are printed and
written to test-output/load.json (docs/promises.md and docs/benchmarks.md quote them)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_CUSTOM_HEADERS, temporary_settings

from cli.demo import Case
from cli.gate_client import GateSession
from models.calendar import calendar_for, today_in_england
from models.roles import Role
from models.settings import PROJECT_ROOT
from models.system_credentials import SERVICE_FILE, SERVICE_HEADER
from tests.utils.signin import register_with_cli
from tests.utils.team import team
from tests.utils.waiting import wait_until

__all__ = ["team"]
pytestmark = pytest.mark.faults

REVIEWS = int(os.environ.get("CSPR_LOAD_REVIEWS", "200"))


def runs_of(deployment: str) -> list[FlowRun]:
    runs: list[FlowRun] = []
    with get_client(sync_client=True) as client:
        while batch := client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
            offset=len(runs),
        ):
            runs += batch
    return runs


def pick_ups(logs: Path) -> dict[str, Any]:
    """From the workers' and the warm process's logs: how often a worker took up a run, how often the server turned
    it away because the other worker had it (cli/worker.py), and how the runs were started."""
    workers = "".join(log.read_text() for log in sorted(logs.glob("worker-*.log")))
    taken, turned_away = workers.count("submitting flow run"), workers.count("Aborted submission of flow run")
    return {
        "pick_ups": taken,
        "pick_ups_turned_away": turned_away,
        "turned_away_percent": round(100 * turned_away / max(taken, 1), 1),
        "started_warm": (logs / "warm-runs.log").read_text().count(" started as process "),
        "started_the_ordinary_way": workers.count("this run is started the ordinary way"),
    }


def states(runs: list[FlowRun]) -> Counter[str]:
    return Counter(r.state.type.value if r.state else "none" for r in runs)


def test_two_hundred_incidents_at_once_all_reach_their_first_form_and_the_sweep_covers_them(
    team: tuple[dict[str, str], int, str],
) -> None:
    env, port, _ = team
    project = sa.create_engine(env["CSPR_DATABASE_URL"])
    # incidents the partnership learned of today (a demo case's dates are 100 working days back, which would make
    # every review overdue, and each escalation start a run of its own)
    today = calendar_for().add(today_in_england(), 100)
    cases = [Case(pseudonym=f"Child Load {n:03d}", today=today) for n in range(REVIEWS)]
    figures: dict[str, Any] = {"reviews": REVIEWS, "workers": 2, "cores": os.cpu_count()}
    # the test acts as the system (the team's own service credential) and, for the identity forms, as a coordinator
    # the team's operator registered, signed in at the gate like anyone else
    coordinator = register_with_cli(
        env, "Load Coordinator", "load.coordinator@northshire-scp.example", Role.COORDINATOR
    )
    service = {SERVICE_HEADER: (Path(env["CSPR_HOME"]) / "keys" / SERVICE_FILE).read_text().strip()}
    as_the_system = {PREFECT_API_URL: f"http://127.0.0.1:{port}/api", PREFECT_CLIENT_CUSTOM_HEADERS: service}
    with temporary_settings(as_the_system), get_client(sync_client=True) as c:
        notify = c.read_deployment_by_name("notify-incident/notify-incident")
        start = time.perf_counter()
        for case in cases:  # every coordinator presses Run at once
            c.create_flow_run_from_deployment(notify.id, parameters={"notification": case.notification()})
        figures["submit_seconds"] = round(time.perf_counter() - start, 1)

        def all_waiting(deployment: str) -> Callable[[], bool]:
            """Whether every run of ``deployment`` waits for a form: counted by the server, which a 3-second poll
            of the runs themselves (every run's parameters, each time) would load as much as some of the runs."""
            waiting = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
            of = DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
            return lambda: c.count_flow_runs(flow_run_filter=waiting, deployment_filter=of) >= REVIEWS

        start = time.perf_counter()
        wait_until("identity forms", all_waiting("notify-incident"), timeout=1800, interval=3)
        figures["all_at_identity_form_seconds"] = round(figures["submit_seconds"] + time.perf_counter() - start, 1)
        by_name = {r.parameters["notification"]["children"][0]["pseudonym"]: r for r in runs_of("notify-incident")}
        gate = GateSession(f"http://127.0.0.1:{port}", coordinator).sign_in()
        for case in cases:  # the identity forms answered
            verdict = gate.resume(by_name[case.pseudonym].id, case.identity())
            assert verdict["status"] == "ACCEPT", verdict
        gate.sign_out()
        start = time.perf_counter()
        wait_until("first forms", all_waiting("review-lifecycle"), timeout=1800, interval=3)
        figures["all_at_first_form_seconds"] = round(time.perf_counter() - start, 1)

        start = time.perf_counter()
        sweep = run_deployment("deadline-sweep/deadline-sweep", timeout=600)
        figures["sweep_run_seconds"] = round(time.perf_counter() - start, 1)
        assert sweep.state is not None and sweep.state.is_completed(), sweep.state

        notify_states, lifecycle_states = states(runs_of("notify-incident")), states(runs_of("review-lifecycle"))
        lifecycles = runs_of("review-lifecycle")
    assert notify_states == {StateType.COMPLETED.value: REVIEWS}, notify_states  # none lost, none crashed
    assert lifecycle_states == {StateType.PAUSED.value: REVIEWS}, lifecycle_states  # one run each, all waiting
    with project.connect() as db:
        references = db.execute(sa.text("SELECT reference, stage FROM review")).all()
        unswept = db.execute(
            sa.text(
                "SELECT count(*) FROM deadline WHERE status = 'open' AND sweep_status IS NULL AND meaning = 'due by'"
            )
        ).scalar_one()
        overdue = db.execute(
            sa.text("SELECT count(*) FROM deadline WHERE sweep_status IN ('overdue', 'escalated')")
        ).scalar_one()
        events = db.execute(
            sa.text(
                "SELECT review_id, transition, count(*) FROM stage_event "
                "GROUP BY review_id, transition HAVING count(*) > 1"
            )
        ).all()
    project.dispose()
    assert len(references) == REVIEWS and {stage for _, stage in references} == {"incident_recorded"}
    assert {t.removeprefix("review:") for r in lifecycles for t in r.tags if t.startswith("review:")} == {
        reference for reference, _ in references
    }
    assert unswept == 0, "the sweep classified every open deadline"
    assert overdue == 0, "notified today: nothing is overdue yet"
    assert events == [], "no stage event twice"
    figures |= pick_ups(Path(env["CSPR_HOME"]) / "logs")
    assert figures["started_the_ordinary_way"] == 0, "every run was started warm (cli/warm_runs.py)"
    print(json.dumps(figures))
    out = PROJECT_ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
