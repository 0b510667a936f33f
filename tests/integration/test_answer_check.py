"""The check made on Submit (models/answer_check.py) says what the lifecycle would say, on SQLite and PostgreSQL, and
writes nothing: no decision, no move, no refusal, and the answer counter stays where it was, so the form Prefect waits
on keeps its key. The reviews are built as tests/integration/test_answers.py builds them, with the demo's answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import partners, process
from models.answer_check import MOVED_ON, check_answer
from models.answers import Outcome
from models.db import transaction
from models.identity import Identity
from models.review import lookup, transitions
from models.roles import Role
from models.seed import demo_identity
from models.stages import Stage
from models.tables import Representative
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
