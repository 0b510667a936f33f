"""Failed sign-ins slow down, and password checks never crowd out the rest of the server. Held in the gate's memory.

The throttle counts failures per account and browser's address together, and per address alone. The first few
cost nothing (a person mistypes); after that each failure doubles the wait before the next attempt is even
checked, up to a cap. An attempt made too soon is refused at once, without hashing anything. Nobody can lock
anyone out: a flood from one address slows only that address, and the account's owner, signing in from elsewhere,
is not slowed at all. A success clears its account and address. Keys quiet for long enough are forgotten, and each
table holds a bounded number of keys, so no flood of made-up addresses grows it without end.

The address is the client's as the server sees it: behind a reverse proxy on the same host, the proxy must pass the
browser's address in ``X-Forwarded-For`` (uvicorn trusts it from 127.0.0.1), or every browser shares one address.

``HashSlots`` caps the Argon2id checks running at once: each takes tens of milliseconds of a core and 64 MB, and a
flood of them must leave the cores for everyone else.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

T = TypeVar("T")
MAX_KEYS = 10_000  # per table: far more addresses than sign in at once, a few MB at most


@dataclass(frozen=True)
class Policy:
    """How failures of one key cost: ``free`` in a row cost nothing, the next waits ``first`` seconds, each one after
    doubles the wait, up to ``cap``; ``forget_after`` seconds after its last failure, a key starts again from zero."""

    free: int
    first: float
    cap: float
    forget_after: float

    def __post_init__(self) -> None:
        if self.forget_after < self.cap:
            raise ValueError("a key must not be forgotten while its wait still runs: forget_after >= cap")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row before the next attempt is checked."""
        if failures <= self.free:
            return 0.0
        return min(self.cap, self.first * 2.0 ** min(failures - self.free - 1, 60))


# (account, address): a person who forgot which password; at most one attempt a minute once past the free ones
PER_ACCOUNT = Policy(free=3, first=1.0, cap=60.0, forget_after=15 * 60.0)
# address alone: one trying many accounts. More free failures, as an office may share one address
PER_ADDRESS = Policy(free=20, first=1.0, cap=15 * 60.0, forget_after=30 * 60.0)


class Outcome(Enum):
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    UNCHECKED = "unchecked"  # never checked (the server was busy): counts neither way


@dataclass
class _Entry:
    failures: int = 0
    in_flight: int = 0  # attempts admitted and not yet finished
    last: float = 0.0  # the last attempt admitted or failed
    not_before: float = 0.0


class Backoff:
    """The failures of each key under one ``Policy``, at most ``max_keys`` keys (the least recently active goes
    first). Times are seconds on one monotonic clock, given by the caller. Not thread-safe on its own."""

    def __init__(self, policy: Policy, max_keys: int = MAX_KEYS) -> None:
        self.policy = policy
        self.max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()  # oldest activity first

    def __len__(self) -> int:
        return len(self._entries)

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds before an attempt for ``key`` may be checked; 0.0 when it may be now. Attempts already in flight
        count as if they will fail, once past the free ones: a burst sent at once is not checked all together."""
        self._forget_quiet(now)
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if now < entry.not_before:
            return entry.not_before - now
        if entry.in_flight and entry.failures + entry.in_flight > self.policy.free:
            return max(self.policy.first, self.policy.delay(entry.failures + entry.in_flight))
        return 0.0

    def begin(self, key: Hashable, now: float) -> None:
        """An attempt for ``key`` admitted: call ``finish`` once it is decided."""
        entry = self._entries.get(key)
        if entry is None:
            while len(self._entries) >= self.max_keys:
                self._entries.popitem(last=False)
            entry = self._entries[key] = _Entry()
        entry.in_flight += 1
        entry.last = now
        self._entries.move_to_end(key)

    def finish(self, key: Hashable, now: float, outcome: Outcome, *, clear: bool) -> None:
        """The attempt decided. A failure counts and sets the wait; a success clears the key (``clear``) or takes
        one failure off its count."""
        entry = self._entries.get(key)
        if entry is None:  # pushed out of a full table meanwhile
            return
        entry.in_flight = max(0, entry.in_flight - 1)
        if outcome is Outcome.FAILED:
            entry.failures += 1
            entry.last = now
            entry.not_before = now + self.policy.delay(entry.failures)
            self._entries.move_to_end(key)
        elif outcome is Outcome.SUCCEEDED:
            entry.failures = 0 if clear else max(0, entry.failures - 1)
            if clear:
                entry.not_before = 0.0
        if entry.failures == 0 and entry.in_flight == 0 and now >= entry.not_before:
            del self._entries[key]

    def _forget_quiet(self, now: float) -> None:
        """Drop the keys whose last activity is older than ``forget_after`` (they are first in the table)."""
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.in_flight or now - entry.last <= self.policy.forget_after:
                return
            del self._entries[key]


def account_key(email: str) -> str:
    """An address as typed, the way the register keeps it (models.people.normalise_email), kept short."""
    return email.strip().casefold()[:254]


class SignInThrottle:
    """Per (account, address) and per address: ``admit`` an attempt before checking it, ``finish`` it after."""

    def __init__(
        self, per_account: Policy = PER_ACCOUNT, per_address: Policy = PER_ADDRESS, max_keys: int = MAX_KEYS
    ) -> None:
        self.per_account = Backoff(per_account, max_keys)
        self.per_address = Backoff(per_address, max_keys)
        self._lock = threading.Lock()

    def wait(self, account: str, address: str, now: float) -> float:
        """Seconds before an attempt may be checked (0.0: now); records nothing."""
        with self._lock:
            return max(self.per_account.wait((account, address), now), self.per_address.wait(address, now))

    def admit(self, account: str, address: str, now: float) -> float:
        """0.0: the attempt may be checked now, and must be ``finish``ed. Otherwise the seconds to wait, and nothing
        was recorded (an attempt refused for coming too soon does not lengthen the wait)."""
        with self._lock:
            wait = max(self.per_account.wait((account, address), now), self.per_address.wait(address, now))
            if wait > 0:
                return wait
            self.per_account.begin((account, address), now)
            self.per_address.begin(address, now)
            return 0.0

    def finish(self, account: str, address: str, now: float, outcome: Outcome) -> None:
        """A success clears the account at this address, and takes one failure off the address's count (an office
        sharing an address is not slowed by its colleagues' typing)."""
        with self._lock:
            self.per_account.finish((account, address), now, outcome, clear=True)
            self.per_address.finish(address, now, outcome, clear=False)


def too_many(wait: float) -> str:
    """The message for an attempt refused for coming too soon, in whole seconds (minutes past two)."""
    seconds = max(1, math.ceil(wait))
    if seconds > 120:
        return f"Too many attempts. Wait {math.ceil(seconds / 60)} minutes and try again."
    return f"Too many attempts. Wait {seconds} second{'s' if seconds != 1 else ''} and try again."


def retry_after(wait: float) -> str:
    """``wait`` as the Retry-After header's whole seconds."""
    return str(max(1, math.ceil(wait)))


class Busy(Exception):
    """No place to check a password came free in time: the server is busy."""


BUSY = "The service is busy; try again in a moment."


class HashSlots:
    """At most ``size`` password checks at once; a check that waits over ``wait`` seconds for a place raises
    ``Busy`` rather than queueing without end. The work itself runs in a thread, off the event loop."""

    def __init__(self, size: int = 2, wait: float = 5.0) -> None:
        self.size = size
        self.wait = wait
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, work: Callable[[], T]) -> T:
        semaphore = self._for_this_loop()
        try:
            async with asyncio.timeout(self.wait):
                await semaphore.acquire()
        except TimeoutError:
            raise Busy from None
        try:
            return await asyncio.to_thread(work)
        finally:
            semaphore.release()

    def _for_this_loop(self) -> asyncio.Semaphore:
        """The server has one event loop; a test calling the gate with asyncio.run() makes one each time, and a
        semaphore that ever waited belongs to the loop it waited on."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.size), loop
        return self._semaphore
