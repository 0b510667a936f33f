"""Running deployment flow runs inside the test process, against a real Prefect server.

What a worker does, minus the polling and the subprocess: read the flow run, execute it with Prefect's own
engine, and stop where it suspends (the engine raises ``Pause``). Resuming is the same API call the UI makes, after
the signed identity of the person answering is stored beside it, as the gate stores it (cli/demo.py's ``submit``).
About half a second a step, so every path of the process can be run through Prefect in the test suite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from prefect import Flow, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun, State
from prefect.deployments import run_deployment
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from cli.demo import Case, answerer, review_state
from flows.notify_incident import notify_incident
from flows.review_lifecycle import review_lifecycle
from flows.review_work import review_work
from models.identity import Identity
from models.roles import Role
from models.stages import Stage
from tests.utils.answering import submit, submit_as

FLOWS: dict[str, Flow[Any, Any]] = {
    "notify-incident": notify_incident,
    "review-lifecycle": review_lifecycle,
    "review-work": review_work,
}


def apply_deployments() -> None:
    for name, flow in FLOWS.items():
        flow.to_deployment(name=name, enforce_parameter_schema=True).apply()


def read(run_id: UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def execute(run_id: UUID) -> State:
    """Run a flow run in this process until it completes, fails or suspends; return its state."""
    run = read(run_id)
    flow = _flow_of(run)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        try:
            state: State = run_flow(flow, flow_run=run, return_type="state")  # type: ignore[call-overload]
        except Pause as paused:
            state = paused.state  # type: ignore[assignment]
    return state


def _flow_of(run: FlowRun) -> Flow[Any, Any]:
    with get_client(sync_client=True) as client:
        return FLOWS[client.read_flow(run.flow_id).name]


def runs_for(reference: str, kind: str = "lifecycle") -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"review:{reference}", kind]))
        )


def run_deployment_now(deployment: str, parameters: dict[str, Any]) -> UUID:
    """Create a run of ``notify-incident`` or ``review-lifecycle`` and execute it here until it stops or waits."""
    run = run_deployment(f"{deployment}/{deployment}", parameters=parameters, timeout=0)
    execute(run.id)
    return run.id


def reference_of(run_id: UUID) -> str:
    return next(t.removeprefix("review:") for t in read(run_id).tags if t.startswith("review:"))


def notify(case: Case, change: dict[str, Any] | None = None) -> tuple[str, UUID]:
    """Run notify-incident in-process, answering the identity step (or confirming a notification made before the
    identities are known). ``change`` changes the case's notification. Returns the reference and the run id."""
    notification = {**case.notification(), **(change or {})}
    run_id = run_deployment_now("notify-incident", {"notification": notification})
    assert read(run_id).state.is_paused(), read(run_id).state  # type: ignore[union-attr]
    identity = case.identity() if notification.get("identity_known", True) else {"confirmed": True}
    submit(read(run_id), identity, answerer(None, {}))
    state = execute(run_id)
    assert state.is_completed(), state
    return reference_of(run_id), run_id


def pending_lifecycle_run(reference: str) -> FlowRun | None:
    now = dt.datetime.now(dt.UTC)
    for run in runs_for(reference):
        if run.state is None or run.state.is_final():
            continue
        if (
            run.state.is_scheduled()
            and run.expected_start_time
            and run.expected_start_time > now + dt.timedelta(minutes=1)
        ):
            continue  # a timer for a later day
        return run
    return None


def advance(reference: str) -> State | None:
    """Execute the review's lifecycle run that is ready to go (new, or resumed). None if there is none."""
    run = pending_lifecycle_run(reference)
    if run is None or (run.state is not None and run.state.is_paused()):
        return None
    return execute(run.id)


def suspended_run(reference: str) -> FlowRun:
    advance(reference)
    run = pending_lifecycle_run(reference)
    assert run is not None and run.state is not None and run.state.is_paused(), f"{reference} is not waiting: {run}"
    return run


def give(reference: str, answer: dict[str, Any], as_: Role | None = None) -> None:
    """Submit an answer to the waiting form, signed as the demo person whose step it is (or as ``as_``), and let the
    lifecycle run on to its next stop."""
    run = suspended_run(reference)
    submit(run, answer, as_ or answerer(review_state(reference).stage, answer))
    advance(reference)


def answer_until(reference: str, case: Case, stage: Stage, max_steps: int = 40) -> None:
    """Answer each form as the case says until the review waits at ``stage``. Bounded: an answer refused every time
    (a reviewer missing from the pool) fails the test with the refusal, rather than asking for ever."""
    for _ in range(max_steps):
        now = review_state(reference)
        if now.stage is stage:
            return
        give(reference, case.answer(now.stage))
    raise AssertionError(f"{reference} did not reach {stage}: {review_state(reference)}")


def drive(reference: str, case: Case, max_steps: int = 60) -> list[str]:
    """Answer every form as the case says until the review closes. Returns the refusals seen (none expected)."""
    refusals = []
    for _ in range(max_steps):
        advance(reference)
        state = review_state(reference)
        if state.stage is Stage.CLOSED:
            return refusals
        give(reference, case.answer(state.stage))
        after = review_state(reference)
        if after.refusal:
            refusals.append(after.refusal)
    raise AssertionError(f"{reference} did not close in {max_steps} steps")


def item_run(reference: str, item: str) -> FlowRun | None:
    """The item's run that has not ended (its runs, newest first), or None."""
    runs = [r for r in runs_for(reference, "work") if f"item:{reference}:{item}" in r.tags]
    live = [r for r in runs if r.state is None or not r.state.is_final()]
    return max(live, key=lambda r: r.created or dt.datetime.min.replace(tzinfo=dt.UTC), default=None)


def advance_items(reference: str) -> None:
    """Execute every item run of the review that is ready to go (new, or resumed) until it waits or ends."""
    for run in runs_for(reference, "work"):
        if run.state is not None and (run.state.is_final() or run.state.is_paused()):
            continue
        execute(run.id)


def give_item(reference: str, item: str, answer: dict[str, Any], person: Identity) -> None:
    """Answer an item's waiting form as ``person``, let its run record it, and let the review's run go on if the
    answer started it again (the last action closed)."""
    advance_items(reference)
    run = item_run(reference, item)
    assert run is not None and run.state is not None and run.state.is_paused(), f"{item} is not waiting: {run}"
    submit_as(run, answer, person)
    execute(run.id)
    advance(reference)
    advance_items(reference)


def task_runs(flow_run_id: UUID, name: str) -> list[Any]:
    """The flow run's task runs of one task (by its name)."""
    from prefect.client.schemas.filters import FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)),
            )
        )
