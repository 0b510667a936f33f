"""The benchmarks work (small runs; the real figures come from `cspr bench`, outside the suite)."""

from __future__ import annotations

from benchmarks import gate, report, sweep


def test_the_sweep_benchmark_runs_on_a_thousand_reviews() -> None:
    result = sweep.run(1000, naive_sample=100)
    assert result["reviews"] == 1000 and result["naive_sample"] == 100
    assert result["open_deadlines"] > 1000
    for key in ("sweep_seconds", "raw_read_seconds", "naive_seconds", "peak_rss_mb"):
        assert result[key] > 0


def test_the_report_benchmark_runs_on_a_thousand_reviews() -> None:
    result = report.run(1000)
    assert result["reviews"] == 1000 and result["deadlines"] == 3000 and result["stage_events"] > 1000
    for step in ("raw_read", "read", "figures", "charts", "pdf", "store"):
        assert result[f"{step}_seconds"] > 0
    assert result["pdf_bytes"] > 10_000


def test_the_gate_benchmark_times_both_paths() -> None:
    result = gate.run(20)
    assert result["requests"] == 20
    for key in ("with_gate_median_ms", "without_gate_median_ms", "with_gate_p99_ms", "without_gate_p99_ms"):
        assert result[key] > 0
    assert isinstance(result["target_met"], bool)
