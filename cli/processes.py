"""Long-lived child processes that end with the process that started them, however it ends.

Every long-lived process that ``cspr up`` or the tests start (the Prefect server, the workers, the SeaweedFS S3
server, and ``cspr up`` itself under a test) is started with ``**dies_with_parent()``. Without it, a test run
killed by a timeout or by Ctrl-C at the wrong moment (or ``kill -9``, or a crash) left its Prefect and S3 servers
running, orphaned, holding their ports and files; nothing would ever stop them.

- The child asks the kernel (Linux ``prctl(PR_SET_PDEATHSIG)``, between fork and exec; it survives the exec) for
  SIGTERM when its parent dies, and each of them stops on SIGTERM: the Prefect server shuts down, SeaweedFS exits,
  ``cspr up`` stops what it started, a Prefect worker stops and terminates the flow runs it is running.
  The kernel sends it when the *thread* that started the child ends, not the process: so these children are
  started from the main thread (``cspr up``'s, a pytest fixture's), never from a short-lived thread.
- Each child leads a session, and so a process group, of its own: stopping it (:func:`stop`, or
  ``LocalSystem.stop``) signals the group, reaching whatever it started in its group too, and a Ctrl-C at the
  terminal reaches only us, who stop our children in order.

Grandchildren: the death signal is not inherited (``fork`` clears it for the new process), so a child's own
children are its business. Ours have none that outlive them in the normal way: the Prefect server (uvicorn) and
SeaweedFS (``weed mini``) run in one process each, ``cspr up`` starts its children through here, and a Prefect
worker runs each flow run as a process in a session of its own, which it terminates when it stops (on SIGTERM, so
on its parent's death too: seen to end within 2 s). Only a worker killed outright (SIGKILL) leaves a flow run
behind; that one ends with its run, or at its next call to a Prefect server that has gone with the rest.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import Any

from models.files import owner_only

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@cache
def _prctl() -> Any:
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def freeze_imported() -> None:
    """Collect what a long-lived process's imports and set-up left over, then set every object it holds aside from
    the garbage collector, in it and in any child it forks (``gc.freeze``, as Python's documentation advises before a
    fork). Python collects all of a process's objects once those made since its last full collection number a quarter
    of those it found then, and again as an interpreter exits: without this, every collection of a run forked from
    the warm process, and every full collection of Prefect's server, went over the hundreds of thousands of objects
    imported at the start, which never become garbage; and in a forked child the collector's writes to each of them
    copied the memory pages it otherwise shares with its parent."""
    gc.collect()
    gc.freeze()


def ask_for_signal_on_parent_death(death_signal: int) -> Callable[[], None]:
    """The ``preexec_fn`` that makes what the child creates owner-only and asks for ``death_signal`` when the parent
    dies (where there is a prctl)."""
    if not sys.platform.startswith("linux"):
        return owner_only
    prctl = _prctl()  # looked up before the fork: the child only makes the call
    parent = os.getpid()

    def in_the_child() -> None:
        owner_only()
        if prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the request was made: nothing would send the signal
            os._exit(128 + death_signal)

    return in_the_child


def dies_with_parent(death_signal: int = signal.SIGTERM) -> dict[str, Any]:
    """Keyword arguments for ``subprocess.Popen`` (or ``run``): a session of its own, and ``death_signal`` when this
    process (strictly: the calling thread, see above) dies."""
    return {"start_new_session": True, "preexec_fn": ask_for_signal_on_parent_death(death_signal)}


def stop(*processes: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM to each process's group (each leads one: see :func:`dies_with_parent`), all at once so they stop
    together, then SIGKILL to any group whose leader is still there after ``timeout`` seconds."""
    for process in processes:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def listens_on(path: Path, kind: socket.SocketKind = socket.SOCK_STREAM) -> bool:
    """Whether something listens on the Unix socket at ``path`` (a file there may be a dead process's)."""
    with socket.socket(socket.AF_UNIX, kind) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
