"""Every path of the process end to end through Prefect: real server, real suspends, forms answered through
the API as the UI would, flow runs executed in this process (tests/utils/inprocess.py)."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import Session, select

from cli.demo import Case, review_state
from cli.system import LocalSystem
from models.db import get_engine
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.stages import Stage
from models.tables import Outbox
from tests.utils import inprocess
from tests.utils.api import service_api

_names = (f"Child {letter}" for letter in "ABCDEFGHIJKLMNOPRSTUVWXYZ")


def new_case(**kw: object) -> Case:
    return Case(pseudonym=next(_names), **kw)  # type: ignore[arg-type]


def transitions(reference: str) -> list[str]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        return [e.transition for e in history(session, review.id)]


@pytest.mark.parametrize(
    ("kw", "ending"),
    [
        ({"path": "local"}, ["approve_report", "send_final_report", "publish", "record_actions"]),
        ({"path": "no-review"}, ["decide_no_review", "close_no_review"]),
        ({"path": "national"}, ["decide_national_review", "confirm_national_reviewer", "national_report_published"]),
        (
            {"qa_returns": 2},
            ["return_to_reviewer", "submit_draft", "approve_report", "send_final_report", "publish", "record_actions"],
        ),
        ({"deferrals": 1}, ["defer_publication", "reconsider_publication", "publish", "record_actions"]),
        ({"improvements_only": True}, ["publish_improvements", "record_improvement_actions"]),
    ],
    ids=[
        "local-review",
        "no-review",
        "national-review",
        "qa-sent-back-twice",
        "deferred-then-published",
        "improvements-only",
    ],
)
def test_every_path_end_to_end(deployed: LocalSystem, kw: dict[str, object], ending: list[str]) -> None:
    case = new_case(**kw)
    reference, _ = inprocess.notify(case)
    assert inprocess.drive(reference, case) == []
    moves = transitions(reference)
    assert moves[-len(ending) :] == ending
    assert len(moves) == len(set(zip(moves, range(len(moves)), strict=True)))
    if kw.get("qa_returns"):
        assert moves.count("return_to_reviewer") == 2
    runs = inprocess.runs_for(reference)
    assert all(r.state is not None and r.state.is_final() for r in runs), "no run is left waiting"
    assert runs[0].name.startswith(reference)
    assert f"review-{reference}" not in review_slots(deployed)  # closed: its slot is released


def review_slots(system: LocalSystem) -> set[str]:
    """The review concurrency limits on the server (one per review with a run acting on it or waiting)."""
    limits = service_api(system).post("/v2/concurrency_limits/filter", json={}).json()
    return {str(limit["name"]) for limit in limits if str(limit["name"]).startswith("review-")}


def test_a_waiting_review_holds_its_slot_free_and_a_closed_one_has_none(deployed: LocalSystem) -> None:
    case = new_case(path="no-review")
    reference, _ = inprocess.notify(case)
    inprocess.suspended_run(reference)  # the lifecycle's first form is waiting
    limits = service_api(deployed).post("/v2/concurrency_limits/filter", json={}).json()
    (slot,) = [limit for limit in limits if limit["name"] == f"review-{reference}"]
    assert slot["limit"] == 1 and slot["active_slots"] == 0  # nothing held while the run waits for people
    assert inprocess.drive(reference, case) == []
    assert f"review-{reference}" not in review_slots(deployed)


def test_a_partner_sends_it_back_and_the_sign_offs_come_in_another_order(deployed: LocalSystem) -> None:
    case = new_case(send_back_first=True, sign_off_order=("health", "police", "local_authority"))
    reference, _ = inprocess.notify(case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
        inprocess.give(reference, case.answer(stage))
    inprocess.give(reference, case.answer(Stage.RAPID_REVIEW_SIGN_OFF))  # health sends it back
    assert review_state(reference).stage is Stage.RAPID_REVIEW
    inprocess.give(reference, case.answer(Stage.RAPID_REVIEW))
    for _ in range(3):
        assert review_state(reference).stage is Stage.RAPID_REVIEW_SIGN_OFF
        inprocess.give(reference, case.answer(Stage.RAPID_REVIEW_SIGN_OFF))
    assert review_state(reference).stage is Stage.AWAITING_PANEL
    assert transitions(reference)[2:] == [
        "record_rapid_review",
        "return_rapid_review",
        "record_rapid_review",
        "send_rapid_review",
    ]


@pytest.mark.parametrize("order", [("police", "health", "local_authority"), ("health", "local_authority", "police")])
def test_sign_offs_in_any_order_through_prefect(deployed: LocalSystem, order: tuple[str, ...]) -> None:
    case = new_case(sign_off_order=order)
    reference, _ = inprocess.notify(case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW, *itertools.repeat(Stage.RAPID_REVIEW_SIGN_OFF, 3)):
        inprocess.give(reference, case.answer(stage))
    assert review_state(reference).stage is Stage.AWAITING_PANEL
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        told = session.exec(select(Outbox).where(Outbox.review_id == review.id, Outbox.purpose == "rapid_review")).all()
    assert [m.recipient for m in told] == ["panel"]
