"""review-lifecycle as a worker runs it, except that once (while $CSPR_HOME/kill-the-next-run exists, holding the
worker's process id) its process and the worker that started it are killed with SIGKILL mid-stage: the answer
recorded, the review moved on, its new documents stored, the review's concurrency slot held, the messages to the
partners not yet sent.
Nothing gets to clean up, as when a machine dies. The fault test points the deployment here for one run."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import flows.review_lifecycle as lifecycle
from flows.review_lifecycle import review_lifecycle

__all__ = ["review_lifecycle"]

_deliver = lifecycle.deliver_outbox
_calls = 0


def _deliver_or_die(*args: Any, **kwargs: Any) -> Any:
    global _calls
    _calls += 1
    mark = Path(os.environ["CSPR_HOME"]) / "kill-the-next-run"
    # the first call is the turn that asks for the answer (replayed on resume); the second comes after it is recorded
    if _calls == 2 and mark.exists():
        worker = int(mark.read_text())  # not this process's parent: a warm run's is the warm process (cli/warm_runs.py)
        mark.unlink()
        os.kill(worker, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)  # and this run's process
    return _deliver(*args, **kwargs)


lifecycle.deliver_outbox = _deliver_or_die  # type: ignore[assignment]
