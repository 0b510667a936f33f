"""A review under an edition that does not define a deadline has no such deadline, and nothing breaks for it: the
form above its step shows none, the worklist gives none, the sweep has nothing to chase, the compliance report does
not count it, and its documents leave the date out (SQLite and PostgreSQL).

Two reviews of the same dates side by side: one pinned to wt2026, one to an invented edition in force from 2030
that gives no rapid review clock, no six months to publish, no notice before publication and no year kept published
(tests/utils/editions.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import documents, process, rulebook, sweep, worklist
from models.compliance import Period, compliance
from models.db import transaction
from models.review import creation, lookup, timetable, transitions
from models.rulebook import Entry, Event
from models.tables import Deadline, Outbox, Review
from tests.utils.editions import LEAN_ID, LEAN_WITHOUT, edition_text, rulebook_with
from tests.utils.factories import incident, make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")
AWARE = D(2030, 1, 14)  # a Monday; the notification is due Mon 21 Jan, the rapid review (wt2026) Mon 4 Feb
TOLD = {Event.NOTIFIED_ON: D(2030, 1, 16), Event.PARTNERS_TOLD_ON: D(2030, 1, 16)}
PINNED_AT = {
    "wt2026": dt.datetime(2029, 12, 31, 10, tzinfo=dt.UTC),
    LEAN_ID: dt.datetime(2030, 1, 15, 10, tzinfo=dt.UTC),
}


@pytest.fixture
def lean_rulebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped editions and the invented one."""
    directory = rulebook_with(tmp_path / "rulebooks", (f"{LEAN_ID}.toml", edition_text(without=LEAN_WITHOUT)))
    monkeypatch.setattr(rulebook, "RULEBOOK_DIR", directory)
    rulebook.editions.cache_clear()
    yield
    rulebook.editions.cache_clear()


def notified(engine: Engine) -> dict[str, str]:
    """Both reviews, notified on time and waiting for their rapid review: their references by edition."""
    found = {}
    with transaction(engine) as session:
        make_partnership(session)
        for edition_id, at in PINNED_AT.items():
            review, _ = creation.create_review(
                session,
                incident(aware_on=AWARE, incident_on=AWARE, pseudonyms=(f"Child {edition_id}",)),
                actor=COORDINATOR,
                at=at,
            )
            # both became aware the same day, so both follow the lean edition (rulebook.EDITION_RULE); one is pinned
            # to wt2026 as a review recorded under it would be, so the two differ only in their edition
            review.edition = edition_id
            session.add(review)
            transitions.apply_transition(session, review, "submit_notification", actor=COORDINATOR, milestones=TOLD)
            found[edition_id] = review.reference
    return found


def deadlines(session: Session, reference: str) -> dict[str, dt.date]:
    review = lookup.review_by_reference(session, reference)
    return {d.name: d.due_on for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))}


@pytest.mark.usefixtures("lean_rulebook")
def test_a_review_under_an_edition_without_a_deadline_has_none(engine: Engine) -> None:
    refs = notified(engine)
    with Session(engine) as session:
        assert deadlines(session, refs["wt2026"]) == {
            "notify_panel": D(2030, 1, 21),
            "notify_partners": D(2030, 1, 21),
            "rapid_review": D(2030, 2, 4),
        }
        # what the edition does define is counted as before
        assert deadlines(session, refs[LEAN_ID]) == {"notify_panel": D(2030, 1, 21), "notify_partners": D(2030, 1, 21)}
        lean = lookup.review_by_reference(session, refs[LEAN_ID])
        assert timetable.deadline_on(session, lean, Entry.RAPID_REVIEW) is None
        assert documents.retention_until(session, lean) is None


@pytest.mark.usefixtures("lean_rulebook")
def test_the_form_and_the_worklist_show_no_deadline_the_edition_does_not_define(engine: Engine) -> None:
    refs = notified(engine)
    with Session(engine) as session:
        shown = {}
        for edition_id, reference in refs.items():
            review = lookup.review_by_reference(session, reference)
            action = process.next_action(session, review, today=D(2030, 1, 20))
            assert isinstance(action, process.WaitForForm) and action.step.deadline is Entry.RAPID_REVIEW
            shown[edition_id] = action.description
        lines = {e: shown[e].replace(refs[e], "REF").splitlines()[:-1] for e in refs}  # the last names the edition
        due = (
            "**Rapid review completed and sent to the Panel: due by Monday 04 February 2030**: statutory guidance "
            "(Working Together to Safeguard Children 2026) (WT2026 (unchanged"
        )
        (at,) = [n for n, line in enumerate(lines["wt2026"]) if line.startswith(due)]
        # counted from awareness (the partnership's choice), the notification's count beside it
        beside = "Beside it: Wednesday 06 February 2030 counted from the notification to the Panel"
        assert lines["wt2026"][at + 1].startswith(beside)
        assert lines["wt2026"][at + 2].startswith("This date is *provisional*") and lines["wt2026"][at + 3] == ""
        # the same description, without the deadline's lines
        assert lines[LEAN_ID] == lines["wt2026"][:at] + lines["wt2026"][at + 4 :]
        assert "due by" not in shown[LEAN_ID] and "provisional" not in shown[LEAN_ID]
        waiting = {w.reference: w.deadline for w in worklist.worklist(session, D(2030, 1, 20))}
        assert waiting == {refs["wt2026"]: D(2030, 2, 4), refs[LEAN_ID]: None}


@pytest.mark.usefixtures("lean_rulebook")
def test_the_sweep_escalates_only_what_the_edition_defines(engine: Engine) -> None:
    refs = notified(engine)
    with transaction(engine) as session:
        frame, raised = sweep.sweep(session, D(2030, 3, 1))  # weeks past the rapid review's 15 working days
    assert sorted(zip(frame["reference"], frame["name"], strict=True)) == [(refs["wt2026"], "rapid_review")]
    assert {(e.reference, e.deadline) for e in raised} == {(refs["wt2026"], "rapid_review")}
    with Session(engine) as session:
        lean = lookup.review_by_reference(session, refs[LEAN_ID])
        assert session.exec(select(Outbox).where(Outbox.review_id == lean.id)).all() == []


@pytest.mark.usefixtures("lean_rulebook")
def test_compliance_counts_a_clock_only_for_the_reviews_whose_edition_has_it(engine: Engine) -> None:
    refs = notified(engine)
    with Session(engine) as session:
        report = compliance(session, Period(D(2030, 1, 1), D(2030, 2, 28)), today=D(2030, 3, 1))
    fell_due = dict(zip(report.timeliness["measure"], report.timeliness["fell_due"], strict=True))
    assert fell_due == {"notify_panel": 2, "rapid_review": 1, "lcspr_publication": 0}
    assert report.overdue["reference"].tolist() == [refs["wt2026"]]


@pytest.mark.usefixtures("lean_rulebook")
def test_the_notification_summary_lists_only_the_deadlines_the_edition_defines(engine: Engine) -> None:
    refs = notified(engine)
    with Session(engine) as session:
        listed = {}
        for edition_id, reference in refs.items():
            review = session.exec(select(Review).where(Review.reference == reference)).one()
            (summary,) = documents.plan(session, review, today=D(2030, 1, 20))
            listed[edition_id] = [d["title"] for d in summary.context["deadlines"]]
    assert listed[LEAN_ID] == [t for t in listed["wt2026"] if not t.startswith("Rapid review")]
    assert len(listed["wt2026"]) == len(listed[LEAN_ID]) + 1
