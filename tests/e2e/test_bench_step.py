"""`cspr bench step` at its smallest, on both set-ups: one invented review down the shortest branch (the partners
decide on no local review), through a set-up the command starts and removes itself. What it prints must add up:
each step ready before it was seen, its phases in order, its tasks named, and nothing of its own left behind."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import POSTGRES_ADMIN_URL
from tests.utils.team import CSPR, postgres_or_skip

PHASES = {"resumed", "picked_up", "started", "worked"}


def bench(*options: str) -> dict[str, Any]:
    result = subprocess.run(
        [CSPR, "bench", "step", "--reviews", "1", "--path", "no-review", "--json", *options],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "10000"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def homes() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("cspr-bench-step-*")}


def check(figures: dict[str, Any], set_up: str) -> None:
    assert figures["set_up"] == set_up and figures["reviews"] == 1 and figures["path"] == "no-review"
    assert figures["steps"] >= 3
    assert 0 < figures["ready_median_seconds"] <= figures["median_seconds"] <= figures["max_seconds"]
    assert figures["p90_seconds"] <= figures["max_seconds"]
    phases = figures["phases_median_seconds"]
    assert set(phases) == PHASES and all(seconds >= 0 for seconds in phases.values())
    assert phases["started"] > 0 and phases["worked"] > 0  # a process started, and the step did its work
    assert {"read-next-step", "record-answer"} <= set(figures["task_seconds_per_step"])
    assert figures["worker_runs"] > figures["steps"] / 2  # each step a run of a worker's own
    assert 0 < figures["cpu_seconds_per_run"] < 120
    assert figures["import_prefect_cpu_seconds"] > 0 and figures["import_project_cpu_seconds"] > 0


def test_the_step_benchmark_on_a_local_set_up_of_its_own() -> None:
    before = homes()
    check(bench(), "local")
    assert homes() == before  # its home (the server's database, the logs, the keys) is gone


def test_the_step_benchmark_on_the_team_set_up_drops_what_it_made() -> None:
    postgres_or_skip()
    made = sa.text("SELECT count(*) FROM pg_database WHERE datname LIKE 'cspr\\_bench\\_%'")
    roles = sa.text("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'cspr\\_bench\\_%'")
    admin = sa.create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as connection:
        before = connection.execute(made).scalar(), connection.execute(roles).scalar()
    figures = bench("--team", "--postgres", POSTGRES_ADMIN_URL)
    check(figures, "team")
    assert figures["workers"] == 2
    with admin.connect() as connection:
        assert (connection.execute(made).scalar(), connection.execute(roles).scalar()) == before
    admin.dispose()
