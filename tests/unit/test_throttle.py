"""Failed sign-ins slow down (gate/throttle.py), on a clock the test moves: the first few failures cost nothing,
each one after doubles the wait up to a cap, per account and address and per address alone; a success clears its
account and address; another address is never slowed by someone else's failures; quiet keys are forgotten and the
tables stay bounded. And at most two password checks run at once, a check that waits too long being turned away."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gate.throttle import (
    PER_ACCOUNT,
    PER_ADDRESS,
    Backoff,
    Busy,
    HashSlots,
    Outcome,
    Policy,
    SignInThrottle,
    account_key,
    retry_after,
    too_many,
)

SAM = "sam.okoro@northshire-police.example"
HOME = "192.0.2.10"
ATTACKER = "203.0.113.66"


def fail(throttle: SignInThrottle, account: str, address: str, now: float) -> None:
    """One attempt admitted and failed at ``now``."""
    assert throttle.admit(account, address, now) == 0.0
    throttle.finish(account, address, now, Outcome.FAILED)


def test_the_policies_are_3_free_then_up_to_a_minute_per_account_and_15_minutes_per_address() -> None:
    assert (PER_ACCOUNT.free, PER_ACCOUNT.first, PER_ACCOUNT.cap) == (3, 1.0, 60.0)
    assert PER_ADDRESS.cap == 15 * 60.0 and PER_ADDRESS.free >= PER_ACCOUNT.free
    assert [PER_ACCOUNT.delay(n) for n in range(1, 12)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert PER_ADDRESS.delay(10_000) == 15 * 60.0  # no overflow, however many


def test_the_first_three_failures_cost_nothing_then_each_doubles_the_wait() -> None:
    throttle = SignInThrottle()
    now = 1000.0
    for _ in range(3):
        fail(throttle, SAM, ATTACKER, now)
    fail(throttle, SAM, ATTACKER, now)  # the 4th is still checked at once
    for expected in (1.0, 2.0, 4.0, 8.0):
        assert throttle.admit(SAM, ATTACKER, now) == pytest.approx(expected)  # refused: too soon
        assert throttle.admit(SAM, ATTACKER, now + expected / 2) == pytest.approx(expected / 2)
        now += expected
        fail(throttle, SAM, ATTACKER, now)
    assert throttle.admit(SAM, ATTACKER, now) == pytest.approx(16.0)


def test_an_attempt_refused_as_too_soon_does_not_lengthen_the_wait() -> None:
    throttle = SignInThrottle()
    for _ in range(4):
        fail(throttle, SAM, ATTACKER, 0.0)
    for tick in range(100):  # a flood, every 10 ms
        assert throttle.admit(SAM, ATTACKER, tick / 100) > 0
    assert throttle.wait(SAM, ATTACKER, 1.0) == 0.0  # the wait the 4th failure set, no longer


def test_the_wait_for_one_account_and_address_stops_at_a_minute() -> None:
    throttle = SignInThrottle()
    now = 0.0
    for _ in range(12):  # fewer than the address's free failures: only the account's wait counts here
        now += throttle.wait(SAM, ATTACKER, now)
        fail(throttle, SAM, ATTACKER, now)
    assert throttle.admit(SAM, ATTACKER, now) == pytest.approx(60.0)


def test_someone_elses_failures_do_not_slow_the_owner_at_their_own_address() -> None:
    throttle = SignInThrottle()
    now = 0.0
    for _ in range(10):
        now += throttle.wait(SAM, ATTACKER, now)
        fail(throttle, SAM, ATTACKER, now)
    assert throttle.wait(SAM, ATTACKER, now) > 0
    assert throttle.wait(SAM, HOME, now) == 0.0  # the same account, from the owner's browser: checked at once


def test_a_success_clears_the_account_at_that_address() -> None:
    throttle = SignInThrottle()
    for _ in range(4):
        fail(throttle, SAM, HOME, 0.0)
    assert throttle.admit(SAM, HOME, 1.0) == 0.0
    throttle.finish(SAM, HOME, 1.0, Outcome.SUCCEEDED)
    for _ in range(4):  # a fresh start: three mistakes again cost nothing
        fail(throttle, SAM, HOME, 1.0)
    assert throttle.admit(SAM, HOME, 1.0) > 0


def test_one_address_trying_many_accounts_is_slowed_as_a_whole_up_to_15_minutes() -> None:
    throttle = SignInThrottle()
    now = 0.0
    for n in range(PER_ADDRESS.free + 1):  # every account new: only the address's count grows
        fail(throttle, f"person{n}@example.org", ATTACKER, now)
    assert throttle.admit("someone.else@example.org", ATTACKER, now) == pytest.approx(1.0)
    assert throttle.wait("someone.else@example.org", HOME, now) == 0.0  # other addresses are not slowed
    for n in range(30):
        now += throttle.wait(f"more{n}@example.org", ATTACKER, now)
        fail(throttle, f"more{n}@example.org", ATTACKER, now)
    assert throttle.admit("someone.else@example.org", ATTACKER, now) == pytest.approx(15 * 60.0)


def test_a_success_takes_one_failure_off_the_addresss_count_but_does_not_clear_it() -> None:
    throttle = SignInThrottle()
    for n in range(PER_ADDRESS.free):
        fail(throttle, f"person{n}@example.org", HOME, 0.0)
    assert throttle.admit(SAM, HOME, 0.0) == 0.0
    throttle.finish(SAM, HOME, 0.0, Outcome.SUCCEEDED)
    assert len(throttle.per_address) == 1 and throttle.per_address._entries[HOME].failures == PER_ADDRESS.free - 1


def test_a_burst_sent_at_once_is_not_all_checked_together() -> None:
    throttle = SignInThrottle()
    admitted = [throttle.admit(SAM, ATTACKER, 0.0) == 0.0 for _ in range(50)]  # none finished yet
    assert sum(admitted) == PER_ACCOUNT.free + 1  # as many as would have been checked one after another at once
    for _ in range(sum(admitted)):
        throttle.finish(SAM, ATTACKER, 0.1, Outcome.FAILED)
    assert throttle.admit(SAM, ATTACKER, 0.1) == pytest.approx(1.0)


def test_an_attempt_never_checked_counts_neither_way() -> None:
    throttle = SignInThrottle()
    for _ in range(3):
        fail(throttle, SAM, HOME, 0.0)
    assert throttle.admit(SAM, HOME, 0.0) == 0.0
    throttle.finish(SAM, HOME, 0.0, Outcome.UNCHECKED)  # the server was busy
    fail(throttle, SAM, HOME, 0.0)  # still the 4th: checked at once
    assert throttle.admit(SAM, HOME, 0.0) == pytest.approx(1.0)


def test_quiet_keys_are_forgotten_and_start_again_from_nothing() -> None:
    throttle = SignInThrottle()
    now = 0.0
    for _ in range(8):
        now += throttle.wait(SAM, ATTACKER, now)
        fail(throttle, SAM, ATTACKER, now)
    assert len(throttle.per_account) == len(throttle.per_address) == 1
    later = now + PER_ADDRESS.forget_after + 1
    assert throttle.admit("another@example.org", HOME, later) == 0.0
    assert len(throttle.per_account) == 1 and len(throttle.per_address) == 1  # only the new attempt's keys
    throttle.finish("another@example.org", HOME, later, Outcome.SUCCEEDED)
    assert len(throttle.per_account) == len(throttle.per_address) == 0  # a success leaves nothing behind


def test_a_table_holds_at_most_its_limit_of_keys() -> None:
    backoff = Backoff(Policy(free=0, first=1.0, cap=60.0, forget_after=3600.0), max_keys=100)
    for n in range(1000):
        backoff.begin(f"203.0.113.{n}", float(n))
        backoff.finish(f"203.0.113.{n}", float(n), Outcome.FAILED, clear=True)
    assert len(backoff) == 100
    assert backoff.wait("203.0.113.999", 999.0) == pytest.approx(1.0)  # the most recent are the ones kept


def test_a_policy_that_would_forget_a_key_while_its_wait_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="forget_after"):
        Policy(free=3, first=1.0, cap=600.0, forget_after=60.0)


def test_the_account_is_counted_as_the_register_keeps_addresses() -> None:
    assert account_key("  Sam.Okoro@Northshire-Police.EXAMPLE ") == SAM
    assert len(account_key("x" * 10_000)) == 254


@pytest.mark.parametrize(
    ("wait", "message", "header"),
    [
        (0.2, "Too many attempts. Wait 1 second and try again.", "1"),
        (1.5, "Too many attempts. Wait 2 seconds and try again.", "2"),
        (60.0, "Too many attempts. Wait 60 seconds and try again.", "60"),
        (900.0, "Too many attempts. Wait 15 minutes and try again.", "900"),
    ],
)
def test_the_refusal_says_how_long_to_wait(wait: float, message: str, header: str) -> None:
    assert too_many(wait) == message and retry_after(wait) == header


def test_at_most_two_password_checks_run_at_once_and_a_third_waiting_too_long_is_turned_away() -> None:
    slots = HashSlots(size=2, wait=0.3)
    release = threading.Event()
    running: list[int] = []
    most = 0

    def check() -> str:
        nonlocal most
        running.append(1)
        most = max(most, len(running))
        release.wait(5)
        running.pop()
        return "checked"

    async def go() -> list[str | BaseException]:
        first = asyncio.gather(slots.run(check), slots.run(check), return_exceptions=True)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(Busy):
            await slots.run(check)
        assert 0.25 < time.monotonic() - started < 2  # turned away after its wait, not queued for ever
        release.set()
        done: list[str | BaseException] = await first
        done.append(await slots.run(check))  # the places are free again
        return done

    assert asyncio.run(go()) == ["checked"] * 3
    assert most == 2
    release.clear()
    release.set()
    assert asyncio.run(slots.run(lambda: "another event loop")) == "another event loop"  # as a test's asyncio.run
