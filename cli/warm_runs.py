"""The warm process: every flow run is forked from an interpreter that has already imported Prefect and the project.

Each step of a review is a flow run of its own, and a process worker starts each one as a fresh interpreter that
imports Prefect and the project again: about 2 CPU-seconds of a 4 to 6 CPU-second run, most of a person's wait from
Submit to their next form, and the ceiling on a burst on two cores (docs/benchmarks.md, ``cspr bench step
--compare``). This process pays for the imports once. ``cspr up`` starts it before the workers, with the workers'
own environment; the work pool's command (cli/warm_start.py) asks it for each run, and it forks a child that runs
``python -m prefect.engine`` as that command's process would have: with the command's environment, working
directory and standard streams, and in place of it as far as the worker can tell.

Forking is only safe from a process with one thread: a lock another thread held at the fork stays held for ever in
the child. So this process starts no thread (one ``selectors`` loop; children are reaped on SIGCHLD through the
wakeup fd), imports nothing that starts one (checked at start and before every fork: a run it cannot fork safely it
refuses, and the command starts it the ordinary way and says so), and touches no database, client or event loop
before a fork: its children open their own. Each child closes everything of this process's (the socket, its peers'
connections, the loop) before it runs; ``tests/integration/test_warm_runs.py`` proves no descriptor or thread is
left over.

- **Cancellation and signals.** A signal the command receives is passed to the child by this process, which only
  signals a child it has not yet reaped (no process id reused by another process is ever hit).
- **A command killed outright** (the worker's SIGKILL after its grace period) closes its connection: the child
  is killed too, as the run's own process would have been.
- **This process dying.** Its children are sent SIGTERM by the kernel (``PR_SET_PDEATHSIG``): Prefect's engine
  ends the run as Crashed, the command reports it failed, and the automations start the review's run again, as when
  a worker stops. Until it is started again, the command starts each run the ordinary way.
- **The project's code changed** under it (an upgrade in place): a run forked now would mix the modules imported
  before with the flow's file read afresh. Before each fork it checks the modules it holds of the project's own
  packages (flows, tasks, models, gate, cli; not the libraries under .venv) against their files; once one changed,
  it refuses (those runs start the ordinary way, on the new code, and say so) and, as soon as its own runs have
  ended, starts itself again (the same process, by exec) and imports the code as it now is.
- **Stopping** (SIGTERM, as ``cspr up`` stops everything): no new run is taken, the running ones are sent SIGTERM
  as a stopping worker terminates its runs, and it exits when they have ended.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
import warnings
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cli.processes import ask_for_signal_on_parent_death, freeze_imported
from cli.warm_start import MESSAGE_BYTES, off_switch
from models.settings import PROJECT_ROOT

ENGINE = "prefect.engine"  # what a run process runs: the module Prefect's process worker runs with `python -m`
# What every run imports, or may: the flows and tasks (and through them the models, Prefect, SQLModel), and what is
# imported only when first needed: by a task (boto3 for the object store, pypdf for the redaction gate; WeasyPrint
# and pandas come with tasks.pdf and tasks.compliance_report), by Prefect's engine at its first task, by a log line
# or an email, by the team set-up's first query (psycopg). Each was found in a run's profile (py-spy, 2026-12-07).
WARM_PACKAGES = ("flows", "tasks")
WARM_MODULES = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "prefect._internal.metrics",
    "prefect.deployments.steps",
    "anyio._backends._asyncio",
    "rich._emoji_codes",
    "email.policy",
    "encodings.idna",
    "sqlite3",
    "psycopg",  # the team set-up's driver: 0.13 CPU-s, and each run's first query on PostgreSQL paid it
    "sqlalchemy.dialects.postgresql.psycopg",
    "boto3",
    "pypdf",
    "matplotlib.backends.backend_agg",
)
STREAMS = 3  # standard input, output and error, handed over by the command
STOP_GRACE_SECONDS = 15.0  # a stopping worker's own grace for its runs is of this order; cli/processes.py waits 20


def socket_path(home: Path) -> Path:
    """Where the warm process of the system whose home is ``home`` listens."""
    return home / "run" / "warm-runs.sock"


def set_warm(home: Path, on: bool) -> None:
    """Switch warm starts on or off for the system whose home is ``home``: runs started after this follow it."""
    switch = Path(off_switch(str(socket_path(home))))
    if on:
        switch.unlink(missing_ok=True)
    else:
        switch.touch()


def warm_up() -> None:
    """Import what the runs will: every module of the flows and tasks packages, and the rest of WARM_MODULES."""
    for package in WARM_PACKAGES:
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
            importlib.import_module(f"{package}.{module.name}")
    for name in WARM_MODULES:
        importlib.import_module(name)
    # SQLAlchemy sets up the models' mappings at a process's first query, in every run: here, once (no connection)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    # a process's first document compiles its template and sets up the fonts, its first S3 store reads botocore's
    # descriptions of S3: here, once
    from tasks import pdf, storage

    pdf.prepare()
    storage.prepare()
    _build_models()


def _build_models() -> None:
    """Build the validators pydantic leaves until a model's first use (Prefect's client models defer theirs: reading a
    flow run, a deployment, a work pool builds them, in every run). Here, the 260 or so, in 0.1 CPU-s. A model that
    cannot be built yet (a name it refers to is not defined) is left to be built at its use, as before."""
    from pydantic import BaseModel

    found, models = [BaseModel], []
    while found:
        for model in found.pop().__subclasses__():
            found.append(model)
            models.append(model)
    for model in models:
        if not model.__dict__.get("__pydantic_complete__", True):
            with suppress(Exception):  # pydantic's PydanticUndefinedAnnotation, or a generic model's own refusal
                model.model_rebuild()


def project_modules() -> dict[str, int]:
    """The modules of the project's own packages (``cli.system.PACKAGES``: flows, tasks, models, gate, cli) this
    process has imported, by file, with when each file last changed: what a run forked from it would hold stale.
    The libraries it imported (Prefect and the rest, about 2,000 files under .venv) are not checked before each fork
    (that took about 5 ms a fork): the project's own code is what an upgrade in place changes under it."""
    # imported here, not at the top: cli.system imports this module (socket_path), so at the top it would be
    # circular; here, when the server is made (after main has closed the descriptors and warm_up has run), what
    # cli.system imports is loaded already, and it adds only itself (no thread, nothing opened)
    from cli.system import PACKAGES

    roots = tuple(f"{PROJECT_ROOT / package}{os.sep}" for package in PACKAGES)
    files = {f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None)) and f.startswith(roots)}
    return {file: os.stat(file).st_mtime_ns for file in files}


def changed(modules: dict[str, int]) -> list[str]:
    """Those of ``modules`` whose file has changed (or gone) since."""
    found = []
    for file, when in modules.items():
        try:
            if os.stat(file).st_mtime_ns != when:
                found.append(file)
        except FileNotFoundError:
            found.append(file)
    return found


def log(message: str) -> None:
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} warm-runs: {message}", flush=True)


@dataclass
class Request:
    """A run to start, as the command asked: its environment, working directory and standard streams."""

    env: dict[str, str]
    cwd: str
    streams: list[int]


@dataclass
class WarmServer:
    path: Path
    module: str = ENGINE
    children: dict[int, socket.socket] = field(default_factory=dict)  # run process -> its command's connection
    stopping: bool = False
    modules: dict[str, int] = field(default_factory=project_modules)  # what it forks with (see the docstring)
    outdated: list[str] = field(default_factory=list)  # those of them changed since: it starts afresh

    def serve(self) -> Request | None:
        """Take requests until stopped; returns ``None`` in this process when it is done, and the request in each
        child, which is then alone and runs it (:func:`run`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a socket left by a process that died
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, _wake_only)
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._stop)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wake_read, selectors.EVENT_READ)
        log(f"listening on {self.path}; {threading.active_count()} thread(s)")
        deadline: float | None = None
        while not (self.stopping and not self.children):
            if self.outdated and not self.children and not self.stopping:
                self._start_afresh()
            if self.stopping and deadline is None:
                deadline = self._begin_stopping()
            if deadline is not None and time.monotonic() > deadline:
                self._signal_all(signal.SIGKILL)
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            for key, _ in self.selector.select(timeout=1.0):
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj == self.wake_read:
                    _drain(self.wake_read)
                elif request := self._message(key.fileobj):  # type: ignore[arg-type]  # only connections are left
                    return request
            self._reap()
        self._close_all()
        log("stopped")
        return None

    def _start_afresh(self) -> None:
        """Become a new warm process on the code as it now is: the same process (its parent's, with its log), by
        exec; only once no run of its is running, whose command would lose it."""
        log(f"starting afresh: the project's code changed ({', '.join(sorted(self.outdated)[:3])})")
        self._close_all()
        self.path.unlink(missing_ok=True)
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "cli.warm_runs", *sys.argv[1:]])

    def _stop(self, number: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _begin_stopping(self) -> float:
        log(f"stopping; {len(self.children)} run(s) still running are sent SIGTERM")
        self.selector.unregister(self.listener)
        self.listener.close()
        self.path.unlink(missing_ok=True)
        self._signal_all(signal.SIGTERM)
        return time.monotonic() + STOP_GRACE_SECONDS

    def _signal_all(self, number: int) -> None:
        for pid in self.children:
            _kill(pid, number)

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        self.selector.register(connection, selectors.EVENT_READ)

    def _message(self, connection: socket.socket) -> Request | None:
        try:
            data, streams, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, STREAMS)
        except OSError:
            data, streams = b"", []
        child = next((pid for pid, c in self.children.items() if c is connection), None)
        if not data:  # the command ended without being told its run ended: it was killed outright
            if child is not None:
                log(f"the command of run process {child} is gone; the run is killed")
                _kill(child, signal.SIGKILL)
            self.selector.unregister(connection)
            connection.close()
            return None
        if child is not None:  # a signal the command received, for its run
            _kill(child, int(data.decode().removeprefix("signal ")))
            return None
        asked = json.loads(data)
        request = Request(env={str(k): str(v) for k, v in asked["env"].items()}, cwd=str(asked["cwd"]), streams=streams)
        return self._fork(connection, request)

    def _fork(self, connection: socket.socket, request: Request) -> Request | None:
        streams = request.streams
        refusal = self._refusal(streams)
        if refusal:
            log(f"a run is refused: {refusal}")
            _send(connection, refusal)
            self.selector.unregister(connection)
            connection.close()
            _close(streams)
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        die_with_us = ask_for_signal_on_parent_death(signal.SIGTERM)
        pid = os.fork()
        if pid == 0:
            self._close_all()
            die_with_us()
            return request
        _close(streams)
        self.children[pid] = connection
        _send(connection, f"started {pid}")
        log(f"flow run {request.env.get('PREFECT__FLOW_RUN_ID', '?')} started as process {pid}")
        return None

    def _refusal(self, streams: list[int]) -> str:
        if self.stopping:
            return "the warm process is stopping"
        if len(streams) != STREAMS:
            return f"the request brought {len(streams)} standard streams, not {STREAMS}"
        self.outdated = self.outdated or changed(self.modules)
        if self.outdated:
            return "the project's code changed since the warm process started; it starts afresh once its runs end"
        if threading.active_count() != 1:
            names = ", ".join(t.name for t in threading.enumerate())
            return f"the warm process has {threading.active_count()} threads ({names}), and forks only with one"
        return ""

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            connection = self.children.pop(pid, None)
            log(f"process {pid} ended with {code}")
            if connection is not None and connection.fileno() != -1:
                _send(connection, f"ended {code}")
                self.selector.unregister(connection)
                connection.close()

    def _close_all(self) -> None:
        """Close everything of this process's: in a child before it runs, and here when it stops."""
        signal.set_wakeup_fd(-1)
        for key in list(self.selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        self.selector.close()
        if self.listener.fileno() != -1:
            self.listener.close()
        os.close(self.wake_read)
        os.close(self.wake_write)


def run(request: Request, module: str) -> None:
    """In a child of the warm process: become the run process the command would have been, and run ``module``."""
    for number, handler in ((signal.SIGCHLD, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL)):
        signal.signal(number, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, stream in enumerate(request.streams):
        os.dup2(stream, target)
    _close([s for s in request.streams if s >= STREAMS])
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv = sys.argv[:1]
    _settings_from_environment()
    # runpy warns that the engine's module was imported before it is run as __main__: it was, on purpose (it is
    # what this process is for), and running it as __main__ is exactly `python -m prefect.engine`
    warnings.filterwarnings("ignore", message=r".*found in sys\.modules after import of package", module="runpy")
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _settings_from_environment() -> None:
    """Prefect's and the project's settings were read from this process's environment when imported; a run's are its
    command's (the same but for the run's own variables), so they are read again."""
    from prefect.context import refresh_global_settings_context

    from models.settings import get_settings

    refresh_global_settings_context()
    get_settings.cache_clear()


def _wake_only(_number: int, _frame: FrameType | None) -> None:
    """SIGCHLD's handler: the wakeup fd has woken the loop, which reaps."""


def _drain(fd: int) -> None:
    with suppress(BlockingIOError):
        while os.read(fd, 512):
            pass


def _kill(pid: int, number: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, number)


def _send(connection: socket.socket, message: str) -> None:
    with suppress(OSError):  # the command is gone; its own end is handled when its connection is read
        connection.send(message.encode())


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket", type=Path, required=True, help="where to listen for the work pool's command")
    parser.add_argument("--module", default=ENGINE, help="what a run process runs (the tests run a probe)")
    arguments = parser.parse_args(argv)
    # whatever descriptors this process was given beyond its standard streams are nobody's here, and would be every
    # run's: closed before anything is imported, so that no object of Python's holds one
    os.closerange(STREAMS, os.sysconf("SC_OPEN_MAX"))
    warm_up()
    importlib.import_module(arguments.module)  # for a test's probe (the engine's is imported already)
    # without it, each run collected the 370,000 or so objects imported here twice, during the run and as it
    # exited: a child that did nothing and exited took 1.19 CPU-s, frozen 0.14 (docs/benchmarks.md, 2026-12-07)
    freeze_imported()
    request = WarmServer(arguments.socket, arguments.module).serve()
    if request is not None:
        run(request, arguments.module)


if __name__ == "__main__":
    main()
