"""The Prefect server killed and started again while 50 reviews wait for people at four different steps: every one
resumes afterwards with the answer it was waiting for, and carries on to its next step."""

from __future__ import annotations

import os
import signal
import time
from uuid import UUID

import pytest

from cli.demo import Case, review_state
from cli.system import SERVER_MODULE, LocalSystem
from models.roles import Role
from models.stages import Stage
from tests.utils import inprocess
from tests.utils.answering import submit

pytestmark = pytest.mark.faults

REVIEWS = 50
# where each review waits: 0 = the private identity form of notify-incident, then the lifecycle's forms in order
# (notification submitted, rapid review, the first partner's sign-off)
DEPTHS = 4


def restart_server(system: LocalSystem) -> float:
    """Kill the server outright (SIGKILL: no clean shutdown) and start it again on the same database."""
    (server,) = [p for p in system.processes if SERVER_MODULE in map(str, p.args)]
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    system.processes.remove(server)
    start = time.perf_counter()
    system.start_server()
    return time.perf_counter() - start


def test_fifty_reviews_waiting_at_different_steps_all_resume_after_a_server_restart(
    system: LocalSystem, no_workers: LocalSystem
) -> None:
    cases = [Case(pseudonym=f"Child Restart {n}") for n in range(REVIEWS)]
    waiting: list[tuple[Case, str | None, UUID, Stage | None]] = []  # case, reference, run, stage waited at
    for n, case in enumerate(cases):
        depth = n % DEPTHS
        if depth == 0:  # notification made; its identity form not yet answered
            run = inprocess.run_deployment_now("notify-incident", {"notification": case.notification()})
            waiting.append((case, None, run, None))
            continue
        reference, _ = inprocess.notify(case)
        for _ in range(depth - 1):
            inprocess.give(reference, case.answer(review_state(reference).stage))
        run = inprocess.suspended_run(reference).id
        waiting.append((case, reference, run, review_state(reference).stage))
    assert all(inprocess.read(run).state.is_paused() for _, _, run, _ in waiting)  # type: ignore[union-attr]
    waited_at = {stage for *_, stage in waiting}  # the identity form (None) and three of the lifecycle's forms
    assert waited_at == {None, Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW, Stage.RAPID_REVIEW_SIGN_OFF}

    seconds = restart_server(system)
    print(f"the server was back in {seconds:.1f}s")

    for case, reference, run, stage in waiting:
        assert inprocess.read(run).state.is_paused(), (reference, stage)  # type: ignore[union-attr]
        if reference is None:  # the identity form: notify-incident completes and the review's run starts
            submit(inprocess.read(run), case.identity(), Role.COORDINATOR)
            assert inprocess.execute(run).is_completed()
            reference = inprocess.reference_of(run)
            assert inprocess.suspended_run(reference)  # its lifecycle reached its first form
            assert review_state(reference).stage is Stage.INCIDENT_RECORDED
            continue
        assert stage is not None
        before = review_state(reference)
        inprocess.give(reference, case.answer(stage))
        after = review_state(reference)
        assert after.refusal is None and after.step_seq > before.step_seq, (reference, stage, after)
        assert inprocess.suspended_run(reference)  # waiting again, for the next person
