"""The project's worker: Prefect's process worker, except that two of them on one work pool take different runs.

Why: every worker of a pool asks the server for the same scheduled runs (the earliest ones, as many as the pool has
free places) and proposes Pending for each; for a run another worker has already taken, the server refuses, and the
worker logs "Aborted submission of flow run". With two ``prefect worker start`` polling every second, the last burst
of 200 incidents turned away 344 of 918 pick-ups: each a wasted round trip to a busy server, and a run started late
when the refusals crowd out real work (issue 30).

How: each run belongs to one worker. The pool's live workers (those the server says are ONLINE, read at most every
``MEMBERS_EVERY`` seconds; this worker always counts itself) are sorted by name, and a run is this worker's when a
stable hash of its id, modulo their number, is this worker's place (:func:`owner`). Another worker's run is left
for it, logged only at debug level.

A dead or stuck worker's share is not stuck with it:
- a worker that stops sending heartbeats is OFFLINE to the server after three of them (``HEARTBEAT_SECONDS`` here,
  so 30 s rather than Prefect's default 90 s), and drops out of every other worker's list: its runs are shared among
  the rest;
- before that, and for a worker that is alive but does not take its runs (its polling loop backing off on errors
  while its heartbeat goes on), a run the server has offered for longer than ``GRACE`` becomes anyone's.

The grace counts from when the run was first *offered* (scheduled, due, and with a free place in the pool), not from
its scheduled start: the server offers only as many runs as the pool has free places (workers x runs_per_worker,
cli/system.py), so in a burst most runs wait, Late, for a place. Counted from the scheduled start, every one of them
would be anyone's by the time it got a place, and the race would be back exactly when it matters. A run that leaves
the offered list (the pool filled up again) starts its count afresh when it comes back.

Measured (tests/integration/test_worker_share.py, 30 runs at once, two workers, a pool limit of 8, 2 cores): with two
``prefect worker start``, 48 pick-ups and 18 turned away; with the grace counted from the scheduled start, 40 and 10
(27 to 30 of the 30 runs started more than 10 s late, held back by the pool); as here, 30 and 0.

Started as ``cspr worker --pool NAME --name NAME`` (cli/worker_commands.py, by ``LocalSystem.start_worker``). It
runs the worker exactly as ``prefect worker start --type process`` does (prefect/cli/worker.py): the same polling,
heartbeats, cancellation handling, and on SIGTERM it stops and terminates the runs it started. The pool stays a
plain process pool with its locked job template: this class keeps the type "process", and no new pool type exists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID

from prefect.client.schemas.objects import WorkerStatus
from prefect.workers.process import ProcessWorker

if TYPE_CHECKING:
    from prefect.client.schemas.responses import WorkerFlowRunResponse

# A live owner takes its run within a poll or two (PREFECT_WORKER_QUERY_SECONDS is 1); ten seconds of a free place
# and no taker means the owner is not polling, and a person is waiting on the run. Long enough that a poll slowed by a
# busy server or CPU (2 cores, a burst of run processes starting) does not bring the race back.
GRACE = dt.timedelta(seconds=10)
MEMBERS_EVERY = 5.0  # seconds between reads of the pool's workers: a light query, and a new worker is seen soon
# Prefect's default is 30 s, so a dead worker is OFFLINE after 90 s; 10 s makes that 30 s, for one websocket frame
# every 10 s per worker. PREFECT_WORKER_HEARTBEAT_SECONDS, when set, still wins.
HEARTBEAT_SECONDS = 10


@dataclass(frozen=True)
class Offered:
    """A scheduled run the server offered this worker, and since when it has been waiting for a taker: the later of
    its scheduled start and when it was first offered (see the module's docstring)."""

    run_id: UUID
    waiting_since: dt.datetime


def owner(run_id: UUID, workers: Iterable[str]) -> str:
    """The worker whose share ``run_id`` is: the same answer in every process (no ``hash()``, which is salted per
    process), spread evenly whatever kind of UUID the server hands out."""
    ordered = sorted(set(workers))
    if not ordered:
        raise ValueError("a run is shared among at least one worker")
    digest = hashlib.sha256(run_id.bytes).digest()
    return ordered[int.from_bytes(digest[:8], "big") % len(ordered)]


def my_share(
    offered: Sequence[Offered],
    *,
    workers: Iterable[str],
    me: str,
    now: dt.datetime,
    grace: dt.timedelta = GRACE,
) -> list[UUID]:
    """The runs of ``offered`` (in its order) that worker ``me`` takes: its own share among ``workers`` and itself,
    and any run that has waited for a taker for longer than ``grace``."""
    members = {*workers, me}
    return [run.run_id for run in offered if owner(run.run_id, members) == me or now - run.waiting_since > grace]


def first_offered(
    before: Mapping[UUID, dt.datetime], offered: Iterable[UUID], now: dt.datetime
) -> dict[UUID, dt.datetime]:
    """Since when each run of ``offered`` has been offered without a break, given ``before``, the last poll's answer:
    a run no longer offered is forgotten, so one that comes back counts afresh."""
    return {run: before.get(run, now) for run in offered}


# Prefect registers every worker class under its type, and warns that this one replaces ProcessWorker for "process";
# only this process's own lookups see it, and it runs the same jobs from the same template.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)

    class SharingProcessWorker(ProcessWorker):
        """A process worker that submits only its share of the pool's scheduled runs (see the module's docstring)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._members: list[str] = [self.name]
            self._members_read_at = float("-inf")
            self._first_offered: dict[UUID, dt.datetime] = {}

        async def _live_workers(self) -> list[str]:
            """The pool's ONLINE workers' names, this one's included; the last list read if the server cannot say."""
            if time.monotonic() - self._members_read_at < MEMBERS_EVERY:
                return self._members
            self._members_read_at = time.monotonic()
            try:
                workers = await self.client.read_workers_for_work_pool(self._work_pool_name, limit=200)
            except Exception:  # the poll goes on with the last list; the next read is MEMBERS_EVERY away
                self._logger.warning("Could not read the pool's workers; sharing runs as before", exc_info=True)
                return self._members
            # the status is worked out by the server on each read, from the worker's last heartbeat
            members = sorted({w.name for w in workers if w.status is WorkerStatus.ONLINE} | {self.name})
            if members != self._members:
                self._logger.info("Sharing the pool's runs among %s", ", ".join(members))
                self._members = members
            return members

        async def _get_scheduled_flow_runs(self) -> list[WorkerFlowRunResponse]:
            """Prefect's query for the pool's scheduled runs, keeping only this worker's share: everything else in
            the worker (submission, limits, cancellation, heartbeats) is Prefect's own."""
            members = await self._live_workers()  # kept fresh while idle too, ready for a burst
            responses = await super()._get_scheduled_flow_runs()
            if not responses:
                self._first_offered = {}
                return responses
            now = dt.datetime.now(dt.UTC)
            self._first_offered = first_offered(self._first_offered, (r.flow_run.id for r in responses), now)
            offered = [
                Offered(
                    r.flow_run.id, max(self._first_offered[r.flow_run.id], r.flow_run.next_scheduled_start_time or now)
                )
                for r in responses
            ]
            taken = set(my_share(offered, workers=members, me=self.name, now=now))
            for run in offered:
                theirs = owner(run.run_id, members)
                if theirs == self.name:
                    continue
                if run.run_id in taken:
                    self._logger.info(
                        "Taking flow run '%s' from %s's share: it waited %.0f s for a taker",
                        run.run_id,
                        theirs,
                        (now - run.waiting_since).total_seconds(),
                    )
                else:
                    self._logger.debug("Leaving flow run '%s' to %s", run.run_id, theirs)
            return [r for r in responses if r.flow_run.id in taken]


def heartbeat_seconds() -> int:
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS

    if "PREFECT_WORKER_HEARTBEAT_SECONDS" in os.environ:
        return int(PREFECT_WORKER_HEARTBEAT_SECONDS.value())
    return HEARTBEAT_SECONDS


async def serve(pool: str, name: str) -> None:
    """Run the worker until it is stopped, set up as ``prefect worker start`` sets up its own."""
    from prefect.settings import PREFECT_WORKER_PREFETCH_SECONDS
    from prefect.utilities.processutils import setup_signal_handlers_worker

    say = partial(print, flush=True)
    # first SIGTERM: stop polling and cancel (terminate) the runs started; a second: SIGKILL. Set inside the event
    # loop, as Prefect's CLI does, so the interrupt it forwards reaches asyncio's own handler and cancels this task.
    setup_signal_handlers_worker(os.getpid(), "the process worker", say)
    worker = SharingProcessWorker(
        name=name,
        work_pool_name=pool,
        prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(),
        heartbeat_interval_seconds=heartbeat_seconds(),
        # the pool is made by `cspr up` with its locked job template (cli/system.py); a worker that made a missing
        # one would make it with Prefect's default template, which lets a run choose its own command
        create_pool_if_not_found=False,
    )
    try:
        await worker.start(printer=say)
    except asyncio.CancelledError:
        say(f"Worker {worker.name!r} stopped!")


def run_worker(pool: str, name: str) -> None:
    """Run the worker in this process until it is stopped (``cspr worker``)."""
    from prefect.logging.configuration import setup_logging

    setup_logging()
    with suppress(KeyboardInterrupt):  # how asyncio ends after the forwarded interrupt: a clean stop
        asyncio.run(serve(pool, name))
