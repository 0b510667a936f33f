"""A partnership's choice of where its rapid reviews count from: recorded in the register's hash-chained history, it
moves no running review's dates until an operator recounts them, and the recount reports what moved, as ``cspr
calendar import`` does (SQLite and PostgreSQL).

Hand counts (GOV.UK's list: Christmas Day Fri 25 Dec 2026, Boxing Day's substitute Mon 28 Dec, New Year's Day Fri
1 Jan 2027; Good Friday 26 Mar 2027, Easter Monday 29 Mar 2027), 15 working days, day 0 the day counted from:
- Christmas: aware Fri 18 Dec 2026 -> Wed 13 Jan 2027; notified Tue 22 Dec 2026 -> Fri 15 Jan 2027;
- Easter: aware Thu 11 Mar 2027 -> Mon 5 Apr 2027; notified Wed 17 Mar 2027 -> Fri 9 Apr 2027.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from models import audit, documents, rulebook
from models.db import transaction
from models.review import creation, transitions
from models.review.timetable import milestones_of, refresh_deadlines, set_milestones
from models.rulebook import EDITION_RULE, Event
from models.tables import Deadline, Partnership, RegisterAction, RegisterEvent, Review
from tasks.pdf import render_html
from tests.utils.factories import incident, make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")
runner = CliRunner()

CHRISTMAS = (D(2026, 12, 18), D(2026, 12, 22))  # aware, notified
EASTER = (D(2027, 3, 11), D(2027, 3, 17))


def record(engine: Engine, pseudonym: str, aware: dt.date, notified: dt.date | None = None, **more: dt.date) -> str:
    """A review of an invented incident, with its notification (and any later event) recorded."""
    with transaction(engine) as session:
        if session.exec(select(Partnership)).first() is None:
            make_partnership(session, rapid_review_count=None)  # follows the edition's count until it chooses
        review, _ = creation.create_review(
            session,
            incident(aware_on=aware, incident_on=aware, pseudonyms=(pseudonym,)),
            actor=COORDINATOR,
            at=dt.datetime.now(dt.UTC),
        )
        events = {Event.AWARE_ON: aware} | ({Event.NOTIFIED_ON: notified} if notified else {})
        set_milestones(session, review, events | {Event(k): v for k, v in more.items()})
        refresh_deadlines(session, review)
        return review.reference


def rapid_review(engine: Engine, reference: str) -> tuple[dt.date, str, dt.date | None, str | None] | None:
    """The review's rapid review deadline: due, counted from, and the date counted from the other start."""
    with Session(engine) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        row = session.exec(
            select(Deadline).where(Deadline.review_id == review.id, Deadline.name == "rapid_review")
        ).first()
        return None if row is None else (row.due_on, row.basis, row.alternative_on, row.alternative_basis)


def count_events(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        rows = session.exec(
            select(RegisterEvent)
            .where(RegisterEvent.action == RegisterAction.RAPID_REVIEW_COUNT)
            .order_by(col(RegisterEvent.seq))
        ).all()
        return [dict(r.details) for r in rows]


def invoke(engine: Engine, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setattr("models.db.transaction", lambda: transaction(engine))
    result = runner.invoke(app, ["partnerships", "rapid-review-count", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_choice_is_recorded_and_moves_nothing_until_a_recount_reports_what_moved(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wt2026 counts from the notification: the date from awareness is beside it
    christmas = record(engine, "Child A", *CHRISTMAS)
    easter = record(engine, "Child B", *EASTER)
    sent = record(engine, "Child C", *CHRISTMAS, rapid_review_sent_on=D(2027, 1, 12))  # its rapid review is sent
    assert rapid_review(engine, christmas) == (D(2027, 1, 15), "notified_on", D(2027, 1, 13), "aware_on")
    assert rapid_review(engine, easter) == (D(2027, 4, 9), "notified_on", D(2027, 4, 5), "aware_on")

    # the partnership chooses to count from awareness: recorded, and the running reviews keep their dates
    said = " ".join(invoke(engine, monkeypatch, "northshire", "aware").split())
    assert "now counts its rapid reviews from the day the local authority became aware" in said
    assert "2 review(s) running keep the dates they were recorded with" in said and "--recount" in said
    assert rapid_review(engine, christmas) == (D(2027, 1, 15), "notified_on", D(2027, 1, 13), "aware_on")
    assert rapid_review(engine, easter) == (D(2027, 4, 9), "notified_on", D(2027, 4, 5), "aware_on")
    assert count_events(engine) == [{"partnership": "northshire", "count": "aware", "was": "edition", "recounted": []}]
    with Session(engine) as session:
        assert session.exec(select(Partnership)).one().rapid_review_count is Event.AWARE_ON

    # a review recorded after the choice counts from awareness, even before its notification is sent
    later = record(engine, "Child D", D(2026, 12, 18))
    assert rapid_review(engine, later) == (D(2027, 1, 13), "aware_on", None, None)

    # the recount pins the running reviews to the choice and reports what moved; the one whose rapid review was sent,
    # and the one already counted from awareness, keep theirs
    report = json.loads(invoke(engine, monkeypatch, "northshire", "aware", "--recount", "--json"))
    assert report["running"] == sorted([christmas, easter, later])
    assert [(m["reference"], m["was"], m["now"]) for m in report["moved"]] == [
        (christmas, "2027-01-15", "2027-01-13"),
        (easter, "2027-04-09", "2027-04-05"),
    ]
    assert report["recounted"] == 4  # the two reviews' open deadlines: tell the partners, the rapid review
    assert rapid_review(engine, christmas) == (D(2027, 1, 13), "aware_on", D(2027, 1, 15), "notified_on")
    assert rapid_review(engine, easter) == (D(2027, 4, 5), "aware_on", D(2027, 4, 9), "notified_on")
    assert rapid_review(engine, sent) == (D(2027, 1, 15), "notified_on", D(2027, 1, 13), "aware_on")
    assert count_events(engine)[-1] == {
        "partnership": "northshire",
        "count": "aware",
        "was": "aware",
        "recounted": sorted([christmas, easter]),
    }

    # back to the edition's count, recounted, in words as `cspr calendar import` reports
    said = " ".join(invoke(engine, monkeypatch, "northshire", "edition", "--recount").split())
    assert "now counts its rapid reviews as the edition each review follows counts" in said
    assert f"{christmas}: Rapid review completed and sent to the Panel: Wed 13 Jan 2027 -> Fri 15 Jan 2027" in said
    assert f"{later}: Rapid review completed and sent to the Panel: no date until the notification" in said
    assert rapid_review(engine, later) is None  # counted from a notification not yet sent

    # every choice is an entry of the register's chain, which still verifies
    with Session(engine) as session:
        verified = audit.verify(session)
    assert verified.findings == []
    assert len(count_events(engine)) == 3


def test_without_a_choice_the_command_says_the_count_and_refuses_an_unknown_partnership(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(engine, "Child A", *CHRISTMAS)
    said = " ".join(invoke(engine, monkeypatch, "northshire").split())
    assert "northshire counts its rapid reviews as the edition each review follows counts" in said
    assert "1 review(s) running" in said
    again = " ".join(invoke(engine, monkeypatch, "northshire", "edition").split())
    assert "already counts" in again
    assert count_events(engine) == []  # nothing changed, nothing recorded
    result = runner.invoke(app, ["partnerships", "rapid-review-count", "southshire", "aware"])
    assert result.exit_code == 2


@pytest.mark.parametrize(("aware", "edition"), [(D(2026, 3, 17), "wt2023"), (D(2026, 3, 18), "wt2026")])
def test_a_review_follows_the_edition_in_force_on_the_day_of_awareness(
    engine: Engine, aware: dt.date, edition: str
) -> None:
    """The one rule, in the review's record and in the notification summary it is given (rendered as the worker
    renders it), with each deadline's kind in words and the other count beside the rapid review's date."""
    reference = record(engine, "Child A", aware, aware + dt.timedelta(days=1))
    with Session(engine) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        assert review.edition == edition
        spec = documents._notification(session, review, milestones_of(session, review.id), D(2026, 3, 20))
    html = " ".join(render_html(spec.template, spec.context).split())
    title = rulebook.edition(edition).title
    assert f'{title}<br><span class="muted">{EDITION_RULE}</span>' in html
    assert f"statutory guidance ({title})" in html
    assert "a duty in statute and regulation (Children Act 2004 s16C; SI 2018/789)" in html
    if edition == "wt2026":  # counted from the notification, the date from awareness beside it
        assert "counted from the local authority becoming aware: an earlier date a partnership may aim for" in html
