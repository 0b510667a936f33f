"""`deadline-sweep` through Prefect: events, outbox messages and artifacts for overdue deadlines, once."""

from __future__ import annotations

import datetime as dt
import time

from sqlmodel import select

from cli.system import LocalSystem
from flows.sweep import deadline_sweep
from models import records
from models.db import transaction
from models.tables import Outbox
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
    counts = deadline_sweep(as_of=dt.date(2027, 1, 6))
    assert counts["escalated"] >= 2
    again = deadline_sweep(as_of=dt.date(2027, 1, 6))
    assert again == counts
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
