"""The recommendations and actions section of the compliance report (for the partnership's yearly report) and the
NHS case review tracker's CSV, on a hand-built data set (SQLite and PostgreSQL). The year is 1 April 2027 to 31 March
2028, reported on 20 April 2028, so the position is as at 31 March 2028.

    A  northshire  local review, final report sent and not yet published (embargoed); themes neglect, domestic
                   abuse, parental mental health, information sharing (four: the tracker takes three)
         R1  A1 hospital  due 30 Jun 2027  accepted 14 Jul 2027 (closed in the year); its evidence names the child
             A2 GP        due 30 Sep 2027  in progress, sent back: 183 days overdue on 31 Mar 2028
         R2  (its text starts with "-")
             A3 police    due 30 Jun 2028  not started (its text is a spreadsheet formula)
             A4 school    due 31 Dec 2027  cannot be done, awaiting acceptance: 91 days overdue
             A5 school    closed on 20 Mar 2027, before the year: not in the section, still in the tracker
         R3  (from the rapid review) no action yet; its text names the child's family
    B  northshire  rapid review, no local review; themes neglect, parental alcohol or drug use
         R1  B1 hospital  due 30 Apr 2028  done, awaiting acceptance (not overdue yet)
             B2 school    due 1 Mar 2028   accepted 10 Feb 2028
    C  southmoor   rapid review; R1 C1 police due 1 Aug 2027, not started: overdue, for all partnerships only
    D  northshire  incident recorded, no recommendation: only in the tracker
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.report_commands import app as report_app
from models.compliance import Period, UnknownPartnership
from models.db import transaction
from models.rulebook import Event
from models.settings import get_settings
from models.tables import Action, ActionStatus, Agency, AgencyKind, Recommendation, RecommendationSource, Report, Review
from models.tracker import COLUMNS, safe_cell, tracker_csv
from models.yearly_actions import REMOVED, mask_names, names_pattern, yearly_actions
from tasks.archive import read_document
from tasks.compliance_report import produce
from tests.integration.test_compliance import at, decide, review, walk
from tests.integration.test_documents import text_of
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, make_partnership

D = dt.date
YEAR = Period(D(2027, 4, 1), D(2028, 3, 31))
TODAY = D(2028, 4, 20)
AS_OF = D(2028, 3, 31)
FORMULA = '=HYPERLINK("https://example.invalid/x","Open the escalation policy")'
HOSPITAL, GP, POLICE, SCHOOL = (
    "Northshire Hospitals NHS Trust",
    "Westfield GP Practice",
    "Northshire Police",
    "Northshire Primary School",
)


@dataclass(frozen=True)
class Data:
    engine: Engine
    a: str  # the reviews' references
    b: str
    c: str
    d: str


def _action(
    r: Recommendation,
    number: int,
    agency: Agency,
    owner: str,
    text: str,
    due: dt.date,
    status: ActionStatus,
    *,
    made: dt.date | None = None,
    closed: dt.date | None = None,
    evidence: str | None = None,
    reason: str | None = None,
) -> Action:
    return Action(
        review_id=r.review_id,
        recommendation_id=r.id,
        number=number,
        agency_id=agency.id,
        owner=owner,
        text=text,
        done_when="The change is in use and audited",
        due_on=due,
        status=status,
        evidence=evidence,
        reason=reason,
        closed_on=closed,
        created_at=at(made or D(2027, 5, 3)),
    )


def _recommendation(r: Review, number: int, source: RecommendationSource, text: str, made: dt.date) -> Recommendation:
    return Recommendation(review_id=r.id, number=number, source=source, text=text, created_at=at(made))


TO_THE_PANEL: tuple[tuple[str, dt.date, dict[Event, dt.date]], ...] = (
    ("submit_notification", D(2027, 1, 8), {Event.NOTIFIED_ON: D(2027, 1, 8), Event.PARTNERS_TOLD_ON: D(2027, 1, 8)}),
    ("record_rapid_review", D(2027, 1, 20), {}),
    ("send_rapid_review", D(2027, 1, 22), {Event.RAPID_REVIEW_SENT_ON: D(2027, 1, 22)}),
    ("record_panel_response", D(2027, 2, 1), {Event.PANEL_RESPONDED_ON: D(2027, 2, 1)}),
)


@pytest.fixture
def data(engine: Engine) -> Data:
    with transaction(engine) as session:
        north = make_partnership(session, "northshire")
        south = make_partnership(session, "southmoor")
        agencies = {
            name: Agency(partnership_id=north.id, name=name, kind=AgencyKind.RELEVANT, from_on=D(2020, 1, 1))
            for name in (HOSPITAL, GP, POLICE, SCHOOL)
        }
        south_police = Agency(
            partnership_id=south.id, name="Southmoor Police", kind=AgencyKind.RELEVANT, from_on=D(2020, 1, 1)
        )
        session.add_all([*agencies.values(), south_police])

        a = review(session, "northshire", D(2027, 1, 4), "Child A", D(2027, 1, 4))
        walk(session, a, *TO_THE_PANEL,
             ("decide_local_review", D(2027, 2, 3), {Event.LCSPR_DECIDED_ON: D(2027, 2, 3)}),
             ("commission_reviewer", D(2027, 3, 1), {}),
             ("submit_draft", D(2027, 6, 1), {}),
             ("approve_report", D(2027, 7, 1), {}),
             ("send_final_report", D(2027, 7, 12), {Event.FINAL_REPORT_SENT_ON: D(2027, 7, 12)}))  # fmt: skip
        decide(session, a, "rapid_review", "local_review", D(2027, 1, 20), completed_on="2027-01-19", themes=[
            "neglect", "domestic abuse", "parental mental health", "information sharing between agencies"])  # fmt: skip
        local, rapid = RecommendationSource.LOCAL_REVIEW, RecommendationSource.RAPID_REVIEW
        a1 = _recommendation(
            a,
            1,
            local,
            "Agencies share concerns about unexplained bruising with the family's GP practice within one working day.",
            D(2027, 5, 3),
        )
        a2 = _recommendation(
            a, 2, local, "- Refresh the escalation policy and train staff in it.", D(2027, 2, 1)
        )  # a list typed as a list
        a3 = _recommendation(
            a,
            3,
            rapid,
            "Review how out-of-hours concerns reach children's social care, as they did not for the Okonkwo family.",
            D(2027, 2, 1),
        )
        session.add_all([a1, a2, a3])
        session.flush()
        session.add_all(
            [
                _action(
                    a1,
                    1,
                    agencies[HOSPITAL],
                    "Dr Amara Obi",
                    "Add telling the GP practice to the emergency department's safeguarding pathway.",
                    D(2027, 6, 30),
                    ActionStatus.ACCEPTED,
                    closed=D(2027, 7, 14),
                    evidence=f"Pathway revised in June 2027; an audit of 40 records found the GP told in 38. "
                    f"{PLANTED_NAME}'s case (born {PLANTED_DOB:%d/%m/%Y}) was used in the training.",
                ),
                _action(
                    a1,
                    2,
                    agencies[GP],
                    "Dr Tom Reid",
                    "Record what the hospital tells the practice on the child's record within two working days.",
                    D(2027, 9, 30),
                    ActionStatus.IN_PROGRESS,
                    evidence="Audit of February's records.",
                    reason="The audit covered adults' records only: audit the children's.",
                ),
                _action(a2, 3, agencies[POLICE], "Insp. Dan Hughes", FORMULA, D(2028, 6, 30), ActionStatus.NOT_STARTED),
                _action(
                    a2,
                    4,
                    agencies[SCHOOL],
                    "Ruth Akande",
                    "Train every member of staff in the refreshed escalation policy.",
                    D(2027, 12, 31),
                    ActionStatus.CANNOT,
                    reason="The policy is still being rewritten by the partnership.",
                ),
                _action(
                    a2,
                    5,
                    agencies[SCHOOL],
                    "Ruth Akande",
                    "Circulate the old escalation policy again.",
                    D(2027, 3, 1),
                    ActionStatus.CLOSED,
                    made=D(2027, 2, 1),
                    closed=D(2027, 3, 20),
                    reason="Superseded by action 4.",
                ),
            ]
        )

        b = review(session, "northshire", D(2027, 1, 11), "Child B", D(2027, 1, 11))
        walk(session, b, *TO_THE_PANEL, ("decide_no_review", D(2027, 2, 3), {Event.LCSPR_DECIDED_ON: D(2027, 2, 3)}))
        decide(
            session,
            b,
            "rapid_review",
            "no_local_review",
            D(2027, 1, 20),
            completed_on="2027-01-20",
            themes=["neglect", "parental alcohol or drug use"],
        )
        b1 = _recommendation(
            b, 1, rapid, "Health visitors ask about alcohol and drug use at every contact.", YEAR.start
        )
        session.add(b1)
        session.flush()
        session.add_all(
            [
                _action(
                    b1,
                    1,
                    agencies[HOSPITAL],
                    "Jo Marsh",
                    "Add the question to the health visiting contact template.",
                    D(2028, 4, 30),
                    ActionStatus.DONE,
                    evidence="The new template has been in use since February 2028.",
                ),
                _action(
                    b1,
                    2,
                    agencies[SCHOOL],
                    "Ruth Akande",
                    "Tell the school nurses about the new question.",
                    D(2028, 3, 1),
                    ActionStatus.ACCEPTED,
                    closed=D(2028, 2, 10),
                    evidence="Briefing given on 9 February 2028.",
                ),
            ]
        )

        c = review(session, "southmoor", D(2027, 1, 5), "Child C", D(2027, 1, 5))
        decide(
            session, c, "rapid_review", "local_review", D(2027, 1, 19), completed_on="2027-01-19", themes=["neglect"]
        )
        c1 = _recommendation(c, 1, rapid, "Police share domestic abuse call-outs with schools.", YEAR.start)
        session.add(c1)
        session.flush()
        session.add(
            _action(c1, 1, south_police, "Sgt Lee Grant", "Start the sharing.", D(2027, 8, 1), ActionStatus.NOT_STARTED)
        )

        d = review(session, "northshire", D(2028, 3, 20), "Child D", D(2028, 3, 20))
        return Data(engine, a.reference, b.reference, c.reference, d.reference)


# --- the section's figures -----------------------------------------------------------------------------------------


def test_each_review_s_recommendations_and_actions_in_the_year(data: Data) -> None:
    with Session(data.engine) as session:
        yearly = yearly_actions(session, YEAR, "northshire", AS_OF)
    assert [r.reference for r in yearly.reviews] == [data.a, data.b]  # by reference; D has no recommendation
    a, b = yearly.reviews
    assert (a.kind.value, b.kind.value) == ("local review", "rapid review")
    assert [(r.number, [x.number for x in r.actions]) for r in a.recommendations] == [(1, [1, 2]), (2, [3, 4]), (3, [])]
    # the free text opened, with the child's name and date of birth masked
    accepted = a.recommendations[0].actions[0]
    assert accepted.evidence.endswith(f"{REMOVED}'s case (born {REMOVED}) was used in the training.")
    assert a.recommendations[2].text.endswith(f"as they did not for the {REMOVED} family.")
    assert a.recommendations[1].actions[0].text == FORMULA  # as typed: only the CSV makes it safe
    counts = yearly.counts
    assert (counts.reviews, counts.recommendations, counts.actions, counts.open) == (2, 4, 6, 4)
    assert dict(zip(yearly.by_status["status"], yearly.by_status["actions"], strict=True)) == {
        "not started": 1,
        "in progress": 1,
        "done": 1,
        "cannot be done": 1,
        "accepted": 2,
        "closed": 0,
    }


def test_overdue_on_the_day_and_closed_in_the_year(data: Data) -> None:
    with Session(data.engine) as session:
        north = yearly_actions(session, YEAR, "northshire", AS_OF)
        everyone = yearly_actions(session, YEAR, None, AS_OF)
        early = yearly_actions(session, YEAR, "northshire", D(2027, 10, 1))
    overdue = [(r["reference"], r["action"], r["days_overdue"]) for r in north.overdue.to_dict(orient="records")]
    assert overdue == [(data.a, 2, 183), (data.a, 4, 91)]  # the most overdue first; B1 is done but not yet due
    closed = [(r["reference"], r["action"], r["closed_on"]) for r in north.closed.to_dict(orient="records")]
    assert closed == [(data.a, 1, D(2027, 7, 14)), (data.b, 2, D(2028, 2, 10))]  # A5 closed before the year
    assert north.counts.overdue == 2 and north.counts.closed_in_period == 2
    # every partnership: C's action, the most overdue of all
    assert everyone.overdue.iloc[0][["reference", "days_overdue"]].tolist() == [data.c, (AS_OF - D(2027, 8, 1)).days]
    assert [r.reference for r in everyone.reviews] == sorted([data.a, data.b, data.c])
    # as at 1 October 2027, only A2 was past its date (by a day)
    assert early.overdue[["action", "days_overdue"]].values.tolist() == [[2, 1]]


def test_themes_counted_across_the_reviews(data: Data) -> None:
    with Session(data.engine) as session:
        yearly = yearly_actions(session, YEAR, "northshire", AS_OF)
    themes = [(r["theme"], r["reviews"], r["recurring"]) for r in yearly.themes.to_dict(orient="records")]
    assert themes == [
        ("neglect", 2, True),
        ("domestic abuse", 1, False),
        ("parental mental health", 1, False),
        ("parental alcohol or drug use", 1, False),
        ("information sharing between agencies", 1, False),
    ]


def test_the_free_text_is_sealed_in_the_database(data: Data) -> None:
    with data.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT text, evidence, reason FROM action")).all()
        recommendations = conn.execute(sa.text("SELECT text FROM recommendation")).scalars().all()
    values = [v for row in stored for v in row if v is not None] + list(recommendations)
    assert values and all(v.startswith("c1:") for v in values)
    assert not any(PLANTED_NAME in v or "Okonkwo" in v for v in values)


def test_names_are_masked_as_written_and_everyday_words_kept() -> None:
    pattern = names_pattern(["Will Zoëlla Hart-Bell"], [D(2016, 5, 4)])
    masked = mask_names("WILL ZOELLA HART BELL and Zoella, born 4 May 2016: the school will tell Hart.", pattern)
    assert masked == f"{REMOVED} and {REMOVED}, born {REMOVED}: the school will tell {REMOVED}."
    assert mask_names(None, pattern) == "" and mask_names("as typed", None) == "as typed"


# --- the tracker's CSV ---------------------------------------------------------------------------------------------


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_tracker_csv_has_a_row_per_action_in_its_columns(data: Data) -> None:
    with Session(data.engine) as session:
        text = tracker_csv(session, "northshire")
        with pytest.raises(UnknownPartnership, match="no partnership 'westmarch'"):
            tracker_csv(session, "westmarch")
    assert text.splitlines()[0] == ",".join(f'"{c}"' for c in COLUMNS)  # every value quoted, the header too
    rows = _read(text)
    keys = [(r["review_reference"], r["recommendation_number"], r["action_number"]) for r in rows]
    assert keys == [
        (data.a, "1", "1"),
        (data.a, "1", "2"),
        (data.a, "2", "3"),
        (data.a, "2", "4"),
        (data.a, "2", "5"),  # closed before the year: the tracker has every action
        (data.a, "3", ""),  # a recommendation with no action yet
        (data.b, "1", "1"),
        (data.b, "1", "2"),
        (data.d, "", ""),  # a review with no recommendation yet
    ]  # C is southmoor's
    first = rows[0]
    assert {k: first[k] for k in COLUMNS if k not in ("recommendation_text", "action_text")} == {
        "review_reference": data.a,
        "review_type": "local review",
        "review_status": "embargoed",  # the final report was sent, not yet published
        "theme_1": "neglect",
        "theme_2": "domestic abuse",
        "theme_3": "parental mental health",  # the fourth theme has no column
        "recommendation_number": "1",
        "action_number": "1",
        "owner_agency": HOSPITAL,
        "owner": "Dr Amara Obi",
        "due_date": "2027-06-30",
        "action_status": "accepted",
        "closed_date": "2027-07-14",
    }
    assert rows[3]["action_status"] == "cannot be done (awaiting acceptance)" and rows[3]["closed_date"] == ""
    assert rows[5]["recommendation_text"].endswith(f"for the {REMOVED} family.")
    assert [(rows[i]["review_type"], rows[i]["review_status"], rows[i]["theme_3"]) for i in (6, 8)] == [
        ("rapid review", "closed", ""),  # B: the partners decided against a local review
        ("rapid review", "open", ""),  # D: just notified
    ]
    assert rows[6]["theme_2"] == "parental alcohol or drug use"
    assert PLANTED_NAME not in text and "Okonkwo" not in text


def test_a_formula_in_a_cell_is_neutralised(data: Data) -> None:
    with Session(data.engine) as session:
        text = tracker_csv(session, "northshire")
    rows = _read(text)
    assert rows[2]["action_text"] == "'" + FORMULA  # shown as text by a spreadsheet, never run
    assert rows[2]["recommendation_text"] == "'- Refresh the escalation policy and train staff in it."
    assert '"\'=HYPERLINK(""https://example.invalid/x"",""Open the escalation policy"")"' in text  # quoted, escaped
    assert [safe_cell(v) for v in ("=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "Plain", "a=b")] == [
        "'=1+1",
        "'+44 20",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "Plain",
        "a=b",
    ]


# --- the compliance report with the section, and the command line --------------------------------------------------


@pytest.fixture
def project_db(data: Data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Data]:
    """The data as the project's database, with a local object folder: what `cspr report` uses."""
    monkeypatch.setenv("CSPR_DATABASE_URL", data.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CSPR_STORAGE_URL", (tmp_path / "objects").as_uri())
    monkeypatch.setattr("models.compliance.today_in_england", lambda: TODAY)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def test_the_compliance_report_has_the_section_and_reads_as_a_partner_would(project_db: Data, tmp_path: Path) -> None:
    data = project_db
    produced = produce(YEAR, "northshire")
    assert produced.figures.actions is not None and produced.figures.actions.overdue == 2  # counts only travel on
    pdf = read_document(Report(object_key=produced.key, sha256=produced.sha256, kind="compliance-report"))
    # the pages as pictures, as a partner reads them (pdftoppm): each drawn, none blank
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(tmp_path / "report.pdf"), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(pdf)).pages) >= 3
    assert all(p.stat().st_size > 5_000 for p in pages)

    text = " ".join(text_of(pdf).split())
    section = text[text.index("Recommendations and actions (for the yearly report)") :]
    assert "Notified to the Panel within 5 working days" in text  # the report as it was, before the section
    assert (
        "2 reviews with 4 recommendations and 6 actions to report on: 4 still open, 2 overdue on 31 March 2028, "
        "2 closed in the period." in section
    )
    assert "Accepted as done 2" in section and "Cannot be done, awaiting acceptance 1" in section
    # each review by reference, each recommendation and its actions, in order
    places = [
        section.index(s)
        for s in (
            f"{data.a}: local review",
            "Recommendation 1 (from the local review)",
            "Dr Amara Obi",
            "Recommendation 3 (from the rapid review)",
            "No action has been recorded on this recommendation yet.",
            f"{data.b}: rapid review",
            "Overdue actions",
            "Closed in the year",
            "Themes across reviews",
        )
    ]
    assert places == sorted(places)
    reviews = section[: section.index("Overdue actions")]
    assert "Sent back: The audit covered adults' records only" in reviews
    assert "Reason: The policy is still being rewritten by the partnership." in reviews
    assert "Evidence: The new template has been in use since February 2028." in reviews
    assert "Circulate the old escalation policy again." not in section  # closed before the year
    overdue = section[section.index("Overdue actions") : section.index("Closed in the year")]
    assert f"{data.a} 2 {GP} Dr Tom Reid 30 September 2027 183 In progress" in overdue
    closed = section[section.index("Closed in the year") : section.index("Themes across reviews")]
    assert f"{data.a} 1 {HOSPITAL} 14 July 2027 Accepted as done" in closed
    assert "Neglect 2 yes" in section[section.index("Themes across reviews") :]
    for word in (PLANTED_NAME, *PLANTED_NAME.split("-"), "Okonkwo", f"{PLANTED_DOB:%d/%m/%Y}", "Child A", "Child B"):
        assert word not in text
    assert REMOVED in section


def test_cspr_report_tracker_on_the_command_line(project_db: Data, tmp_path: Path) -> None:
    cspr = typer.Typer()  # registered as cli/main.py registers the group
    cspr.add_typer(report_app, name="report")
    runner = CliRunner()
    out = tmp_path / "tracker.csv"
    result = runner.invoke(cspr, ["report", "tracker", "--partnership", "northshire", "--out", str(out)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a byte order mark: a spreadsheet reads it as UTF-8
    assert len(_read(raw.decode("utf-8-sig"))) == 9
    printed = runner.invoke(cspr, ["report", "tracker", "--partnership", "southmoor"])
    assert printed.exit_code == 0 and _read(printed.output)[0]["review_reference"] == project_db.c
    refused = runner.invoke(cspr, ["report", "tracker", "--partnership", "westmarch"])
    assert refused.exit_code == 2 and "no partnership 'westmarch'" in refused.output
    missing = runner.invoke(cspr, ["report", "tracker"])
    assert missing.exit_code == 2 and "--partnership" in missing.output
    # `cspr report` on its own is still the compliance report, with its refusals
    period = ["--from", "2027-04-01", "--to", "2028-03-31"]
    report = runner.invoke(cspr, ["report", *period, "--partnership", "northshire"])
    assert report.exit_code == 0, report.output
    assert "Actions on recommendations: 6 in 2 review(s); 4 open, 2 overdue on 31 March 2028" in report.output
    for bad, message in [(["--from", "2027-02-30"], "is not a date"), (["--partnership", "westmarch"], "westmarch")]:
        refused = runner.invoke(cspr, ["report", *bad])
        assert refused.exit_code == 2 and message in " ".join(refused.output.split()), refused.output
