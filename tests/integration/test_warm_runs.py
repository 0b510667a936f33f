"""The warm process (cli/warm_runs.py) and the work pool's command (cli/warm_start.py), as real processes.

First with a probe in place of Prefect's engine (tests/utils/warm_probe.py), which reports what a run process of the
warm process sees: nothing of the warm process's left open, one thread, the command's environment, working
directory and standard streams; its exit code and signals are the command's. Then with real flow runs on a real
Prefect server and worker: a run is forked warm, its logs reach its own run, and with the warm process gone the next
run starts the ordinary way and the worker's log says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.processes import dies_with_parent, listens_on
from cli.system import PACKAGES, RUN_COMMAND, LocalSystem
from cli.warm_runs import project_modules, set_warm, socket_path
from cli.warm_start import SOCKET, STARTED_COLD
from models.settings import PROJECT_ROOT
from tests.utils.api import service_api
from tests.utils.servers import deployed_system, seed_register
from tests.utils.waiting import wait_until

PROBE = "tests.utils.warm_probe"
POLL = 0.1  # seconds between looks (as before): most of what this file awaits is a probe's run, over in milliseconds


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended, it is only not reaped yet


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A warm process whose runs are the probe, as cspr up starts it (its own session, dies with us)."""
    home = tmp_path / "home"
    log = (tmp_path / "warm-runs.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.warm_runs", "--socket", str(socket_path(home)), "--module", PROBE],
        stdout=log,
        stderr=subprocess.STDOUT,
        **dies_with_parent(),
    )
    import socket as sockets

    wait_until(
        "the warm process listening",
        lambda: listens_on(socket_path(home), sockets.SOCK_SEQPACKET),
        timeout=120,
        interval=POLL,
    )
    yield server, home
    server.kill()
    server.wait()


def command(home: Path, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """The work pool's command, as a worker starts it, with ``env`` added to the worker's environment."""
    return subprocess.Popen(
        RUN_COMMAND,
        cwd=cwd,
        env={**os.environ, SOCKET: str(socket_path(home)), "PROBE_MARKER": "from-the-command", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seen_by_the_run(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    seen: dict[str, Any] = json.loads(process.stdout.readline())
    return seen


def sleeping_run(home: Path, cwd: Path) -> tuple[subprocess.Popen[str], int]:
    """The command of a probe's run that sleeps (a minute: longer than any test waits) until it is signalled, and
    the process id of that run, the warm process's child."""
    run = command(home, cwd, PROBE_SLEEP="60")
    return run, seen_by_the_run(run)["pid"]


def test_a_run_process_has_the_commands_streams_environment_and_directory_and_nothing_of_the_warm_process(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    server, home = warm
    for _ in range(3):  # each fork alike: nothing accumulates
        run = command(home, tmp_path, PROBE_EXIT="3")
        seen = seen_by_the_run(run)
        assert run.wait(timeout=30) == 3  # the run's exit code is the command's
        assert seen["ppid"] == server.pid and seen["pid"] != run.pid  # forked from the warm process
        assert seen["descriptors"] == [0, 1, 2], "a descriptor of the warm process's was left open in a run"
        assert seen["threads"] == 1 and seen["main"] == "__main__" and seen["argv"] == []
        assert seen["cwd"] == str(tmp_path) and seen["marker"] == "from-the-command"
        assert run.stderr is not None and "ordinary way" not in run.stderr.read()
        # what the warm process imported is set aside from the collector (cli/processes.py freeze_imported): no run
        # collects it all again, during the run and as it exits, as each did before (about 1 CPU-s a run)
        assert seen["frozen"] > 100_000, seen["frozen"]


def test_a_signal_to_the_command_reaches_its_run_and_the_command_ends_as_the_run_did(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    _, home = warm
    run, child = sleeping_run(home, tmp_path)
    run.send_signal(signal.SIGTERM)  # as the worker cancels a run
    assert run.wait(timeout=30) == -signal.SIGTERM
    assert not alive(child)


def test_a_command_killed_outright_takes_its_run_with_it(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    _, home = warm
    run, child = sleeping_run(home, tmp_path)
    run.kill()
    run.wait(timeout=10)
    wait_until("the run killed with its command", lambda: not alive(child), timeout=20, interval=POLL)


def test_when_the_warm_process_dies_its_runs_are_stopped_and_the_next_run_starts_the_ordinary_way(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    server, home = warm
    run, child = sleeping_run(home, tmp_path)
    server.kill()
    assert run.wait(timeout=30) == 1  # reported failed: Prefect marks it Crashed and the review's run starts again
    assert not alive(child)
    assert run.stderr is not None and "the warm process ended" in run.stderr.read()

    # No warm process: the command becomes Prefect's engine itself, and says so (with no flow run to run, the engine
    # refuses, which shows it ran)
    cold = command(home, tmp_path)
    assert cold.wait(timeout=120) == 1
    assert cold.stderr is not None
    said = cold.stderr.read()
    assert "this run is started the ordinary way, in a fresh interpreter: the warm process" in said
    assert "Invalid flow run id" in said


def test_switched_off_runs_start_the_ordinary_way(warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path) -> None:
    _, home = warm
    set_warm(home, on=False)
    cold = command(home, tmp_path)
    assert cold.wait(timeout=120) == 1 and cold.stderr is not None
    assert "the ordinary way, in a fresh interpreter: warm starts are switched off" in cold.stderr.read()
    set_warm(home, on=True)
    run = command(home, tmp_path)
    assert seen_by_the_run(run)["marker"] == "from-the-command" and run.wait(timeout=30) == 0


def test_stopping_the_warm_process_stops_its_runs_and_takes_no_new_one(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    server, home = warm
    run, child = sleeping_run(home, tmp_path)
    server.terminate()  # as cspr up stops
    assert run.wait(timeout=30) == -signal.SIGTERM and not alive(child)
    assert server.wait(timeout=30) == 0 and not socket_path(home).exists()


def test_when_the_projects_code_changes_runs_start_on_the_new_code_and_the_warm_process_starts_afresh(
    warm: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    server, home = warm
    # a module of the project's the warm process imported (and watches: cli/warm_runs.py project_modules); the
    # package's own, empty, so that no one's edit of it is in the way while its time is moved and put back
    changed = PROJECT_ROOT / "flows" / "__init__.py"
    before = changed.stat()
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))  # as an upgrade in place would
    try:
        cold = command(home, tmp_path)
        assert cold.wait(timeout=120) == 1 and cold.stderr is not None
        assert "the ordinary way, in a fresh interpreter: the warm process refused: the project's code changed" in (
            cold.stderr.read()
        )
        log = tmp_path / "warm-runs.log"
        wait_until(
            "the warm process started afresh",
            lambda: log.read_text().count("listening on") == 2,
            timeout=120,
            interval=POLL,
        )
        run = command(home, tmp_path)
        seen = seen_by_the_run(run)
        assert run.wait(timeout=30) == 0 and seen["ppid"] == server.pid  # the same process, warm again
        assert "starting afresh: the project's code changed" in log.read_text()
    finally:
        os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_what_is_watched_for_a_change_is_the_projects_own_packages() -> None:
    """Only their files are checked before each fork (not the libraries under .venv, nor the tests)."""
    watched = project_modules()
    assert str(PROJECT_ROOT / "cli" / "warm_runs.py") in watched
    assert {Path(file).relative_to(PROJECT_ROOT).parts[0] for file in watched} <= set(PACKAGES)


def test_the_warm_process_refuses_to_fork_with_a_second_thread(tmp_path: Path) -> None:
    # in a process of its own: this one has Prefect's threads from the other tests
    script = (
        "import sys, threading\n"
        "from cli.warm_runs import WarmServer\n"
        "server = WarmServer(__import__('pathlib').Path(sys.argv[1]))\n"
        "print(repr(server._refusal([0, 1, 2])))\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=stop.wait, name='a thread that would be copied half-way').start()\n"
        "print(repr(server._refusal([0, 1, 2])))\n"
        "stop.set()\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "w.sock")], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    alone, with_another = found.stdout.splitlines()
    assert alone == "''", found.stderr
    assert "forks only with one" in with_another and "a thread that would be copied half-way" in with_another


# --- real flow runs ---------------------------------------------------------------------------------------------


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LocalSystem]:
    """A real Prefect server with prefect.yaml deployed, the warm process, and one worker."""
    seed_register()
    with deployed_system(tmp_path) as system:
        system.start_warm_server()
        system.wait_for_warm_server()
        system.start_worker(1)
        yield system


def run_to_the_end(api: httpx.Client, deployment: str) -> str:
    found = api.get(f"/deployments/name/{deployment}/{deployment}").raise_for_status().json()
    run_id: str = api.post(f"/deployments/{found['id']}/create_flow_run", json={}).raise_for_status().json()["id"]

    def ended() -> dict[str, Any] | None:
        state = api.get(f"/flow_runs/{run_id}").raise_for_status().json()["state"]
        return state if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

    state = wait_until(f"{deployment} run {run_id} ended", ended, timeout=180, interval=POLL)
    assert state["type"] == "COMPLETED", state
    return run_id


def test_a_flow_run_is_forked_warm_its_logs_reach_its_run_and_without_the_warm_process_it_starts_cold(
    system: LocalSystem,
) -> None:
    api = service_api(system)
    warm_run = run_to_the_end(api, "deliver-messages")
    assert f"flow run {warm_run} started as process" in (system.home / "logs" / "warm-runs.log").read_text()
    worker_log = system.home / "logs" / "worker-1.log"
    assert "ordinary way" not in worker_log.read_text()

    def finished_logged() -> bool:  # the server stores log lines a moment after they are sent
        query = {"logs": {"flow_run_id": {"any_": [warm_run]}}}
        return any(
            "Finished in state Completed" in line["message"] for line in api.post("/logs/filter", json=query).json()
        )

    wait_until("the warm run's last log line stored against it", finished_logged, timeout=20, interval=POLL)

    assert "; 1 thread(s)" in (system.home / "logs" / "warm-runs.log").read_text()  # it forks only with one

    assert system.warm_server is not None
    system.stop([system.warm_server])
    cold_run = run_to_the_end(api, "deliver-messages")
    said = worker_log.read_text()
    assert "this run is started the ordinary way, in a fresh interpreter: the warm process" in said
    assert f"flow run {cold_run} started" not in (system.home / "logs" / "warm-runs.log").read_text()
    assert STARTED_COLD not in said  # the variable is the run's, not printed


def test_cancelling_a_warm_run_stops_its_process(system: LocalSystem) -> None:
    api = service_api(system)
    flow_id = api.post("/flows/", json={"name": "sleeping"}).raise_for_status().json()["id"]
    deployment = {
        "name": "sleeping",
        "flow_id": flow_id,
        "entrypoint": "tests/utils/sleeping_flow.py:sleeping",
        "work_pool_name": system.work_pool,
        "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_ROOT)}}],
    }
    deployment_id = api.post("/deployments/", json=deployment).raise_for_status().json()["id"]
    run_id = api.post(f"/deployments/{deployment_id}/create_flow_run", json={}).raise_for_status().json()["id"]

    def asleep() -> bool:
        query = {"logs": {"flow_run_id": {"any_": [run_id]}}}
        return any(line["message"] == "asleep" for line in api.post("/logs/filter", json=query).json())

    wait_until("the run asleep", asleep, timeout=120, interval=POLL)
    started = (system.home / "logs" / "warm-runs.log").read_text()
    child = int(started.split(f"flow run {run_id} started as process ")[1].split()[0])
    assert alive(child)

    cancelling = {"state": {"type": "CANCELLING", "name": "Cancelling"}, "force": True}
    api.post(f"/flow_runs/{run_id}/set_state", json=cancelling).raise_for_status()

    def cancelled() -> bool:
        return bool(api.get(f"/flow_runs/{run_id}").json()["state"]["type"] == "CANCELLED")

    wait_until("the run cancelled", cancelled, timeout=120, interval=POLL)
    wait_until("its process ended", lambda: not alive(child), timeout=30, interval=POLL)
