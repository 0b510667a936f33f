"""`cspr up --team` as a test fixture: fresh databases on this machine's PostgreSQL, SeaweedFS for S3, two
workers; everything stopped and the databases dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from cli.processes import dies_with_parent
from cli.seaweed import free_port
from cli.team import drop_team
from models.key_rotation import new_key
from tests.conftest import POSTGRES_ADMIN_URL, postgres_required

CSPR = str(Path(sys.executable).parent / "cspr")


def postgres_or_skip() -> None:
    try:
        sa.create_engine(POSTGRES_ADMIN_URL).connect().close()
    except sa.exc.OperationalError as exc:
        if postgres_required():
            pytest.fail(f"PostgreSQL does not answer at {POSTGRES_ADMIN_URL}: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_ADMIN_URL}")


@pytest.fixture
def team(tmp_path: Path) -> Iterator[tuple[dict[str, str], int, str]]:
    """`cspr up --team` running on fresh databases; dropped afterwards."""
    with running_team(tmp_path) as running:
        yield running


@contextmanager
def running_team(tmp_path: Path, settings: dict[str, str] | None = None) -> Iterator[tuple[dict[str, str], int, str]]:
    """`cspr up --team` with ``settings`` (CSPR_ variables) in its environment: its environment with every setting
    it chose, its port, and what it printed."""
    postgres_or_skip()
    suffix = uuid.uuid4().hex[:8]
    names = (f"cspr_team_{suffix}", f"cspr_team_prefect_{suffix}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_", "AWS_"))}
    env["CSPR_HOME"] = str(tmp_path / "cspr-home")
    env["CSPR_ENCRYPTION_KEY"] = new_key()  # a team set-up refuses to start without a real key
    env |= settings or {}
    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [
            CSPR,
            "up",
            "--team",
            "--port",
            str(port),
            "--postgres",
            POSTGRES_ADMIN_URL,
            "--project-database",
            names[0],
            "--prefect-database",
            names[1],
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        **dies_with_parent(),  # it, and all it starts, die with us
    )
    try:
        deadline = time.monotonic() + 240
        while "Prefect UI:" not in (text := (tmp_path / "up.log").read_text()):
            assert up.poll() is None and time.monotonic() < deadline, text
            time.sleep(1)
        settings = dict(line.split("=", 1) for line in (tmp_path / "cspr-home" / "team.env").read_text().splitlines())
        yield {**env, **settings}, port, text
    finally:
        up.terminate()
        up.wait(timeout=60)
        drop_team(POSTGRES_ADMIN_URL, *names)
