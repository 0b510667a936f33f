"""Waiting in a test for something another process does: a run to end, a log line, an email, a page's answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 1.0,
    explain: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` every ``interval`` seconds until it gives something true, and return that. After ``timeout``
    seconds fail, saying what was awaited (``what``), what ``check`` gave last, and ``explain()`` if given (what
    else helps the reader of the failure: it is asked only then)."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    said = f"; {explain()}" if explain else ""
    raise AssertionError(f"waited {timeout:g}s for {what}; the last check gave {last!r}{said}")
