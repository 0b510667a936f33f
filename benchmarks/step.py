"""Benchmark of what a person waits for: from pressing Submit on a form to the next form being ready to answer.

Drives invented reviews through the local set-up (a Prefect server, the deployments and a process worker, started
here in a home of its own) exactly as `cspr demo` does, through the gate as each person in turn, and times each step
from the answer's submission to the review's run waiting at its next form. Also measured:

- ``cpu_seconds_per_run``: the CPU the worker's run processes used (each step of a review runs in a process of its
  own), over the number of runs the worker started;
- ``import_*_cpu_seconds``: in a fresh interpreter, the CPU of importing Prefect, then the project's flow modules,
  which every run process pays before it does anything.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

IMPORTS = (
    "import time\n"
    "t = time.process_time(); import prefect; a = time.process_time() - t\n"
    "t = time.process_time(); import flows.lifecycle, flows.notification; b = time.process_time() - t\n"
    "print(a, b)\n"
)


def import_costs() -> dict[str, float]:
    """The CPU of the imports every run process makes, in a fresh interpreter (the fastest of three)."""
    best = [float("inf"), float("inf")]
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True).stdout
        best = [min(b, float(v)) for b, v in zip(best, out.split(), strict=True)]
    return {"import_prefect_cpu_seconds": round(best[0], 3), "import_project_cpu_seconds": round(best[1], 3)}


def children_cpu(pid: int) -> float:
    """The CPU seconds of a process's children that have ended (the worker's run processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(reviews: int, port: int) -> dict[str, Any]:
    """Needs CSPR_HOME and Prefect's environment set for a home of its own (the command does it)."""
    from cli.demo import AtTheGate, Case, notify, review_state, suspended_lifecycle_run, wait_for_answer_processed
    from cli.demo import answerer as who_answers
    from cli.system import LocalSystem, running
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo
    from models.stages import Stage

    system = LocalSystem(port=port)
    waits: list[float] = []
    with running(system):
        migrate(get_engine())
        with transaction() as session:
            seed_demo(session)
        worker = next(p for p in system.processes if "worker" in " ".join(map(str, p.args)))
        people = AtTheGate(system.ui_url, say=lambda _: None)
        before = children_cpu(worker.pid)
        try:
            for number in range(reviews):
                case = Case(pseudonym=f"Child Bench {number}")
                reference = notify(case, people, say=lambda _: None)
                run_waiting = suspended_lifecycle_run(reference)
                while True:
                    state = review_state(reference)
                    answer = case.answer(state.stage)
                    submitted = time.monotonic()
                    people.answer(run_waiting, answer, who_answers(state.stage, answer))
                    after = wait_for_answer_processed(reference, state.step_seq)
                    if after.stage is Stage.CLOSED:
                        break
                    run_waiting = suspended_lifecycle_run(reference)
                    waits.append(time.monotonic() - submitted)
        finally:
            people.sign_out()
        cpu = children_cpu(worker.pid) - before
        runs = (system.home / "logs" / "worker-1.log").read_text().count("ubmitting flow run")
    return {
        "reviews": reviews,
        "steps": len(waits),
        "median_seconds": round(statistics.median(waits), 2),
        "p90_seconds": round(percentile(waits, 0.9), 2),
        "max_seconds": round(max(waits), 2),
        "worker_runs": runs,
        "cpu_seconds_per_run": round(cpu / max(runs, 1), 2),
        **import_costs(),
        "query_seconds": float(os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "2")),
    }
