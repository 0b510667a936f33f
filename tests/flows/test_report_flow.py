"""`partnership-report` through Prefect, and the automation prefect.yaml defines on `cspr.deadline.overdue`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.events import DeploymentEventTrigger, emit_event

from cli.system import LocalSystem
from flows.partnership_report import partnership_report
from flows.review_lifecycle import review_lifecycle
from models.db import transaction
from models.review import creation, transitions
from models.settings import PROJECT_ROOT
from tasks.storage import open_store
from tests.integration.test_documents import text_of
from tests.utils.api import service_api
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership
from tests.utils.search import needles, search_sqlite


def test_the_monthly_report_is_stored_and_summarised_without_names(deployed: LocalSystem, cspr_home: Path) -> None:
    with transaction() as session:
        make_partnership(session, "eastvale")
        review, _ = creation.create_review(
            session,
            incident(
                "eastvale", aware_on=dt.date(2026, 10, 1), incident_on=dt.date(2026, 9, 30), pseudonyms=("Child R",)
            ),
            actor=transitions.Actor("Chris Lee", "coordinator"),
            at=dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC),
        )
        reference = review.reference
    result = partnership_report(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31), partnership="eastvale")
    assert result["key"] == "compliance/eastvale/2026-10-01_2026-10-31/v1.pdf"
    assert result["overdue_reviews"] == 1  # notified to nobody: both 5-day deadlines passed in October
    text = text_of(open_store().get(str(result["key"])))
    assert reference in text and "Child R" not in text and PLANTED_NAME not in text  # overdue, by reference only
    artifacts = service_api(deployed).post("/artifacts/latest/filter", json={}).json()
    summary = next(a for a in artifacts if a["key"] == "compliance-eastvale")["data"]
    assert "Notified to the Panel within 5 working days | 1 | 0 | 0 | 1 | 0 |" in summary
    assert "Reviews with a statutory deadline overdue on 31 October 2026: 1" in summary
    by_name = {"flow_runs": {"name": {"like_": "partnership-report"}}}
    runs = service_api(deployed).post("/flow_runs/filter", json=by_name).json()
    assert any(r["name"] == "partnership-report · eastvale · 2026-10-01 to 2026-10-31" for r in runs)
    hits = search_sqlite(cspr_home / "prefect" / "prefect.db", needles(PLANTED_NAME, PLANTED_DOB))
    assert hits == [], hits


def lifecycle_trigger() -> dict[str, Any]:
    spec = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in spec["deployments"] if d["name"] == "review-lifecycle"]
    (trigger,) = [t for t in deployment["triggers"] if t["name"] == "cspr-overdue-deadline-resumes-review"]
    assert trigger["expect"] == ["cspr.deadline.overdue"]
    return dict(trigger)


def emit_overdue(reference: str) -> None:
    emit_event(
        event="cspr.deadline.overdue",
        resource={"prefect.resource.id": f"cspr.review.{reference}", "prefect.resource.name": reference},
        payload={
            "reference": reference,
            "deadline": "notify_panel",
            "stage": "incident_recorded",
            "level": 1,
            "working_days_overdue": 1,
        },
    )


def runs_for(system: LocalSystem, reference: str) -> list[dict[str, Any]]:
    """The runs automations started for ``reference``: the server filters by creator, as it returns 200 runs at
    most, in no useful order, and this session's server holds the other tests' runs too."""
    by_automation = {"flow_runs": {"created_by": {"type_": ["AUTOMATION"]}}}
    runs = service_api(system).post("/flow_runs/filter", json=by_automation).json()
    return [r for r in runs if r["parameters"].get("reference") == reference]


def wait_for_runs(system: LocalSystem, reference: str, seconds: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while not (runs := runs_for(system, reference)) and time.monotonic() < deadline:
        time.sleep(1)
    return runs


@pytest.fixture
def automation(deployed: LocalSystem) -> Iterator[None]:
    """review-lifecycle with prefect.yaml's trigger applied and live; put back as it was afterwards.

    Prefect's trigger service learns of a new automation from a task scheduled after the commit, so an event
    arriving in the first moments can find no trigger and is never looked at again (a failure seen in CI on
    a busy machine). In service the automation is applied at start-up, long before a sweep; here probe
    events, each under its own reference, are sent until one starts a run, so the event under test meets a
    trigger that is certainly loaded.
    """
    trigger = DeploymentEventTrigger(**lifecycle_trigger())
    review_lifecycle.to_deployment(name="review-lifecycle", enforce_parameter_schema=True, triggers=[trigger]).apply()
    probes: list[str] = []
    for attempt in range(9):
        probes.append(f"CSPR-2031-090{attempt}")  # the deployment checks a reference's form
        emit_overdue(probes[-1])
        if wait_for_runs(deployed, probes[-1], 10):
            break
    try:
        yield
    finally:
        review_lifecycle.to_deployment(name="review-lifecycle", enforce_parameter_schema=True).apply()  # drops it
        for probe in probes:  # no worker will run them
            for run in runs_for(deployed, probe):
                service_api(deployed).delete(f"/flow_runs/{run['id']}").raise_for_status()


def test_an_overdue_deadline_starts_the_reviews_run(deployed: LocalSystem, automation: None) -> None:
    reference = "CSPR-2031-0917"  # no such review: only the run's creation is under test here
    emit_overdue(reference)
    runs = wait_for_runs(deployed, reference, 90)
    if not runs:  # say which link broke: the event, the automation, or the run it should have started
        overdue = {"filter": {"event": {"name": ["cspr.deadline.overdue"]}}}
        events = service_api(deployed).post("/events/filter", json=overdue).json()["events"]
        automations = [a["name"] for a in service_api(deployed).post("/automations/filter", json={}).json()]
        acted = {"filter": {"event": {"prefix": ["prefect.automation"]}}, "limit": 20}
        actions = [
            (e["event"], e.get("payload"))
            for e in service_api(deployed).post("/events/filter", json=acted).json()["events"]
        ]
        pytest.fail(
            f"no review-lifecycle run after 90 s; events received: {len(events)}; automations: {automations}; "
            f"automation events: {actions}"
        )
    time.sleep(3)  # a second run, if the automation were to start one, would be created by now
    runs = runs_for(deployed, reference)
    assert len(runs) == 1, "the automation started more than one run"
    assert runs[0]["created_by"]["display_value"] == "cspr-overdue-deadline-resumes-review"
    service_api(deployed).delete(f"/flow_runs/{runs[0]['id']}").raise_for_status()  # no worker will run it
