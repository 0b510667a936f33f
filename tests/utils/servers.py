"""A Prefect server of a test module's own, set up as `cspr up` sets it up: the gate in front, the locked work pool,
prefect.yaml's deployments and automations. For tests whose runs and changes the session's shared server must not
see (its other tests' filters would)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.seaweed import free_port
from cli.system import LocalSystem
from models.db import get_engine, migrate, transaction
from models.seed import seed_demo


def seed_register() -> None:
    """The session's project database migrated and the demo partnership seeded: the accounts the server reads."""
    migrate(get_engine())
    with transaction() as session:
        seed_demo(session)


@contextmanager
def deployed_system(home: Path) -> Iterator[LocalSystem]:
    """Started and deployed under ``home``; stopped on the way out, however it is left."""
    system = LocalSystem(port=free_port(), home=home)
    try:
        system.start_server()
        system.deploy()
        yield system
    finally:
        system.stop()
