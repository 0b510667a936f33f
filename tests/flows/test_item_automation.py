"""`review-work`'s trigger from prefect.yaml (`cspr-crashed-item-run-carries-on`), applied and live: an item's run
that crashed (its process died) is started again, with the same review and item, by the automation; a crashed run
of anything else is not. What the new run does (it asks the item's record where it stands) is the flow's own, tested
with the work around a review (tests/flows/test_work_flow.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect import get_client
from prefect.events import DeploymentEventTrigger
from prefect.states import Crashed

from cli.system import LocalSystem
from flows.review_work import review_work
from models.settings import PROJECT_ROOT
from tests.flows.test_report_flow import runs_for, wait_for_runs
from tests.utils.api import service_api


def crashed_item_trigger() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "review-work"]
    (trigger,) = deployment["triggers"]
    return dict(trigger)


def crash(reference: str, item: str, *, kind: str = "work") -> UUID:
    """A run of review-work for ``item`` of ``reference``, tagged as the project tags an item's run (``kind``:
    another tag, for a run the trigger must not match), marked Crashed as when its process dies."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("review-work/review-work")
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"reference": reference, "item": item},
            tags=["cspr", kind, f"review:{reference}", f"item:{reference}:{item}"],
        )
        client.set_flow_run_state(run.id, Crashed(message="its process died, for the test"), force=True)
        return run.id


@pytest.fixture
def trigger_live(deployed: LocalSystem) -> Iterator[list[UUID]]:
    """review-work with prefect.yaml's trigger applied and live (probe crashes until one is picked up, as
    tests/flows/test_report_flow.py explains); put back as it was afterwards, and every run made here deleted."""
    trigger = DeploymentEventTrigger(**crashed_item_trigger())
    review_work.to_deployment(name="review-work", enforce_parameter_schema=True, triggers=[trigger]).apply()
    made: list[UUID] = []
    probes: list[str] = []
    for attempt in range(9):
        probes.append(f"CSPR-2031-070{attempt}")
        made.append(crash(probes[-1], "request-1"))
        if wait_for_runs(deployed, probes[-1], 10):
            break
    try:
        yield made
    finally:
        review_work.to_deployment(name="review-work", enforce_parameter_schema=True).apply()  # drops it
        for reference in [*probes, "CSPR-2031-0717", "CSPR-2031-0718"]:
            made += [UUID(run["id"]) for run in runs_for(deployed, reference)]
        for run_id in made:  # no worker will run them
            service_api(deployed).delete(f"/flow_runs/{run_id}")


def test_a_crashed_item_run_is_started_again_and_another_crashed_run_is_not(
    deployed: LocalSystem, trigger_live: list[UUID]
) -> None:
    trigger_live.append(crash("CSPR-2031-0718", "action-2", kind="sweep"))  # first: not an item's run
    trigger_live.append(crash("CSPR-2031-0717", "action-3"))
    (again,) = wait_for_runs(deployed, "CSPR-2031-0717", 90)
    assert again["parameters"] == {"reference": "CSPR-2031-0717", "item": "action-3"}
    assert again["created_by"]["display_value"] == "cspr-crashed-item-run-carries-on"
    assert runs_for(deployed, "CSPR-2031-0718") == []
