"""Who answered, through Prefect: an answer is acted on only with the gate's signature of a person who may give it,
given for that very answer and stored beside it. One posted straight to Prefect's API (no signature), with a forged
signature, with a signature given for another answer, or from a person whose role does not fit the step is refused:
the form is asked again with the reason, and nothing is recorded."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from prefect.deployments import run_deployment
from prefect.exceptions import NotPausedError
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import create_flow_run_input, read_flow_run_input
from sqlmodel import Session, select

from cli.demo import NOTIFY_DEPLOYMENT, Case, review_state
from cli.system import LocalSystem
from gate.who_may_answer import answer_to_sign
from models import identity
from models.db import get_engine
from models.process import form_key
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.roles import Role
from models.seed import demo_identity
from models.stages import Stage
from models.tables import CasePerson, Decision, utcnow
from tests.utils import inprocess
from tests.utils.answering import sign_answer, submit
from tests.utils.api import service_api


def recorded(reference: str) -> tuple[int, int]:
    """The review's stage events and decisions, counted."""
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        decisions = session.exec(select(Decision).where(Decision.review_id == review.id)).all()
        return len(history(session, review.id)), len(decisions)


def description(run_id: UUID, key: str) -> str:
    return str(read_flow_run_input(f"suspended-{key}-description", flow_run_id=run_id))


def assert_refused(reference: str, give: Any, message: str) -> None:
    """``give`` answers the waiting form; the answer is refused with ``message``, shown above the form asked again,
    and nothing is recorded; neither the answer nor who gave it stays in Prefect."""
    run, before, written = inprocess.suspended_run(reference), review_state(reference), recorded(reference)
    key = form_key(before.stage, before.step_seq)
    give(run)
    inprocess.advance(reference)
    after = review_state(reference)
    assert after.stage is before.stage and after.step_seq == before.step_seq + 1
    assert after.refusal is not None and message in after.refusal, after.refusal
    assert recorded(reference) == written
    assert message in description(inprocess.suspended_run(reference).id, form_key(after.stage, after.step_seq))
    for stored in (f"suspended-{key}-response", identity.input_key(key)):
        assert read_flow_run_input(stored, flow_run_id=run.id) is None, f"{stored} left in Prefect"


def test_an_answer_around_the_gate_or_with_a_forged_signature_is_refused(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Unsigned")
    reference, _ = inprocess.notify(case)
    notified = case.answer(Stage.INCIDENT_RECORDED)

    def straight_to_prefect(run: Any) -> None:
        resume_flow_run(run.id, run_input=notified)

    assert_refused(reference, straight_to_prefect, "the answer came without a sign-in")

    def forged(run: Any) -> None:
        with Session(get_engine()) as session:
            coordinator = demo_identity(session, Role.COORDINATOR)
        key = run.state.state_details.pause_key
        digest = identity.answer_digest(notified)
        token = identity.sign(
            identity.new_key(), coordinator, run_id=str(run.id), form_key=key, at=utcnow(), answer=digest
        )
        create_flow_run_input(identity.input_key(key), token, flow_run_id=run.id)
        resume_flow_run(run.id, run_input=notified)

    assert_refused(reference, forged, "not the gate's")
    inprocess.give(reference, notified)  # signed by the gate: accepted
    assert review_state(reference).stage is Stage.RAPID_REVIEW


def test_an_answer_under_a_sign_in_given_for_another_answer_is_refused(deployed: LocalSystem) -> None:
    """The Panel's contact and a coordinator may both answer the Panel's step. The coordinator's answer is taken;
    the Panel's contact, answering the same form, stores their own sign-in over the coordinator's before Prefect
    refuses their answer (the run no longer waits). The coordinator's answer is not recorded as the Panel's: that
    sign-in was given for another answer, so the answer is refused and the form asked again."""
    case = Case(pseudonym="Child Overwritten")
    reference, _ = inprocess.notify(case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW, *[Stage.RAPID_REVIEW_SIGN_OFF] * 3):
        inprocess.give(reference, case.answer(stage))
    assert review_state(reference).stage is Stage.AWAITING_PANEL
    on_behalf = {**case.answer(Stage.AWAITING_PANEL), "letter_reference": "CSPRP/2026/0417"}
    with Session(get_engine()) as session:
        coordinator, panel = demo_identity(session, Role.COORDINATOR), demo_identity(session, Role.PANEL)

    def overwritten(run: Any) -> None:
        key = run.state.state_details.pause_key
        sign_answer(run.id, key, coordinator, on_behalf)
        resume_flow_run(run.id, run_input=on_behalf)  # taken
        panels = {**on_behalf, "letter_reference": "", "comments": "The Panel's own"}
        sign_answer(run.id, key, panel, panels)  # stored over the coordinator's sign-in, then the answer is refused
        with pytest.raises(NotPausedError):
            resume_flow_run(run.id, run_input=panels)

    assert_refused(reference, overwritten, "the answer's sign-in was given for a different answer")
    inprocess.give(reference, on_behalf, as_=Role.COORDINATOR)  # given again: the coordinator's, on the Panel's behalf
    assert review_state(reference).stage is not Stage.AWAITING_PANEL
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        (response,) = session.exec(
            select(Decision).where(Decision.review_id == review.id, Decision.kind == "panel_response")
        ).all()
    assert (response.actor_name, response.actor_role) == (coordinator.name, "coordinator")


def test_an_answer_sent_as_the_ui_sends_it_is_signed_as_prefect_stores_it(deployed: LocalSystem) -> None:
    """The UI sends a field given as JSON text as ``{"__prefect_kind": "json", ...}``, which Prefect's server turns
    into the value before storing it. What the gate signs (gate/who_may_answer.py's answer_to_sign, from the request's
    body) is the digest of what the server stores and the flow reads back, so the answer is taken."""
    case = Case(pseudonym="Child As The UI Sends It")
    reference, _ = inprocess.notify(case)
    run = inprocess.suspended_run(reference)
    key = str(run.state.state_details.pause_key if run.state else "")
    notified = case.answer(Stage.INCIDENT_RECORDED)
    sent = {
        "partners_told_on": {"__prefect_kind": "none", "value": notified["partners_told_on"]},
        "panel_reference": {"__prefect_kind": "json", "value": json.dumps(notified["panel_reference"])},
        "notified_on": notified["notified_on"],
    }
    body = json.dumps({"run_input": sent}, indent=1).encode()
    resumed = service_api(deployed).post(
        f"/flow_runs/{run.id}/resume", content=body, headers={"content-type": "application/json"}
    )
    assert resumed.raise_for_status().json()["status"] == "ACCEPT"
    stored = read_flow_run_input(f"suspended-{key}-response", flow_run_id=run.id)
    assert stored == notified != sent
    assert identity.answer_digest(stored) == answer_to_sign(body) != identity.answer_digest(sent)
    with Session(get_engine()) as session:
        sign_answer(run.id, key, demo_identity(session, Role.COORDINATOR), sent)  # signed as the gate signs it
    inprocess.advance(reference)
    assert review_state(reference).refusal is None, review_state(reference).refusal
    assert review_state(reference).stage is Stage.RAPID_REVIEW


def test_the_police_representative_cannot_give_the_health_sign_off(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Police")
    reference, _ = inprocess.notify(case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
        inprocess.give(reference, case.answer(stage))
    health = {**case.answer(Stage.RAPID_REVIEW_SIGN_OFF), "partner": "health"}
    assert_refused(
        reference, lambda run: submit(run, health, Role.POLICE), "you are not registered as a health representative"
    )


def test_the_childrens_identities_are_taken_only_from_a_coordinator_signed_in(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Signed")
    run = run_deployment(NOTIFY_DEPLOYMENT, parameters={"notification": case.notification()}, timeout=0)
    assert inprocess.execute(run.id).is_paused()
    resume_flow_run(run.id, run_input=case.identity())  # around the gate
    assert inprocess.execute(run.id).is_paused()  # asked again
    assert "the answer came without a sign-in" in description(run.id, "identity-2")
    submit(inprocess.read(run.id), case.identity(), Role.POLICE)  # signed in, but not a coordinator
    assert inprocess.execute(run.id).is_paused()
    assert "you are not registered as a coordinator representative" in description(run.id, "identity-3")
    for attempt in ("identity-1", "identity-2"):
        assert read_flow_run_input(f"suspended-{attempt}-response", flow_run_id=run.id) is None
        assert read_flow_run_input(identity.input_key(attempt), flow_run_id=run.id) is None
    with Session(get_engine()) as session:
        assert not session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Signed")).all()
    submit(inprocess.read(run.id), case.identity(), Role.COORDINATOR)
    assert inprocess.execute(run.id).is_completed()
    reference = inprocess.reference_of(run.id)
    with Session(get_engine()) as session:
        (created,) = history(session, review_by_reference(session, reference).id)
        coordinator = demo_identity(session, Role.COORDINATOR)
    assert (str(created.actor_id), created.actor_role, created.actor_signed_in_with) == (
        coordinator.person_id,
        "coordinator",
        "password",
    )
