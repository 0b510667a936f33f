"""The check made on Submit (models/answer_check.py) says what the lifecycle would say, on SQLite and PostgreSQL, and
writes nothing: no decision, no move, no refusal, and the answer counter stays where it was, so the form Prefect waits
on keeps its key. The reviews are built as tests/integration/test_answers.py builds them, with the demo's answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import partners, process
from models.answer_check import ITEM_MOVED_ON, MOVED_ON, check_answer, check_item_answer, show_item
from models.answers import Outcome
from models.db import transaction
from models.identity import Identity
from models.review import lookup, transitions
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact, demo_identity
from models.stages import Stage
from models.tables import InformationRequest, Representative, utcnow
from models.work.items import ItemKind, ItemRef, item_key
from models.work.requests import ask_agencies
from tests.integration.test_answers import (
    TODAY,
    _at,
    answer,
    at_sign_off,
    case,
    quick_passwords,
    record,
    state,
    written,
)

__all__ = ["quick_passwords"]  # the fixture, used here too


def as_person(engine: Engine, role: Role) -> Identity:
    with Session(engine) as session:
        return demo_identity(session, role)


def check(engine: Engine, reference: str, data: dict[str, Any], role: Role, key: str | None = None) -> Outcome:
    """The check, as the checker makes it: a session of its own, for the form the review waits on (or ``key``)."""
    person = as_person(engine, role)
    with Session(engine) as session:
        key = key or process.step_key(lookup.review_by_reference(session, reference))
    with Session(engine) as session:
        return check_answer(session, reference, key, data, person, today=TODAY)


def unchanged(engine: Engine, reference: str) -> tuple[dict[str, int], tuple[str, int, int, str | None]]:
    """What a check must leave as it was: the rows written, and the review's stage, version, counter and refusal."""
    review = state(engine, reference)
    return written(engine), (review.stage, review.version, review.step_seq, review.step_refusal)


def test_a_valid_answer_is_accepted_and_nothing_is_written(engine: Engine) -> None:
    c = case()
    reference = record(engine, c)
    notification = c.answer(Stage.INCIDENT_RECORDED)
    before = unchanged(engine, reference)
    outcome = check(engine, reference, notification, Role.COORDINATOR)
    assert outcome == Outcome(True, outcome.message) and outcome.message
    assert unchanged(engine, reference) == before
    recorded = answer(engine, reference, notification)  # the lifecycle then says the same, and records it
    assert recorded == outcome
    assert state(engine, reference).step_seq == before[1][2] + 1


def test_a_sign_off_is_accepted_and_no_decision_is_written(engine: Engine) -> None:
    reference, c = at_sign_off(engine)
    sign_off = c.answer(Stage.RAPID_REVIEW_SIGN_OFF)
    before = unchanged(engine, reference)
    assert check(engine, reference, sign_off, Role.LOCAL_AUTHORITY).accepted
    assert unchanged(engine, reference) == before
    assert answer(engine, reference, sign_off).accepted  # the key the check was given is still the form's


def test_dates_out_of_order_are_refused_as_the_lifecycle_refuses_them(engine: Engine) -> None:
    reference, c = at_sign_off(engine)
    early = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), "signed_on": "2020-01-01"}
    before = unchanged(engine, reference)
    outcome = check(engine, reference, early, Role.LOCAL_AUTHORITY)
    assert not outcome.accepted and "cannot be before the rapid review's completion" in outcome.message
    assert unchanged(engine, reference) == before  # not even the refusal, nor the counter
    assert answer(engine, reference, early) == outcome  # word for word what the lifecycle says


def test_a_partner_cannot_sign_twice(engine: Engine) -> None:
    reference, c = at_sign_off(engine)
    first = c.answer(Stage.RAPID_REVIEW_SIGN_OFF)
    assert answer(engine, reference, first).accepted
    before = unchanged(engine, reference)
    outcome = check(engine, reference, first, Role.LOCAL_AUTHORITY)
    assert not outcome.accepted and "already signed off" in outcome.message
    assert unchanged(engine, reference) == before


def test_a_registration_not_in_force_today_is_refused(engine: Engine) -> None:
    reference, c = at_sign_off(engine)
    police = as_person(engine, Role.POLICE)
    with Session(engine) as session:
        email = session.exec(select(Representative).where(Representative.role == Role.POLICE)).one().email
    operator = transitions.Actor("Olu Operator (command line)", Role.OPERATOR)
    with transaction(engine) as session:  # the police representative's registration ended yesterday
        partners.represent(session, "northshire", email, to_on=TODAY - dt.timedelta(days=1), by=operator)
    sign_off = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), "partner": "police"}
    before = unchanged(engine, reference)
    with Session(engine) as session:
        key = process.step_key(lookup.review_by_reference(session, reference))
    with Session(engine) as session:
        outcome = check_answer(session, reference, key, sign_off, police, today=TODAY)
    assert not outcome.accepted and "not in force today" in outcome.message
    assert unchanged(engine, reference) == before


def test_a_form_the_review_has_moved_past_is_refused_not_taken_as_recorded(engine: Engine) -> None:
    reference, c = _at(engine, Stage.RAPID_REVIEW)
    with Session(engine) as session:
        old = process.form_key(Stage.INCIDENT_RECORDED, 0)
        assert process.step_key(lookup.review_by_reference(session, reference)) != old
    before = unchanged(engine, reference)
    outcome = check(engine, reference, c.answer(Stage.RAPID_REVIEW), Role.COORDINATOR, key=old)
    assert outcome == Outcome(False, MOVED_ON)
    assert unchanged(engine, reference) == before


def test_an_unknown_review_is_refused(engine: Engine) -> None:
    record(engine, case())  # the register, seeded
    outcome = check(engine, "CSPR-2026-9999", {}, Role.COORDINATOR, key="incident-recorded-0")
    assert not outcome.accepted and "there is no review 'CSPR-2026-9999'" in outcome.message


def test_a_callers_own_transaction_is_left_as_it_was(engine: Engine) -> None:
    """Given a session already in a transaction, the check undoes only its own work (to a savepoint)."""
    c = case()
    reference = record(engine, c)
    coordinator = as_person(engine, Role.COORDINATOR)
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        key = process.step_key(review)
        review.step_refusal = "the caller's own change"
        session.add(review)
        session.flush()
        assert check_answer(session, reference, key, c.answer(Stage.INCIDENT_RECORDED), coordinator).accepted
        assert lookup.review_by_reference(session, reference).step_refusal == "the caller's own change"
    after = state(engine, reference)
    assert (after.step_refusal, after.stage) == ("the caller's own change", Stage.INCIDENT_RECORDED)


# --- the work around a review: an item's answer, and an item shown -----------------------------------------------

SCHOOL, SURGERY = DEMO_AGENCY_CONTACTS[0][0], DEMO_AGENCY_CONTACTS[1][0]
RETURN = {
    "what": "return",
    "involvement": "Seen daily at school.",
    "chronology": [{"on": "2026-10-02", "contact": "Hungry in class."}],
    "analysis": "Not shared with health.",
    "learning": "Share the same day.",
}


def asked(engine: Engine) -> tuple[str, str]:
    """A review whose school was asked for its information (request 1): the reference and the form's key."""
    reference = record(engine, case())
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        coordinator = transitions.Actor("Chris Lee", Role.COORDINATOR)
        (row,) = ask_agencies(session, review, [SCHOOL], actor=coordinator, at=utcnow(), today=TODAY)
        return reference, item_key(ItemRef(ItemKind.REQUEST, row.number), row.answer_seq)


def request_state(engine: Engine, reference: str) -> tuple[Any, ...]:
    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        row = session.exec(select(InformationRequest).where(InformationRequest.review_id == review.id)).one()
        return row.status, row.answer_seq, row.refusal, row.answer, row.due_on


def contact(engine: Engine, agency: str) -> Identity:
    with Session(engine) as session:
        return demo_agency_contact(session, agency)


def check_item(engine: Engine, reference: str, key: str, data: dict[str, Any], person: Identity) -> Outcome:
    with Session(engine) as session:
        return check_item_answer(session, reference, "request-1", key, data, person, today=TODAY)


def test_an_agencys_return_is_checked_by_the_items_own_rules_and_nothing_is_written(engine: Engine) -> None:
    reference, key = asked(engine)
    before, counts = request_state(engine, reference), written(engine)
    school = contact(engine, SCHOOL)
    outcome = check_item(engine, reference, key, RETURN, school)
    assert outcome.accepted and "information returned" in outcome.message
    assert (request_state(engine, reference), written(engine)) == (before, counts)  # not even the counter
    other = check_item(engine, reference, key, RETURN, contact(engine, SURGERY))
    assert not other.accepted and f"not registered as a contact of {SCHOOL}" in other.message
    coordinator = check_item(engine, reference, key, RETURN, as_person(engine, Role.COORDINATOR))
    assert not coordinator.accepted and "agency contact" in coordinator.message
    late = {"what": "extend", "due_on": "2020-01-01", "reason": "Half term."}
    earlier = check_item(engine, reference, key, late, as_person(engine, Role.COORDINATOR))
    assert not earlier.accepted and "must be later than the date it is due now" in earlier.message
    assert check_item(engine, reference, "request-1-7", RETURN, school) == Outcome(False, ITEM_MOVED_ON)
    with Session(engine) as session:
        assert not check_item_answer(session, reference, "request-9", "request-9-0", RETURN, school).accepted
    assert (request_state(engine, reference), written(engine)) == (before, counts)


def test_an_item_is_shown_to_its_agency_and_the_partnership_and_to_nobody_else(engine: Engine) -> None:
    reference, _ = asked(engine)
    school, surgery = contact(engine, SCHOOL), contact(engine, SURGERY)
    partnership = [as_person(engine, role) for role in (Role.COORDINATOR, Role.POLICE)]
    panel = as_person(engine, Role.PANEL)
    with Session(engine) as session:
        for person in (school, *partnership):
            lines = show_item(session, reference, "request-1", person, today=TODAY)
            assert lines is not None and any(SCHOOL in line for line in lines)
        for person in (surgery, panel):
            assert show_item(session, reference, "request-1", person, today=TODAY) is None
        assert show_item(session, reference, "request-2", school, today=TODAY) is None
        assert show_item(session, reference, "nonsense", school, today=TODAY) is None
