"""The local system: a Prefect server on SQLite under CSPR_HOME, the deployments of prefect.yaml, and a worker.

Used by ``cspr up`` (and by the tests that need a real server). Every process it starts is its child and is
stopped with it, or dies with it if it is killed (cli/processes.py); nothing is paused or deleted on the server
when it stops.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cli.api_anchor import api_trust
from cli.processes import dies_with_parent, listens_on, stop
from cli.warm_runs import socket_path as warm_socket_path
from cli.warm_start import SOCKET as WARM_SOCKET
from models.settings import PROJECT_ROOT, get_settings
from models.system_credentials import SERVICE_HEADER, digest, service_token

WORK_POOL = "cspr-local"
DEFAULT_PORT = 4200
HEARTBEAT_SECONDS = 60  # Prefect's minimum is 30
SERVER_MODULE = "cli.prefect_server"
# what a run process imports from the project (flows -> tasks -> models), and the server (gate, cli)
PACKAGES = ("flows", "tasks", "models", "gate", "cli")
# the gate's process reads no child's name, signs no audit head, and holds no service credential (only its digest):
# Prefect's API returns the server's own settings, client headers included, and the gate's calls need none
SERVER_NEVER_HOLDS = ("CSPR_ENCRYPTION_KEY", "CSPR_AUDIT_KEY", "CSPR_SERVICE_TOKEN", "PREFECT_CLIENT_CUSTOM_HEADERS")
SERVICE_DIGEST = "CSPR_SERVICE_DIGEST"  # Settings.service_digest: all the server knows of the service credential
CHECKER_SOCKET = "CSPR_CHECKER_SOCKET"  # Settings.checker_socket: where the gate asks the checker, and it listens
LOCKED_JOB_VARIABLES = ("command", "env", "working_dir")
# what the work pool runs for each flow run: hand it to the warm process (cli/warm_start.py); `-S`, because it
# needs nothing from site-packages and starts faster without it
RUN_COMMAND = (sys.executable, "-S", str(PROJECT_ROOT / "cli" / "warm_start.py"))


def prefect_env(api_url: str, *, home: Path | None = None, work_pool: str = WORK_POOL) -> dict[str, str]:
    """The environment every Prefect process of this system shares."""
    home = home or get_settings().resolved_home / "prefect"
    origin = api_url.removesuffix("/api")
    return {
        # the gate (gate/app.py): every client of ours presents the service credential, on every request and every
        # websocket's handshake; the UI calls the API on its own origin, so its calls carry the session cookie
        "PREFECT_CLIENT_CUSTOM_HEADERS": json.dumps(service_headers()),
        "PREFECT_UI_API_URL": "/api",
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": get_settings().public_url or origin,
        # the gate refuses bodies over 1 MB: log batches stay under it
        "PREFECT_LOGGING_TO_API_BATCH_SIZE": "900000",
        "PREFECT_LOGGING_TO_API_MAX_LOG_SIZE": "500000",
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
        # how soon a worker sees a run to start, a resumed one too: each person's next form waits on it (cspr bench
        # step, 2026-12-06: 1 s instead of 2 took the median wait from 6.25 s to 5.35 s), for one light query a second
        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "1"),
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "CSPR_PROJECT_DIR": str(PROJECT_ROOT),
        "CSPR_WORK_POOL": work_pool,
        "CSPR_HOME": str(get_settings().resolved_home),
        WARM_SOCKET: str(warm_socket_path(home.parent)),
        # a dozen Prefect clients a run, each loading a CA bundle for an API that uses no TLS (cli/api_anchor.py)
        **api_trust(api_url, home),
    }


@contextmanager
def as_service(api_url: str) -> Iterator[None]:
    """This process's Prefect client talks to ``api_url`` as the service, past the gate."""
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_CUSTOM_HEADERS, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_CLIENT_CUSTOM_HEADERS: service_headers()}):
        yield


def service_headers() -> dict[str, str]:
    return {SERVICE_HEADER: service_token()}


def locked_job_template() -> dict[str, Any]:
    """The process work pool's job template with nothing a run could use to change what its worker runs: no
    ``command`` variable (a run's own shell command), no ``env`` (a run's own settings, merged over the worker's
    even when fixed), no ``working_dir``. Left out of the job's configuration, a run's job variable of that name is
    ignored. The command is fixed, not a variable: the warm start (RUN_COMMAND)."""
    from prefect.utilities.processutils import command_to_string
    from prefect.workers.process import ProcessWorker

    template: dict[str, Any] = ProcessWorker.get_default_base_job_template()
    for name in LOCKED_JOB_VARIABLES:
        template["job_configuration"].pop(name, None)
        template["variables"]["properties"].pop(name, None)
    template["job_configuration"]["command"] = command_to_string(list(RUN_COMMAND))
    return template


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
    # this), not as the worker's own --limit. On Prefect 3.8 a worker with --limit stopped when a suspended run it
    # started resumed before it had let go of the run's place (Prefect issue 16806); 3.9.1 skips such a run for one
    # poll instead (prefect/workers/base.py, tested in tests/flows/test_prefect_races.py), so that reason is gone.
    # Kept on the pool because one limit holds for all the workers, a suspended run holds no place in it, and
    # cli/worker.py counts its grace from when the server offers a run, which it does only for a free place there.
    runs_per_worker: int = field(default_factory=lambda: get_settings().runs_per_worker)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    warm_server: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def checker_socket(self) -> Path:
        """The checker's socket: CSPR_CHECKER_SOCKET, or one under this system's home (two systems side by side, as
        in the tests, each have their own)."""
        configured = get_settings().checker_socket
        return configured.expanduser().resolve() if configured else self.home / "run" / "checker.sock"

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            **prefect_env(self.api_url, home=self.home / "prefect", work_pool=self.work_pool),
            CHECKER_SOCKET: str(self.checker_socket),
        }
        return {k: v for k, v in env.items() if v != ""}

    def _log(self, name: str) -> Path:
        folder = self.home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.log"

    @property
    def server_env(self) -> dict[str, str]:
        """The server's environment: the gate needs the database and its own keys, never the personal-data key or the
        service credential."""
        held = {k: v for k, v in self.env.items() if k not in SERVER_NEVER_HOLDS}
        return {**held, SERVICE_DIGEST: digest(service_token())}

    def _spawn(
        self,
        name: str,
        *args: str,
        program: tuple[str, ...] = (_bin("prefect"),),
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        log = self._log(name).open("ab")
        process = subprocess.Popen(
            [*program, *args],
            env=env or self.env,
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
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            program=(sys.executable, "-m", SERVER_MODULE),
            env=self.server_env,
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
        from cli.automations import check_unresponsive_runs

        template = self.home / "prefect" / "work-pool-template.json"
        template.write_text(json.dumps(locked_job_template(), indent=2))
        self.prefect(
            "work-pool",
            "create",
            self.work_pool,
            "--type",
            "process",
            "--overwrite",
            "--base-job-template",
            str(template),
        )
        self.prefect("work-pool", "set-concurrency-limit", self.work_pool, str(self.workers * self.runs_per_worker))
        self.prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(PROJECT_ROOT / "prefect.yaml"))
        with as_service(self.api_url):
            check_unresponsive_runs()

    @property
    def warm_socket(self) -> Path:
        return warm_socket_path(self.home)

    def start_warm_server(self) -> subprocess.Popen[bytes]:
        """Start the warm process (cli/warm_runs.py) the work pool's command hands each run to, with the workers'
        environment. Returns at once: it imports while the rest starts; until it listens, runs start the ordinary
        way (and say so)."""
        self.warm_server = self._spawn(
            "warm-runs", "--socket", str(self.warm_socket), program=(sys.executable, "-m", "cli.warm_runs")
        )
        return self.warm_server

    def wait_for_warm_server(self, timeout: float = 120.0) -> None:
        _wait_listening(self.warm_socket, self.warm_server, self._log("warm-runs"), timeout, socket.SOCK_SEQPACKET)

    def start_workers(self) -> list[subprocess.Popen[bytes]]:
        return [self.start_worker(number) for number in range(1, self.workers + 1)]

    def start_worker(self, number: int) -> subprocess.Popen[bytes]:
        # the project's process worker (cli/worker.py): two of them on the pool take different runs instead of racing
        # for the same ones
        name = f"{self.work_pool}-worker-{number}"
        return self._spawn(
            f"worker-{number}",
            "worker",
            "--pool",
            self.work_pool,
            "--name",
            name,
            program=(sys.executable, "-m", "cli.main"),
        )

    def start_checker(self) -> subprocess.Popen[bytes]:
        """Start the checker (cli/checker_commands.py), which makes the lifecycle's checks of an answer for the gate
        on Submit. It runs the steps' handlers, so it has a worker's whole environment, keys included, which the
        server's process never holds. Returns at once: it warms up while the rest starts (``wait_for_checker``)."""
        return self._spawn("checker", "checker", program=(sys.executable, "-m", "cli.main"))

    def wait_for_checker(self, checker: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
        _wait_listening(self.checker_socket, checker, self._log("checker"), timeout)

    def stop(self, only: list[subprocess.Popen[bytes]] | None = None) -> None:
        """Stop every process started (or only those given), children included."""
        stopping = [p for p in reversed(self.processes) if only is None or p in only]
        stop(*stopping)
        for process in stopping:
            self.processes.remove(process)

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                command = " ".join(map(str, cast("list[str]", process.args)))  # each started with a list
                raise RuntimeError(f"{command} exited with code {process.returncode}")


def _wait_listening(
    path: Path,
    process: subprocess.Popen[bytes] | None,
    log: Path,
    timeout: float,
    kind: socket.SocketKind = socket.SOCK_STREAM,
) -> None:
    """Until ``process`` answers on its socket at ``path``: a file there may be a dead process's, which answers
    nothing."""
    deadline = time.monotonic() + timeout
    while not listens_on(path, kind):
        if process is None or process.poll() is not None:
            raise RuntimeError(f"the process that was to listen on {path} is not running; see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listened on {path} in {timeout:.0f}s; see {log}")
        time.sleep(0.2)


def compile_bytecode() -> None:
    """Compile the project's modules before anything starts. Every step of a review runs in a new process that
    imports them, and where Python is told not to write bytecode (``PYTHONDONTWRITEBYTECODE``, set in many container
    images and on this project's own machine) each such process would compile them from source again: about 0.1
    CPU-second a step (docs/benchmarks.md). Python still checks each file's bytecode against its source, so an edited
    module is compiled afresh, never run stale. A tree that cannot be written to is left as it is."""
    import compileall

    for package in PACKAGES:
        compileall.compile_dir(PROJECT_ROOT / package, quiet=2)


@contextmanager
def running(system: LocalSystem) -> Iterator[LocalSystem]:
    """Start server, deployments, the checker and workers; stop them all on the way out, however it is left."""
    try:
        compile_bytecode()
        checker = system.start_checker()  # it imports and connects while the server starts
        system.start_warm_server()  # so does the warm process
        system.start_server()
        system.deploy()
        system.wait_for_warm_server()  # before the workers, so that their first runs start warm
        system.start_workers()
        system.wait_for_checker(checker)
        yield system
    finally:
        system.stop()
