"""The local system: a Prefect server on SQLite under CSPR_HOME, the deployments of prefect.yaml, and a worker.

Used by ``cspr up`` (and by the tests that need a real server). Every process it starts is its child and is
stopped with it, or dies with it if it is killed (cli/processes.py); nothing is paused or deleted on the server
when it stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from cli.processes import dies_with_parent, stop
from models.settings import PROJECT_ROOT, get_settings

WORK_POOL = "cspr-local"
DEFAULT_PORT = 4200
HEARTBEAT_SECONDS = 60  # Prefect's minimum is 30
SERVER_MODULE = "cli.prefect_server"  # `prefect server start`, with busy-database refusals tried again in the server


def prefect_env(api_url: str, *, home: Path | None = None, work_pool: str = WORK_POOL) -> dict[str, str]:
    """The environment every Prefect process of this system shares."""
    home = home or get_settings().resolved_home / "prefect"
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",  # results would be unencrypted pickles on disk
        # run history is pruned: ended runs (and their logs and artifacts) after 400 days, longer than any review's
        # clock; a review's own long-waiting run is not ended, so it stays. None of it holds personal data.
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(400 * 24 * 3600),
        # every run says it is alive once a minute; one that falls silent is marked Crashed (cli/automations.py)
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": os.environ.get(
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS)
        ),
        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "2"),
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "CSPR_PROJECT_DIR": str(PROJECT_ROOT),
        "CSPR_WORK_POOL": work_pool,
        "CSPR_HOME": str(get_settings().resolved_home),
    }


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def server_is_up(api_url: str) -> bool:
    try:
        wait_healthy(api_url, timeout=1)
    except TimeoutError:
        return False
    return True


def wait_healthy(api_url: str, timeout: float = 180.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited (code {process.returncode}); see its log")
        with (
            suppress(urllib.error.URLError, ConnectionError, TimeoutError, OSError),
            urllib.request.urlopen(f"{api_url}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the Prefect server at {api_url} did not become healthy in {timeout:.0f}s")


@dataclass
class LocalSystem:
    port: int = DEFAULT_PORT
    home: Path = field(default_factory=lambda: get_settings().resolved_home)
    work_pool: str = WORK_POOL
    workers: int = 1
    # flow runs each worker runs at once (each is a process of its own): a burst of new incidents queues rather
    # than starting hundreds of processes on a small machine. Held as the work pool's concurrency limit (workers x
    # this), not as the worker's own --limit: a worker with --limit stops when a suspended run it started resumes
    # before it has let go of the run's place (Prefect issue 16806); the pool's limit does not count waiting runs.
    runs_per_worker: int = field(default_factory=lambda: get_settings().runs_per_worker)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, **prefect_env(self.api_url, home=self.home / "prefect", work_pool=self.work_pool)}
        return {k: v for k, v in env.items() if v != ""}

    def _log(self, name: str) -> Path:
        folder = self.home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.log"

    def _spawn(self, name: str, *args: str, program: tuple[str, ...] = (_bin("prefect"),)) -> subprocess.Popen[bytes]:
        log = self._log(name).open("ab")
        process = subprocess.Popen(
            [*program, *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            **dies_with_parent(),  # a group of its own, so stopping it stops its children too; and it dies with us
        )
        self.processes.append(process)
        return process

    def start_server(self) -> subprocess.Popen[bytes]:
        (self.home / "prefect").mkdir(parents=True, exist_ok=True)
        server = self._spawn(
            "server", "--host", "127.0.0.1", "--port", str(self.port), program=(sys.executable, "-m", SERVER_MODULE)
        )
        wait_healthy(self.api_url, process=server)
        return server

    def prefect(self, *args: str) -> None:
        """Run a Prefect CLI command against this server and fail loudly if it fails."""
        result = subprocess.run(
            [_bin("prefect"), *args], env=self.env, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def deploy(self) -> None:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from cli.automations import check_unresponsive_runs

        self.prefect("work-pool", "create", self.work_pool, "--type", "process", "--overwrite")
        self.prefect("work-pool", "set-concurrency-limit", self.work_pool, str(self.workers * self.runs_per_worker))
        self.prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(PROJECT_ROOT / "prefect.yaml"))
        with temporary_settings({PREFECT_API_URL: self.api_url}):
            check_unresponsive_runs()

    def start_workers(self) -> list[subprocess.Popen[bytes]]:
        return [self.start_worker(number) for number in range(1, self.workers + 1)]

    def start_worker(self, number: int) -> subprocess.Popen[bytes]:
        name = f"{self.work_pool}-worker-{number}"
        return self._spawn(
            f"worker-{number}", "worker", "start", "--pool", self.work_pool, "--type", "process", "--name", name
        )

    def stop(self, only: list[subprocess.Popen[bytes]] | None = None) -> None:
        """Stop every process started (or only those given), children included."""
        stopping = [p for p in reversed(self.processes) if only is None or p in only]
        stop(*stopping)
        for process in stopping:
            self.processes.remove(process)

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(map(str, process.args))} exited with code {process.returncode}")


@contextmanager
def running(system: LocalSystem) -> Iterator[LocalSystem]:
    """Start server, deployments and workers; stop them all on the way out, however it is left."""
    try:
        system.start_server()
        system.deploy()
        system.start_workers()
        yield system
    finally:
        system.stop()
