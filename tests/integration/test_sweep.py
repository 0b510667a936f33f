"""The deadline sweep on hand-built reviews: classifications around Christmas and month ends, reminders before a
deadline and escalations after it, each once per level and person however often the sweep runs, to whoever must act,
and two sweeps at once raising nothing twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import sweep
from models.db import transaction
from models.review import creation, lookup, timetable, transitions
from models.rulebook import Event
from models.tables import Deadline, Outbox, Review
from tests.utils.factories import incident, make_partnership

D = dt.date
COORDINATOR = transitions.Actor("Chris Lee", "coordinator")


def review_aware_on(engine: Engine, aware: dt.date, pseudonym: str = "Child S") -> str:
    with transaction(engine) as session:
        if session.exec(select(Review)).first() is None:
            make_partnership(session)
        review, _ = creation.create_review(
            session,
            incident(aware_on=aware, incident_on=aware, pseudonyms=(pseudonym,)),
            actor=COORDINATOR,
            at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        )
        return review.reference


def statuses(engine: Engine, as_of: dt.date) -> dict[tuple[str, str], str]:
    with transaction(engine) as session:
        frame, _ = sweep.sweep(session, as_of)
    return {(r.reference, r.name): r.sweep_status for r in frame.itertuples()}


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (D(2026, 12, 22), "on_track"),  # 23, 24, 29 Dec left: 3
        (D(2026, 12, 23), "due_soon"),  # 24, 29: 2
        (D(2026, 12, 26), "due_soon"),  # a Saturday; 28 Dec is the Boxing Day substitute: 1 left
        (D(2026, 12, 29), "due_today"),
        (D(2026, 12, 30), "overdue"),
        (D(2027, 1, 5), "overdue"),  # 30, 31 Dec, (1 Jan holiday), 4, 5 Jan: 4 overdue
        (D(2027, 1, 6), "escalated"),  # 5 working days overdue
    ],
)
def test_the_notification_deadline_around_christmas(engine: Engine, as_of: dt.date, expected: str) -> None:
    reference = review_aware_on(engine, D(2026, 12, 18))  # due Tue 29 Dec 2026
    assert statuses(engine, as_of)[(reference, "notify_panel")] == expected


def test_a_month_end_and_the_rapid_review(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2027, 1, 29))  # notification due Fri 5 Feb; rapid review Fri 19 Feb
    result = statuses(engine, D(2027, 2, 1))
    assert result[(reference, "notify_panel")] == "on_track"  # 2, 3, 4, 5 Feb left
    assert result[(reference, "rapid_review")] == "on_track"
    assert statuses(engine, D(2027, 2, 4))[(reference, "notify_panel")] == "due_soon"


def test_met_deadlines_and_closed_reviews_are_not_swept(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2026, 12, 18))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        told = {Event.NOTIFIED_ON: D(2026, 12, 22), Event.PARTNERS_TOLD_ON: D(2026, 12, 22)}
        transitions.apply_transition(session, review, "submit_notification", actor=COORDINATOR, milestones=told)
    names = {name for (_, name) in statuses(engine, D(2027, 1, 20))}
    assert names == {"rapid_review"}


def test_a_sweep_with_nothing_open_classifies_nothing(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
    with transaction(engine) as session:
        frame, raised = sweep.sweep(session, D(2027, 1, 6))
    assert frame.empty and raised == []
    assert sweep.summary(frame).empty


def escalations(engine: Engine, as_of: dt.date) -> list[sweep.Escalation]:
    with transaction(engine) as session:
        return sweep.sweep(session, as_of)[1]


def test_escalations_are_raised_once_per_level(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2026, 12, 18))
    first = escalations(engine, D(2026, 12, 30))
    assert {(e.deadline, e.level) for e in first} == {("notify_panel", 1), ("notify_partners", 1)}
    assert {e.stage for e in first} == {"incident_recorded"}  # read from the review, for escalations only
    assert escalations(engine, D(2026, 12, 30)) == [] and escalations(engine, D(2026, 12, 30)) == []
    later = escalations(engine, D(2027, 1, 6))
    assert {(e.deadline, e.level, e.days_overdue) for e in later} == {("notify_panel", 2, 5), ("notify_partners", 2, 5)}
    assert escalations(engine, D(2027, 1, 7)) == []
    with Session(engine) as session:
        purposes = sorted(m.purpose for m in session.exec(select(Outbox)))
        levels = {d.name: d.escalation_level for d in session.exec(select(Deadline))}
    assert purposes == [
        "escalation:notify_panel:1",
        "escalation:notify_panel:2",
        "escalation:notify_partners:1",
        "escalation:notify_partners:2",
    ]
    assert levels["notify_panel"] == 2 and levels["rapid_review"] == 0
    assert all(reference in e.reference for e in first + later)


def test_two_sweeps_at_once_raise_each_escalation_once(engine: Engine) -> None:
    for i in range(20):
        review_aware_on(engine, D(2026, 12, 18) - dt.timedelta(days=i), pseudonym=f"Child {i}")
    barrier = threading.Barrier(2)
    raised: list[sweep.Escalation] = []

    def run() -> None:
        barrier.wait()
        raised.extend(escalations(engine, D(2027, 1, 6)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    keys = [(e.deadline_id, e.level) for e in raised]
    assert len(keys) == len(set(keys)) >= 40  # at least 20 reviews x 2 notification deadlines, each raised once
    with Session(engine) as session:
        messages = session.exec(select(Outbox)).all()
    assert len([m for m in messages if m.purpose.startswith("escalation:")]) == len(keys)
    reminders = [(m.review_id, m.purpose, m.recipient) for m in messages if m.purpose.startswith("reminder:")]
    assert reminders and len(reminders) == len(set(reminders))  # the rapid reviews due soon: each reminded once
    assert escalations(engine, D(2027, 1, 6)) == []


def test_an_expectation_is_classified_but_never_escalated(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2026, 12, 18))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        timetable.set_milestones(session, review, {Event.RAPID_REVIEW_SENT_ON: D(2027, 1, 4)})
        timetable.refresh_deadlines(session, review)
    with transaction(engine) as session:
        frame, raised = sweep.sweep(session, D(2027, 3, 1))
    panel = frame[frame["name"] == "panel_response"].iloc[0]
    assert panel["sweep_status"] == "escalated" and panel["level"] == 0
    assert "panel_response" not in {e.deadline for e in raised}


def test_the_summary_counts_per_partnership_and_status(engine: Engine) -> None:
    review_aware_on(engine, D(2026, 12, 18))
    with transaction(engine) as session:
        frame, _ = sweep.sweep(session, D(2026, 12, 23))
    table = sweep.summary(frame)
    row = table[table["partnership"] == "northshire"].iloc[0]
    assert row["due_soon"] == 2 and row["on_track"] == 1 and row["overdue"] == 0


def told(engine: Engine, kind: str) -> list[tuple[str, str]]:
    """The outbox messages of one kind ("reminder", "escalation"): purpose and recipient, sorted."""
    with Session(engine) as session:
        messages = session.exec(select(Outbox)).all()
    return sorted((m.purpose, m.recipient) for m in messages if m.purpose.startswith(f"{kind}:"))


def test_whoever_must_act_is_reminded_two_working_days_before_and_on_the_day_once_each(engine: Engine) -> None:
    review_aware_on(engine, D(2026, 12, 18))  # the notifications are due Tue 29 Dec 2026
    for _ in range(3):  # three sweeps in a day
        statuses(engine, D(2026, 12, 23))  # 24 and 29 Dec left: due soon
    soon = [
        ("reminder:notify_panel:1", "role:coordinator"),  # the step waiting now works towards it
        ("reminder:notify_partners:1", "coordinator"),  # no step waits on it: the coordinator sees to it
    ]
    assert told(engine, "reminder") == soon
    statuses(engine, D(2026, 12, 24))  # still due soon: nothing new
    assert told(engine, "reminder") == soon
    for _ in range(3):
        statuses(engine, D(2026, 12, 29))
    on_the_day = [("reminder:notify_panel:2", "role:coordinator"), ("reminder:notify_partners:2", "coordinator")]
    assert told(engine, "reminder") == sorted(soon + on_the_day)
    with Session(engine) as session:
        subjects = {m.purpose: m.subject for m in session.exec(select(Outbox))}
    assert subjects["reminder:notify_panel:1"].endswith("is due in 2 working day(s)")
    assert subjects["reminder:notify_panel:2"].endswith("is due today")


def test_an_overdue_sign_off_is_escalated_to_the_coordinator_and_each_partner_still_to_sign(engine: Engine) -> None:
    from cli.demo import Case
    from models.stages import Stage
    from tests.integration.test_answers import TODAY, _at, answer

    reference, c = _at(engine, Stage.RAPID_REVIEW_SIGN_OFF, Case(today=TODAY))
    assert answer(engine, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted  # the local authority signs
    raised = escalations(engine, TODAY + dt.timedelta(days=60))
    assert "rapid_review" in {e.deadline for e in raised}
    rapid = [(p, r) for p, r in told(engine, "escalation") if p.startswith("escalation:rapid_review:")]
    assert rapid == [
        ("escalation:rapid_review:2", "coordinator"),
        ("escalation:rapid_review:2", "role:health"),
        ("escalation:rapid_review:2", "role:police"),
    ]
    assert escalations(engine, TODAY + dt.timedelta(days=61)) == []  # once


def snapshot(engine: Engine) -> tuple[dict[object, tuple[object, ...]], list[tuple[object, ...]]]:
    """Every deadline's status, classification and levels, and every outbox message: what a sweep may change."""
    with Session(engine) as session:
        deadlines = {
            d.id: (d.status, d.sweep_status, d.escalation_level, d.reminder_level)
            for d in session.exec(select(Deadline))
        }
        outbox = sorted((str(m.review_id), m.purpose, m.recipient, m.sent_at) for m in session.exec(select(Outbox)))
    return deadlines, outbox


def test_a_day_to_come_is_swept_only_as_a_dry_run_and_a_past_day_as_before() -> None:
    from models.calendar import StillToCome, today_in_england

    today = today_in_england()
    tomorrow = today + dt.timedelta(days=1)
    with pytest.raises(StillToCome, match=r"^A sweep can look ahead only as a dry run: .* is still to come"):
        sweep.check_day(tomorrow, dry_run=False)
    for day in (tomorrow, today, today - dt.timedelta(days=400)):
        sweep.check_day(day, dry_run=True)
    sweep.check_day(today, dry_run=False)
    sweep.check_day(today - dt.timedelta(days=400), dry_run=False)


def test_a_dry_run_changes_nothing_and_the_sweep_on_the_day_still_escalates(engine: Engine) -> None:
    reference = review_aware_on(engine, D(2026, 12, 18))  # the notifications are due Tue 29 Dec 2026
    statuses(engine, D(2026, 12, 22))  # the sweep of the day before: 3 working days left, nothing raised
    before = snapshot(engine)
    with Session(engine) as session:
        frame, would_raise = sweep.preview(session, D(2027, 1, 6))
    assert {(e.reference, e.deadline, e.level, e.days_overdue) for e in would_raise} == {
        (reference, "notify_panel", 2, 5),
        (reference, "notify_partners", 2, 5),
    }
    result = sweep.sweep_result(D(2027, 1, 6), frame, would_raise, dry_run=True)
    assert {(r["reference"], r["status"]) for r in result.overdue} == {(reference, "escalated")}
    assert snapshot(engine) == before  # no status recorded, no level raised, no message queued
    later = escalations(engine, D(2027, 1, 6))  # the sweep on the day itself
    assert {(e.deadline, e.level, e.days_overdue) for e in later} == {("notify_panel", 2, 5), ("notify_partners", 2, 5)}
    assert [p for p, _ in told(engine, "escalation")] == ["escalation:notify_panel:2", "escalation:notify_partners:2"]


def test_cspr_sweep_refuses_a_day_to_come_and_looks_at_it_with_dry_run() -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from models.calendar import today_in_england
    from models.db import get_engine, migrate

    migrate(get_engine())
    ahead = today_in_england() + dt.timedelta(days=400)
    before = snapshot(get_engine())
    runner = CliRunner()
    refused = runner.invoke(app, ["sweep", "--as-of", ahead.isoformat()])
    assert refused.exit_code == 2
    assert "A sweep can look ahead only as a dry run" in " ".join(refused.output.split())
    dry = runner.invoke(app, ["sweep", "--as-of", ahead.isoformat(), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Dry run as of {ahead.day} {ahead:%B %Y}: nothing was changed." in " ".join(dry.output.split())
    assert snapshot(get_engine()) == before
