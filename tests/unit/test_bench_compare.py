"""`cspr bench step --compare`'s summary: each way's figures from the same drive's steps, the ratios warm / ordinary,
and the targets' verdicts (the drive itself is the command: minutes, on a system of its own)."""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

from benchmarks.step import Step, compared

SUBMITTED = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
PHASES = {"resumed": 0.1, "picked_up": 0.5, "started": 2.0, "worked": 3.0}


def step(seen: float, cpu: float, *, warm: bool) -> Step:
    return Step(SUBMITTED, seen, uuid4(), cpu, warm)


def test_each_way_has_its_own_steps_waits_and_cpu_and_the_targets_met() -> None:
    steps = [
        step(6.0, 4.0, warm=False),
        step(2.0, 1.0, warm=True),
        step(8.0, 6.0, warm=False),
        step(3.0, 2.0, warm=True),
        step(7.0, 5.0, warm=False),
        step(2.5, 1.5, warm=True),
    ]
    summary = compared(steps, [PHASES] * len(steps))
    ordinary, warm = summary["ordinary"], summary["warm"]
    assert ordinary["steps"] == warm["steps"] == 3
    assert (ordinary["median_seconds"], ordinary["p90_seconds"], ordinary["max_seconds"]) == (7.0, 8.0, 8.0)
    assert (warm["median_seconds"], warm["p90_seconds"]) == (2.5, 3.0)
    assert (ordinary["cpu_seconds_per_step"], warm["cpu_seconds_per_step"]) == (5.0, 1.5)
    assert warm["phases_median_seconds"] == PHASES
    assert summary["cpu_per_step_ratio"] == 0.3 and summary["median_ratio"] == 0.36  # 1.5 / 5, 2.5 / 7
    assert summary["targets"] == {
        "cpu_per_step_ratio": {"at_most": 0.5, "met": True},
        "median_ratio": {"at_most": 0.6, "met": True},
        "warm_median_seconds": {"at_most": 3.0, "met": True},
    }


def test_a_target_missed_is_said_so_each_on_its_own() -> None:
    """Warm saves more than half the CPU and the wait, but its median is over 3 s: only that target is missed; then
    warm saving too little CPU misses the CPU target alone."""
    slow = [step(10.0, 4.0, warm=False), step(4.0, 1.6, warm=True)]
    targets = compared(slow, [None, None])["targets"]
    assert [targets[name]["met"] for name in ("cpu_per_step_ratio", "median_ratio", "warm_median_seconds")] == [
        True,
        True,
        False,
    ]
    costly = [step(5.0, 4.0, warm=False), step(2.0, 2.4, warm=True)]
    summary = compared(costly, [None, None])
    assert summary["cpu_per_step_ratio"] == 0.6
    assert [summary["targets"][name]["met"] for name in ("cpu_per_step_ratio", "median_ratio")] == [False, True]
    assert summary["warm"]["phases_median_seconds"] == {}  # no run's states were read


def test_a_ratio_at_its_target_meets_it() -> None:
    summary = compared([step(5.0, 4.0, warm=False), step(3.0, 2.0, warm=True)], [None, None])
    assert summary["cpu_per_step_ratio"] == 0.5 and summary["median_ratio"] == 0.6
    assert all(target["met"] for target in summary["targets"].values())


def test_steps_of_one_way_only_give_no_ratio_and_meet_no_target() -> None:
    summary = compared([step(2.0, 1.0, warm=True), step(2.0, 1.0, warm=True)], [None, None])
    assert summary["ordinary"] == {"steps": 0} and summary["warm"]["steps"] == 2
    assert summary["cpu_per_step_ratio"] is None and summary["median_ratio"] is None
    assert not summary["targets"]["cpu_per_step_ratio"]["met"] and not summary["targets"]["median_ratio"]["met"]
    assert summary["targets"]["warm_median_seconds"]["met"]  # the warm median alone is still judged


def test_steps_the_drive_did_not_choose_a_way_for_are_in_neither() -> None:
    summary = compared(
        [step(5.0, 4.0, warm=False), step(2.0, 1.0, warm=True), Step(SUBMITTED, 9.0, uuid4(), 9.0)], [None] * 3
    )
    assert summary["ordinary"]["steps"] == summary["warm"]["steps"] == 1
    assert summary["ordinary"]["max_seconds"] == 5.0
