"""`deadline-sweep` through Prefect: events, outbox messages and artifacts for overdue deadlines, once."""

from __future__ import annotations

import datetime as dt
import time

from prefect import get_client
from prefect.input.actions import filter_flow_run_input, read_flow_run_input
from prefect.states import Crashed
from sqlmodel import select

from cli.demo import Case, answerer
from cli.system import LocalSystem
from flows.sweep import deadline_sweep
from models import records
from models.audit import read_anchor
from models.db import transaction
from models.tables import Outbox
from tasks.anchors import ANCHOR_FOLDER, latest_anchor
from tasks.storage import open_store
from tests.utils import inprocess
from tests.utils.answering import submit
from tests.utils.api import service_api
from tests.utils.factories import incident


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
    with transaction() as session:
        review, _ = records.create_review(
            session,
            incident(aware_on=dt.date(2026, 12, 18), pseudonyms=("Child Sweep",)),
            actor=records.Actor("Chris Lee", "coordinator"),
        )
        reference = review.reference
    anchors = len(open_store().keys(ANCHOR_FOLDER))
    counts = deadline_sweep(as_of=dt.date(2027, 1, 6))
    assert counts["escalated"] >= 2
    again = deadline_sweep(as_of=dt.date(2027, 1, 6))
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
        review = records.review_by_reference(session, reference)
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
    deadline_sweep(as_of=dt.date(2027, 1, 6))
    left = [
        i.key
        for prefix in ("", "suspended-", "cspr-identity-")
        for i in filter_flow_run_input(key_prefix=prefix, flow_run_id=run_id, limit=100)
    ]
    assert left == []
    artifacts = service_api(deployed).post("/artifacts/latest/filter", json={}).json()
    summary = next(a for a in artifacts if a["key"] == "deadline-sweep")["data"]
    assert "Form answers left in Prefect by runs that ended, deleted:" in summary
