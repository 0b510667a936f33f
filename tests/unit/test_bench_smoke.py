"""The sweep benchmark works (a small run; the real figures come from `cspr bench sweep`, outside the suite)."""

from __future__ import annotations

from benchmarks.sweep import run


def test_the_sweep_benchmark_runs_on_a_thousand_reviews() -> None:
    result = run(1000, naive_sample=100)
    assert result["reviews"] == 1000 and result["naive_sample"] == 100
    assert result["open_deadlines"] > 1000
    for key in ("sweep_seconds", "raw_read_seconds", "naive_seconds", "peak_rss_mb"):
        assert result[key] > 0
