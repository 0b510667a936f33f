"""`cspr calendar import`: a newer GOV.UK bank holiday list makes provisional deadlines exact, and reports the ones it
moved; a file that cannot be used is refused with a clear message and changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from models import bank_holidays, sweep
from models.bank_holidays import regular_holidays, shipped_list
from models.calendar import calendar_for
from models.db import transaction
from models.review import creation, transitions
from models.review.timetable import recount_open
from models.summaries import sweep_summary
from models.tables import Deadline, Review
from models.timeline import timeline_markdown
from tasks.pdf import environment
from tests.utils.factories import incident, make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")
runner = CliRunner()


@pytest.fixture(autouse=True)
def own_calendar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test imports into a folder of its own, not the session's CSPR_HOME."""
    target = tmp_path / "calendar" / "bank-holidays.json"
    monkeypatch.setattr(bank_holidays, "imported_path", lambda: target)
    yield target


def govuk_json(extra: dict[str, list[tuple[str, str]]] | None = None, *, drop: str = "") -> str:
    """The shipped GOV.UK list, with years added (``extra``: year -> [(date, title)]) or a division dropped."""
    spec = find_spec("govuk_bank_holidays")
    assert spec is not None and spec.origin is not None
    data = json.loads((Path(spec.origin).parent / "bank-holidays.json").read_text())
    for events in (extra or {}).values():
        data["england-and-wales"]["events"] += [
            {"title": t, "date": d, "notes": "", "bunting": True} for d, t in events
        ]
    if drop:
        del data[drop]
    return json.dumps(data)


# 2029 as GOV.UK would publish it, with a one-off holiday added on Monday 8 January 2029 (invented for the test)
YEAR_2029 = [
    ("2029-01-01", "New Year’s Day"),
    ("2029-01-08", "A one-off bank holiday (invented for this test)"),
    ("2029-03-30", "Good Friday"),
    ("2029-04-02", "Easter Monday"),
    ("2029-05-07", "Early May bank holiday"),
    ("2029-05-28", "Spring bank holiday"),
    ("2029-08-27", "Summer bank holiday"),
    ("2029-12-25", "Christmas Day"),
    ("2029-12-26", "Boxing Day"),
]


def review_aware_on(engine: Engine, aware: dt.date) -> str:
    with transaction(engine) as session:
        make_partnership(session)
        review, _ = creation.create_review(
            session, incident(aware_on=aware, incident_on=aware), actor=COORDINATOR, at=dt.datetime.now(dt.UTC)
        )
        return review.reference


def timetable(engine: Engine, reference: str) -> dict[str, tuple[dt.date, bool]]:
    with Session(engine) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        rows = session.exec(select(Deadline).where(Deadline.review_id == review.id)).all()
        return {d.name: (d.due_on, d.provisional) for d in rows}


def test_a_newer_list_makes_the_dates_exact_and_reports_the_one_that_moved(engine: Engine, tmp_path: Path) -> None:
    reference = review_aware_on(engine, D(2028, 12, 20))
    assert timetable(engine, reference)["notify_panel"] == (D(2028, 12, 29), False)
    assert timetable(engine, reference)["rapid_review"] == (D(2029, 1, 15), True)  # over New Year's Day 2029

    newer = tmp_path / "bank-holidays.json"
    newer.write_text(govuk_json({"2029": YEAR_2029}))
    before, now = bank_holidays.import_list(newer)
    assert (before.last_year, now.last_year) == (shipped_list().last_year, 2029)
    with transaction(engine) as session:
        recounted = recount_open(session)

    # the one-off holiday on 8 January 2029 moves the rapid review a day, and the date is now exact
    assert len(recounted) == 3  # the open deadlines: notify the Panel, tell the partners, the rapid review
    assert [(r.reference, r.was, r.now, r.provisional) for r in recounted if r.moved] == [
        (reference, D(2029, 1, 15), D(2029, 1, 16), False)
    ]
    assert timetable(engine, reference)["rapid_review"] == (D(2029, 1, 16), False)


def test_the_command_reports_what_moved(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    review_aware_on(engine, D(2028, 12, 20))
    monkeypatch.setattr("models.db.transaction", lambda: transaction(engine))
    newer = tmp_path / "bank-holidays.json"
    newer.write_text(govuk_json({"2029": YEAR_2029}))
    result = runner.invoke(app, ["calendar", "import", str(newer), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["published_to"] == 2029 and report["recounted"] == 3
    assert [(m["was"], m["now"], m["provisional"]) for m in report["moved"]] == [("2029-01-15", "2029-01-16", False)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"england-and-wales": {"division": "england-and-wales", "events": [{"title": "New', "not a complete JSON"),
        (lambda: govuk_json(drop="england-and-wales"), "no list for England and Wales"),
        (
            lambda: json.dumps(
                {
                    "england-and-wales": {
                        "division": "england-and-wales",
                        "events": [
                            e for e in json.loads(govuk_json())["england-and-wales"]["events"] if e["date"] < "2021"
                        ]
                        + [{"title": "Boxing Day", "date": "2026-12-28"}],
                    }
                }
            ),
            "missing bank holidays of 2021",
        ),
        ('{"england-and-wales": {"events": [{"title": "Christmas Day", "date": "25/12/2029"}]}}', "no valid date"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_and_changes_nothing(
    own_calendar: Path, tmp_path: Path, content: object, message: str
) -> None:
    bad = tmp_path / "downloaded.json"
    bad.write_text(content() if callable(content) else str(content))
    result = runner.invoke(app, ["calendar", "import", str(bad)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert message in said and "The calendar is unchanged." in said
    assert not own_calendar.exists()
    assert bank_holidays.published_list().last_year == shipped_list().last_year


def test_an_older_list_is_refused(own_calendar: Path, tmp_path: Path) -> None:
    older = json.loads(govuk_json())
    older["england-and-wales"]["events"] = [e for e in older["england-and-wales"]["events"] if e["date"] < "2027"]
    file = tmp_path / "old.json"
    file.write_text(json.dumps(older))
    result = runner.invoke(app, ["calendar", "import", str(file)])
    assert result.exit_code == 2 and "older" in result.output
    assert not own_calendar.exists()


def test_a_provisional_date_says_so_in_the_timeline_the_documents_and_the_sweep(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2028, 12, 20))
    with transaction(engine) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        timeline = timeline_markdown(session, review, D(2028, 12, 21))
        frame, raised = sweep.sweep(session, D(2028, 12, 21))
        summary = sweep_summary(sweep.sweep_result(D(2028, 12, 21), frame, raised))
    assert "Mon 15 Jan 2029 (provisional)" in timeline and "Fri 29 Dec 2028 |" in timeline
    assert "A provisional date is counted past the last year of GOV.UK's published bank holidays" in timeline
    assert "1 of the open deadlines are provisional" in summary
    html = (
        environment()
        .get_template("_macros.html")
        .module.deadlines_table(  # type: ignore[attr-defined]
            [
                {
                    "title": "Rapid review",
                    "meaning": "due by",
                    "due_on": "15 Jan 2029",
                    "state": "due",
                    "state_class": "open",
                    "source": "WT2026",
                    "provisional": True,
                }
            ]
        )
    )
    assert "provisional" in str(html) and "cspr calendar import" in str(html)


def test_a_newer_list_without_its_oldest_years_keeps_them_from_the_shipped_copy(
    own_calendar: Path, tmp_path: Path
) -> None:
    """GOV.UK drops old years from the list now and then: a download starting in 2020 is accepted, and 2018's
    holidays are still holidays."""
    newer = json.loads(govuk_json({"2029": YEAR_2029}))
    events = newer["england-and-wales"]["events"]
    newer["england-and-wales"]["events"] = [e for e in events if e["date"] >= "2020"]
    file = tmp_path / "from-2020.json"
    file.write_text(json.dumps(newer))
    _, now = bank_holidays.import_list(file)
    assert now.last_year == 2029
    calendar = calendar_for()
    assert not calendar.is_working(D(2018, 4, 2)) and not calendar.is_working(D(2029, 1, 8))  # Easter Monday 2018
    later = [{"title": t, "date": d.isoformat()} for d, t in regular_holidays(2031).items()]  # 2029 and 2030 missing
    file.write_text(json.dumps({"england-and-wales": {"division": "england-and-wales", "events": later}}))
    result = runner.invoke(app, ["calendar", "import", str(file)])
    assert result.exit_code == 2 and "would have no bank holidays" in " ".join(result.output.split())
