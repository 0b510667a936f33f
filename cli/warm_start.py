"""The command the work pool runs for each flow run: hand the run to the warm process, or start it the ordinary way.

A Prefect process worker starts every flow run, a resumed one too, as a new process running ``python -m
prefect.engine``: a fresh interpreter that imports Prefect and the project again, about 2 CPU-seconds before the
run does anything (docs/benchmarks.md). The work pool's job template (cli/system.py ``locked_job_template``) runs
this file instead. It imports nothing but the standard library, so it starts in a few milliseconds, and asks the
warm process (cli/warm_runs.py, which has imported everything already) to fork a child that runs the flow with this
process's environment, working directory and standard streams. To the worker this process *is* the run:

- it exits as the child exits (the same code, or killed by the same signal);
- a signal it receives (the worker's SIGTERM on cancellation, or a Ctrl-C) is passed on to the child, by the warm
  process, which only signals a child it has not yet reaped;
- if it is killed outright, the warm process sees its connection close and kills the child.

When there is no warm process to ask (it is not running, it died, or it refuses), or warm starts are switched off
(``cspr`` writes the off switch beside the socket: benchmarks compare the two ways), this process becomes the
ordinary run itself, by exec, and says so on its standard error, which the worker copies to its log.

It is started with ``python -S`` (no site-packages: it needs none), and must stay free of imports beyond the
standard library's smallest modules.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from types import FrameType

SOCKET = "CSPR_WARM_SOCKET"  # where the warm process listens (cli/system.py sets it for the workers)
STARTED_COLD = "CSPR_STARTED_COLD"  # set, with the reason, in a run that was started the ordinary way
ORDINARY = ("-m", "prefect.engine")  # what Prefect's process worker runs for a flow run
CONNECT_SECONDS = 5.0
MESSAGE_BYTES = 1 << 20  # a request is the environment and the working directory: a few kilobytes


def off_switch(socket_path: str) -> str:
    """The file whose presence switches warm starts off for the warm process listening at ``socket_path``."""
    return socket_path + ".off"


def start_ordinarily(reason: str) -> None:
    """Become the ordinary run process (``python -m prefect.engine``), saying why on standard error."""
    print(f"cspr: this run is started the ordinary way, in a fresh interpreter: {reason}", file=sys.stderr, flush=True)
    os.environ[STARTED_COLD] = reason
    os.execv(sys.executable, [sys.executable, *ORDINARY])


def ask(path: str) -> tuple[socket.socket, int] | str:
    """The connection to the warm process with the request sent and the child's process id, or why there is none."""
    if os.path.exists(off_switch(path)):
        return "warm starts are switched off"
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.settimeout(CONNECT_SECONDS)
    try:
        connection.connect(path)
        request = {"env": dict(os.environ), "cwd": os.getcwd()}
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        reply = connection.recv(MESSAGE_BYTES).decode()
    except OSError as error:
        connection.close()
        return f"the warm process at {path} did not answer ({error.strerror or error})"
    if not reply.startswith("started "):
        connection.close()
        return f"the warm process refused: {reply or 'it closed the connection'}"
    connection.settimeout(None)
    return connection, int(reply.removeprefix("started "))


def follow(connection: socket.socket, child: int) -> int:
    """Pass signals on until the warm process says how the child ended; that, as a wait status's exit code."""

    def pass_on(number: int, _frame: FrameType | None) -> None:
        try:
            connection.send(f"signal {number}".encode())
        except OSError:
            os.kill(child, number)  # the warm process is gone; the child is not its to signal any more

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, pass_on)
    reply = connection.recv(MESSAGE_BYTES).decode()
    if reply.startswith("ended "):
        return int(reply.removeprefix("ended "))
    # The warm process died under the run; its child is sent SIGTERM when it does (cli/warm_runs.py), so wait for
    # it to go and report the run as failed: Prefect marks it Crashed, and the review's run is started again.
    print(f"cspr: the warm process ended while run process {child} ran; it was stopped", file=sys.stderr, flush=True)
    while _exists(child):
        time.sleep(0.2)
    return 1


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_as(code: int) -> None:
    """End this process as the child ended: with its exit code, or killed by the same signal."""
    if code >= 0:
        sys.exit(code)
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    sys.exit(128 - code)  # only if the signal did not end us


def main() -> None:
    path = os.environ.get(SOCKET)
    if not path:
        start_ordinarily(f"{SOCKET} is not set")
        return
    asked = ask(path)
    if isinstance(asked, str):
        start_ordinarily(asked)
        return
    exit_as(follow(*asked))


if __name__ == "__main__":
    main()
