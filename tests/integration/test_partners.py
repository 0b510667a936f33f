"""Partners that change mid-review: a sign-off is accepted only from whoever represents that partner on the day it is
given, and a review running across an ICB merger stays valid, with each sign-off keeping the body it was given for
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cli.demo import Case
from models import audit, partners
from models.calendar import today_in_england
from models.db import transaction
from models.people import RegisterAction, RegisterRefusal
from models.review import lookup, transitions
from models.roles import Role
from models.stages import Stage
from models.tables import Decision, DecisionKind, PartnerBody, RegisterEvent, Representative
from tests.integration.test_answers import answer, quick_passwords, record, written

__all__ = ["quick_passwords"]  # the fixture, used here too
TODAY = today_in_england()
OPERATOR = transitions.Actor("Olu Operator (command line)", Role.OPERATOR)


def at_sign_off(engine: Engine) -> tuple[str, Case]:
    case = Case(today=TODAY, pseudonym="Child Merger")
    reference = record(engine, case)
    for stage in (Stage.INCIDENT_RECORDED, Stage.RAPID_REVIEW):
        assert answer(engine, reference, case.answer(stage)).accepted
    return reference, case


def representative(engine: Engine, role: Role) -> Representative:
    with Session(engine) as session:
        return session.exec(select(Representative).where(Representative.role == role)).one()


def sign_off(case: Case, role: Role) -> dict[str, object]:
    return {**case.answer(Stage.RAPID_REVIEW_SIGN_OFF), "partner": role.value.replace("_", " ")}


def test_a_sign_off_by_a_representative_whose_dates_have_ended_is_refused(engine: Engine) -> None:
    reference, case = at_sign_off(engine)
    police = representative(engine, Role.POLICE)
    with transaction(engine) as session:
        partners.represent(session, "northshire", police.email, to_on=TODAY - dt.timedelta(days=1), by=OPERATOR)
    before = written(engine)
    outcome = answer(engine, reference, sign_off(case, Role.POLICE), Role.POLICE)
    assert not outcome.accepted
    assert "not in force today" in outcome.message and "Nothing was recorded" in outcome.message
    assert written(engine) == before
    with transaction(engine) as session:  # the operator puts it right: the same person, now in force again
        partners.represent(session, "northshire", police.email, to_on=TODAY, by=OPERATOR)
    assert answer(engine, reference, sign_off(case, Role.POLICE), Role.POLICE).accepted


def test_a_review_running_across_an_icb_merger_stays_valid(engine: Engine) -> None:
    reference, case = at_sign_off(engine)
    health = representative(engine, Role.HEALTH)
    with transaction(engine) as session:
        for name in ("NHS North Icb", "NHS South Icb"):
            partners.add_body(session, "northshire", Role.HEALTH, name, dt.date(2022, 7, 1), by=OPERATOR)
        partners.represent(session, "northshire", health.email, body="NHS North Icb", by=OPERATOR)
    assert answer(engine, reference, sign_off(case, Role.POLICE), Role.POLICE).accepted  # before the merger

    with transaction(engine) as session:  # the two ICBs become one today, while the review waits on the others
        partners.merge_bodies(
            session, "northshire", ["NHS North Icb", "NHS South Icb"], "NHS North and South Icb", TODAY, by=OPERATOR
        )
    assert answer(engine, reference, sign_off(case, Role.HEALTH), Role.HEALTH).accepted  # for the merged body
    assert answer(engine, reference, sign_off(case, Role.LOCAL_AUTHORITY), Role.LOCAL_AUTHORITY).accepted

    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        assert review.stage == Stage.AWAITING_PANEL
        signed = session.exec(
            select(Decision).where(Decision.review_id == review.id, Decision.kind == DecisionKind.SIGN_OFF)
        ).all()
        assert {d.actor_role: d.details["for"] for d in signed}["health"] == "NHS North and South Icb"
        old = {b.name: b.to_on for b in session.exec(select(PartnerBody))}
        assert old["NHS North Icb"] == old["NHS South Icb"] == TODAY - dt.timedelta(days=1)
        assert old["NHS North and South Icb"] is None
        changes = session.exec(select(RegisterEvent.action).order_by(col(RegisterEvent.seq))).all()
        assert RegisterAction.BODIES_MERGED in changes and RegisterAction.BODY_ADDED in changes
        assert not audit.verify(session).findings  # the register's chain holds, with changes that name no account
        listed = partners.bodies(session, "northshire")
    merged = next(row for row in listed if row.name == "NHS North and South Icb")
    assert merged.representatives and health.email in merged.representatives[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: partners.add_body(s, "northshire", Role.POLICE, "", TODAY, by=OPERATOR), "give the body's name"),
        (
            lambda s: partners.add_body(s, "northshire", Role.COORDINATOR, "X", TODAY, by=OPERATOR),
            "not a safeguarding partner",
        ),
        (lambda s: partners.merge_bodies(s, "northshire", ["Nowhere"], "Y", TODAY, by=OPERATOR), "no partner body"),
        (
            lambda s: partners.represent(s, "northshire", "nobody@example.org", by=OPERATOR),
            "is not registered in",
        ),
    ],
)
def test_a_change_that_cannot_be_made_is_refused_with_a_reason(engine: Engine, change: object, message: str) -> None:
    at_sign_off(engine)
    with pytest.raises(RegisterRefusal, match=message), transaction(engine) as session:
        change(session)  # type: ignore[operator]
