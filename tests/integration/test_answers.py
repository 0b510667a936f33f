"""Every step's answers applied to the database directly (no Prefect): every branch, every refusal.

The same scripted answers as `cspr demo` (cli/demo.py), so what is tested here is what the demo and the
end-to-end tests send through Prefect.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cli.demo import Case
from models import answers, records, steps
from models.calendar import today_in_england
from models.db import transaction
from models.seed import seed_demo
from models.stages import Stage
from models.tables import Decision, Outbox, Representative, Review, StageEvent
from tests.utils.bad_answers import BAD_ANSWERS

TODAY = today_in_england()  # the scenario runs up to today: deferral dates are checked against the real date


def record(engine: Engine, case: Case) -> str:
    from flows.notification import _record  # the same mapping the notify-incident flow uses
    from models.forms import Identity, IncidentNotification

    with transaction(engine) as session:
        seed_demo(session)
        incident = _record(
            IncidentNotification.model_validate(case.notification()), Identity.model_validate(case.identity())
        )
        review, _ = records.create_review(session, incident, actor=records.Actor("Chris Lee", "coordinator"))
        return review.reference


def answer(engine: Engine, reference: str, data: dict[str, Any]) -> answers.Outcome:
    with transaction(engine) as session:
        review = records.review_by_reference(session, reference)
        return answers.apply_answer(session, review, steps.step_key(review), data, today=TODAY)


def state(engine: Engine, reference: str) -> Review:
    with Session(engine) as session:
        return records.review_by_reference(session, reference)


def run_to_end(engine: Engine, case: Case, max_steps: int = 60) -> tuple[str, list[str]]:
    """Answer each step as the case says, running automatic moves, until closed. Returns the transitions."""
    reference = record(engine, case)
    for _ in range(max_steps):
        with transaction(engine) as session:
            review = records.review_by_reference(session, reference)
            action = steps.next_action(session, review, today=TODAY)
            if isinstance(action, steps.Automatic):
                answers.apply_automatic(session, review, action.transition)
                continue
        if isinstance(action, steps.Finished):
            break
        assert isinstance(action, steps.WaitForForm), action
        outcome = answer(engine, reference, case.answer(Stage(action.step.stage)))
        assert outcome.accepted, outcome.message
    with Session(engine) as session:
        review = records.review_by_reference(session, reference)
        assert review.stage == Stage.CLOSED
        moves = [e.transition for e in records.history(session, review.id)]
    return reference, moves


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
    before = state(engine, reference)
    with Session(engine) as session:
        counts = {
            t.__name__: session.exec(select(sa.func.count()).select_from(t)).one()
            for t in (StageEvent, Decision, Outbox)
        }
    outcome = answer(engine, reference, {**good, **change})
    assert not outcome.accepted
    assert message in outcome.message
    after = state(engine, reference)
    assert after.stage == before.stage and after.version == before.version
    assert after.step_refusal == outcome.message
    with Session(engine) as session:
        assert counts == {
            t.__name__: session.exec(select(sa.func.count()).select_from(t)).one()
            for t in (StageEvent, Decision, Outbox)
        }
        # the step still waits, with the reason shown above the form
        action = steps.next_action(session, session.get_one(Review, after.id), today=TODAY)
        assert isinstance(action, steps.WaitForForm)
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
        review = records.review_by_reference(session, reference)
        key = steps.step_key(review)
        assert answers.apply_answer(session, review, key, data, today=TODAY).accepted
    with transaction(engine) as session:
        review = records.review_by_reference(session, reference)
        again = answers.apply_answer(session, review, key, data, today=TODAY)
    assert again.already_applied
    with Session(engine) as session:
        assert [e.transition for e in records.history(session, state(engine, reference).id)] == [
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
        action = steps.next_action(session, review, today=dt.date(2025, 12, 31))
        assert isinstance(action, steps.WaitUntil)
        assert action.on == dt.date(2026, 1, 2)
        assert isinstance(steps.next_action(session, review, today=dt.date(2026, 1, 2)), steps.WaitForForm)


def test_a_report_returned_for_correction_is_sent_again_and_waits_its_own_seven_days(engine: Engine) -> None:
    c = Case(today=dt.date(2026, 1, 20))
    reference, c = _at(engine, Stage.AWAITING_PUBLICATION, c)
    fix = {
        "your_name": "Chris Lee",
        "decision": "return the report to the reviewer for correction",
        "reasons": "The summary names a family member; the reviewer must anonymise it.",
    }
    assert answer(engine, reference, fix).accepted
    assert state(engine, reference).stage == Stage.REVIEW_UNDER_WAY
    for stage in (Stage.REVIEW_UNDER_WAY, Stage.QUALITY_ASSURANCE):
        assert answer(engine, reference, c.answer(stage)).accepted
    resend = {"your_name": "Chris Lee", "sent_on": "2026-01-13"}
    assert answer(engine, reference, resend).accepted
    with Session(engine) as session:
        review = state(engine, reference)
        # Tue 13 Jan 2026 (0) + 7 working days = Thu 22 Jan 2026
        assert records.deadline_on(session, review, "publish_not_before") == dt.date(2026, 1, 22)
        purposes = {m.purpose for m in session.exec(select(Outbox).where(Outbox.review_id == review.id))}
    assert {"final_report", "final_report_2"} <= purposes


class TestWhoMayDecide:
    """Only a representative registered for the step's role in the review's partnership may answer it."""

    def at_sign_off(self, engine: Engine) -> tuple[str, Case]:
        c = case()
        reference = record(engine, c)
        for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
            assert answer(engine, reference, c.answer(stage)).accepted
        assert state(engine, reference).stage == Stage.RAPID_REVIEW_SIGN_OFF
        return reference, c

    def sign_off(self, c: Case, **changes: str) -> dict[str, Any]:
        return {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), **changes}

    def decisions(self, engine: Engine, reference: str) -> int:
        with Session(engine) as session:
            review = records.review_by_reference(session, reference)
            return len(session.exec(select(Decision).where(Decision.review_id == review.id)).all())

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"your_name": "Pat Unknown"}, "not registered as a local authority representative"),
            ({"your_name": "Sam Patel"}, "not registered as a local authority representative"),  # police, not LA
            ({"your_name": "Chris Lee"}, "not registered as a local authority representative"),  # the coordinator
        ],
        ids=["a-stranger", "another-partners-representative", "the-coordinator"],
    )
    def test_a_sign_off_by_anyone_else_is_refused(self, engine: Engine, changes: dict[str, str], message: str) -> None:
        reference, c = self.at_sign_off(engine)
        before, decisions = state(engine, reference), self.decisions(engine, reference)
        outcome = answer(engine, reference, self.sign_off(c, **changes))
        assert not outcome.accepted and message in outcome.message
        assert "Pat Unknown" not in outcome.message and "Sam Patel" not in outcome.message  # never echoed
        after = state(engine, reference)
        assert after.stage == before.stage and after.step_seq == before.step_seq + 1  # asked again
        assert after.step_refusal == outcome.message and self.decisions(engine, reference) == decisions

    def test_the_registered_name_is_matched_whatever_its_spacing_and_case(self, engine: Engine) -> None:
        reference, c = self.at_sign_off(engine)
        assert answer(engine, reference, self.sign_off(c, your_name="  alex   MORGAN ")).accepted

    def test_a_representative_no_longer_active_is_refused(self, engine: Engine) -> None:
        reference, c = self.at_sign_off(engine)
        with transaction(engine) as session:
            session.execute(
                sa.update(Representative).where(col(Representative.name) == "Alex Morgan").values(active=False)
            )
        assert not answer(engine, reference, self.sign_off(c)).accepted

    def test_a_coordinator_step_needs_a_registered_coordinator(self, engine: Engine) -> None:
        c = case()
        reference = record(engine, c)
        outcome = answer(engine, reference, {**c.answer(Stage.INCIDENT_RECORDED), "your_name": "Alex Morgan"})
        assert not outcome.accepted and "not registered as a coordinator representative" in outcome.message
        assert state(engine, reference).stage == Stage.INCIDENT_RECORDED
