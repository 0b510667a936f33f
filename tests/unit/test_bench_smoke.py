"""The benchmarks work (small runs; the real figures come from `cspr bench`, outside the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import gate, report, sweep


def test_the_sweep_benchmark_runs_on_a_thousand_reviews() -> None:
    result = sweep.run(1000, naive_sample=100)
    assert result["reviews"] == 1000 and result["naive_sample"] == 100
    assert result["open_deadlines"] > 1000
    for key in ("sweep_seconds", "raw_read_seconds", "naive_seconds", "peak_rss_mb"):
        assert result[key] > 0


@pytest.mark.postgres
def test_the_sweep_benchmark_runs_on_postgresql_and_drops_its_database(postgres_server_url: str) -> None:
    import sqlalchemy as sa

    from tests.conftest import POSTGRES_ADMIN_URL

    result = sweep.run(1000, naive_sample=100, database=POSTGRES_ADMIN_URL)
    assert result["database"] == "postgresql" and result["open_deadlines"] > 1000
    assert result["sweep_seconds"] > 0 and result["naive_over_sweep"] > 1
    admin = sa.create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as connection:
        left = connection.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname LIKE 'cspr_bench_%'"))
        assert left.scalar_one() == 0
    admin.dispose()


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


def test_the_step_benchmarks_measures_imports_and_its_childrens_cpu() -> None:
    """Its parts (the drive itself is `cspr bench step`: minutes, on a system of its own)."""
    import os
    import subprocess
    import sys

    from benchmarks import step

    costs = step.import_costs()
    assert 0 < costs["import_prefect_cpu_seconds"] < 30 and 0 < costs["import_project_cpu_seconds"] < 30
    before = step.children_cpu(os.getpid())
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert step.children_cpu(os.getpid()) > before  # a child that ended is counted
    assert step.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.9) == 5.0 and step.percentile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_the_step_benchmark_sees_a_run_process_until_it_is_reaped() -> None:
    """A step's CPU is read once its run processes have ended and been reaped (`RunParents.cpu` waits for that)."""
    import os
    import subprocess
    import sys

    from benchmarks import step

    idle = step.children_alive([os.getpid()])[os.getpid()]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    assert step.children_alive([os.getpid()])[os.getpid()] == idle + 1
    child.wait()  # it ends, and is reaped
    assert step.children_alive([os.getpid()])[os.getpid()] == idle


def test_the_step_benchmark_counts_a_run_taken_by_two_workers_once(tmp_path: Path) -> None:
    from benchmarks import step

    log = tmp_path / "worker-1.log"
    log.write_text(
        "Worker 'w-1' submitting flow run 'a'\n"
        "Worker 'w-1' submitting flow run 'b'\n"
        "Aborted submission of flow run 'b'. Server sent an abort signal: This run is in a PENDING state\n"
    )
    assert step.runs_started(log) == 1


def test_the_submit_benchmark_times_submit_with_its_accepted_page_and_the_resume_route() -> None:
    """Its two timed requests, against a stand-in for the gate (the drive itself is `cspr bench submit`: minutes, on
    a system of its own): the task page's Submit carries the page's token and form key, and is timed with the GET of
    the accepted page; the resume route gets the answer as run input, with the CSRF headers fetched beforehand."""
    import httpx

    from benchmarks import submit
    from cli.gate_client import GateSession, Person

    path, run_id = "/tasks/CSPR-2026-0001/incident-recorded", "7b4659ba-ccf3-4016-bc43-35af74492a1c"
    sent: list[tuple[str, str, bytes]] = []

    def gate(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, request.content))
        if request.url.path == path and request.method == "GET":
            page = '<input name="form_token" value="tok"><input name="form_key" value="key-0">'
            return httpx.Response(200, text=page)
        if request.url.path == path:
            return httpx.Response(303, headers={"location": f"{path}/accepted"})
        if request.url.path == f"{path}/accepted":
            return httpx.Response(200, text="Your answer was accepted")
        if request.url.path == "/api/csrf-token":
            return httpx.Response(200, json={"token": "csrf"})
        assert request.headers["Prefect-Csrf-Token"] == "csrf"
        return httpx.Response(200, json={"status": "ACCEPT"})

    session = GateSession("http://gate.test", Person("coordinator@example.org", "x"))
    session.client.close()
    session.client = httpx.Client(transport=httpx.MockTransport(gate), base_url="http://gate.test")
    page = submit.on_the_task_page(session, path, {"panel_reference": ["SIN-1"]})
    assert page.way == "task_page" and page.seconds >= page.submit_seconds > 0
    posted = sent[1][2].decode()
    assert "panel_reference=SIN-1" in posted and "form_token=tok" in posted and "form_key=key-0" in posted
    assert "action=submit" in posted and sent[2][:2] == ("GET", f"{path}/accepted")
    route = submit.by_the_resume_route(session, run_id, {"panel_reference": "SIN-1"})
    assert route.way == "resume_route" and route.seconds == route.submit_seconds > 0
    assert sent[-1][:2] == ("POST", f"/api/flow_runs/{run_id}/resume")
    assert b'"run_input"' in sent[-1][2]


def test_the_submit_benchmark_reports_both_ways_and_the_target() -> None:
    from benchmarks.submit import Timed, figures

    timings = [Timed("task_page", s, s - 0.01) for s in (0.3, 0.2, 0.4)]
    timings += [Timed("resume_route", s, s) for s in (0.1, 0.05, 0.2)]
    result = figures(timings)
    assert result["task_page_count"] == result["resume_route_count"] == 3
    assert result["task_page_median_seconds"] == 0.3 and result["task_page_max_seconds"] == 0.4
    assert result["resume_route_median_seconds"] == 0.1 and result["ratio_task_page_over_resume_route"] == 3.0
    assert result["task_page_accepted_page_median_seconds"] == 0.01
    assert result["target_met"] is True
    assert figures([Timed("task_page", 1.5, 1.4), Timed("resume_route", 0.1, 0.1)])["target_met"] is False
