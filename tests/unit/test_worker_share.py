"""The share rule of the project's worker (cli/worker.py): which of the pool's offered runs a worker takes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest

from cli.worker import GRACE, Offered, first_offered, my_share, owner

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TWO = ("cspr-local-worker-1", "cspr-local-worker-2")
RUNS = [uuid.UUID(int=n * 7919 + 1, version=4) for n in range(400)]


def fresh(*runs: uuid.UUID) -> list[Offered]:
    return [Offered(run, NOW) for run in runs]


def test_two_live_workers_take_every_run_once_between_them() -> None:
    first, second = (set(my_share(fresh(*RUNS), workers=TWO, me=me, now=NOW)) for me in TWO)
    assert first.isdisjoint(second) and first | second == set(RUNS)
    assert 160 <= len(first) <= 240, "shared about evenly"


def test_each_worker_agrees_whatever_order_it_reads_the_pool_in() -> None:
    assert all(owner(run, TWO) == owner(run, reversed(TWO)) == owner(run, [*TWO, TWO[0]]) for run in RUNS)


def test_the_answer_does_not_depend_on_the_process() -> None:
    """Workers are separate processes: the hash must be the same in each (Python's ``hash`` of a str is not)."""
    assert owner(uuid.UUID("00000000-0000-4000-8000-000000000000"), TWO) == "cspr-local-worker-1"
    assert owner(uuid.UUID("12345678-1234-4234-8234-123456789abc"), TWO) == "cspr-local-worker-2"


def test_time_ordered_ids_are_spread_too() -> None:
    """Ids that differ only in their clock bits (as UUIDv7 ones made in one burst) still split between the two."""
    base = uuid.UUID("019a0000-0000-7000-8000-000000000000").int
    ids = [uuid.UUID(int=base + (n << 80)) for n in range(200)]
    assert min(Counter(owner(run, TWO) for run in ids).values()) >= 70


def test_a_worker_alone_takes_everything() -> None:
    assert my_share(fresh(*RUNS[:20]), workers=[], me=TWO[0], now=NOW) == RUNS[:20]


def test_a_worker_counts_itself_even_when_the_server_has_not_listed_it_yet() -> None:
    assert my_share(fresh(*RUNS), workers=[TWO[1]], me=TWO[0], now=NOW) == my_share(
        fresh(*RUNS), workers=TWO, me=TWO[0], now=NOW
    )


def test_the_order_of_the_offer_is_kept() -> None:
    """The server offers the earliest-scheduled first; the worker submits in that order."""
    offered = fresh(*reversed(RUNS))
    taken = my_share(offered, workers=TWO, me=TWO[0], now=NOW)
    assert taken == [run.run_id for run in offered if run.run_id in set(taken)]


def test_a_run_left_waiting_past_the_grace_is_anyones() -> None:
    theirs = next(run for run in RUNS if owner(run, TWO) == TWO[1])
    waited = [Offered(theirs, NOW - GRACE - dt.timedelta(seconds=1))]
    assert my_share(waited, workers=TWO, me=TWO[0], now=NOW) == [theirs]
    just = [Offered(theirs, NOW - GRACE)]
    assert my_share(just, workers=TWO, me=TWO[0], now=NOW) == []


def test_a_dead_workers_share_goes_to_the_others_once_it_is_offline() -> None:
    three = (*TWO, "cspr-local-worker-3")
    dead_ones = [run for run in RUNS if owner(run, three) == three[2]]
    survivors = [set(my_share(fresh(*dead_ones), workers=TWO, me=me, now=NOW)) for me in TWO]
    assert survivors[0].isdisjoint(survivors[1]) and survivors[0] | survivors[1] == set(dead_ones)


def test_the_wait_counts_from_the_first_offer_not_from_the_scheduled_start() -> None:
    """A run that was Late because the pool was full is offered for the first time now: it is not anyone's yet."""
    seen_before = first_offered({}, RUNS[:2], NOW - dt.timedelta(minutes=5))
    later = NOW - dt.timedelta(seconds=1)
    now_offered = first_offered(seen_before, [RUNS[1], RUNS[2]], later)
    assert now_offered == {RUNS[1]: NOW - dt.timedelta(minutes=5), RUNS[2]: later}, "run 0 left the offer: forgotten"
    assert first_offered(now_offered, [RUNS[0]], NOW) == {RUNS[0]: NOW}, "it comes back counting afresh"


def test_no_worker_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        owner(RUNS[0], [])
