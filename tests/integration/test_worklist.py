"""The worklist (models/worklist.py): every step waiting for a person, who may answer it, since when, its deadline
and the working days left, soonest first; filtered by partnership and by role; a partner who has signed off is no
longer waited on. And every item of the work around a review, with where it stands, and who sees which
(models/your_tasks.py). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cli.demo import Case
from models.calendar import calendar_for
from models.db import transaction
from models.identity import Identity
from models.review import lookup
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact, demo_identity
from models.stages import Stage
from models.tables import RecommendationSource, utcnow
from models.work.actions import NewAction, record_actions
from models.work.answering import apply_item_answer
from models.work.items import ItemRef, item_key, row_of
from models.work.kinds import WORK
from models.work.requests import ask_agencies
from models.worklist import KEPT_IN_VIEW, PARTNERSHIP_ROLES, ItemWaiting, work_items, worklist
from models.your_tasks import your_tasks
from tests.integration.test_answers import TODAY, _at, answer, quick_passwords

__all__ = ["quick_passwords"]


def listed(engine: Engine, **filters: object) -> list[tuple[str, str, tuple[Role, ...]]]:
    with Session(engine) as session:
        return [(w.reference, w.step, w.who) for w in worklist(session, TODAY, **filters)]  # type: ignore[arg-type]


def test_every_waiting_step_with_who_may_answer_it_soonest_deadline_first(engine: Engine) -> None:
    signing, c = _at(engine, Stage.RAPID_REVIEW_SIGN_OFF, Case(today=TODAY, pseudonym="Child A"))
    notifying, _ = _at(engine, Stage.INCIDENT_RECORDED, Case(today=TODAY, pseudonym="Child B"))
    with Session(engine) as session:
        rows = worklist(session, TODAY)
    assert [(w.reference, w.step) for w in rows] == [
        (notifying, "Record the notification"),  # 5 working days from awareness: the sooner deadline of the two
        (signing, "Sign off the rapid review"),  # 15 working days from the same day
    ]
    assert rows[0].deadline is not None and rows[1].deadline is not None and rows[0].deadline < rows[1].deadline
    sign_off = rows[1]
    assert sign_off.who == (Role.HEALTH, Role.LOCAL_AUTHORITY, Role.POLICE)
    assert sign_off.deadline is not None and sign_off.deadline < TODAY  # the case's dates are all past
    assert sign_off.working_days_left == calendar_for().between(TODAY, sign_off.deadline) < 0
    assert isinstance(sign_off.waiting_since, dt.date) and sign_off.waiting_since <= dt.date.today()

    assert answer(engine, signing, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted  # the local authority signs
    assert listed(engine)[1][2] == (Role.HEALTH, Role.POLICE)
    assert [r for r, _, _ in listed(engine, role=Role.POLICE)] == [signing]
    assert [r for r, _, _ in listed(engine, role=Role.COORDINATOR)] == [notifying]
    assert listed(engine, role=Role.LOCAL_AUTHORITY) == []
    assert len(listed(engine, partnership="northshire")) == 2 and listed(engine, partnership="southmoor") == []


def test_a_row_as_the_artifact_and_the_command_show_it(engine: Engine) -> None:
    reference, _ = _at(engine, Stage.INCIDENT_RECORDED, Case(today=TODAY))
    with Session(engine) as session:
        (waiting,) = worklist(session, TODAY)
    row = waiting.row("http://127.0.0.1:4200/runs/flow-run/x")
    assert row == {
        "reference": reference,
        "partnership": "northshire",
        "step": "Record the notification",
        "who may answer": "coordinator",
        "waiting since": waiting.waiting_since.isoformat(),
        "deadline": waiting.deadline.isoformat() if waiting.deadline else None,
        "working days left": waiting.working_days_left,
        "link": "http://127.0.0.1:4200/runs/flow-run/x",
    }


# --- the work around a review ---------------------------------------------------------------------------------------

SCHOOL, SURGERY = DEMO_AGENCY_CONTACTS[0][0], DEMO_AGENCY_CONTACTS[1][0]


def with_work(engine: Engine) -> str:
    """A review whose school and GP practice were asked for their information (requests 1 and 2), with an action of
    the school's (action 1)."""
    reference, _ = _at(engine, Stage.RAPID_REVIEW, Case(today=TODAY, pseudonym="Child Listed"))
    coordinator = Actor("Chris Lee", Role.COORDINATOR)
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        ask_agencies(session, review, [SCHOOL, SURGERY], actor=coordinator, at=utcnow(), today=TODAY)
        new = NewAction("Share missed appointments.", "Weekly list.", SCHOOL, "Mr Owen Price",
                        TODAY + dt.timedelta(days=40), "A list each week.")  # fmt: skip
        source = RecommendationSource.RAPID_REVIEW
        record_actions(session, review, [new], source, actor=coordinator, at=utcnow(), today=TODAY)
    return reference


def answer_item(engine: Engine, reference: str, item: str, data: dict[str, object], person: Identity) -> None:
    ref = ItemRef.parse(item)
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        row = row_of(session, review, WORK[ref.kind], ref.number)
        key = item_key(ref, row.answer_seq)
        outcome = apply_item_answer(session, review, WORK[ref.kind], ref.number, key, data, signer=person, today=TODAY)
        assert outcome.accepted, outcome.message


def items(engine: Engine, today: dt.date = TODAY, **filters: object) -> dict[str, ItemWaiting]:
    with Session(engine) as session:
        return {str(w.item): w for w in work_items(session, today, **filters)}  # type: ignore[arg-type]


def test_each_request_and_open_action_with_where_it_stands(engine: Engine) -> None:
    reference = with_work(engine)
    with Session(engine) as session:
        school, surgery = demo_agency_contact(session, SCHOOL), demo_agency_contact(session, SURGERY)
    found = items(engine)
    assert set(found) == {"request-1", "request-2", "action-1"}
    request = found["request-1"]
    assert (request.reference, request.agency, request.status, request.is_open) == (
        reference,
        SCHOOL,
        "requested",
        True,
    )
    assert request.who == (Role.AGENCY_CONTACT,) and request.what == "Information for the rapid review"
    assert request.working_days_left == calendar_for().between(TODAY, request.due_on) > 0
    assert request.pseudonyms and all("Child" in p or "Family" in p for p in request.pseudonyms)
    late = items(engine, request.due_on + dt.timedelta(days=7))["request-1"]
    assert late.status == "overdue" and late.working_days_left < 0
    assert late.row("/x")["step"] == f"Information request 1 ({SCHOOL}): overdue"

    answer_item(engine, reference, "request-2", {"what": "no involvement"}, surgery)
    answered = items(engine)["request-2"]
    assert (answered.status, answered.is_open, answered.who) == ("no involvement", False, ())
    assert "request-2" not in items(engine, open_only=True)
    assert "request-2" not in items(engine, answered.due_on + KEPT_IN_VIEW + dt.timedelta(days=1))  # out of view
    assert "request-1" in items(engine, answered.due_on + KEPT_IN_VIEW + dt.timedelta(days=1))  # open: in view

    action = found["action-1"]
    assert (action.status, action.owner, action.awaiting, action.who) == (
        "not started",
        "Mr Owen Price",
        False,
        (Role.AGENCY_CONTACT,),
    )
    answer_item(engine, reference, "action-1", {"what": "progress", "status": "done", "evidence": "Started."}, school)
    done = items(engine)["action-1"]
    assert done.awaiting and done.who == PARTNERSHIP_ROLES and done.status == "done"
    assert items(engine, partnership="southmoor") == {}


def test_each_person_sees_the_items_that_are_theirs(engine: Engine) -> None:
    reference = with_work(engine)
    with Session(engine) as session:
        school = demo_agency_contact(session, SCHOOL)
        people = {role: demo_identity(session, role) for role in (Role.COORDINATOR, Role.POLICE, Role.PANEL)}
        surgery = demo_agency_contact(session, SURGERY)

    def seen(person: Identity) -> set[str]:
        with Session(engine) as session:
            found = your_tasks(session, uuid.UUID(person.person_id), TODAY).work
        return {str(t.item.item) for t in found if t.item.reference == reference}

    assert seen(school) == {"request-1", "action-1"} and seen(surgery) == {"request-2"}
    assert seen(people[Role.COORDINATOR]) == {"request-1", "request-2", "action-1"}
    assert seen(people[Role.POLICE]) == set() and seen(people[Role.PANEL]) == set()
    answer_item(engine, reference, "action-1", {"what": "progress", "status": "done", "evidence": "Started."}, school)
    assert seen(people[Role.POLICE]) == {"action-1"}  # for the partners to accept
    with Session(engine) as session:
        done = your_tasks(session, uuid.UUID(school.person_id), TODAY).done
    assert [(d.reference, d.what) for d in done] == [(reference, f"Action 1 ({SCHOOL})")]
