"""`partnership-report` through Prefect, and the automation prefect.yaml defines on `cspr.deadline.overdue`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.events import DeploymentEventTrigger, emit_event

from cli.system import LocalSystem
from flows.lifecycle import review_lifecycle
from flows.report import partnership_report
from models import records
from models.db import transaction
from models.settings import PROJECT_ROOT
from tasks.storage import open_store
from tests.integration.test_documents import text_of
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership
from tests.utils.search import needles, search_sqlite


def test_the_monthly_report_is_stored_and_summarised_without_names(deployed: LocalSystem, cspr_home: Path) -> None:
    with transaction() as session:
        make_partnership(session, "eastvale")
        review, _ = records.create_review(
            session, incident("eastvale", aware_on=dt.date(2026, 10, 1), incident_on=dt.date(2026, 9, 30),
                              pseudonyms=("Child R",)),
            actor=records.Actor("Chris Lee", "coordinator"), at=dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC),
        )  # fmt: skip
        reference = review.reference
    result = partnership_report(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31), partnership="eastvale")
    assert result["key"] == "compliance/eastvale/2026-10-01_2026-10-31/v1.pdf"
    assert result["overdue_reviews"] == 1  # notified to nobody: both 5-day deadlines passed in October
    text = text_of(open_store().get(str(result["key"])))
    assert reference in text and "Child R" not in text and PLANTED_NAME not in text  # overdue, by reference only
    artifacts = httpx.post(f"{deployed.api_url}/artifacts/latest/filter", json={}).json()
    summary = next(a for a in artifacts if a["key"] == "compliance-eastvale")["data"]
    assert "Notified to the Panel within 5 working days | 1 | 0 | 0 | 1 | 0 |" in summary
    assert "Reviews with a statutory deadline overdue on 31 October 2026: 1" in summary
    runs = httpx.post(f"{deployed.api_url}/flow_runs/filter",
                      json={"flow_runs": {"name": {"like_": "partnership-report"}}}).json()  # fmt: skip
    assert any(r["name"] == "partnership-report · eastvale · 2026-10-01 to 2026-10-31" for r in runs)
    hits = search_sqlite(cspr_home / "prefect" / "prefect.db", needles(PLANTED_NAME, PLANTED_DOB))
    assert hits == [], hits


def lifecycle_trigger() -> dict[str, Any]:
    spec = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in spec["deployments"] if d["name"] == "review-lifecycle"]
    (trigger,) = [t for t in deployment["triggers"] if t["name"] == "cspr-overdue-deadline-resumes-review"]
    assert trigger["expect"] == ["cspr.deadline.overdue"]
    return dict(trigger)


@pytest.fixture
def automation(deployed: LocalSystem) -> Iterator[None]:
    """review-lifecycle with prefect.yaml's trigger applied; put back as it was afterwards."""
    trigger = DeploymentEventTrigger(**lifecycle_trigger())
    review_lifecycle.to_deployment(name="review-lifecycle", enforce_parameter_schema=True, triggers=[trigger]).apply()
    yield
    review_lifecycle.to_deployment(name="review-lifecycle", enforce_parameter_schema=True).apply()  # drops it


def test_an_overdue_deadline_starts_the_reviews_run(deployed: LocalSystem, automation: None) -> None:
    reference = "CSPR-2031-0917"  # no such review: only the run's creation is under test here
    emit_event(
        event="cspr.deadline.overdue",
        resource={"prefect.resource.id": f"cspr.review.{reference}", "prefect.resource.name": reference},
        payload={"reference": reference, "deadline": "notify_panel", "stage": "incident_recorded", "level": 1,
                 "working_days_overdue": 1},
    )  # fmt: skip
    deadline, runs = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        runs = [r for r in httpx.post(f"{deployed.api_url}/flow_runs/filter", json={}).json()
                if r["parameters"].get("reference") == reference]  # fmt: skip
        if runs:
            break
        time.sleep(1)
    if not runs:  # say which link broke: the event, the automation, or the run it should have started
        overdue = {"filter": {"event": {"name": ["cspr.deadline.overdue"]}}}
        events = httpx.post(f"{deployed.api_url}/events/filter", json=overdue).json()["events"]
        automations = [a["name"] for a in httpx.post(f"{deployed.api_url}/automations/filter", json={}).json()]
        pytest.fail(f"no review-lifecycle run after 90 s; events received: {len(events)}; automations: {automations}")
    assert len(runs) == 1, "the automation started more than one run"
    assert runs[0]["created_by"]["display_value"] == "cspr-overdue-deadline-resumes-review"
    httpx.delete(f"{deployed.api_url}/flow_runs/{runs[0]['id']}").raise_for_status()  # no worker will run it
