"""An unborn child's notification through Prefect: the identity step asks the mother's details and the expected date
of delivery, never a date of birth of the child; they are recorded sealed, the mother as a family member the
redaction gate checks; none of it is anywhere in Prefect; the notification summary says "unborn"; and the
Department's figures count it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect.input.actions import read_flow_run_input
from sqlalchemy import text
from sqlmodel import Session, select

from cli.system import LocalSystem
from models.dates import long_date
from models.db import get_engine
from models.department import reporting_year
from models.documents import DocumentKind, known_people
from models.process.demo_case import Case
from models.review.lookup import review_by_reference
from models.review.timetable import milestones_of
from models.roles import Role
from models.rulebook import Event
from models.settings import get_settings
from models.stages import Stage
from models.statistics import Statistics, statistics
from models.tables import CasePerson, PersonKind
from tasks.archive import read_document, stored_documents
from tasks.redaction import find_personal_data
from tests.integration.test_documents import text_of
from tests.utils import inprocess
from tests.utils.answering import submit
from tests.utils.search import needles, search_files, search_sqlite

MOTHER = "Ysolde Marchbanks-Treharne"  # invented
MOTHER_DOB = dt.date(1996, 8, 23)
PSEUDONYM = "Child Unborn"


def _resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return _resolved(schema, schema["$defs"][ref.rsplit("/", 1)[-1]]) if ref else node


def _counted(as_of: dt.date, year: int) -> Statistics:
    with Session(get_engine()) as session:
        return statistics(session, as_of, "northshire", year=year)


def test_an_unborn_childs_notification_asks_no_date_of_birth_and_keeps_the_mother_out_of_prefect(
    deployed: LocalSystem,
) -> None:
    case = Case(pseudonym=PSEUDONYM)
    incident_on = case.aware_on - dt.timedelta(days=1)
    expected_on = incident_on - dt.timedelta(days=30)  # overdue at the incident: dated where nothing else is
    notification = {**case.notification(), "unborn": True, "children": [{"pseudonym": PSEUDONYM}]}
    first_year = reporting_year(case.aware_on)  # notified in it, or in the next when awareness was by 31 March
    before = {year: _counted(case.aware_on, year) for year in (first_year, first_year + 1)}
    run_id = inprocess.run_deployment_now("notify-incident", {"notification": notification})
    assert inprocess.read(run_id).state.is_paused()  # type: ignore[union-attr]

    # the form Prefect shows: the expected date, the mother; no date of birth or name of the child
    schema = read_flow_run_input("suspended-identity-1-schema", flow_run_id=run_id)
    assert isinstance(schema, dict)
    child = _resolved(schema, _resolved(schema, schema["properties"]["children"])["items"])
    assert "expected_on" in child["properties"] and "pseudonym" in child["properties"]
    assert not {"date_of_birth", "full_name"} & set(child["properties"])
    mother = _resolved(schema, schema["properties"]["mother"])
    assert {"full_name", "date_of_birth"} == set(mother["properties"])
    described = str(read_flow_run_input("suspended-identity-1-description", flow_run_id=run_id))
    assert "The mother and the expected date of delivery" in described and PSEUDONYM in described

    identity = {
        "children": [{"pseudonym": PSEUDONYM, "expected_on": expected_on.isoformat(), "known_to_agency": "yes"}],
        "mother": {"full_name": MOTHER, "date_of_birth": MOTHER_DOB.isoformat()},
        "family_members": [],
    }
    submit(inprocess.read(run_id), identity, Role.COORDINATOR)
    assert inprocess.execute(run_id).is_completed()
    assert read_flow_run_input("suspended-identity-1-response", flow_run_id=run_id) is None  # forgotten at once
    reference = inprocess.reference_of(run_id)

    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        assert review.unborn
        people = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).all()
        (unborn,) = [p for p in people if p.kind == PersonKind.CHILD]
        (mother_,) = [p for p in people if p.kind == PersonKind.FAMILY_MEMBER]
        assert (unborn.pseudonym, unborn.age_band, unborn.name, unborn.date_of_birth) == (PSEUDONYM, None, None, None)
        assert unborn.expected_on == expected_on.isoformat()
        assert (mother_.relationship, mother_.name, mother_.date_of_birth) == ("mother", MOTHER, MOTHER_DOB.isoformat())
        raw = text("SELECT expected_on FROM case_person WHERE pseudonym = :p")
        sealed = session.connection().execute(raw, {"p": PSEUDONYM}).scalar_one()
        assert expected_on.isoformat() not in sealed  # sealed like a date of birth
        known = known_people(session, review)
    assert any(p.name == MOTHER and p.label == f"{PSEUDONYM}'s mother" for p in known)

    # notified: the summary says "unborn", and neither the mother nor the expected date
    inprocess.answer_until(reference, case, Stage.RAPID_REVIEW)
    (summary,) = [r for r in stored_documents(reference) if r.kind == DocumentKind.NOTIFICATION_SUMMARY]
    pdf = read_document(summary)
    words = text_of(pdf)
    assert f"{PSEUDONYM} unborn" in words
    assert MOTHER not in words and long_date(expected_on) not in words and expected_on.isoformat() not in words
    assert find_personal_data(pdf, known) == []

    # counted in the Department's figures of the year it was notified, one notification and one child more
    with Session(get_engine()) as session:
        notified_on = milestones_of(session, review_by_reference(session, reference).id)[Event.NOTIFIED_ON]
    year = reporting_year(notified_on)
    after = _counted(notified_on, year)
    assert (after.notifications, after.children) == (before[year].notifications + 1, before[year].children + 1)

    # nothing of the mother's or the expected date anywhere Prefect keeps anything
    dates = [expected_on.isoformat(), expected_on.strftime("%d/%m/%Y"), long_date(expected_on)]
    words_ = [*needles(MOTHER, MOTHER_DOB), *dates]
    home = get_settings().resolved_home
    database = home / "prefect" / "prefect.db"
    assert search_sqlite(database, [reference])  # a positive control
    hits = search_sqlite(database, words_) + search_files(home / "prefect", words_)
    hits += search_files(home / "outbox", words_) + search_files(home / "logs", words_)
    assert hits == [], "\n".join(hits)
