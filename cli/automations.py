"""The automation that finds runs whose process died, created (or brought up to date) by ``cspr up``.

A machine that dies, a worker killed by the kernel, a container evicted: the run's process goes without telling
the server, and the run would show "Running" for ever. Every run sends a heartbeat (``PREFECT_FLOWS_HEARTBEAT_
FREQUENCY``); when one falls silent for ``CSPR_UNRESPONSIVE_AFTER`` seconds without ending or suspending, this
automation starts ``check-unresponsive-run`` for it, which marks it Crashed if it is still Running (a heartbeat
can reach the server after its run suspended, so the event alone is not proof). A crashed review-lifecycle run is
started again by its trigger in prefect.yaml (``cspr-crashed-run-carries-on``).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar, overload

from prefect import get_client
from prefect.automations import Automation
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from tasks.runs import unresponsive_after

T = TypeVar("T")

UNRESPONSIVE = "cspr-unresponsive-runs"
CHECK_DEPLOYMENT = "check-unresponsive-run/check-unresponsive-run"

# what a live run says, and every way a run stops talking without having died
_ALIVE_OR_STOPPED = {
    "prefect.flow-run.heartbeat",
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.Suspended",  # waiting for a person: no process, so no heartbeat
    "prefect.flow-run.Paused",
}


def check_unresponsive_runs() -> Automation:
    """Create the automation, or replace it if its settings changed (it is identified by its name)."""
    with get_client(sync_client=True) as client:
        check = client.read_deployment_by_name(CHECK_DEPLOYMENT)
    wanted = Automation(
        name=UNRESPONSIVE,
        description="A run that has sent no heartbeat for a while is checked: if it is still Running, its process "
        "died, and it is marked Crashed so that it is started again.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect=_ALIVE_OR_STOPPED,
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=unresponsive_after(),
        ),
        actions=[
            RunDeployment(  # the id rendered as text: a plain "{{ ... }}" is rendered as JSON, which a UUID is not
                source="selected",
                deployment_id=check.id,
                parameters={"flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"}},
            )
        ],
    )
    try:
        existing = _answered(Automation.read(name=UNRESPONSIVE))
    except ValueError:  # not there yet
        return _answered(wanted.create())
    if existing.trigger == wanted.trigger and existing.actions == wanted.actions:
        return existing
    _answered(existing.delete())
    return _answered(wanted.create())


@overload
def _answered(result: Coroutine[Any, Any, T]) -> T: ...  # read(): typed as async alone
@overload
def _answered(result: T | Coroutine[Any, Any, T]) -> T: ...
def _answered(result: Any) -> Any:
    """What one of Prefect's sync-or-async methods answered: called outside an event loop, as here, it answers at
    once, not with a coroutine."""
    assert not isinstance(result, Coroutine)
    return result
