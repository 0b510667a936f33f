"""Two things Prefect 3.9.1 still does that the project works around, on a real server as `cspr up` starts it. Each
test fails when its workaround is taken away (tried on 3.9.1: see docs/design.md, "Versions pinned, and why").

- A suspended run is PAUSED a moment before its form's schema is saved (``suspend_flow_run`` in
  prefect/flow_runs.py proposes the state, then saves the form), and an answer given in between is refused with
  "Run input schema not found": the demo waits for the schema too (cli/demo.py's ``is_suspended``).
- On SQLite, a request that reads and then writes in one deferred transaction (the resume route, among others) fails
  at once with "database is locked", answered 503, when another connection holds the write lock as it comes to write:
  the server tries it again (cli/prefect_server.py's ``RetryWhenBusy``). The UI does not retry; Prefect's Python
  client does, which is why this test sends the request as the UI does, once.

And one that 3.9.1 no longer does: a worker offered a run whose place under its ``--limit`` it still holds (a
suspended run resumed before the worker has let go of it) stopped with "this borrower is already holding one of this
CapacityLimiter's tokens" (Prefect issue 16806); 3.9.1 skips the run for that poll. The last test fails if that comes
back. The project holds its limit on the work pool all the same (cli/system.py says why).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from prefect import flow, get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, State
from prefect.client.schemas.responses import WorkerFlowRunResponse
from prefect.input import RunInput
from prefect.input.run_input import Keyset, keyset_from_paused_state
from prefect.states import Running, Suspended
from prefect.workers.process import ProcessWorker

from cli.demo import is_suspended
from cli.system import LocalSystem
from models.settings import get_settings
from tests.utils.api import service_api


@flow(name="cspr-probe-prefect-races")
def probe() -> None:  # never run: only a flow for a run to belong to
    pass


class Confirmed(RunInput):
    confirmed: bool


def suspended_without_its_form(client: SyncPrefectClient, key: str) -> tuple[FlowRun, Keyset]:
    """A run of a deployment in the state ``suspend_flow_run`` proposes (Suspended, with the keys of its form), before
    the form is saved: the moment between the two."""
    deployment = client.create_deployment(client.create_flow(probe), "cspr-probe-prefect-races")
    run = client.create_flow_run_from_deployment(deployment, tags=["cspr-test-probe"])
    client.set_flow_run_state(run.id, Running(), force=True)  # as if a worker had started it
    state: State[None] = Suspended(pause_key=key)
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    assert client.set_flow_run_state(run.id, state).status.value == "ACCEPT"  # orchestrated, as suspend_flow_run's
    return client.read_flow_run(run.id), keyset


@pytest.fixture
def client(prefect_server: LocalSystem) -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as client:
        yield client


def test_a_run_paused_before_its_form_is_saved_is_not_waiting_for_an_answer_until_it_is(
    client: SyncPrefectClient,
) -> None:
    run, keyset = suspended_without_its_form(client, "identity-1")
    try:
        assert run.state is not None and run.state.is_paused()
        assert not is_suspended(run)
        early = client.resume_flow_run(run.id, run_input={"confirmed": True})  # what the demo would have sent
        assert early.status.value == "REJECT", early
        assert early.details.reason == "Run input schema not found.", early.details  # type: ignore[union-attr]
        Confirmed.save(keyset, flow_run_id=run.id)  # what suspend_flow_run does next
        run = client.read_flow_run(run.id)
        assert is_suspended(run)
        answered = client.resume_flow_run(run.id, run_input={"confirmed": True})
        assert answered.status.value == "ACCEPT", answered.details
    finally:
        client.delete_flow_run(run.id)


def _busy_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "the database was busy; trying again" in line]


def test_a_resume_refused_while_another_connection_holds_the_write_lock_is_tried_again(
    prefect_server: LocalSystem, client: SyncPrefectClient
) -> None:
    run, keyset = suspended_without_its_form(client, "busy-1")
    Confirmed.save(keyset, flow_run_id=run.id)
    log = prefect_server.home / "logs" / "server.log"
    seen = len(_busy_lines(log.read_text(errors="replace")))
    api = service_api(prefect_server)
    api.post("/flow_runs/filter", json={"limit": 1}).raise_for_status()  # its CSRF token (a write) fetched beforehand
    writer = sqlite3.connect(get_settings().resolved_home / "prefect" / "prefect.db", isolation_level=None, timeout=60)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, as one of the server's own services takes it
        writer.execute("UPDATE flow_run SET name = name WHERE id = ?", (str(run.id),))
        with ThreadPoolExecutor(1) as pool:
            answered = pool.submit(api.post, f"/flow_runs/{run.id}/resume", json={"run_input": {"confirmed": True}})
            deadline = time.monotonic() + 60
            while not answered.done() and time.monotonic() < deadline:
                if len(_busy_lines(log.read_text(errors="replace"))) > seen:
                    break  # Prefect refused it (503) and the server holds it for another try
                time.sleep(0.02)
            refused_first = not answered.done()
            writer.execute("COMMIT")  # the other writer is done: the next try goes through
            response = answered.result(timeout=60)
    finally:
        writer.close()
    try:
        assert response.status_code in (200, 201), response.text  # without the retry: 503, "Service Unavailable"
        assert response.json()["status"] == "ACCEPT"
        assert refused_first, "the resume was answered before the write lock was let go"
        tried_again = _busy_lines(log.read_text(errors="replace"))[seen:]
        assert any(f"/flow_runs/{run.id}/resume" in line for line in tried_again), tried_again
    finally:
        client.delete_flow_run(run.id)


def test_a_worker_offered_a_run_whose_place_it_still_holds_skips_it_and_goes_on() -> None:
    """Prefect's own worker code, no server: the offer is turned down before the worker would ask one anything."""

    async def offer_again() -> tuple[list[FlowRun], int]:
        worker = ProcessWorker(work_pool_name="cspr-probe", limit=1)
        worker._limiter = anyio.CapacityLimiter(1)  # as the worker's start sets it up for --limit 1
        run = FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="resumed")
        worker._limiter.acquire_on_behalf_of_nowait(run.id)  # the place its suspended process has not let go of
        offered = WorkerFlowRunResponse(work_pool_id=uuid.uuid4(), work_queue_id=uuid.uuid4(), flow_run=run)
        submitted = await worker._submit_scheduled_flow_runs([offered])  # Prefect 3.8: RuntimeError, the worker stops
        return submitted, worker._limiter.borrowed_tokens

    assert asyncio.run(offer_again()) == ([], 1)  # not started twice; taken on a later poll once the place is free
