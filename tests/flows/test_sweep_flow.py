"""`deadline-sweep` through Prefect: events, outbox messages and artifacts for overdue deadlines, once; a day to come
only as a dry run, which changes nothing.

The scenarios are set against the real date (a sweep as of a day to come would be refused): a review aware ten
working days before the last working day, so that its notifications are five working days overdue on that day."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from prefect import get_client
from prefect.input.actions import filter_flow_run_input, read_flow_run_input
from prefect.states import Crashed
from sqlmodel import select

from cli.demo import Case, answerer
from cli.system import LocalSystem
from flows.deadline_sweep import deadline_sweep
from models.audit import read_anchor
from models.calendar import StillToCome, calendar_for, today_in_england
from models.db import transaction
from models.review import creation, lookup, transitions
from models.tables import Deadline, Outbox
from tasks.anchors import ANCHOR_FOLDER, latest_anchor
from tasks.storage import open_store
from tests.utils import inprocess
from tests.utils.answering import submit
from tests.utils.api import service_api
from tests.utils.factories import incident


def last_working_day() -> dt.date:
    """The last working day on or before today: a sweep as of it is never a day to come."""
    calendar, day = calendar_for(), today_in_england()
    while not calendar.is_working(day):
        day -= dt.timedelta(days=1)
    return day


def review_overdue_by_five(pseudonym: str) -> tuple[str, dt.date]:
    """A review whose two notifications are five working days overdue (escalated) on the last working day, and
    that day."""
    day = last_working_day()
    aware = calendar_for().add(day, -10)  # the notifications are due 5 working days after
    with transaction() as session:
        review, _ = creation.create_review(
            session,
            incident(aware_on=aware, incident_on=aware, pseudonyms=(pseudonym,)),
            actor=transitions.Actor("Chris Lee", "coordinator"),
        )
        return review.reference, day


def overdue_events(system: LocalSystem, reference: str) -> list[dict[str, object]]:
    response = service_api(system).post(
        "/events/filter",
        json={
            "filter": {"event": {"name": ["cspr.deadline.overdue"]}, "occurred": {"since": "2020-01-01T00:00:00Z"}},
            "limit": 50,
        },
    )
    response.raise_for_status()
    events = response.json()["events"]
    return [e for e in events if e["payload"].get("reference") == reference]


def test_a_manual_sweep_raises_events_messages_and_artifacts_once(deployed: LocalSystem) -> None:
    reference, day = review_overdue_by_five("Child Sweep")
    anchors = len(open_store().keys(ANCHOR_FOLDER))
    counts = deadline_sweep(as_of=day)
    assert counts["escalated"] >= 2
    again = deadline_sweep(as_of=day)
    assert again == counts
    assert len(open_store().keys(ANCHOR_FOLDER)) == anchors + 2  # each sweep anchors the audit trail once
    newest = latest_anchor()
    assert newest is not None and reference in [r.reference for r in read_anchor(newest).reviews]
    deadline = time.monotonic() + 30
    while len(events := overdue_events(deployed, reference)) < 2 and time.monotonic() < deadline:
        time.sleep(1)  # events reach the server asynchronously
    assert sorted(e["payload"]["deadline"] for e in events) == ["notify_panel", "notify_partners"]
    assert all(e["payload"]["working_days_overdue"] == 5 and e["payload"]["level"] == 2 for e in events)
    with transaction() as session:
        review = lookup.review_by_reference(session, reference)
        messages = session.exec(select(Outbox).where(Outbox.review_id == review.id)).all()
    escalations = sorted(m.purpose for m in messages if m.purpose.startswith("escalation:"))
    assert escalations == ["escalation:notify_panel:2", "escalation:notify_partners:2"]
    assert all(m.sent_at is not None for m in messages)
    artifacts = service_api(deployed).post("/artifacts/latest/filter", json={}).json()
    keys = {a["key"] for a in artifacts}
    assert {"deadline-sweep", "deadline-sweep-overdue"} <= keys
    summary = next(a for a in artifacts if a["key"] == "deadline-sweep")["data"]
    assert reference in summary and "Child Sweep" not in summary


def test_a_dead_notification_runs_answer_is_gone_after_the_next_sweep(deployed: LocalSystem) -> None:
    """A notification run that dies between saving the identity answer and forgetting it leaves names in Prefect's
    database; the next sweep deletes every input of every cspr run that ended, notification runs included."""
    case = Case(pseudonym="Child Dead Run", child_name="Wilhelmina Dead-Run Quist")
    run_id = inprocess.run_deployment_now("notify-incident", {"notification": case.notification()})
    submit(inprocess.read(run_id), case.identity(), answerer(None, {}))  # saved in Prefect, with the child's name
    assert case.child_name in str(read_flow_run_input("suspended-identity-1-response", flow_run_id=run_id))
    with get_client(sync_client=True) as client:  # the run dies before it reads the answer and forgets it
        client.set_flow_run_state(run_id, Crashed(message="its worker was killed"), force=True)
    deadline_sweep()
    left = [
        i.key
        for prefix in ("", "suspended-", "cspr-identity-")
        for i in filter_flow_run_input(key_prefix=prefix, flow_run_id=run_id, limit=100)
    ]
    assert left == []
    artifacts = service_api(deployed).post("/artifacts/latest/filter", json={}).json()
    summary = next(a for a in artifacts if a["key"] == "deadline-sweep")["data"]
    assert "Form answers left in Prefect by runs that ended, deleted:" in summary


def what_a_sweep_changes(system: LocalSystem) -> dict[str, object]:
    """Everything a sweep writes: each deadline's status, classification and levels, the outbox, the anchors, and
    the latest version of the real sweep's and the worklist's artifacts."""
    with transaction() as session:
        deadlines = {
            d.id: (d.status, d.sweep_status, d.escalation_level, d.reminder_level)
            for d in session.exec(select(Deadline))
        }
        outbox = sorted((str(m.review_id), m.purpose, m.recipient, m.sent_at) for m in session.exec(select(Outbox)))
    keys = ["deadline-sweep", "deadline-sweep-overdue", "cspr-worklist"]
    latest = service_api(system).post("/artifacts/latest/filter", json={"artifacts": {"key": {"any_": keys}}})
    return {
        "deadlines": deadlines,
        "outbox": outbox,
        "anchors": sorted(open_store().keys(ANCHOR_FOLDER)),
        "artifacts": {a["key"]: a["latest_id"] for a in latest.json()},
    }


def test_a_day_to_come_is_only_a_dry_run_and_the_sweep_on_the_day_still_escalates(deployed: LocalSystem) -> None:
    reference, day = review_overdue_by_five("Child Ahead")
    ahead = today_in_england() + dt.timedelta(days=30)
    before = what_a_sweep_changes(deployed)
    assert before["deadlines"] and before["artifacts"]  # the first test's sweeps left some to compare with
    with pytest.raises(StillToCome, match=r"^A sweep can look ahead only as a dry run: "):
        deadline_sweep(as_of=ahead)
    assert what_a_sweep_changes(deployed) == before
    counts = deadline_sweep(as_of=ahead, dry_run=True)
    assert counts["escalated"] >= 2
    assert what_a_sweep_changes(deployed) == before  # no status, level, message, anchor, worklist or sweep artifact
    latest = service_api(deployed).post("/artifacts/latest/filter", json={"artifacts": {"key": {"like_": "dry-run"}}})
    dry = {a["key"]: a for a in latest.json()}
    summary = dry["deadline-sweep-dry-run"]["data"]
    assert f"Dry run as of {ahead.day} {ahead:%B %Y}: nothing was changed." in summary
    assert f"- {reference}: notify panel, level 2" in summary  # what a sweep on that day would raise
    assert "Child Ahead" not in summary
    overdue = dry["deadline-sweep-dry-run-overdue"]
    assert "dry run" in overdue["description"] and reference in str(overdue["data"])
    deadline_sweep(as_of=day)  # the sweep of the day itself: the dry run took nothing from it
    with transaction() as session:
        review = lookup.review_by_reference(session, reference)
        purposes = sorted(m.purpose for m in session.exec(select(Outbox).where(Outbox.review_id == review.id)))
        levels = {
            d.name: d.escalation_level for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))
        }
    assert [p for p in purposes if p.startswith("escalation:")] == [
        "escalation:notify_panel:2",
        "escalation:notify_partners:2",
    ]
    assert levels["notify_panel"] == 2 and levels["notify_partners"] == 2
