"""The slow fault tests (`make test-faults`, also part of `make test`): each runs the system as it runs in
production, with a Prefect server, the deployments of prefect.yaml and real worker processes.

They run in a pytest session of their own (each module is marked ``faults``, which the main session leaves out),
so their Prefect server has workers on it without the other tests' runs, which execute in the test process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cli.system import LocalSystem
from models.settings import get_settings

# a run's process sends a heartbeat every 30 s (Prefect's minimum) and is marked Crashed after 60 s of silence,
# so a killed worker is noticed in about a minute and a half rather than the five minutes of production
os.environ["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = "30"
os.environ["CSPR_UNRESPONSIVE_AFTER"] = "60"
get_settings.cache_clear()  # settings read before now would not have it


@pytest.fixture(scope="session")
def system(prefect_server: LocalSystem) -> LocalSystem:
    """The project database migrated and seeded; prefect.yaml deployed with its automations; the warm process the
    work pool's command hands runs to (cli/warm_runs.py) listening; no worker yet."""
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo

    migrate(get_engine())
    with transaction() as session:
        seed_demo(session)
    prefect_server.start_warm_server()
    prefect_server.deploy()
    prefect_server.wait_for_warm_server()
    return prefect_server


@pytest.fixture
def no_workers(system: LocalSystem) -> Iterator[LocalSystem]:
    """The system, with every worker a test started stopped afterwards (the server stays, even if restarted)."""
    yield system
    system.stop(only=[p for p in system.processes if "worker" in map(str, p.args)])
