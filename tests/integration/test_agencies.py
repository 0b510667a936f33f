"""A partnership's register of agencies and the people who answer for them (SQLite and PostgreSQL): agencies added,
listed and ended with dates, as partner bodies are; a change that cannot be made refused in words and nothing
changed; each change in the register's hash-chained history; an agency's contact registered for their agency alone;
the `cspr agencies` commands; the demo's agencies seeded once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from gate.policy import ALLOWLIST, Audience, Caller, grant_for, uses_prefect
from models import agencies, partners
from models.agencies import AgencyRefusal, UnknownAgency
from models.audit import verify
from models.db import get_engine, transaction
from models.people import RegisterRefusal, add_person, disable_person, people
from models.review import creation
from models.review.lookup import partnership_by_code
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_AGENCIES, DEMO_AGENCY_CONTACTS, demo_agency_contact, seed_demo
from models.settings import get_settings
from models.tables import (
    Account,
    Action,
    ActionStatus,
    Agency,
    AgencyKind,
    InformationRequest,
    Partnership,
    Recommendation,
    RecommendationSource,
    RegisterAction,
    RegisterEvent,
    Representative,
    RequestStatus,
)
from tests.utils.factories import incident, make_partnership

OPERATOR = Actor("Olu Operator (command line)", Role.OPERATOR)
AT = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # a Wednesday, in the register's history
FIRST = dt.date(2026, 1, 5)
SCHOOL, PRACTICE = "Northshire Primary School", "Riverside Medical Practice"
DANA = "dana.brooks@northshire-primary.example"


@pytest.fixture
def register(engine: Engine) -> Engine:
    """Two partnerships; Northshire with a school (from ``FIRST``) and a GP practice."""
    with transaction(engine) as session:
        make_partnership(session, "northshire")
        make_partnership(session, "southmoor")
        agencies.add_agency(session, "northshire", SCHOOL, AgencyKind.RELEVANT, FIRST, by=OPERATOR, at=AT)
        agencies.add_agency(session, "northshire", PRACTICE, AgencyKind.RELEVANT, FIRST, by=OPERATOR, at=AT)
    return engine


def northshire(engine: Engine) -> Partnership:
    with Session(engine) as session:
        return partnership_by_code(session, "northshire")


def agency(engine: Engine, name: str) -> Agency:
    with Session(engine) as session:
        return session.exec(select(Agency).where(Agency.name == name)).one()


def contact(engine: Engine, name: str = "Dana Brooks", email: str = DANA, **kw: object) -> None:
    args: dict[str, object] = {
        "name": name,
        "email": email,
        "role": Role.AGENCY_CONTACT,
        "partnership_code": "northshire",
        "organisation": "",
        "by": OPERATOR,
        "at": AT,
        "agency": SCHOOL,
        **kw,
    }
    with transaction(engine) as session:
        add_person(session, **args)  # type: ignore[arg-type]


def written(engine: Engine) -> tuple[int, int, int, int]:
    """What a refused change must leave as it was: agencies, registrations, accounts, the register's history."""
    with Session(engine) as session:
        counts = [len(session.exec(select(table)).all()) for table in (Agency, Representative, Account, RegisterEvent)]
    return counts[0], counts[1], counts[2], counts[3]


def history(engine: Engine) -> list[RegisterEvent]:
    with Session(engine) as session:
        return list(session.exec(select(RegisterEvent).order_by(col(RegisterEvent.seq))).all())


# --- the register of agencies ---------------------------------------------------------------------------------


def test_agencies_are_added_listed_and_ended_each_change_in_the_registers_history(register: Engine) -> None:
    last = dt.date(2026, 3, 31)
    with transaction(register) as session:
        agencies.add_agency(
            session, "northshire", "  Northshire   Homes ", AgencyKind.NAMED, FIRST, by=OPERATOR, at=AT
        )  # spacing tidied
        agencies.end_agency(session, "northshire", "riverside medical practice", last, by=OPERATOR, at=AT)
    with Session(register) as session:
        rows = agencies.agencies(session, "northshire")
        assert agencies.agencies(session, "southmoor") == [] and len(agencies.agencies(session)) == 3
    assert [(r.name, r.kind, r.from_on, r.to_on) for r in rows] == [
        ("Northshire Homes", "named by the partnership", FIRST, None),
        (SCHOOL, "relevant agency", FIRST, None),
        (PRACTICE, "relevant agency", FIRST, last),
    ]
    events = history(register)
    assert [e.action for e in events] == [RegisterAction.AGENCY_ADDED] * 3 + [RegisterAction.AGENCY_ENDED]
    assert events[2].details == {
        "partnership": "northshire",
        "agency": "Northshire Homes",
        "kind": "named by the partnership",
        "from_on": "2026-01-05",
    }
    assert events[3].details == {"partnership": "northshire", "agency": PRACTICE, "last_day": "2026-03-31"}
    assert (events[3].actor_name, events[3].actor_role, events[3].account_id) == (OPERATOR.name, "operator", None)
    with Session(register) as session:
        assert verify(session).findings == [] and verify(session).register_events == 4


def test_the_agencies_of_a_day_are_those_whose_dates_include_it(register: Engine) -> None:
    with transaction(register) as session:
        agencies.end_agency(session, "northshire", PRACTICE, dt.date(2026, 3, 31), by=OPERATOR)
        agencies.add_agency(
            session, "northshire", "Northshire Homes", AgencyKind.NAMED, dt.date(2026, 6, 1), by=OPERATOR
        )
    partnership = northshire(register)
    with Session(register) as session:

        def on(day: dt.date) -> list[str]:
            return [a.name for a in agencies.agencies_on(session, partnership.id, day)]

        assert on(FIRST - dt.timedelta(days=1)) == []
        assert on(dt.date(2026, 3, 31)) == [SCHOOL, PRACTICE]  # the last day included
        assert on(dt.date(2026, 4, 1)) == [SCHOOL]
        assert on(dt.date(2026, 6, 1)) == ["Northshire Homes", SCHOOL]
        assert agencies.agency_named(session, partnership.id, " northshire primary  SCHOOL", FIRST).name == SCHOOL


@pytest.mark.parametrize(
    ("name", "day", "message"),
    [
        ("Northshire Grammar", dt.date(2026, 4, 1), "an agency given is not one of"),
        (PRACTICE, dt.date(2026, 4, 1), "was one of Northshire Safeguarding Children Partnership's agencies until"),
        (SCHOOL, dt.date(2025, 12, 31), "is one of Northshire Safeguarding Children Partnership's agencies only from"),
    ],
)
def test_an_agency_not_in_the_partnerships_register_that_day_is_refused_naming_those_that_are(
    register: Engine, name: str, day: dt.date, message: str
) -> None:
    with transaction(register) as session:
        agencies.end_agency(session, "northshire", PRACTICE, dt.date(2026, 3, 31), by=OPERATOR)
    with Session(register) as session, pytest.raises(UnknownAgency, match=message) as refused:
        agencies.agency_named(session, northshire(register).id, name, day)
    listed = f"{SCHOOL}" if day > FIRST else "none"
    assert str(refused.value).endswith(f"its agencies on {day:%d %B %Y}: {listed}")


Change = Callable[[Session], object]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: agencies.add_agency(
                s, "northshire", " northshire PRIMARY school", AgencyKind.NAMED, FIRST, by=OPERATOR
            ),
            "Northshire Safeguarding Children Partnership already has an agency called 'Northshire Primary School'",
        ),
        (
            lambda s: agencies.add_agency(s, "westmarch", "A School", AgencyKind.RELEVANT, FIRST, by=OPERATOR),
            "there is no safeguarding partnership 'westmarch'; known partnerships: northshire, southmoor",
        ),
        (
            lambda s: agencies.add_agency(s, "northshire", "   ", AgencyKind.RELEVANT, FIRST, by=OPERATOR),
            "give the agency's name",
        ),
        (
            lambda s: agencies.add_agency(s, "northshire", "x" * 201, AgencyKind.RELEVANT, FIRST, by=OPERATOR),
            "at most 200 characters",
        ),
        (
            lambda s: agencies.end_agency(s, "northshire", "Northshire Grammar", FIRST, by=OPERATOR),
            f"has no agency called 'Northshire Grammar'; its agencies: {SCHOOL}, {PRACTICE}",
        ),
        (
            lambda s: agencies.end_agency(s, "northshire", SCHOOL, FIRST - dt.timedelta(days=1), by=OPERATOR),
            "the last day cannot be before Northshire Primary School's first",
        ),
        (
            lambda s: agencies.end_agency(s, "southmoor", SCHOOL, FIRST, by=OPERATOR),
            "Southmoor Safeguarding Children Partnership has no agency called",
        ),
        (lambda s: agencies.agencies(s, "westmarch"), "no safeguarding partnership 'westmarch'"),
        (lambda s: agencies.set_information_days(s, "northshire", 0, by=OPERATOR), "a number from 1 to 30"),
        (lambda s: agencies.set_information_days(s, "northshire", 31, by=OPERATOR), "a number from 1 to 30"),
    ],
)
def test_a_change_that_cannot_be_made_is_refused_in_words_and_changes_nothing(
    register: Engine, change: Change, message: str
) -> None:
    before = written(register)
    with pytest.raises(AgencyRefusal, match=message), transaction(register) as session:
        change(session)
    assert written(register) == before
    assert northshire(register).information_days == 5


def test_an_agency_is_ended_once(register: Engine) -> None:
    with transaction(register) as session:
        agencies.end_agency(session, "northshire", SCHOOL, dt.date(2026, 3, 31), by=OPERATOR)
    ended = "last day is recorded already: 31 March 2026"
    with pytest.raises(AgencyRefusal, match=ended), transaction(register) as session:
        agencies.end_agency(session, "northshire", SCHOOL, dt.date(2026, 4, 30), by=OPERATOR)
    kept = r"already has an agency called .* \(its last day was 31 March 2026\)"  # the history keeps the name
    with pytest.raises(AgencyRefusal, match=kept), transaction(register) as session:
        agencies.add_agency(session, "northshire", SCHOOL, AgencyKind.RELEVANT, FIRST, by=OPERATOR)


def test_a_partnership_sets_the_working_days_agencies_have(register: Engine) -> None:
    with transaction(register) as session:
        agencies.set_information_days(session, "northshire", 10, by=OPERATOR)
    assert northshire(register).information_days == 10
    with Session(register) as session:
        assert partnership_by_code(session, "southmoor").information_days == 5


def test_a_change_of_the_working_days_is_in_the_registers_history_with_what_it_was(register: Engine) -> None:
    with transaction(register) as session:
        changed = agencies.set_information_days(session, "northshire", 10, by=OPERATOR, at=AT)
        again = agencies.set_information_days(session, "northshire", 10, by=OPERATOR, at=AT)
    assert (changed.days, changed.was, changed.changed) == (10, 5, True)
    assert not again.changed  # the same number again: nothing to record
    events = [e for e in history(register) if e.action == "information_days"]
    assert [e.details for e in events] == [{"partnership": "northshire", "information_days": 10, "was": 5}]
    assert (events[0].actor_name, events[0].actor_role) == (OPERATOR.name, "operator")
    with Session(register) as session:
        assert verify(session).findings == []
        shown = agencies.agency_history(session, "northshire")
        assert agencies.agency_history(session, "southmoor") == []
    assert [c.what for c in shown] == [
        f"{SCHOOL} added (relevant agency) from 2026-01-05",
        f"{PRACTICE} added (relevant agency) from 2026-01-05",
        "working days for agencies' information: 5 -> 10",
    ]
    assert {c.by for c in shown} == {OPERATOR.name}


# --- ending an agency that still has work open -------------------------------------------------------------------


def a_review_with_work(engine: Engine) -> str:
    """A review in which the practice was asked twice (request 1 answered, request 2 still waiting) and given two
    actions (action 1 accepted, action 2 in progress), and the school once (request 3, waiting)."""
    with transaction(engine) as session:
        review, _ = creation.create_review(session, incident(name=None), actor=OPERATOR, at=AT)
        practice, school = (session.exec(select(Agency).where(Agency.name == n)).one() for n in (PRACTICE, SCHOOL))
        day = dt.date(2026, 12, 21)
        for number, agency_, status in (
            (1, practice, RequestStatus.RETURNED),
            (2, practice, RequestStatus.REQUESTED),
            (3, school, RequestStatus.REQUESTED),
        ):
            session.add(
                InformationRequest(
                    review_id=review.id,
                    number=number,
                    agency_id=agency_.id,
                    asked_at_stage=review.stage,
                    asked_on=day,
                    due_on=day + dt.timedelta(days=7),
                    status=status,
                )
            )
        recommendation = Recommendation(
            review_id=review.id, number=1, source=RecommendationSource.RAPID_REVIEW, text="Share missed appointments."
        )
        session.add(recommendation)
        session.flush()
        for number, standing in ((1, ActionStatus.ACCEPTED), (2, ActionStatus.IN_PROGRESS)):
            session.add(
                Action(
                    review_id=review.id,
                    recommendation_id=recommendation.id,
                    number=number,
                    agency_id=practice.id,
                    owner="Dr Ines Marlow",
                    text="Share missed appointments weekly.",
                    done_when="The list is shared weekly.",
                    due_on=dt.date(2027, 3, 31),
                    status=standing,
                )
            )
        return review.reference


def test_an_agency_with_work_open_is_not_ended_and_the_refusal_lists_that_work(register: Engine) -> None:
    reference = a_review_with_work(register)
    before = written(register)
    with pytest.raises(agencies.OpenWork) as refused, transaction(register) as session:
        agencies.end_agency(session, "northshire", PRACTICE, dt.date(2027, 1, 31), by=OPERATOR)
    assert refused.value.items == (f"{reference} request 2", f"{reference} action 2")  # the closed ones are not
    said = str(refused.value)
    assert said.startswith(f"{PRACTICE} still has work open: {reference} request 2, {reference} action 2.")
    for words in ("closes a request as not needed", "closes an action", "--with-open-work", "Nothing was changed"):
        assert words in said
    assert "Share missed appointments" not in said and "Marlow" not in said  # never what anyone wrote
    assert written(register) == before and agency(register, PRACTICE).to_on is None


def test_an_agency_ended_with_its_work_open_records_the_work_left_open(register: Engine) -> None:
    reference = a_review_with_work(register)
    with transaction(register) as session:
        ended = agencies.end_agency(
            session, "northshire", PRACTICE, dt.date(2027, 1, 31), by=OPERATOR, at=AT, with_open_work=True
        )
    left = [f"{reference} request 2", f"{reference} action 2"]
    assert list(ended.left_open) == left and agency(register, PRACTICE).to_on == dt.date(2027, 1, 31)
    last = history(register)[-1]
    assert last.action == RegisterAction.AGENCY_ENDED
    assert last.details == {
        "partnership": "northshire",
        "agency": PRACTICE,
        "last_day": "2027-01-31",
        "left_open": left,
    }
    with Session(register) as session:
        assert verify(session).findings == []
        shown = agencies.agency_history(session, "northshire")[-1].what
        # the requests and actions themselves stay as they were, for the coordinator to close
        assert session.exec(select(InformationRequest).where(InformationRequest.number == 2)).one().status == (
            RequestStatus.REQUESTED
        )
    assert shown == f"{PRACTICE} ended, its last day 2027-01-31; left open: {', '.join(left)}"


def test_an_agency_whose_work_is_all_closed_is_ended_as_before(register: Engine) -> None:
    a_review_with_work(register)
    practice = agency(register, PRACTICE).id
    with transaction(register) as session:  # the practice's closed; the school's request 3 holds the practice up not
        request = session.exec(select(InformationRequest).where(InformationRequest.number == 2)).one()
        request.status = RequestStatus.NOT_NEEDED
        action = session.exec(select(Action).where(Action.number == 2)).one()
        action.status = ActionStatus.CLOSED
        session.add_all([request, action])
    with transaction(register) as session:
        ended = agencies.end_agency(session, "northshire", PRACTICE, dt.date(2027, 1, 31), by=OPERATOR)
        assert agencies.open_work(session, practice) == ()
    assert ended.left_open == () and "left_open" not in history(register)[-1].details


# --- an agency's contacts ---------------------------------------------------------------------------------------


def test_an_agency_contact_is_registered_for_their_agency_and_listed_with_it(register: Engine) -> None:
    contact(register, agency=" northshire primary school ")
    with Session(register) as session:
        row = next(p for p in people(session, "northshire") if p.email == DANA)
        registration = session.exec(select(Representative).where(Representative.email == DANA)).one()
        listed = {r.name: r.contacts for r in agencies.agencies(session, "northshire")}
    assert (row.role, row.organisation, row.partnership) == ("agency_contact", SCHOOL, "northshire")
    assert registration.agency_id == agency(register, SCHOOL).id and registration.organisation == SCHOOL
    assert listed[SCHOOL] == (f"Dana Brooks <{DANA}> (registration to now)",) and listed[PRACTICE] == ()
    added = history(register)[-1]
    assert added.action == RegisterAction.ADDED
    assert added.details == {"role": "agency_contact", "partnership": "northshire", "demo": False, "agency": SCHOOL}
    assert Role.from_label("agency contact") is Role.AGENCY_CONTACT and Role.AGENCY_CONTACT.label == "agency contact"
    assert Role.from_label("agency_contact") is Role.AGENCY_CONTACT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"agency": None},
            "an agency contact answers for an agency: give its name .*; Northshire Safeguarding Children "
            f"Partnership's agencies: {SCHOOL}, {PRACTICE}",
        ),
        ({"agency": "  "}, "an agency contact answers for an agency"),
        (
            {"agency": "Northshire Grammar"},
            "an agency given is not one of Northshire Safeguarding Children Partnership's \\(check its spelling",
        ),
        (
            {"role": Role.POLICE},
            "only an agency contact answers for an agency; leave it out for someone registered as police",
        ),
        ({"role": Role.COORDINATOR}, "only an agency contact answers for an agency"),
        ({"role": Role.OPERATOR, "partnership_code": None}, "only an agency contact answers for an agency"),
        (
            {"partnership_code": "southmoor"},
            "an agency given is not one of Southmoor Safeguarding Children Partnership's",
        ),
    ],
)
def test_an_agency_contact_without_an_agency_or_anyone_else_with_one_is_refused(
    register: Engine, change: dict[str, object], message: str
) -> None:
    before = written(register)
    with pytest.raises(RegisterRefusal, match=message):
        contact(register, **change)
    assert written(register) == before


def test_other_roles_are_registered_without_an_agency_as_before_and_answer_for_none(register: Engine) -> None:
    contact(register, name="Sam Reid", email="sam.reid@northshire-police.example", role=Role.POLICE, agency=None)
    partnership = northshire(register)
    with Session(register) as session:
        registration = session.exec(select(Representative).where(Representative.name == "Sam Reid")).one()
        account = session.exec(select(Account).where(Account.email == registration.email)).one()
        found = agencies.agency_ids_of(session, account.id, partnership.id, dt.date(2026, 5, 1))
    assert registration.agency_id is None and registration.role == Role.POLICE and found == frozenset()


def test_an_ended_agency_takes_no_new_contact(register: Engine) -> None:
    with transaction(register) as session:
        agencies.end_agency(session, "northshire", SCHOOL, dt.date(2026, 3, 31), by=OPERATOR)
    with pytest.raises(UnknownAgency, match=r"was one of .* until 31 March 2026; its agencies on 02 December 2026: "):
        contact(register)


def test_an_agencys_contacts_are_those_registered_for_it_in_their_dates_while_it_holds_its_place(
    register: Engine,
) -> None:
    contact(register)
    contact(register, name="Ash Lowe", email="ash.lowe@northshire-primary.example")
    contact(register, name="Lee Harper", email="lee.harper@riverside-medical.example", agency=PRACTICE)
    with transaction(register) as session:  # Ash answers for the school in the summer term alone
        partners.represent(
            session, "northshire", "ash.lowe@northshire-primary.example",
            from_on=dt.date(2026, 4, 20), to_on=dt.date(2026, 7, 22), by=OPERATOR,
        )  # fmt: skip
    school, practice, partnership = agency(register, SCHOOL), agency(register, PRACTICE), northshire(register)
    with Session(register) as session:

        def names(day: dt.date, of: Agency = school) -> list[str]:
            return [r.name for r in agencies.contacts(session, of.id, day)]

        def answers_for(email: str, day: dt.date) -> frozenset[object]:
            account = session.exec(select(Account).where(Account.email == email)).one()
            return agencies.agency_ids_of(session, account.id, partnership.id, day)

        assert names(dt.date(2026, 4, 1)) == ["Dana Brooks"]
        assert names(dt.date(2026, 5, 1)) == ["Ash Lowe", "Dana Brooks"]
        assert names(dt.date(2026, 7, 23)) == ["Dana Brooks"]
        assert names(dt.date(2026, 5, 1), practice) == ["Lee Harper"]
        assert answers_for(DANA, dt.date(2026, 5, 1)) == {school.id}
        assert answers_for("ash.lowe@northshire-primary.example", dt.date(2026, 4, 1)) == frozenset()
        assert answers_for("lee.harper@riverside-medical.example", dt.date(2026, 5, 1)) == {practice.id}
        dana = session.exec(select(Account).where(Account.email == DANA)).one()
        assert agencies.agency_ids_of(session, str(dana.id), partnership.id, dt.date(2026, 5, 1)) == {school.id}
        southmoor = partnership_by_code(session, "southmoor")
        assert agencies.agency_ids_of(session, dana.id, southmoor.id, dt.date(2026, 5, 1)) == frozenset()
    with transaction(register) as session:  # the school leaves the register: nobody answers for it after
        agencies.end_agency(session, "northshire", SCHOOL, dt.date(2026, 8, 31), by=OPERATOR)
        disable_person(session, "lee.harper@riverside-medical.example", by=OPERATOR)
    with Session(register) as session:
        assert names(dt.date(2026, 8, 31)) == ["Dana Brooks"] and names(dt.date(2026, 9, 1)) == []
        assert answers_for(DANA, dt.date(2026, 9, 1)) == frozenset()
        assert names(dt.date(2026, 9, 1), practice) == []  # disabled: answers for nothing
        assert answers_for("lee.harper@riverside-medical.example", dt.date(2026, 9, 1)) == frozenset()


def test_an_agency_contact_uses_no_prefect_at_all() -> None:
    # like a partner and the Panel's contact: their work is on their tasks page, and every route of Prefect's is closed
    caller = Caller(frozenset({Role.AGENCY_CONTACT}), frozenset({"northshire"}))
    assert Audience.of(Role.AGENCY_CONTACT) is Audience.AGENCY_CONTACT
    assert not uses_prefect(caller)
    assert all(grant_for(route, caller) is None for route in ALLOWLIST)


# --- the demo's agencies -----------------------------------------------------------------------------------------


def test_the_demo_partnership_gets_its_agencies_and_their_contacts_once(engine: Engine) -> None:
    with transaction(engine) as session:
        enrolments = seed_demo(session)
    assert {e.email for e in enrolments} >= {email for _, _, email in DEMO_AGENCY_CONTACTS}
    after_first = written(engine)
    with transaction(engine) as session:
        assert seed_demo(session) == []  # seeding twice adds nothing
    assert written(engine) == after_first
    with Session(engine) as session:
        rows = {r.name: r for r in agencies.agencies(session, "northshire")}
        dana = demo_agency_contact(session, SCHOOL)
        assert verify(session).findings == []
    assert [(name, rows[name].kind) for name, _, _ in DEMO_AGENCIES] == [
        (name, kind.value) for name, kind, _ in DEMO_AGENCIES
    ]
    assert rows["Northshire Homes"].kind == "named by the partnership"
    assert all(r.from_on == dt.date(2019, 1, 1) and r.to_on is None for r in rows.values())
    assert [len(rows[name].contacts) for name, _, _ in DEMO_AGENCIES] == [1, 1, 1, 1, 0, 0, 0]
    assert (dana.name, dana.role) == ("Dana Brooks", "agency_contact")
    partnership, school = northshire(engine), agency(engine, SCHOOL)
    with Session(engine) as session:
        assert agencies.agency_ids_of(session, dana.person_id, partnership.id, dt.date(2026, 5, 1)) == {school.id}


def test_a_demo_partnership_of_an_earlier_version_gets_the_agencies_it_lacks(engine: Engine) -> None:
    with transaction(engine) as session:  # an earlier version's: its people, one agency an operator added, no others
        make_partnership(session, "northshire")
        agencies.add_agency(session, "northshire", "NORTHSHIRE HOMES", AgencyKind.NAMED, FIRST, by=OPERATOR)
        agencies.add_agency(session, "northshire", SCHOOL, AgencyKind.RELEVANT, FIRST, by=OPERATOR)
        agencies.end_agency(session, "northshire", SCHOOL, dt.date(2026, 1, 31), by=OPERATOR)
    with transaction(engine) as session:
        seed_demo(session)
    with Session(engine) as session:
        rows = {r.name: r for r in agencies.agencies(session, "northshire")}
    assert len(rows) == 7 and rows["NORTHSHIRE HOMES"].from_on == FIRST  # kept as the operator recorded it
    assert rows[SCHOOL].contacts == ()  # ended: the demo registers nobody for it
    assert all(rows[name].contacts for name, _, _ in DEMO_AGENCY_CONTACTS[1:])


# --- the commands ------------------------------------------------------------------------------------------------


def test_the_agencies_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        with transaction() as session:
            make_partnership(session, "northshire")
            make_partnership(session, "southmoor")
        assert "No agencies recorded yet" in runner.invoke(app, ["agencies", "list"]).output
        add = ["agencies", "add", "--partnership", "northshire", "--name", SCHOOL, "--from", "2026-01-05"]
        added = runner.invoke(app, add)
        assert added.exit_code == 0, added.output
        assert f"{SCHOOL} is one of northshire's agencies (relevant agency) from 05 January 2026." in added.output
        housing = ["agencies", "add", "--partnership", "northshire", "--name", "Northshire Homes", "--kind", "named"]
        assert runner.invoke(app, housing).exit_code == 0  # from today
        again = runner.invoke(app, add)
        assert again.exit_code == 2 and "already has an agency called" in again.output
        nowhere = runner.invoke(app, [*add[:2], "--partnership", "westmarch", *add[4:]])
        assert nowhere.exit_code == 2 and "no safeguarding partnership 'westmarch'" in nowhere.output
        bad_kind = runner.invoke(app, [*add, "--kind", "statutory"])
        assert bad_kind.exit_code == 2  # not a kind: typer names the two

        person = ["people", "add", "--name", "Dana Brooks", "--email", DANA, "--role", "agency_contact"]
        person += ["--partnership", "northshire"]
        without = runner.invoke(app, person)
        assert without.exit_code == 2 and "an agency contact answers for an agency" in without.output
        registered = runner.invoke(app, [*person, "--agency", SCHOOL])
        assert registered.exit_code == 0, registered.output
        assert f"Registered {DANA} as agency contact for {SCHOOL} in northshire." in registered.output
        police = ["people", "add", "--name", "Sam", "--email", "sam@police.example", "--role", "police"]
        refused = runner.invoke(app, [*police, "--partnership", "northshire", "--agency", SCHOOL])
        assert refused.exit_code == 2 and "only an agency contact" in refused.output

        listed = json.loads(runner.invoke(app, ["agencies", "list", "--partnership", "northshire", "--json"]).stdout)
        assert [(a["name"], a["kind"], a["to_on"]) for a in listed] == [
            ("Northshire Homes", "named by the partnership", None),
            (SCHOOL, "relevant agency", None),
        ]
        assert listed[1]["from_on"] == "2026-01-05" and listed[1]["contacts"][0].startswith(f"Dana Brooks <{DANA}>")
        table = runner.invoke(app, ["agencies", "list"]).output
        assert SCHOOL in table and "Dana Brooks" in table
        people_listed = json.loads(runner.invoke(app, ["people", "list", "--json"]).stdout)
        assert next(p for p in people_listed if p["email"] == DANA)["organisation"] == SCHOOL

        practice = ["agencies", "add", "--partnership", "northshire", "--name", PRACTICE, "--from", "2026-01-05"]
        assert runner.invoke(app, practice).exit_code == 0
        end = ["agencies", "end", "--partnership", "northshire", "--name", SCHOOL, "--last-day", "2026-07-31"]
        reference = a_review_with_work(get_engine())  # the school has request 3 waiting
        refused = runner.invoke(app, end)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert f"still has work open: {reference} request 3." in said and "--with-open-work" in said
        assert agency(get_engine(), SCHOOL).to_on is None
        ended = runner.invoke(app, [*end, "--with-open-work"])
        assert ended.exit_code == 0 and "until 31 July 2026, that day included" in ended.output
        assert f"Left open: {reference} request 3" in " ".join(ended.output.split())
        assert "The coordinator must deal with each" in " ".join(ended.output.split())
        assert runner.invoke(app, [*end, "--with-open-work"]).exit_code == 2  # ended already
        bad_day = runner.invoke(app, [*end[:-1], "31/07/2026"])
        assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output

        days = runner.invoke(app, ["agencies", "information-days", "--partnership", "northshire", "10"])
        assert days.exit_code == 0 and "10 working day(s)" in days.output and "(was 5)" in days.output
        same = runner.invoke(app, ["agencies", "information-days", "--partnership", "northshire", "10"])
        assert same.exit_code == 0 and "already: nothing changed" in same.output
        too_many = runner.invoke(app, ["agencies", "information-days", "--partnership", "northshire", "31"])
        assert too_many.exit_code == 2 and "from 1 to 30" in too_many.output
        help_text = runner.invoke(app, ["agencies", "information-days", "--help"]).output
        assert "not a statutory deadline" in " ".join(help_text.split())
        with transaction() as session:
            assert partnership_by_code(session, "northshire").information_days == 10
        assert "change(s) to the register: the trail is intact" in runner.invoke(app, ["audit", "verify"]).output

        shown = runner.invoke(app, ["agencies", "history", "--partnership", "northshire"])
        assert shown.exit_code == 0 and "left open" in shown.output and "5 -> 10" in shown.output
        changes = json.loads(runner.invoke(app, ["agencies", "history", "--json"]).stdout)
        assert [(c["partnership"], c["change"]) for c in changes] == [
            ("northshire", "agency_added"),  # the school, the housing association, the practice
            ("northshire", "agency_added"),
            ("northshire", "agency_added"),
            ("northshire", "agency_ended"),
            ("northshire", "information_days"),
        ]
        assert changes[3]["what"] == f"{SCHOOL} ended, its last day 2026-07-31; left open: {reference} request 3"
        assert changes[4]["what"] == "working days for agencies' information: 5 -> 10"
        assert all(c["by"].endswith("(command line)") for c in changes)
        assert (
            "Nothing recorded about agencies yet"
            in runner.invoke(app, ["agencies", "history", "--partnership", "southmoor"]).output
        )
    finally:
        get_settings.cache_clear()
