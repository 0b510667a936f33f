"""The work around a review, end to end through Prefect: agencies asked for information when the rapid review
starts, each answering on its own run (a return, "no involvement", one late: reminded, escalated, recorded missing);
a local review's actions followed through (done with evidence and accepted, sent back, overdue and escalated, closed
by the partnership), and the review closing only once every action is closed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_client
from prefect.states import Failed
from sqlmodel import Session, col, select

from cli.demo import Case, review_state
from cli.system import LocalSystem
from models.calendar import calendar_for, today_in_england
from models.dates import weekday_date
from models.db import get_engine, transaction
from models.identity import Identity
from models.review.lookup import review_by_reference
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact, demo_identity
from models.stages import Stage
from models.sweep import SweepResult
from models.tables import (
    Action,
    ActionStatus,
    Agency,
    Decision,
    DecisionKind,
    InformationRequest,
    Milestone,
    Outbox,
    RequestStatus,
)
from models.work.chasing import chase_items
from tasks.runs import restore_lost_runs
from tasks.sweep_tasks import preview_deadlines
from tasks.work_tasks import restore_lost_item_runs
from tests.utils import inprocess

AGENCIES = tuple(name for name, _, _ in DEMO_AGENCY_CONTACTS)  # the four demo agencies with contacts
_names = (f"Child W{n}" for n in range(1, 100))


@flow
def restore_item_runs() -> list[str]:
    """The sweep's restoring of items' lost runs, alone (the whole sweep would chase every review's items)."""
    return restore_lost_item_runs()


@flow
def restore_review_runs() -> list[str]:
    """The sweep's restoring of the reviews' lost runs, alone."""
    return restore_lost_runs()


@flow
def preview_sweep(day: dt.date) -> SweepResult:
    """The sweep's dry run as of ``day``, alone."""
    return preview_deadlines(day)


def contact(agency: str) -> Identity:
    with transaction() as session:
        return demo_agency_contact(session, agency)


def person(role: Role) -> Identity:
    with transaction() as session:
        return demo_identity(session, role)


def requests(reference: str) -> list[InformationRequest]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        rows = session.exec(
            select(InformationRequest)
            .where(InformationRequest.review_id == review.id)
            .order_by(col(InformationRequest.number))
        ).all()
        return [InformationRequest.model_validate(r) for r in rows]


def actions(reference: str) -> list[Action]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        rows = session.exec(select(Action).where(Action.review_id == review.id).order_by(col(Action.number))).all()
        return [Action.model_validate(r) for r in rows]


def messages(reference: str) -> list[tuple[str, str]]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        rows = session.exec(select(Outbox).where(Outbox.review_id == review.id)).all()
        return [(m.purpose, m.recipient) for m in rows]


def agency_id(name: str) -> str:
    with Session(get_engine()) as session:
        return str(session.exec(select(Agency.id).where(Agency.name == name)).first())


RETURN: dict[str, Any] = {
    "what": "return",
    "involvement": "The practice saw Child W at two appointments; two more were missed.",
    "chronology": [
        {"on": "2026-01-12", "contact": "Appointment missed; letter sent."},
        {"on": "2025-11-03", "contact": "Routine check; weight on the low side."},
    ],
    "analysis": "Missed appointments were not followed up with the school.",
    "actions_taken": "Missed appointments are now flagged to the named GP.",
    "learning": "Share missed appointments for children on plans.",
}


def test_agencies_asked_when_the_rapid_review_starts(deployed: LocalSystem) -> None:
    case = Case(pseudonym=next(_names), agencies=AGENCIES)
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.RAPID_REVIEW)
    inprocess.advance_items(reference)
    asked = requests(reference)
    assert [r.number for r in asked] == [1, 2, 3, 4]
    assert {r.status for r in asked} == {RequestStatus.REQUESTED}
    # each agency's contacts are told, with the date it is due: the partnership's 5 working days
    due = calendar_for().add(today_in_england(), 5)
    assert all(r.due_on == due for r in asked)
    sent = messages(reference)
    for name in AGENCIES:
        assert "item:request-" in " ".join(p for p, r in sent if r == f"agency:{agency_id(name)}"), name
    for n in range(1, 5):
        run = inprocess.item_run(reference, f"request-{n}")
        assert run is not None and run.state is not None and run.state.is_paused(), n

    # a request whose run was lost (failed, and no automation starts a failed run again) has one again after the
    # sweep, which carries on from the request's record: it waits for the agency again
    lost = inprocess.item_run(reference, "request-3")
    assert lost is not None
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(lost.id, Failed(message="lost, for the test"), force=True)
    assert inprocess.item_run(reference, "request-3") is None
    assert [r for r in restore_item_runs() if r.startswith(f"{reference} ")] == [f"{reference} request 3"]
    assert not [r for r in restore_item_runs() if r.startswith(f"{reference} ")]  # once: it has a run now
    inprocess.advance_items(reference)
    again = inprocess.item_run(reference, "request-3")
    assert again is not None and again.id != lost.id and again.state is not None and again.state.is_paused()

    # another agency's contact cannot answer a request that is not theirs: refused, the request still open
    inprocess.give_item(reference, "request-4", RETURN, contact(AGENCIES[0]))
    late = requests(reference)[3]
    assert late.status is RequestStatus.REQUESTED and late.refusal and "not registered as a contact" in late.refusal

    inprocess.give_item(reference, "request-1", RETURN, contact(AGENCIES[0]))
    inprocess.give_item(reference, "request-2", {**RETURN, "involvement": "Two visits."}, contact(AGENCIES[1]))
    inprocess.give_item(reference, "request-3", {"what": "no involvement"}, contact(AGENCIES[2]))
    statuses = [r.status for r in requests(reference)]
    assert statuses == [
        RequestStatus.RETURNED,
        RequestStatus.RETURNED,
        RequestStatus.NO_INVOLVEMENT,
        RequestStatus.REQUESTED,
    ]
    assert requests(reference)[0].answer["chronology"][0]["contact"] == "Appointment missed; letter sent."
    assert inprocess.item_run(reference, "request-1") is None  # its run ended with it

    # the late one: reminded on the day it is due, escalated the working day after, each once; a dry run of the
    # sweep as of that day lists the reminder it would send, and sends nothing
    would = [line for line in preview_sweep(due).items_chased if line.startswith(f"{reference} ")]
    assert would == [f"{reference} request 4 ({AGENCIES[3]}): reminded, due by {weekday_date(due)}"]
    with transaction() as session:
        reminded = chase_items(session, due)
        again = chase_items(session, due)
    assert [(c.item, c.overdue, c.level) for c in reminded if c.reference == reference] == [("request-4", False, 2)]
    assert not [c for c in again if c.reference == reference]
    with transaction() as session:
        escalated = chase_items(session, calendar_for().add(due, 1))
    assert [(c.item, c.overdue) for c in escalated if c.reference == reference] == [("request-4", True)]
    chased = [(p, r) for p, r in messages(reference) if p.startswith("item:request-4:escalation")]
    assert sorted(r for _, r in chased) == sorted(["coordinator", f"agency:{agency_id(AGENCIES[3])}"])

    # the rapid review is recorded without it: it is recorded as missing, and its run no longer waits
    inprocess.give(reference, case.answer(Stage.RAPID_REVIEW))
    assert review_state(reference).stage is Stage.RAPID_REVIEW_SIGN_OFF
    assert requests(reference)[3].status is RequestStatus.MISSING
    assert inprocess.item_run(reference, "request-4") is None
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        decision = session.exec(
            select(Decision).where(Decision.review_id == review.id, Decision.kind == DecisionKind.RAPID_REVIEW)
        ).one()
        missing = decision.details["missing_returns"]
    assert [m["agency"] for m in missing] == [AGENCIES[3]]


def test_actions_followed_to_their_close(deployed: LocalSystem) -> None:
    case = Case(pseudonym=next(_names), agencies=AGENCIES)
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.PUBLISHED)
    inprocess.give(reference, case.answer(Stage.PUBLISHED))
    assert review_state(reference).stage is Stage.ACTIONS_UNDER_WAY
    inprocess.advance_items(reference)
    given = actions(reference)
    assert [(a.number, a.status) for a in given] == [(n, ActionStatus.NOT_STARTED) for n in (1, 2, 3)]
    owners = {a.number: next(n for n in AGENCIES if agency_id(n) == str(a.agency_id)) for a in given}

    # 1: done with evidence, accepted by the coordinator
    inprocess.give_item(
        reference, "action-1", {"what": "progress", "status": "done", "evidence": "The list goes out each Monday."},
        contact(owners[1]),
    )  # fmt: skip
    # accepting before its owner says it is done is refused
    inprocess.give_item(reference, "action-2", {"what": "review", "verdict": "accept"}, person(Role.COORDINATOR))
    assert actions(reference)[1].status is ActionStatus.NOT_STARTED
    inprocess.give_item(reference, "action-1", {"what": "review", "verdict": "accept"}, person(Role.COORDINATOR))
    # 2: done, sent back with a reason, done again, accepted by a partner
    inprocess.give_item(
        reference, "action-2", {"what": "progress", "status": "done", "evidence": "Form updated."}, contact(owners[2])
    )
    inprocess.give_item(
        reference, "action-2", {"what": "review", "verdict": "send back", "reason": "Show the form in use."},
        person(Role.COORDINATOR),
    )  # fmt: skip
    assert actions(reference)[1].status is ActionStatus.IN_PROGRESS
    again = {"what": "progress", "status": "done", "evidence": "Used in 40 checks."}
    inprocess.give_item(reference, "action-2", again, contact(owners[2]))
    inprocess.give_item(reference, "action-2", {"what": "review", "verdict": "accept"}, person(Role.LOCAL_AUTHORITY))
    assert review_state(reference).stage is Stage.ACTIONS_UNDER_WAY  # one action is still open
    # 3: overdue and escalated, then closed by the partnership with a reason
    due = actions(reference)[2].due_on
    with transaction() as session:
        escalated = chase_items(session, calendar_for().add(due, 1))
    assert [(c.item, c.overdue) for c in escalated if c.reference == reference] == [("action-3", True)]
    inprocess.give_item(
        reference, "action-3", {"what": "review", "verdict": "close", "reason": "Superseded by the ICB's programme."},
        person(Role.COORDINATOR),
    )  # fmt: skip
    assert [a.status for a in actions(reference)] == [ActionStatus.ACCEPTED, ActionStatus.ACCEPTED, ActionStatus.CLOSED]
    inprocess.advance(reference)
    assert review_state(reference).stage is Stage.CLOSED
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        reported = session.exec(
            select(Milestone).where(Milestone.review_id == review.id, Milestone.event == "actions_reported_on")
        ).first()
    assert reported is not None and reported.on == today_in_england()


def test_a_rapid_review_action_keeps_a_case_with_no_local_review_open(deployed: LocalSystem) -> None:
    """The partners decide on no local review and adopt an action on the rapid review's recommendations: the review
    waits, told, until the action's own run closes it; that run starts the lifecycle again, which closes the review."""
    case = Case(pseudonym=next(_names), agencies=AGENCIES, path="no-review", adopted_actions=True)
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.AWAITING_DECISION)
    inprocess.give(reference, case.answer(Stage.AWAITING_DECISION))
    assert review_state(reference).stage is Stage.NO_REVIEW
    assert inprocess.pending_lifecycle_run(reference) is None  # the lifecycle ended: nothing to do until the action
    assert reference not in restore_review_runs()  # waiting for its action's run: no run of its own is lost
    inprocess.advance_items(reference)
    (action,) = actions(reference)
    owner = next(n for n in AGENCIES if agency_id(n) == str(action.agency_id))
    done = {"what": "progress", "status": "done", "evidence": "Weight concerns are on the referral form."}
    inprocess.give_item(reference, "action-1", done, contact(owner))
    assert review_state(reference).stage is Stage.NO_REVIEW
    inprocess.give_item(reference, "action-1", {"what": "review", "verdict": "accept"}, person(Role.POLICE))
    assert review_state(reference).stage is Stage.CLOSED
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        decision = session.exec(
            select(Decision).where(Decision.review_id == review.id, Decision.kind == DecisionKind.LCSPR_DECISION)
        ).one()
    assert decision.details["actions"] == 1
