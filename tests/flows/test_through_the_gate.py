"""Answers through the gate, as people give them: each demo person signs in at the real server's gate (``AtTheGate``,
what `cspr demo` acts through), the coordinator starts the notification, and every form is answered over HTTP with
the session cookie. The gate signs each answer with who gave it; the lifecycle (run here, in-process) records that
person. A person whose role does not fit the step is refused by the gate itself, and nothing reaches the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.input.actions import read_flow_run_input
from sqlmodel import Session, col, select

from cli.demo import NOTIFY_DEPLOYMENT, AtTheGate, Case, DemoError, answerer, review_state
from cli.system import LocalSystem
from gate.form_fields import as_posted
from models import identity
from models.db import get_engine
from models.process import STEPS
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.roles import Role
from models.settings import get_settings
from models.stages import Stage
from models.tables import AnswerDraft, Decision, RegisterEvent
from models.task_ref import task_path
from tests.utils import inprocess
from tests.utils.search import search_files, search_sqlite


@pytest.fixture(scope="module")
def people(deployed: LocalSystem) -> Iterator[AtTheGate]:
    said: list[str] = []
    at_the_gate = AtTheGate(deployed.ui_url, said.append)
    yield at_the_gate
    at_the_gate.sign_out()


def signed_in_answer(people: AtTheGate, reference: str, stage: Stage, case: Case) -> None:
    """The person whose step it is answers the waiting form at the gate; the lifecycle then runs on."""
    answer = case.answer(stage)
    people.answer(inprocess.suspended_run(reference), answer, answerer(stage, answer))
    inprocess.advance(reference)


def test_a_rapid_review_answered_at_the_gate_records_each_person_who_signed_in(people: AtTheGate) -> None:
    case = Case(pseudonym="Child Signed At The Gate")
    run_id = people.start(NOTIFY_DEPLOYMENT, {"notification": case.notification()})
    assert inprocess.execute(run_id).is_paused()
    people.answer(inprocess.read(run_id), case.identity(), Role.COORDINATOR)
    assert inprocess.execute(run_id).is_completed()
    reference = inprocess.reference_of(run_id)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW, *[Stage.RAPID_REVIEW_SIGN_OFF] * 3):
        signed_in_answer(people, reference, stage, case)
        assert review_state(reference).refusal is None, review_state(reference).refusal
    assert review_state(reference).stage is Stage.AWAITING_PANEL

    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        events = history(session, review.id)
        decisions = session.exec(
            select(Decision).where(Decision.review_id == review.id).order_by(col(Decision.seq))
        ).all()
        resets = session.exec(select(RegisterEvent).where(RegisterEvent.actor_name == "cspr demo")).all()
    assert (events[0].actor_name, events[0].actor_role) == ("Chris Lee", "coordinator")  # the identities' coordinator
    assert [(d.kind, d.actor_name, d.actor_role, d.actor_signed_in_with) for d in decisions] == [
        ("rapid_review", "Chris Lee", "coordinator", "password"),
        ("sign_off", "Alex Morgan", "local_authority", "password"),
        ("sign_off", "Sam Patel", "police", "password"),
        ("sign_off", "Jo Evans", "health", "password"),
    ]
    assert all(d.actor_id is not None for d in decisions)
    assert len(resets) >= 4  # each person the demo acted as got a new password, and the register says who did it


def test_the_gate_refuses_a_coordinators_sign_off_and_nothing_reaches_the_run(people: AtTheGate) -> None:
    case = Case(pseudonym="Child Gate Refused")
    reference, _ = inprocess.notify(case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
        signed_in_answer(people, reference, stage, case)
    run, before = inprocess.suspended_run(reference), review_state(reference)
    assert before.stage is Stage.RAPID_REVIEW_SIGN_OFF
    with pytest.raises(DemoError, match="This step is answered by the"):
        people.answer(run, case.answer(Stage.RAPID_REVIEW_SIGN_OFF), Role.COORDINATOR)
    again = inprocess.read(run.id)
    assert again.state is not None and again.state.is_paused()  # still waiting: Prefect never saw the answer
    key = run.state.state_details.pause_key if run.state else ""
    assert read_flow_run_input(f"suspended-{key}-response", flow_run_id=run.id) is None
    assert read_flow_run_input(identity.input_key(str(key)), flow_run_id=run.id) is None
    assert review_state(reference) == before


PLANTED = "Zephyrine Quill-Ashdown"  # invented: typed into a draft, it must be found nowhere but sealed


def test_a_draft_is_kept_sealed_never_reaches_prefect_and_goes_once_the_answer_is_accepted(
    people: AtTheGate, deployed: LocalSystem
) -> None:
    case = Case(pseudonym="Child Drafted")
    reference, _ = inprocess.notify(case)
    signed_in_answer(people, reference, Stage.INCIDENT_RECORDED, case)
    inprocess.suspended_run(reference)  # the rapid review's form waits
    drafted = {**case.answer(Stage.RAPID_REVIEW), "facts": f"Seen at the clinic with {PLANTED}."}
    coordinator = people.signed_in(Role.COORDINATOR)
    coordinator.save_draft(task_path(reference, Stage.RAPID_REVIEW), as_posted(STEPS[Stage.RAPID_REVIEW].form, drafted))
    page = coordinator.client.get(task_path(reference, Stage.RAPID_REVIEW))
    assert PLANTED in page.text  # restored for its author

    home = get_settings().resolved_home
    words = [PLANTED, *PLANTED.replace("-", " ").split()[:1]]
    hits = search_sqlite(home / "prefect" / "prefect.db", words)
    hits += search_files(home / "prefect", words) + search_files(home / "logs", words)
    hits += search_files(home, words, skip=(home / "prefect", home / "logs"))  # the project's database: sealed
    assert hits == [], "\n".join(hits)
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        assert session.exec(select(AnswerDraft).where(AnswerDraft.review_id == review.id)).all()

    signed_in_answer(people, reference, Stage.RAPID_REVIEW, case)  # the answer, without the planted words
    with Session(get_engine()) as session:
        assert session.exec(select(AnswerDraft).where(AnswerDraft.review_id == review.id)).all() == []
