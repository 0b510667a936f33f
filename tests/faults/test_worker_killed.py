"""A worker killed mid-stage (SIGKILL: the worker and its run's process, nothing cleans up), as a machine dies.

Prefect notices the silence (heartbeats stop; cli/automations.py marks the run Crashed), the deployment trigger
in prefect.yaml starts the review's run again on the worker that is still there, and that run finishes the stage
with no stage event, message, upload or timer twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.objects import FlowRun, StateType
from sqlmodel import Session, select

from cli.demo import Case, review_state
from cli.system import LocalSystem
from models.calendar import today_in_england
from models.db import get_engine
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.roles import Role
from models.stages import Stage
from models.tables import Outbox, Report
from tasks.notices import outbox_folder
from tasks.runs import LIFECYCLE_DEPLOYMENT
from tasks.storage import open_store
from tests.utils import inprocess
from tests.utils.answering import submit
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.faults


def _what_prefect_saw() -> str:
    """The runs and what the automations did (their failures name the reason), for a failing test's message."""
    with get_client(sync_client=True) as client:
        runs = [(r.name, r.state_name, r.state.message if r.state else "") for r in client.read_flow_runs(limit=50)]
        filter_ = {"filter": {"event": {"prefix": ["prefect.automation.action"]}}, "limit": 20}
        events = client._client.post("/events/filter", json=filter_).json().get("events", [])
    return f"runs: {runs}; automation actions: {[(e['event'], e.get('payload')) for e in events]}"


def point_lifecycle_at(entrypoint: str) -> None:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(LIFECYCLE_DEPLOYMENT)
        client.update_deployment(deployment.id, DeploymentUpdate(entrypoint=entrypoint))


def shows(what: str, runs: Callable[[], list[FlowRun]], timeout: float) -> list[FlowRun]:
    """The runs ``runs`` finds, once Prefect shows some; if it never does, the failure says what it showed."""
    return wait_until(what, runs, timeout=timeout, interval=2, explain=_what_prefect_saw)


def runs_in(reference: str, state: StateType) -> list[FlowRun]:
    return [r for r in inprocess.runs_for(reference) if r.state is not None and r.state.type is state]


def test_a_worker_killed_mid_stage_is_noticed_and_the_rerun_repeats_nothing(
    system: LocalSystem, no_workers: LocalSystem, s3_endpoint: str, cspr_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSPR_STORAGE_URL", f"s3://cspr-killed-{uuid.uuid4().hex[:6]}/reviews")  # workers too
    case = Case(pseudonym="Child Killed Worker", report_sent_on=today_in_england())
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.REPORT_APPROVED)  # the way there, quickly, in this process
    run = inprocess.suspended_run(reference)

    # The coordinator approves the final report; a worker takes the run, and dies mid-stage.
    point_lifecycle_at("tests/faults/dying.py:review_lifecycle")
    doomed = no_workers.start_worker(1)
    (cspr_home / "kill-the-next-run").write_text(str(doomed.pid))
    submit(run, case.answer(Stage.REPORT_APPROVED), Role.COORDINATOR)
    try:
        doomed.wait(timeout=180)
    finally:
        point_lifecycle_at("flows.review_lifecycle:review_lifecycle")
    assert doomed.returncode == -9 and not (cspr_home / "kill-the-next-run").exists()
    assert review_state(reference).stage is Stage.AWAITING_PUBLICATION  # recorded before it died
    assert runs_in(reference, StateType.RUNNING)  # to Prefect, the dead run still looks alive

    # The other worker is still there; nobody does anything by hand.
    no_workers.start_worker(2)
    shows("the dead run marked Crashed", lambda: runs_in(reference, StateType.CRASHED), timeout=240)
    shows("the review's run started again and finished", lambda: runs_in(reference, StateType.COMPLETED), timeout=180)
    timers = shows(
        "the publication timer", lambda: [r for r in inprocess.runs_for(reference) if "timer" in r.tags], timeout=30
    )

    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        moves = [e.transition for e in history(session, review.id)]
        messages = session.exec(select(Outbox).where(Outbox.review_id == review.id)).all()
        reports = session.exec(select(Report).where(Report.review_id == review.id)).all()
    assert len(moves) == len(set(moves)), f"a stage event was repeated: {moves}"
    assert moves.count("send_final_report") == 1
    keys = [(m.purpose, m.recipient) for m in messages]
    assert len(keys) == len(set(keys)), keys
    assert all(m.sent_at is not None for m in messages), "every message delivered, once"
    files = sorted(p.name for p in Path(outbox_folder()).glob(f"{reference}--final_report--*.txt"))
    assert files == [f"{reference}--final_report--panel.txt", f"{reference}--final_report--secretary_of_state.txt"]
    assert len(timers) == 1, "one publication timer"
    store = open_store()
    assert reports and len({r.object_key for r in reports}) == len(reports)
    assert all(len(store.versions(r.object_key)) == 1 for r in reports), "a document was uploaded twice"
