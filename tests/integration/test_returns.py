"""The agencies' returns merged (models/work/returns.py): one chronology across agencies in date order, where each
request stands, the missing ones; sealed at rest; and the rapid review document that shows them, rendered and read
back (text, and the pages as pictures)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import answers, documents, process, signin
from models.calendar import calendar_for
from models.dates import long_date
from models.db import transaction
from models.documents import DocumentKind
from models.process.demo_case import Case
from models.review import creation, lookup
from models.review.transitions import Actor
from models.stages import Stage
from models.tables import Agency, AgencyKind, InformationRequest, RequestStatus, Review
from models.work.forms import RequestAnswer, RequestChoice
from models.work.returns import ChronologyLine, Standing, returns_for
from tasks.pdf import render_pdf
from tests.integration.test_answers import TODAY, answer, record
from tests.utils.factories import PLANTED_NAME, incident, make_partnership

D = dt.date
DAYS_TO_RETURN = 5  # the partnership's default


def working_day(review: Review, n: int) -> dt.date:
    """The n-th working day after the review's partners became aware of the incident."""
    return calendar_for().add(review.aware_on, n)


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """The document's review is answered by the demo people, whose accounts are made with their passwords: Argon2id at
    its real cost (tested in test_signin.py) would add seconds for passwords nobody types here."""
    monkeypatch.setattr(signin, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def returned(chronology: list[tuple[dt.date, str]], **text: str) -> dict[str, Any]:
    """A return as the agency's form gives it (the form's own checks included), dumped as the request stores it."""
    fields = {
        "involvement": "Seen at routine appointments.",
        "analysis": "Practice was timely.",
        "actions_taken": "",
        "learning": "Share missed appointments.",
        **text,
    }
    given = RequestAnswer(
        what=RequestChoice.RETURN, chronology=[{"on": on, "contact": what} for on, what in chronology], **fields
    )
    return given.model_dump(mode="json")


def ask(
    session: Session,
    review: Review,
    agency: Agency,
    number: int,
    status: RequestStatus | str,
    *,
    day: int = 1,
    answer: dict[str, Any] | None = None,
    reason: str | None = None,
    stage: Stage = Stage.RAPID_REVIEW,
) -> InformationRequest:
    """Request ``number``, asked on working ``day`` after awareness, due five working days later and answered (if it
    was) the day before."""
    answered = status in (RequestStatus.RETURNED, RequestStatus.NO_INVOLVEMENT)
    due_on = working_day(review, day + DAYS_TO_RETURN)
    request = InformationRequest(
        review_id=review.id,
        number=number,
        agency_id=agency.id,
        asked_at_stage=stage,
        asked_on=working_day(review, day),
        due_on=due_on,
        status=cast(RequestStatus, status),  # a status a later version may write: as the column reads it
        answered_on=working_day(review, day + DAYS_TO_RETURN - 1) if answered else None,
        answer=answer or {},
        reason=reason,
    )
    session.add(request)
    return request


SCHOOL, GP, AMBULANCE, HOUSING, PROBATION = (
    "Northshire Primary School",
    "Ashgrove GP Practice",
    "Northshire Ambulance Service",
    "Northshire Housing",
    "Northshire Probation Service",
)


def an_agency(session: Session, review: Review, name: str) -> Agency:
    """The partnership's agency of that name: the demo partnership has some already."""
    found = session.exec(
        select(Agency).where(Agency.partnership_id == review.partnership_id, Agency.name == name)
    ).first()
    if found is None:
        found = Agency(partnership_id=review.partnership_id, name=name, kind=AgencyKind.RELEVANT, from_on=D(2020, 1, 1))
        session.add(found)
        session.flush()
    return found


def add_returns(session: Session, review: Review) -> None:
    """Five agencies asked for the rapid review, each standing differently, and one asked later for the local
    review. The school's and the GP's entries are given out of date order, and share a day."""
    agencies = {name: an_agency(session, review, name) for name in (SCHOOL, GP, AMBULANCE, HOUSING, PROBATION)}
    school = returned(
        [
            (D(2026, 3, 10), "Teacher noticed a bruise; reported to the designated lead."),
            (D(2026, 1, 5), "Child Q absent for three days; no call from home."),
            (D(2026, 3, 10), f"Designated lead phoned the family; spoke with {PLANTED_NAME}'s mother."),
        ],
        analysis=f"The referral about {PLANTED_NAME} was not followed up.",
        actions_taken="Attendance calls now escalate after two days.",
    )
    gp = returned(
        [(D(2026, 3, 10), "Missed immunisation appointment."), (D(2026, 2, 1), "Child Q seen for a chest infection.")]
    )
    ask(session, review, agencies[SCHOOL], 1, RequestStatus.RETURNED, answer=school)
    ask(session, review, agencies[GP], 2, RequestStatus.RETURNED, answer=gp)
    ask(session, review, agencies[AMBULANCE], 3, RequestStatus.NO_INVOLVEMENT, answer={"what": "no involvement"})
    ask(session, review, agencies[HOUSING], 4, RequestStatus.REQUESTED, day=2)
    ask(session, review, agencies[PROBATION], 5, RequestStatus.NOT_NEEDED, reason="The father has no probation order.")
    local = returned([(D(2026, 4, 1), "Housing officer visit.")])
    ask(session, review, agencies[HOUSING], 6, RequestStatus.RETURNED, answer=local, stage=Stage.REVIEW_UNDER_WAY)
    session.flush()


def a_review(engine: Engine) -> uuid.UUID:
    with transaction(engine) as session:
        make_partnership(session)
        review, _ = creation.create_review(session, incident(), actor=Actor("Chris Lee", "coordinator"))
        add_returns(session, review)
        return review.id


def test_the_chronology_runs_across_agencies_in_date_order(engine: Engine) -> None:
    review_id = a_review(engine)
    with Session(engine) as session:
        got = returns_for(session, session.get_one(Review, review_id))
    assert got.chronology == (
        ChronologyLine(D(2026, 1, 5), SCHOOL, "Child Q absent for three days; no call from home."),
        ChronologyLine(D(2026, 2, 1), GP, "Child Q seen for a chest infection."),
        # the same day: the agencies by name, each agency's entries as it gave them
        ChronologyLine(D(2026, 3, 10), GP, "Missed immunisation appointment."),
        ChronologyLine(D(2026, 3, 10), SCHOOL, "Teacher noticed a bruise; reported to the designated lead."),
        ChronologyLine(
            D(2026, 3, 10), SCHOOL, f"Designated lead phoned the family; spoke with {PLANTED_NAME}'s mother."
        ),
    )
    assert [(a.agency, a.analysis) for a in got.accounts] == [
        (GP, "Practice was timely."),
        (SCHOOL, f"The referral about {PLANTED_NAME} was not followed up."),  # opened for the document, sealed at rest
    ]
    assert got.accounts[1].actions_taken == "Attendance calls now escalate after two days."


def test_each_request_stands_returned_no_involvement_missing_or_not_needed(engine: Engine) -> None:
    review_id = a_review(engine)
    with Session(engine) as session:
        review = session.get_one(Review, review_id)
        got = returns_for(session, review)
    assert [(a.agency, a.standing) for a in got.asked] == [
        (GP, Standing.RETURNED),
        (AMBULANCE, Standing.NO_INVOLVEMENT),
        (HOUSING, Standing.MISSING),
        (SCHOOL, Standing.RETURNED),
        (PROBATION, Standing.NOT_NEEDED),
    ]
    assert [(a.agency, a.asked_on, a.due_on) for a in got.missing] == [
        (HOUSING, working_day(review, 2), working_day(review, 7))
    ]
    assert [a.agency for a in got.no_involvement] == [AMBULANCE]
    assert [(a.agency, a.reason) for a in got.not_needed] == [(PROBATION, "The father has no probation order.")]
    assert {a.agency for a in got.returned} == {GP, SCHOOL}


def test_a_status_for_a_request_still_outstanding_counts_as_missing(engine: Engine) -> None:
    """Any status but returned, no involvement and not needed is missing (one may be added for a request still
    outstanding when the rapid review was recorded), even one written by a later version."""
    review_id = a_review(engine)
    with transaction(engine) as session:
        review = session.get_one(Review, review_id)
        housing = an_agency(session, review, HOUSING)
        ask(session, review, housing, 7, "missing")
    with Session(engine) as session:
        got = returns_for(session, session.get_one(Review, review_id))
    assert [a.number for a in got.missing] == [4, 7]


def test_the_local_reviews_requests_are_its_own(engine: Engine) -> None:
    review_id = a_review(engine)
    with Session(engine) as session:
        got = returns_for(session, session.get_one(Review, review_id), Stage.REVIEW_UNDER_WAY)
    assert [(a.agency, a.standing) for a in got.asked] == [(HOUSING, Standing.RETURNED)]
    assert got.chronology == (ChronologyLine(D(2026, 4, 1), HOUSING, "Housing officer visit."),)


def test_a_returns_free_text_is_sealed_in_the_database(engine: Engine) -> None:
    review_id = a_review(engine)
    table = InformationRequest.__table__  # type: ignore[attr-defined]  # SQLModel's table, as SQLAlchemy has it
    with engine.connect() as conn:  # a plain select: nothing opens it
        rows = conn.execute(sa.select(table.c.answer, table.c.reason).where(table.c.review_id == review_id)).all()
    raw = json.dumps([[r.answer if isinstance(r.answer, dict) else json.loads(r.answer), r.reason] for r in rows])
    for plain in (PLANTED_NAME, "Quillfeather", "Attendance calls", "Teacher noticed", "no probation order"):
        assert plain not in raw
    assert "2026-03-10" in raw  # dates stay readable: the sweep counts without a key
    assert raw.count('"c1:') >= 10  # the involvement, analysis, actions, learning and every entry's contact


# --- the rapid review document ---------------------------------------------------------------------------------


def sent_to_the_panel(engine: Engine) -> str:
    """A review answered as the demo does, through to its rapid review sent to the Panel (which calls for the rapid
    review document), its agencies' returns added."""
    case = Case(today=TODAY)  # one case throughout: it counts what it was asked (the partners sign in turn)
    reference = record(engine, case)
    for _ in range(20):
        with transaction(engine) as session:
            review = lookup.review_by_reference(session, reference)
            if review.stage == Stage.AWAITING_PANEL:
                add_returns(session, review)
                return reference
            action = process.next_action(session, review, today=TODAY)
            if isinstance(action, process.Automatic):
                answers.apply_automatic(session, review, action.transition)
                continue
        assert isinstance(action, process.WaitForForm), action
        outcome = answer(engine, reference, case.answer(Stage(action.step.stage)))
        assert outcome.accepted, outcome.message
    raise AssertionError(f"{reference} did not reach the Panel")


def words(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_rapid_review_document_merges_the_returns(engine: Engine, tmp_path: Path) -> None:
    reference = sent_to_the_panel(engine)
    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        spec = next(s for s in documents.plan(session, review, today=TODAY) if s.kind is DocumentKind.RAPID_REVIEW)
        answered, housing_asked, housing_due = (long_date(working_day(review, n)) for n in (5, 2, 7))
    rendered = render_pdf(spec.template, spec.context)
    assert rendered.refused_fetches == ()
    text = words(rendered.pdf)

    headings = ["Agencies' information", "Chronology across agencies", "Each agency's account", "Missing returns"]
    at = [text.index(h) for h in headings]
    assert at == sorted(at) and text.index("Sign-off by the safeguarding partners") < at[0]
    # the status table: each agency asked, and where it stands
    assert f"No involvement (answered on {answered})" in text
    assert "Not needed: The father has no probation order." in text
    assert f"Missing: due on {housing_due}" in text
    # the chronology, in date order across agencies
    chronology = text[at[1] : at[2]]
    order = [
        "5 January 2026 Northshire Primary School Child Q absent",
        "1 February 2026 Ashgrove GP Practice Child Q seen",
        "10 March 2026 Ashgrove GP Practice Missed immunisation",
        "10 March 2026 Northshire Primary School Teacher noticed",
        "Designated lead phoned",
    ]
    places = [chronology.index(entry) for entry in order]
    assert places == sorted(places)
    assert "Housing officer visit" not in text  # the local review's request is not the rapid review's
    # each returned agency's account
    accounts = text[at[2] : at[3]]
    assert accounts.index("Ashgrove GP Practice") < accounts.index("Northshire Primary School")
    assert "Attendance calls now escalate after two days." in accounts and "None given." in accounts
    # the missing return: the agency and the dates it was asked and due
    assert f"{HOUSING} {housing_asked} {housing_due}" in text[at[3] :]

    # the pages as pictures (pdftoppm, as a reader sees them): each page drawn, none blank
    (tmp_path / "rapid-review.pdf").write_bytes(rendered.pdf)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(tmp_path / "rapid-review.pdf"), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(rendered.pdf)).pages) >= 2
    assert all(p.stat().st_size > 5_000 for p in pages)
