"""The compliance report's figures on a hand-built data set, against figures worked out by hand (SQLite and
PostgreSQL). The period is January 2027: New Year's Day is a bank holiday, Christmas 2026 falls in one spell,
and one partnership closes on Friday 8 January, which turns a late notification into an on-time one.

    A  northshire  aware Mon 4 Jan   notified Fri 8 Jan (due Mon 11: on time); rapid review sent Wed 27 Jan
                   (due Mon 25: late); sent back once, so only its second rapid review counts
    B  northshire  aware Mon 11 Jan  not notified (due Mon 18): outstanding, 9 working days overdue on 31 Jan
    C  southmoor   aware Tue 5 Jan   notified Wed 13 Jan (due Wed 13 with the closure: on time); rapid review
                   sent Tue 26 Jan (due Wed 27: on time); the Panel responds and a local review is decided
    D  northshire  local review decided 20 Jul 2026, so due by 20 Jan 2027; published Mon 25 Jan: late
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from models.compliance import Period, UnknownPartnership, compliance
from models.db import transaction
from models.review import creation, transitions
from models.roles import PARTNERS
from models.rulebook import Event
from models.settings import get_settings
from models.stages import Facts
from models.tables import Decision, Report, Review
from tasks.archive import read_document
from tasks.compliance_report import produce
from tests.integration.test_documents import text_of
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership

D = dt.date
JANUARY = Period(D(2027, 1, 1), D(2027, 1, 31))
TODAY = D(2027, 2, 15)
EVERYTHING = Facts(
    today=D(2030, 1, 1),
    reason="recorded",
    signed_off_by=PARTNERS,
    panel_national_review=False,
    reviewer_chosen=True,
    terms_of_reference=True,
    qa_checklist_complete=True,
    publish_not_before=D(2000, 1, 1),
)
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")


def at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=dt.UTC)


def review(session: Session, partnership: str, aware: dt.date, pseudonym: str, created: dt.date) -> Review:
    made, _ = creation.create_review(
        session,
        incident(partnership, aware_on=aware, incident_on=aware, pseudonyms=(pseudonym,)),
        actor=COORDINATOR,
        at=at(created),
    )
    return made


def walk(session: Session, r: Review, *moves: tuple[str, dt.date, dict[Event, dt.date]]) -> None:
    for name, day, milestones in moves:
        transitions.apply_transition(
            session, r, name, actor=COORDINATOR, facts=EVERYTHING, milestones=milestones, at=at(day)
        )


def decide(session: Session, r: Review, kind: str, outcome: str, day: dt.date, round: int = 1, **details: Any) -> None:
    session.add(
        Decision(
            review_id=r.id,
            kind=kind,
            round=round,
            outcome=outcome,
            actor_name="Chris Lee",
            actor_role="coordinator",
            details=details,
            at=at(day),
        )
    )


@pytest.fixture
def data(engine: Engine) -> Engine:
    # Each walk keeps one move a line, out of the formatter (fmt: skip): it reads as the review's timeline.
    with transaction(engine) as session:
        make_partnership(session, "northshire")
        make_partnership(session, "southmoor", closure_days=["2027-01-08"])
        a = review(session, "northshire", D(2027, 1, 4), "Child A", D(2027, 1, 4))
        walk(session, a, ("submit_notification", D(2027, 1, 8), {Event.NOTIFIED_ON: D(2027, 1, 8),
                                                                  Event.PARTNERS_TOLD_ON: D(2027, 1, 8)}),
             ("record_rapid_review", D(2027, 1, 20), {}),
             ("send_rapid_review", D(2027, 1, 27), {Event.RAPID_REVIEW_SENT_ON: D(2027, 1, 27)}))  # fmt: skip
        decide(
            session,
            a,
            "rapid_review",
            "local_review",
            D(2027, 1, 12),
            completed_on="2027-01-12",
            themes=["online harm"],
        )
        decide(
            session,
            a,
            "rapid_review",
            "local_review",
            D(2027, 1, 20),
            round=2,
            completed_on="2027-01-19",
            themes=["neglect", "domestic abuse"],
        )

        review(session, "northshire", D(2027, 1, 11), "Child B", D(2027, 1, 11))

        c = review(session, "southmoor", D(2027, 1, 5), "Child C", D(2027, 1, 5))
        walk(session, c, ("submit_notification", D(2027, 1, 13), {Event.NOTIFIED_ON: D(2027, 1, 13),
                                                                  Event.PARTNERS_TOLD_ON: D(2027, 1, 13)}),
             ("record_rapid_review", D(2027, 1, 14), {}),
             ("send_rapid_review", D(2027, 1, 26), {Event.RAPID_REVIEW_SENT_ON: D(2027, 1, 26)}),
             ("record_panel_response", D(2027, 1, 28), {Event.PANEL_RESPONDED_ON: D(2027, 1, 28)}),
             ("decide_local_review", D(2027, 1, 29), {Event.LCSPR_DECIDED_ON: D(2027, 1, 29)}))  # fmt: skip
        decide(
            session,
            c,
            "rapid_review",
            "local_review",
            D(2027, 1, 14),
            completed_on="2027-01-14",
            themes=["neglect", "information sharing between agencies"],
        )
        decide(session, c, "panel_response", "no_national_review", D(2027, 1, 28), responded_on="2027-01-28")
        decide(session, c, "lcspr_decision", "local_review", D(2027, 2, 1), decided_on="2027-01-29")

        d = review(session, "northshire", D(2026, 6, 1), "Child D", D(2026, 6, 1))
        walk(session, d, ("submit_notification", D(2026, 6, 3), {Event.NOTIFIED_ON: D(2026, 6, 3),
                                                                 Event.PARTNERS_TOLD_ON: D(2026, 6, 3)}),
             ("record_rapid_review", D(2026, 6, 15), {}),
             ("send_rapid_review", D(2026, 6, 18), {Event.RAPID_REVIEW_SENT_ON: D(2026, 6, 18)}),
             ("record_panel_response", D(2026, 7, 1), {Event.PANEL_RESPONDED_ON: D(2026, 7, 1)}),
             ("decide_local_review", D(2026, 7, 20), {Event.LCSPR_DECIDED_ON: D(2026, 7, 20)}),
             ("commission_reviewer", D(2026, 8, 3), {}),
             ("submit_draft", D(2026, 11, 2), {}),
             ("approve_report", D(2026, 12, 1), {}),
             ("send_final_report", D(2027, 1, 12), {Event.FINAL_REPORT_SENT_ON: D(2027, 1, 12)}),
             ("publish", D(2027, 1, 25), {Event.PUBLISHED_ON: D(2027, 1, 25)}))  # fmt: skip
        decide(
            session, d, "rapid_review", "local_review", D(2026, 6, 15), completed_on="2026-06-15", themes=["neglect"]
        )
        decide(session, d, "publication", "publish", D(2027, 1, 25))
    return engine


def test_timeliness_of_the_three_statutory_clocks(data: Engine) -> None:
    with Session(data) as session:
        figures = compliance(session, JANUARY, today=TODAY)
    assert figures.as_of == D(2027, 1, 31) and figures.reviews == 4
    rows = {r["measure"]: r for r in figures.timeliness.to_dict(orient="records")}
    assert {k: v for k, v in rows["notify_panel"].items() if k != "title"} == {
        "measure": "notify_panel",
        "fell_due": 3,
        "on_time": 2,
        "late": 0,
        "outstanding": 1,
        "not_yet_due": 0,
        "percent_on_time": 66.7,
    }
    assert (rows["rapid_review"]["fell_due"], rows["rapid_review"]["on_time"], rows["rapid_review"]["late"]) == (
        2,
        1,
        1,
    )
    assert rows["rapid_review"]["percent_on_time"] == 50.0
    assert (rows["lcspr_publication"]["fell_due"], rows["lcspr_publication"]["late"]) == (1, 1)
    assert rows["lcspr_publication"]["percent_on_time"] == 0.0


def test_a_report_part_way_through_its_period_counts_what_is_not_yet_due_apart(data: Engine) -> None:
    with Session(data) as session:
        figures = compliance(session, JANUARY, today=D(2027, 1, 15))
    notify = figures.timeliness.set_index("measure").loc["notify_panel"]
    # A on time (8 Jan), C on time (13 Jan); B is due on 18 Jan, after the report's day
    assert (notify["on_time"], notify["not_yet_due"], notify["percent_on_time"]) == (2, 1, 100.0)


def test_working_days_in_each_stage_left_during_the_period(data: Engine) -> None:
    with Session(data) as session:
        figures = compliance(session, JANUARY, today=TODAY)
    table = {r["stage"]: (r["spells"], r["median"], r["p90"]) for r in figures.stage_times.to_dict(orient="records")}
    assert table == {
        "incident_recorded": (2, 4.5, pytest.approx(4.9)),  # A 4 (5-8 Jan); C 5 (6, 7, 11, 12, 13: 8th closed)
        "rapid_review": (2, 4.5, pytest.approx(7.3)),  # A 8 (8 to 20 Jan); C 1
        "rapid_review_sign_off": (2, 6.5, pytest.approx(7.7)),  # A 5 (20 to 27 Jan); C 8 (14 to 26 Jan)
        "awaiting_panel": (1, 2.0, 2.0),  # C 26 to 28 Jan
        "awaiting_decision": (1, 1.0, 1.0),  # C 28 to 29 Jan
        "report_approved": (1, 27.0, 27.0),  # D 1 Dec to 12 Jan: Christmas, Boxing Day substitute, New Year out
        "awaiting_publication": (1, 9.0, 9.0),  # D 12 to 25 Jan
    }
    assert list(table) == list(figures.stage_times["stage"])  # in the order a review goes through them


def test_overdue_at_the_end_of_the_period(data: Engine) -> None:
    with Session(data) as session:
        figures = compliance(session, JANUARY, today=TODAY)
    rows = figures.overdue.to_dict(orient="records")
    assert [(r["partnership"], r["deadline"], r["working_days_overdue"]) for r in rows] == [
        ("northshire", "Serious incident notification to the Panel", 9),
        ("northshire", "Serious incident reported to the local safeguarding partners", 9),
    ]
    assert figures.overdue_reviews == 1


def test_decisions_by_outcome_and_recurring_themes(data: Engine) -> None:
    with Session(data) as session:
        figures = compliance(session, JANUARY, today=TODAY)
    decisions = [(r["decision"], r["outcome"], r["count"]) for r in figures.decisions.to_dict(orient="records")]
    assert decisions == [
        ("Rapid review recommendations", "local review", 2),  # A's second round and C; A's first is superseded
        ("Panel responses", "no national review", 1),
        ("Decisions on a local review", "local review", 1),  # C, decided 29 Jan though recorded 1 Feb
        ("Publication decisions", "publish the report", 1),
    ]
    themes = [(r["theme"], r["reviews"], r["recurring"]) for r in figures.themes.to_dict(orient="records")]
    assert themes == [
        ("neglect", 2, True),
        ("domestic abuse", 1, False),
        ("information sharing between agencies", 1, False),
    ]  # D's rapid review (June 2026) and A's superseded first round are not in January


def test_one_partnership_and_the_table_by_partnership(data: Engine) -> None:
    with Session(data) as session:
        south = compliance(session, JANUARY, "southmoor", today=TODAY)
        everyone = compliance(session, JANUARY, today=TODAY)
        with pytest.raises(UnknownPartnership, match="no partnership 'westmarch'"):
            compliance(session, JANUARY, "westmarch", today=TODAY)
    assert south.reviews == 1 and south.overdue.empty and south.by_partnership.empty
    assert south.timeliness.set_index("measure")["percent_on_time"].to_dict()["notify_panel"] == 100.0
    rows = {r["partnership"]: r for r in everyone.by_partnership.to_dict(orient="records")}
    north = rows["northshire"]
    assert (
        north["reviews"],
        north["notify_panel"],
        north["rapid_review"],
        north["lcspr_publication"],
        north["overdue_reviews"],
    ) == (3, 50.0, 0.0, 0.0, 1)
    assert rows["southmoor"]["rapid_review"] == 100.0 and math.isnan(rows["southmoor"]["lcspr_publication"])


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        Period(D(2027, 2, 1), D(2027, 1, 1))
    assert Period.month_before(D(2027, 3, 1)) == Period(D(2027, 2, 1), D(2027, 2, 28))


@pytest.fixture
def project_db(data: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The hand-built data as the project's database, and a local object folder: what `cspr report` uses."""
    monkeypatch.setenv("CSPR_DATABASE_URL", data.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CSPR_STORAGE_URL", (tmp_path / "objects").as_uri())
    monkeypatch.setattr("models.compliance.today_in_england", lambda: TODAY)  # the data set lies in 2027
    get_settings.cache_clear()
    yield tmp_path / "objects"
    get_settings.cache_clear()


def test_the_report_is_a_pdf_in_the_object_store_with_figures_and_no_names(project_db: Path) -> None:
    first = produce(JANUARY)
    again = produce(JANUARY, "northshire")
    assert first.key == "compliance/all/2027-01-01_2027-01-31/v1.pdf"
    assert again.key == "compliance/northshire/2027-01-01_2027-01-31/v1.pdf"
    assert produce(JANUARY).key.endswith("/v2.pdf")  # the same report again: the next version
    pdf = read_document(Report(object_key=first.key, sha256=first.sha256, kind="compliance-report"))
    text = " ".join(text_of(pdf).split())
    assert "Compliance report: 1 January 2027 to 31 January 2027" in text
    assert "Notified to the Panel within 5 working days 3 2 0 1 66.7" in text  # the table, row by row
    assert "Local review published within 6 months 1 0 1 0 0" in text
    assert "CSPR-2027-0002" in text  # B, overdue, by reference
    assert "Neglect 2 yes" in text
    assert "Working days in each stage" in text and "27" in text
    assert set(first.seconds) == {"figures", "charts", "pdf", "store"}
    for word in (PLANTED_NAME, *PLANTED_NAME.split(), PLANTED_DOB.isoformat(), f"{PLANTED_DOB:%d/%m/%Y}"):
        assert word not in text and word not in first.key
    assert PdfReader(io.BytesIO(pdf)).metadata.title.startswith("Compliance report")


def test_cspr_report_on_the_command_line(project_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    copy = tmp_path / "copy.pdf"
    args = ["report", "--from", "2027-01-01", "--to", "2027-01-31", "--partnership", "southmoor", "--out", str(copy)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Notified to the Panel within 5 working days" in result.output and "100" in result.output
    assert "compliance/southmoor/2027-01-01_2027-01-31/v1.pdf" in result.output
    assert copy.read_bytes().startswith(b"%PDF")
    for bad, message in [
        (["--from", "2027-02-01", "--to", "2027-01-01"], "ends (1 January 2027) before it starts"),
        (["--from", "2027-02-30"], "is not a date"),
        (["--partnership", "westmarch"], "no partnership 'westmarch'"),
    ]:
        refused = runner.invoke(app, ["report", *bad])
        assert refused.exit_code == 2 and message in " ".join(refused.output.split()), refused.output
    assert sorted(p.name for p in project_db.rglob("*.pdf")) == ["v1.pdf"]  # the refusals stored nothing
