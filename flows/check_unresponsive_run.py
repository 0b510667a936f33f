"""`check-unresponsive-run`: started by the automation cspr-unresponsive-runs (cli/automations.py) when a run
has sent no heartbeat for a while. A run whose process died (machine or worker killed) is marked Crashed; a
crashed review-lifecycle run is then started again by its trigger in prefect.yaml."""

from __future__ import annotations

from uuid import UUID

from prefect import flow

from tasks.runs import crash_if_silent


@flow(name="check-unresponsive-run", flow_run_name="check-unresponsive-run · {flow_run_id}")
def check_unresponsive_run(flow_run_id: UUID) -> str:
    """Mark the run Crashed if it is still Running with no heartbeat; leave it be if it waits or has ended."""
    return crash_if_silent(flow_run_id)
