"""What a person reads through the real gate, and whose answer is recorded, when others act at the same moment.

- A coordinator of a second partnership sees none of the first partnership's runs, task runs, logs or artifacts, by
  filter or by id; the first partnership's coordinator (the control) sees them.
- A second coordinator of the same partnership polling a run's inputs while the coordinator answers the identity form
  (a planted name) never reads it, and nor does anyone else: only the waiting form's schema and text, for who may
  answer it. A partner's representative of the same partnership, who uses no Prefect at all (they answer their steps
  on their tasks page), is refused every one of these reads before it reaches Prefect.
- A CSRF token asked for under any client id, the gate's included, does not stop the next answer.
- Two coordinators answer one form at once, one of them flooding answers the form refuses: the person recorded is
  the one who gave the recorded answer, and the other is told the step was answered (409, not 503).

On the session's server; each review's runs are run in this process (tests/utils/inprocess.py), as the other flow
tests do, so nothing waits for a worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlmodel import Session, select

from cli.demo import Case
from cli.system import LocalSystem
from gate.guard import NOT_PREFECT
from gate.who_may_answer import ANSWERED_ALREADY
from models.db import get_engine, transaction
from models.people import add_person
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.roles import Role
from models.tables import Partnership
from tests.utils import inprocess
from tests.utils.api import service_api
from tests.utils.factories import make_partnership
from tests.utils.signin import OPERATOR, Browser, Person, register, signed_in

SECOND = "southshire"


@pytest.fixture(scope="module")
def system(deployed: LocalSystem) -> LocalSystem:
    return deployed


@pytest.fixture(scope="module")
def second_coordinator(system: LocalSystem) -> Iterator[Browser]:
    with transaction() as session:
        if not session.exec(select(Partnership).where(Partnership.code == SECOND)).first():
            make_partnership(session, SECOND)
        enrolment = add_person(
            session,
            name="Robin Second",
            email=f"coordinator.{uuid.uuid4().hex[:8]}@{SECOND}.example",
            role=Role.COORDINATOR,
            partnership_code=SECOND,
            organisation="Southshire partnership",
            by=OPERATOR,
            demo=True,
        )
    assert enrolment.password is not None
    browser = signed_in(system.ui_url, Person("Robin Second", enrolment.email, enrolment.password, None))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def first_coordinator(system: LocalSystem) -> Iterator[Browser]:
    browser = signed_in(system.ui_url, register(Role.COORDINATOR))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def review(system: LocalSystem) -> tuple[str, UUID]:
    """A review of the first partnership, notified and waiting at its first step: runs, task runs, logs, artifacts."""
    reference, run_id = inprocess.notify(Case(pseudonym="Child Scoped"))
    assert inprocess.suspended_run(reference)
    return reference, run_id


def post(browser: Browser, path: str, body: dict[str, Any]) -> httpx.Response:
    return browser.http.post(f"/api{path}", json=body, headers=browser.csrf())


def refused_as_partner(answer: httpx.Response) -> bool:
    """The gate's answer to a partner on any route of Prefect's API: refused, in the words that send them to their
    tasks page."""
    return answer.status_code == 403 and answer.json()["detail"] == NOT_PREFECT


def ids(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {str(item["id"]) for item in answer.json()}


# --- reads by partnership -----------------------------------------------------------------------------------------


def test_a_coordinator_of_another_partnership_sees_none_of_the_reviews_runs_by_filter_or_by_id(
    system: LocalSystem, review: tuple[str, UUID], first_coordinator: Browser, second_coordinator: Browser
) -> None:
    reference, notification_run = review
    runs = [str(r.id) for r in inprocess.runs_for(reference)] + [str(notification_run)]
    mine = ids(post(first_coordinator, "/flow_runs/filter", {"flow_runs": {"tags": {"all_": [f"review:{reference}"]}}}))
    assert set(runs) <= mine  # the control: the review's own partnership sees every run
    theirs = ids(post(second_coordinator, "/flow_runs/filter", {"limit": 200}))
    assert not set(runs) & theirs
    assert post(second_coordinator, "/flow_runs/count", {"flow_runs": {"id": {"any_": runs}}}).json() == 0
    for run_id in runs:
        assert second_coordinator.http.get(f"/api/flow_runs/{run_id}").status_code == 404
        assert first_coordinator.http.get(f"/api/flow_runs/{run_id}").status_code == 200
        assert second_coordinator.http.get(f"/api/flow_runs/{run_id}/graph-v2").status_code == 404
        states = second_coordinator.http.get("/api/flow_run_states/", params={"flow_run_id": run_id})
        assert states.status_code == 404


def test_nor_their_task_runs_logs_or_artifacts(
    system: LocalSystem, review: tuple[str, UUID], first_coordinator: Browser, second_coordinator: Browser
) -> None:
    reference, _ = review
    runs = [str(r.id) for r in inprocess.runs_for(reference)]
    api = service_api(system)
    by_runs = {"flow_runs": {"id": {"any_": runs}}}
    task_runs = ids(api.post("/task_runs/filter", json=by_runs))
    artifacts = ids(api.post("/artifacts/filter", json=by_runs))
    logs: list[object] = []
    deadline = time.monotonic() + 60  # a run's logs reach the server in batches, a moment after the run
    while not logs and time.monotonic() < deadline:
        logs = api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": runs}}}).json()
        time.sleep(0 if logs else 1)
    assert task_runs and artifacts and logs  # the review left all three
    assert not ids(post(second_coordinator, "/task_runs/filter", {"limit": 200})) & task_runs
    assert not ids(post(second_coordinator, "/artifacts/filter", {"limit": 200})) & artifacts
    latest = post(second_coordinator, "/artifacts/latest/filter", {"limit": 200}).json()
    assert not {a["latest_id"] for a in latest} & artifacts
    refused_logs = post(second_coordinator, "/logs/filter", {"logs": {"flow_run_id": {"any_": runs}}})
    assert refused_logs.status_code == 404
    assert post(second_coordinator, "/logs/filter", {}).status_code == 400  # every log: name your runs
    for task_run in list(task_runs)[:3]:
        assert second_coordinator.http.get(f"/api/task_runs/{task_run}").status_code == 404
        assert first_coordinator.http.get(f"/api/task_runs/{task_run}").status_code == 200
    for artifact in list(artifacts)[:3]:
        assert second_coordinator.http.get(f"/api/artifacts/{artifact}").status_code == 404
        assert first_coordinator.http.get(f"/api/artifacts/{artifact}").status_code == 200
    assert second_coordinator.http.get(f"/api/artifacts/{reference.lower()}/latest").status_code == 404
    assert first_coordinator.http.get(f"/api/artifacts/{reference.lower()}/latest").status_code == 200
    # the control: the first partnership reads its own logs
    assert post(first_coordinator, "/logs/filter", {"logs": {"flow_run_id": {"any_": runs}}}).json()


def test_a_filter_that_would_widen_itself_by_or_is_refused(second_coordinator: Browser) -> None:
    widened = {"flow_runs": {"operator": "or_", "tags": {"all_": ["lifecycle"]}}}
    answer = post(second_coordinator, "/flow_runs/filter", widened)
    assert answer.status_code == 400 and "'or'" in answer.json()["detail"]


# --- a run's inputs -------------------------------------------------------------------------------------------


def test_nobody_but_the_system_reads_an_answer_even_while_it_waits_for_the_run(system: LocalSystem) -> None:
    case = Case(pseudonym="Child Polled", child_name="Imogen Quarrington-Polled")
    with at_the_identity_form(system, case) as (coordinator, colleague, partner, run_id, keyset):
        seen: list[str] = []
        partners: list[httpx.Response] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                for key in keyset.values():
                    answer = colleague.http.get(f"/api/flow_runs/{run_id}/input/{key}")
                    seen.append(f"{answer.status_code} {answer.text}")
                    partners.append(partner.http.get(f"/api/flow_runs/{run_id}/input/{key}"))
                seen.append(post(colleague, f"/flow_runs/{run_id}/input/filter", {"prefix": "suspended"}).text)
                by_filter = {"prefix": "suspended"}
                partners.append(partner.http.post(f"/api/flow_runs/{run_id}/input/filter", json=by_filter))

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            answered = post(coordinator, f"/flow_runs/{run_id}/resume", {"run_input": case.identity()})
            assert answered.is_success and answered.json()["status"] == "ACCEPT", answered.text
            time.sleep(1)
        finally:
            stop.set()
            poller.join()
        # the answer is in Prefect now, until the run reads it: still nobody reads it, not even who gave it
        for browser in (colleague, partner, coordinator):
            assert browser.http.get(f"/api/flow_runs/{run_id}/input/{keyset['response']}").status_code == 403
        assert len(seen) > 5 and not any(case.child_name in text for text in seen)
        seen += [f"{answer.status_code} {answer.text}" for answer in partners]
        assert len(partners) > 5 and all(refused_as_partner(answer) for answer in partners), seen[-1]
        assert service_api(system).get(f"/flow_runs/{run_id}/input/{keyset['response']}").status_code == 200  # control
        assert inprocess.execute(run_id).is_completed()


def test_who_may_answer_reads_the_forms_schema_and_text_and_nobody_else_does(system: LocalSystem) -> None:
    case = Case(pseudonym="Child Schema")
    with (
        at_the_identity_form(system, case) as (coordinator, colleague, partner, run_id, keyset),
        signed_in(system.ui_url, register(Role.OPERATOR)) as operator,  # reads every partnership's runs, answers none
    ):
        for key in (keyset["schema"], keyset["description"]):
            assert coordinator.http.get(f"/api/flow_runs/{run_id}/input/{key}").status_code == 200
            assert colleague.http.get(f"/api/flow_runs/{run_id}/input/{key}").status_code == 200  # may answer it too
            assert operator.http.get(f"/api/flow_runs/{run_id}/input/{key}").status_code == 403
            assert refused_as_partner(partner.http.get(f"/api/flow_runs/{run_id}/input/{key}"))


# --- answers --------------------------------------------------------------------------------------------------


def test_a_csrf_token_asked_for_under_any_client_id_does_not_stop_the_next_answer(system: LocalSystem) -> None:
    case = Case(pseudonym="Child Csrf")
    with at_the_identity_form(system, case) as (coordinator, colleague, _, run_id, _):
        for client in ("cspr-gate", "cspr-gate-" + "x" * 32, "", "gate"):
            colleague.http.get("/api/csrf-token", params={"client": client})
        answered = post(coordinator, f"/flow_runs/{run_id}/resume", {"run_input": case.identity()})
        assert answered.is_success and answered.json()["status"] == "ACCEPT", answered.text
        assert inprocess.execute(run_id).is_completed()


@pytest.mark.parametrize("attempt", range(3))
def test_two_people_answer_at_once_and_the_one_recorded_gave_the_recorded_answer(
    system: LocalSystem, attempt: int
) -> None:
    case = Case(pseudonym=f"Child Raced {attempt}")
    people = {who: register(Role.COORDINATOR, label=who) for who in ("Ada", "Bo")}
    browsers = {who: signed_in(system.ui_url, person) for who, person in people.items()}
    run_id = _start_notification(system, browsers["Ada"], case)
    assert inprocess.execute(run_id).is_paused()
    refused_answer = {"run_input": {"children": "not a list"}}  # the form refuses it: Bo floods these
    answers: dict[str, list[httpx.Response]] = {"Ada": [], "Bo": []}
    go = threading.Barrier(2)

    def flood() -> None:
        go.wait()
        for _ in range(8):
            answers["Bo"].append(post(browsers["Bo"], f"/flow_runs/{run_id}/resume", refused_answer))
        answers["Bo"].append(post(browsers["Bo"], f"/flow_runs/{run_id}/resume", {"run_input": case.identity()}))

    flooder = threading.Thread(target=flood)
    flooder.start()
    go.wait()
    answers["Ada"].append(post(browsers["Ada"], f"/flow_runs/{run_id}/resume", {"run_input": case.identity()}))
    flooder.join()
    statuses = {who: [a.status_code for a in got] for who, got in answers.items()}
    assert all(s in (200, 201, 409) for s in statuses["Ada"] + statuses["Bo"]), statuses  # never a 503
    accepted = [who for who, got in answers.items() for a in got if a.is_success and a.json().get("status") == "ACCEPT"]
    assert len(accepted) == 1, statuses
    late = [a for got in answers.values() for a in got if a.status_code == 409]
    assert all(a.json()["detail"] == ANSWERED_ALREADY for a in late)
    assert inprocess.execute(run_id).is_completed()
    reference = inprocess.reference_of(run_id)
    with Session(get_engine()) as session:
        first = history(session, review_by_reference(session, reference).id)[0]
    assert first.actor_name == people[accepted[0]].name
    for browser in browsers.values():
        browser.close()


@contextmanager
def at_the_identity_form(
    system: LocalSystem, case: Case
) -> Iterator[tuple[Browser, Browser, Browser, UUID, dict[str, str]]]:
    """A coordinator has started the notification and it waits at its identity form; a second coordinator and a police
    representative of the same partnership are signed in too. Yields the three browsers (the coordinator, their
    colleague, the partner), the run's id and the form's input keys."""
    coordinator = signed_in(system.ui_url, register(Role.COORDINATOR))
    colleague = signed_in(system.ui_url, register(Role.COORDINATOR, label="Colleague"))
    partner = signed_in(system.ui_url, register(Role.POLICE))
    try:
        run_id = _start_notification(system, coordinator, case)
        assert inprocess.execute(run_id).is_paused()
        keyset = inprocess.read(run_id).state.state_details.run_input_keyset  # type: ignore[union-attr]
        assert keyset is not None
        yield coordinator, colleague, partner, run_id, dict(keyset)
    finally:
        coordinator.close()
        colleague.close()
        partner.close()


def _start_notification(system: LocalSystem, coordinator: Browser, case: Case) -> UUID:
    started = post(coordinator, f"/deployments/{_notify_id(system)}/create_flow_run", _notification(case))
    assert started.status_code == 201, started.text
    return UUID(started.json()["id"])


def _notify_id(system: LocalSystem) -> str:
    found = service_api(system).get("/deployments/name/notify-incident/notify-incident").raise_for_status()
    return str(found.json()["id"])


def _notification(case: Case) -> dict[str, Any]:
    return {"parameters": {"notification": case.notification()}}
