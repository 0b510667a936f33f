"""Every step's answers applied to the database directly (no Prefect): every branch, every refusal, and who may
give each answer (the person the gate signed onto it, checked against the register).

The same scripted answers as `cspr demo` (cli/demo.py), given by the same demo people, so what is tested here is what
the demo and the end-to-end tests send through Prefect.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cli.demo import Case, answerer
from models import answers, identity, process, signin
from models.calendar import today_in_england
from models.db import transaction
from models.identity import Identity
from models.people import disable_person
from models.review import creation, lookup, timetable, transitions
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_identity, seed_demo
from models.stages import Stage, Transition
from models.system_credentials import gate_key
from models.tables import (
    OPEN_ACTION,
    Action,
    Decision,
    Outbox,
    Recommendation,
    Representative,
    Review,
    StageEvent,
    utcnow,
)
from models.timeline import timeline_markdown
from models.work.answering import apply_item_answer
from models.work.items import ItemKind, ItemRef, item_key
from models.work.kinds import WORK
from tests.utils.bad_answers import BAD_ANSWERS

AGENCIES = tuple(name for name, _, _ in DEMO_AGENCY_CONTACTS)
TODAY = today_in_england()  # the scenario runs up to today: deferral dates are checked against the real date


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test registers the demo people, with accounts; Argon2id at its real cost (tested in test_signin.py)
    would add a second to each, for passwords nobody types here."""
    monkeypatch.setattr(signin, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def record(engine: Engine, case: Case) -> str:
    from flows.notify_incident import _record  # the same mapping the notify-incident flow uses
    from models.forms import Identity, IncidentNotification

    with transaction(engine) as session:
        seed_demo(session)
        incident = _record(
            IncidentNotification.model_validate(case.notification()), Identity.model_validate(case.identity())
        )
        review, _ = creation.create_review(session, incident, actor=transitions.Actor("Chris Lee", "coordinator"))
        return review.reference


def answer(
    engine: Engine, reference: str, data: dict[str, Any], as_: Role | Identity | str | None = None
) -> answers.Outcome:
    """Apply ``data`` to the step the review waits at, given by the demo person whose step it is, or by ``as_``:
    another demo person's role, a person, or why the answer's sign-in cannot be trusted."""
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        if as_ is None or isinstance(as_, Role):  # (a Role is a str too: asked first)
            as_ = demo_identity(session, as_ or answerer(Stage(review.stage), data))
        return answers.apply_answer(session, review, process.step_key(review), data, signer=as_, today=TODAY)


def written(engine: Engine) -> dict[str, int]:
    """How many stage events, decisions and outbox messages there are: what a refused answer must not change."""
    with Session(engine) as session:
        return {
            t.__name__: session.exec(select(sa.func.count()).select_from(t)).one()
            for t in (StageEvent, Decision, Outbox)
        }


def state(engine: Engine, reference: str) -> Review:
    with Session(engine) as session:
        return lookup.review_by_reference(session, reference)


def close_open_actions(engine: Engine, reference: str) -> list[int]:
    """The partnership closes, with a reason, each of the review's actions still open, as the coordinator; the
    actions' numbers."""
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        coordinator = demo_identity(session, Role.COORDINATOR)
        rows = session.exec(
            select(Action).where(Action.review_id == review.id, col(Action.status).in_([s.value for s in OPEN_ACTION]))
        ).all()
        closing = {"what": "review", "verdict": "close", "reason": "Taken forward in the partnership's plan."}
        for row in rows:
            key = item_key(ItemRef(ItemKind.ACTION, row.number), row.answer_seq)
            outcome = apply_item_answer(
                session, review, WORK[ItemKind.ACTION], row.number, key, closing, signer=coordinator
            )
            assert outcome.accepted, outcome.message
        return [row.number for row in rows]


def advance(
    engine: Engine, reference: str, case: Case, max_steps: int = 60, *, until: Stage | None = None
) -> process.Action:
    """Answer each step as the case says, running automatic moves, until the review is closed, waits for its
    actions, or asks for the step of stage ``until``."""
    for _ in range(max_steps):
        with transaction(engine) as session:
            review = lookup.review_by_reference(session, reference)
            action = process.next_action(session, review, today=TODAY)
            if isinstance(action, process.Automatic):
                answers.apply_automatic(session, review, action.transition)
                continue
        if isinstance(action, process.Finished | process.WaitForWork):
            return action
        assert isinstance(action, process.WaitForForm), action
        if action.step.stage is until:
            return action
        outcome = answer(engine, reference, case.answer(Stage(action.step.stage)))
        assert outcome.accepted, outcome.message
    raise AssertionError(f"{reference} did not close within {max_steps} steps")


def moves_of(engine: Engine, reference: str) -> list[str]:
    """The review's moves, in order (not the notes beside them)."""
    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        return [e.transition for e in transitions.history(session, review.id) if e.transition in set(Transition)]


def run_to_end(engine: Engine, case: Case) -> tuple[str, list[str]]:
    """Answer each step as the case says, running automatic moves, until closed; while the review waits for its
    actions, the partnership closes them. Returns the transitions."""
    reference = record(engine, case)
    while isinstance(advance(engine, reference, case), process.WaitForWork):
        assert close_open_actions(engine, reference)
    assert state(engine, reference).stage == Stage.CLOSED
    return reference, moves_of(engine, reference)


def case(**kw: Any) -> Case:
    return Case(today=TODAY, **kw)


class TestPaths:
    def test_local_review_to_publication(self, engine: Engine) -> None:
        _reference, moves = run_to_end(engine, case(path="local"))
        assert moves == [
            "record_incident",
            "submit_notification",
            "record_rapid_review",
            "send_rapid_review",
            "record_panel_response",
            "decide_local_review",
            "commission_reviewer",
            "submit_draft",
            "approve_report",
            "send_final_report",
            "publish",
            "record_actions",
        ]
        with Session(engine) as session:
            purposes = sorted(f"{m.purpose}:{m.recipient}" for m in session.exec(select(Outbox)))
        assert purposes == sorted(
            [
                "rapid_review:panel",
                "lcspr_decision:panel",
                "lcspr_decision:ofsted",
                "lcspr_decision:dfe",
                "reviewer_named:panel",
                "reviewer_named:ofsted",
                "reviewer_named:dfe",
                "final_report:panel",
                "final_report:secretary_of_state",
                "published:panel",
                "published:ofsted",
                "published:dfe",
            ]
        )

    def test_no_review_closes_after_others_are_told(self, engine: Engine) -> None:
        _, moves = run_to_end(engine, case(path="no-review"))
        assert moves[-2:] == ["decide_no_review", "close_no_review"]

    def test_national_review_led_by_the_panel(self, engine: Engine) -> None:
        _, moves = run_to_end(engine, case(path="national"))
        assert moves[-3:] == ["decide_national_review", "confirm_national_reviewer", "national_report_published"]

    @pytest.mark.parametrize(
        ("path", "last_moves", "sources"),
        [
            ("no-review", ["decide_no_review", "close_no_review"], ["rapid review"]),
            (
                "national",
                ["confirm_national_reviewer", "follow_national_actions", "close_after_actions"],
                ["national review", "rapid review"],
            ),
            ("local", ["publish", "follow_actions", "close_after_actions"], ["local review", "rapid review"]),
        ],
    )
    def test_adopted_recommendations_keep_the_review_open(
        self, engine: Engine, path: str, last_moves: list[str], sources: list[str]
    ) -> None:
        """The rapid review's recommendations adopted with the partners' decision, and the national review's with its
        publication, become records with actions, whatever branch follows; the review closes only once the last is
        closed."""
        c = case(path=path, agencies=AGENCIES, adopted_actions=True)
        reference = record(engine, c)
        waiting = advance(engine, reference, c)
        assert isinstance(waiting, process.WaitForWork), waiting
        assert "every action on the recommendations must be closed" in waiting.why
        stop_at = {"no-review": Stage.NO_REVIEW, "national": Stage.ACTIONS_UNDER_WAY, "local": Stage.ACTIONS_UNDER_WAY}
        assert state(engine, reference).stage == stop_at[path]
        with Session(engine) as session:
            review = lookup.review_by_reference(session, reference)
            made = session.exec(select(Recommendation.source).where(Recommendation.review_id == review.id)).all()
        assert sorted({str(source) for source in made}) == sources
        assert close_open_actions(engine, reference)
        assert isinstance(advance(engine, reference, c), process.Finished)
        assert state(engine, reference).stage == Stage.CLOSED
        assert moves_of(engine, reference)[-len(last_moves) :] == last_moves

    def test_a_rapid_review_action_open_when_the_local_review_records_none(self, engine: Engine) -> None:
        """The local review's own step records no action (with its reason), but one adopted from the rapid review is
        still open: the review follows it through rather than closing."""
        c = case(agencies=AGENCIES, adopted_actions=True)
        reference = record(engine, c)
        assert isinstance(advance(engine, reference, c, until=Stage.PUBLISHED), process.WaitForForm)
        none = {"no_actions_reason": "The learning is in the partnership's existing plan."}
        assert answer(engine, reference, none).accepted
        assert state(engine, reference).stage == Stage.ACTIONS_UNDER_WAY
        assert close_open_actions(engine, reference) == [1]
        assert isinstance(advance(engine, reference, c), process.Finished)
        assert moves_of(engine, reference)[-2:] == ["follow_actions", "close_after_actions"]

    def test_quality_assurance_sent_back_twice(self, engine: Engine) -> None:
        _, moves = run_to_end(engine, case(qa_returns=2))
        assert moves.count("return_to_reviewer") == 2
        assert moves.count("submit_draft") == 3

    def test_publication_deferred_then_published(self, engine: Engine) -> None:
        _reference, moves = run_to_end(engine, case(deferrals=1))
        i = moves.index("defer_publication")
        assert moves[i : i + 3] == ["defer_publication", "reconsider_publication", "publish"]
        with Session(engine) as session:
            told = {m.recipient for m in session.exec(select(Outbox).where(Outbox.purpose == "publication_deferred_1"))}
        assert told == {"panel", "secretary_of_state"}

    def test_improvements_only(self, engine: Engine) -> None:
        _, moves = run_to_end(engine, case(improvements_only=True))
        assert moves[-2:] == ["publish_improvements", "record_improvement_actions"]

    def test_a_partner_sends_the_rapid_review_back(self, engine: Engine) -> None:
        _, moves = run_to_end(engine, case(send_back_first=True))
        assert moves[2:6] == ["record_rapid_review", "return_rapid_review", "record_rapid_review", "send_rapid_review"]

    @pytest.mark.parametrize("order", list(itertools.permutations(["local_authority", "police", "health"])))
    def test_the_three_sign_offs_in_any_order(self, engine: Engine, order: tuple[str, ...]) -> None:
        c = case(sign_off_order=order)
        reference = record(engine, c)
        for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
            assert answer(engine, reference, c.answer(stage)).accepted
        for _i in range(3):
            assert state(engine, reference).stage == Stage.RAPID_REVIEW_SIGN_OFF
            assert answer(engine, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted
        assert state(engine, reference).stage == Stage.AWAITING_PANEL
        with Session(engine) as session:
            signed = [d.actor_role for d in session.exec(select(Decision).where(Decision.kind == "sign_off"))]
        assert sorted(signed) == sorted(order)


def _at(engine: Engine, stage: Stage, c: Case | None = None) -> tuple[str, Case]:
    """A review walked forward with good answers until it waits at ``stage``."""
    c = c or case()
    reference = record(engine, c)
    while state(engine, reference).stage != stage:
        assert answer(engine, reference, c.answer(Stage(state(engine, reference).stage))).accepted
    return reference, c


@pytest.mark.parametrize(
    ("stage", "change", "message"), BAD_ANSWERS, ids=[f"{s.value}-{m[:20]}" for s, _, m in BAD_ANSWERS]
)
def test_a_bad_answer_is_refused_clearly_and_changes_nothing(
    engine: Engine, stage: Stage, change: dict[str, Any], message: str
) -> None:
    reference, c = _at(engine, stage)
    good = c.answer(stage)
    before, counts = state(engine, reference), written(engine)
    outcome = answer(engine, reference, {**good, **change}, as_=answerer(stage, good))
    assert not outcome.accepted
    assert message in outcome.message
    after = state(engine, reference)
    assert after.stage == before.stage and after.version == before.version
    assert after.step_refusal == outcome.message
    assert written(engine) == counts
    with Session(engine) as session:
        # the step still waits, with the reason shown above the form
        action = process.next_action(session, session.get_one(Review, after.id), today=TODAY)
        assert isinstance(action, process.WaitForForm)
        assert message in action.description
    # and a good answer is then accepted
    assert answer(engine, reference, good).accepted


def test_the_same_partner_cannot_sign_twice(engine: Engine) -> None:
    reference, c = _at(engine, Stage.RAPID_REVIEW_SIGN_OFF)
    first = c.answer(Stage.RAPID_REVIEW_SIGN_OFF)
    assert answer(engine, reference, first).accepted
    outcome = answer(engine, reference, first)
    assert not outcome.accepted and "already signed off" in outcome.message


def test_a_replayed_answer_is_applied_once(engine: Engine) -> None:
    reference, c = _at(engine, Stage.INCIDENT_RECORDED)
    data = c.answer(Stage.INCIDENT_RECORDED)
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        key, coordinator = process.step_key(review), demo_identity(session, Role.COORDINATOR)
        assert answers.apply_answer(session, review, key, data, signer=coordinator, today=TODAY).accepted
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        again = answers.apply_answer(session, review, key, data, signer=coordinator, today=TODAY)
    assert again.already_applied
    with Session(engine) as session:
        assert [e.transition for e in transitions.history(session, state(engine, reference).id)] == [
            "record_incident",
            "submit_notification",
        ]


def test_publication_waits_for_seven_working_days_after_the_report_is_sent(engine: Engine) -> None:
    c = Case(today=dt.date(2026, 1, 20))
    reference, c = _at(engine, Stage.REPORT_APPROVED, c)
    sent = {**c.answer(Stage.REPORT_APPROVED), "sent_on": "2025-12-19"}
    assert answer(engine, reference, sent).accepted
    with Session(engine) as session:
        review = state(engine, reference)
        # Fri 19 Dec 2025 (0): 22, 23, 24, 29, 30, 31 Dec, 2 Jan (25, 26 Dec and 1 Jan are holidays)
        action = process.next_action(session, review, today=dt.date(2025, 12, 31))
        assert isinstance(action, process.WaitUntil)
        assert action.on == dt.date(2026, 1, 2)
        assert isinstance(process.next_action(session, review, today=dt.date(2026, 1, 2)), process.WaitForForm)


def test_a_report_returned_for_correction_is_sent_again_and_waits_its_own_seven_days(engine: Engine) -> None:
    c = Case(today=dt.date(2026, 1, 20))
    reference, c = _at(engine, Stage.AWAITING_PUBLICATION, c)
    fix = {
        "decision": "return the report to the reviewer for correction",
        "reasons": "The summary names a family member; the reviewer must anonymise it.",
    }
    assert answer(engine, reference, fix).accepted
    assert state(engine, reference).stage == Stage.REVIEW_UNDER_WAY
    for stage in (Stage.REVIEW_UNDER_WAY, Stage.QUALITY_ASSURANCE):
        assert answer(engine, reference, c.answer(stage)).accepted
    resend = {"sent_on": "2026-01-13"}
    assert answer(engine, reference, resend).accepted
    with Session(engine) as session:
        review = state(engine, reference)
        # Tue 13 Jan 2026 (0) + 7 working days = Thu 22 Jan 2026
        assert timetable.deadline_on(session, review, "publish_not_before") == dt.date(2026, 1, 22)
        purposes = {m.purpose for m in session.exec(select(Outbox).where(Outbox.review_id == review.id))}
    assert {"final_report", "final_report_2"} <= purposes


def at_sign_off(engine: Engine) -> tuple[str, Case]:
    c = case()
    reference = record(engine, c)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
        assert answer(engine, reference, c.answer(stage)).accepted
    assert state(engine, reference).stage == Stage.RAPID_REVIEW_SIGN_OFF
    return reference, c


def assert_refused_and_nothing_recorded(
    engine: Engine, reference: str, data: dict[str, Any], as_: Role | Identity | str, message: str
) -> answers.Outcome:
    """The answer is refused with ``message``, asked again with it shown, and nothing else is written."""
    before, counts = state(engine, reference), written(engine)
    outcome = answer(engine, reference, data, as_=as_)
    assert not outcome.accepted and message in outcome.message, outcome.message
    after = state(engine, reference)
    assert after.stage == before.stage and after.version == before.version
    assert after.step_seq == before.step_seq + 1 and after.step_refusal == outcome.message  # asked again
    assert written(engine) == counts
    return outcome


class TestWhoMayDecide:
    """Only a person signed in at the gate, registered in the review's partnership in a role that fits the step,
    may answer it; the role recorded is the register's."""

    @pytest.mark.parametrize(
        ("partner", "as_", "message"),
        [
            ("health", Role.POLICE, "you are not registered as a health representative of Northshire"),
            ("local authority", Role.COORDINATOR, "you are not registered as a local authority representative"),
            ("police", Role.PANEL, "you are not registered as a police representative"),
        ],
        ids=["police-signs-for-health", "the-coordinator-signs-off", "the-panel-signs-off"],
    )
    def test_a_sign_off_by_anyone_but_that_partners_representative_is_refused(
        self, engine: Engine, partner: str, as_: Role, message: str
    ) -> None:
        reference, c = at_sign_off(engine)
        sign_off = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), "partner": partner}
        outcome = assert_refused_and_nothing_recorded(engine, reference, sign_off, as_, message)
        assert "Sam Patel" not in outcome.message and "Chris Lee" not in outcome.message

    def test_one_person_cannot_sign_for_two_partners(self, engine: Engine) -> None:
        reference, c = at_sign_off(engine)
        assert answer(engine, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF), as_=Role.LOCAL_AUTHORITY).accepted
        with transaction(engine) as session:  # the same person now holds the police registration instead
            alex = demo_identity(session, Role.LOCAL_AUTHORITY)
            session.execute(
                sa.update(Representative).where(col(Representative.name) == "Alex Morgan").values(role=Role.POLICE)
            )
        police = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), "partner": "police"}
        assert_refused_and_nothing_recorded(engine, reference, police, alex, "must come from a different person")
        assert answer(engine, reference, police, as_=Role.POLICE).accepted  # another police representative may
        with Session(engine) as session:
            signed = session.exec(select(Decision).where(Decision.kind == "sign_off").order_by(col(Decision.seq)))
            assert [(d.actor_name, d.actor_role) for d in signed] == [
                ("Alex Morgan", "local_authority"),
                ("Sam Patel", "police"),
            ]

    def test_three_sign_offs_record_three_people_with_how_they_signed_in(self, engine: Engine) -> None:
        reference, c = at_sign_off(engine)
        for _ in range(3):
            assert answer(engine, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted
        with Session(engine) as session:
            people = {r: demo_identity(session, r) for r in (Role.LOCAL_AUTHORITY, Role.POLICE, Role.HEALTH)}
            signed = session.exec(select(Decision).where(Decision.kind == "sign_off")).all()
            sent = session.exec(select(StageEvent).where(StageEvent.transition == "send_rapid_review")).one()
        assert {(d.actor_role, str(d.actor_id), d.actor_name, d.actor_signed_in_with) for d in signed} == {
            (role.value, p.person_id, p.name, "password") for role, p in people.items()
        }
        assert (sent.actor_id, sent.actor_signed_in_with) == (signed[-1].actor_id, "password")

    @pytest.mark.parametrize(
        ("token", "message"),
        [
            ("missing", "the answer came without a sign-in"),  # posted straight to Prefect, around the gate
            ("forged", "not the gate's"),
            ("expired", "has expired"),
            ("another run", "given for another form"),
            ("another form", "given for another form"),
            ("another answer", "given for a different answer"),  # someone else's sign-in stored over it
        ],
    )
    def test_an_answer_without_a_valid_sign_in_is_refused(self, engine: Engine, token: str, message: str) -> None:
        c = case()
        reference = record(engine, c)
        run, now = "0b5e6a9c-0000-4000-8000-000000000001", utcnow()
        with Session(engine) as session:
            coordinator = demo_identity(session, Role.COORDINATOR)
            key = process.step_key(lookup.review_by_reference(session, reference))
        given = c.answer(Stage.INCIDENT_RECORDED)
        digest, other = identity.answer_digest(given), identity.answer_digest({**given, "panel_reference": "SIN-1"})
        signed = {
            "missing": None,
            "forged": identity.sign(identity.new_key(), coordinator, run_id=run, form_key=key, at=now, answer=digest),
            "expired": identity.sign(
                gate_key(), coordinator, run_id=run, form_key=key, at=now - identity.MAX_AGE * 2, answer=digest
            ),
            "another run": identity.sign(
                gate_key(), coordinator, run_id="another-run", form_key=key, at=now, answer=digest
            ),
            "another form": identity.sign(
                gate_key(), coordinator, run_id=run, form_key=f"{key}0", at=now, answer=digest
            ),
            "another answer": identity.sign(gate_key(), coordinator, run_id=run, form_key=key, at=now, answer=other),
        }[token]
        # what the lifecycle learns from the token stored beside the answer Prefect stored (flows/inputs.py's signed_by)
        signer = identity.who_answered(gate_key(), signed, run_id=run, form_key=key, answer=digest, now=now)
        assert isinstance(signer, str)
        assert_refused_and_nothing_recorded(engine, reference, given, signer, message)

    def test_a_person_whose_account_is_disabled_is_refused(self, engine: Engine) -> None:
        reference, c = at_sign_off(engine)
        with transaction(engine) as session:
            alex = demo_identity(session, Role.LOCAL_AUTHORITY)
            disable_person(session, "alex.morgan@northshire-council.example", by=transitions.Actor("cspr", "system"))
        sign_off = c.answer(Stage.RAPID_REVIEW_SIGN_OFF)
        assert_refused_and_nothing_recorded(engine, reference, sign_off, alex, "you are not registered as a local")

    def test_a_coordinator_step_needs_a_registered_coordinator(self, engine: Engine) -> None:
        c = case()
        reference = record(engine, c)
        notification = c.answer(Stage.INCIDENT_RECORDED)
        message = "you are not registered as a coordinator representative"
        assert_refused_and_nothing_recorded(engine, reference, notification, Role.LOCAL_AUTHORITY, message)


class TestThePanelsResponse:
    """Recorded as the Panel's only from the Panel's contact; a coordinator enters it on the Panel's behalf, from
    the Panel's letter, and is recorded as doing so."""

    def at_panel(self, engine: Engine) -> tuple[str, Case]:
        reference, c = _at(engine, Stage.AWAITING_PANEL)
        return reference, c

    def recorded(self, engine: Engine, reference: str) -> tuple[Decision, StageEvent, str]:
        with Session(engine) as session:
            review = lookup.review_by_reference(session, reference)
            decision = session.exec(select(Decision).where(Decision.kind == "panel_response")).one()
            event = session.exec(select(StageEvent).where(StageEvent.transition == "record_panel_response")).one()
            return decision, event, timeline_markdown(session, review, TODAY)

    def test_from_the_panels_contact_it_is_the_panels(self, engine: Engine) -> None:
        reference, c = self.at_panel(engine)
        outcome = answer(engine, reference, c.answer(Stage.AWAITING_PANEL))  # the demo's Panel contact
        assert outcome.accepted and outcome.message == "the Panel's response recorded"
        decision, event, timeline = self.recorded(engine, reference)
        assert (decision.actor_role, decision.actor_name) == ("panel", "Panel secretariat")
        assert "on_behalf_of" not in decision.details and "on_behalf_of" not in event.details
        assert "| panel |" in timeline

    def test_a_coordinator_on_the_panels_behalf_needs_the_panels_letter(self, engine: Engine) -> None:
        reference, c = self.at_panel(engine)
        response = c.answer(Stage.AWAITING_PANEL)
        message = "give the reference of the Panel's letter"
        assert_refused_and_nothing_recorded(engine, reference, response, Role.COORDINATOR, message)
        letter = {**response, "letter_reference": "CSPRP/2026/0417"}
        outcome = answer(engine, reference, letter, as_=Role.COORDINATOR)
        assert outcome.accepted and outcome.message == "the Panel's response recorded on the Panel's behalf"
        decision, event, timeline = self.recorded(engine, reference)
        assert (decision.actor_role, decision.actor_name) == ("coordinator", "Chris Lee")
        for details in (decision.details, event.details):
            assert (details["on_behalf_of"], details["letter_reference"]) == ("panel", "CSPRP/2026/0417")
        assert "| coordinator, on behalf of the panel |" in timeline

    def test_nobody_else_may_enter_it(self, engine: Engine) -> None:
        reference, c = self.at_panel(engine)
        letter = {**c.answer(Stage.AWAITING_PANEL), "letter_reference": "CSPRP/2026/0417"}
        message = "you are not registered as a coordinator or panel representative"
        assert_refused_and_nothing_recorded(engine, reference, letter, Role.HEALTH, message)
