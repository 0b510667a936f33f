"""A flow that sleeps until it is cancelled, for tests/integration/test_warm_runs.py to cancel a warm run."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger


@flow(name="sleeping")
def sleeping() -> None:
    get_run_logger().info("asleep")
    time.sleep(300)
