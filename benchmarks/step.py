"""Benchmark of what a person waits for: from pressing Submit on a form to the next form being ready to answer.

Drives invented reviews through a set-up of its own (the local one: a Prefect server on SQLite and one process
worker; or the team one: Prefect and the project database on PostgreSQL, two workers, S3), started here in a home of
its own, exactly as `cspr demo` does, through the gate as each person in turn. Each step is timed from the answer's
submission to the review's run waiting at its next form:

- ``median_seconds``, ``p90_seconds``, ``max_seconds``: until this process, reading as a person's page would, saw the
  next form (read every 0.3 to 0.5 s, so up to that much later than it was ready);
- ``ready_*``: until the run was waiting at it, by the time Prefect recorded on the run's Suspended state;
- ``phases``: where that time went, each the median over the steps, from the run's own states: the gate storing the
  answer and resuming the run (``resumed``), a worker taking it up (``picked_up``), its process starting, importing
  and loading the flow (``started``), and the step's own work up to the next form (``worked``).

``task_seconds_per_step`` shows where ``worked`` goes: the time of each of the flow's Prefect tasks, over all the
runs, per step (what is left of ``worked`` is Prefect's own calls around them and the suspension).

Also measured: ``cpu_seconds_per_run``, the CPU the run processes used (each step of a review runs in a process of
its own: a worker's child when started the ordinary way, the fork server's when started warm) over the runs the
workers started; and ``import_*_cpu_seconds``, in a fresh interpreter, the CPU of importing Prefect, then the
project's flow modules, which every run process started the ordinary way pays before it does anything.

With ``compare``, the same drive starts its runs the ordinary way and warm in turn, step by step, and gives each
way's waits and CPU per step, and the ratios warm / ordinary against their targets (``compared``).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

    from cli.system import LocalSystem

IMPORTS = (
    "import time\n"
    "t = time.process_time(); import prefect; a = time.process_time() - t\n"
    "t = time.process_time(); import flows.review_lifecycle, flows.notify_incident; b = time.process_time() - t\n"
    "print(a, b)\n"
)
PHASES = ("resumed", "picked_up", "started", "worked")
# Warm runs against ordinary ones (issue 30): each ratio warm / ordinary at most this, and the warm median at most
# WARM_MEDIAN_TARGET_SECONDS.
CPU_PER_STEP_RATIO_TARGET = 0.5
MEDIAN_RATIO_TARGET = 0.6
WARM_MEDIAN_TARGET_SECONDS = 3.0
SETTLE_SECONDS = 30.0  # longest to wait for a step's run process to end before reading its CPU


def import_costs() -> dict[str, float]:
    """The CPU of the imports every run process makes, in a fresh interpreter (the fastest of three)."""
    best = [float("inf"), float("inf")]
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, check=True).stdout
        best = [min(b, float(v)) for b, v in zip(best, out.split(), strict=True)]
    return {"import_prefect_cpu_seconds": round(best[0], 3), "import_project_cpu_seconds": round(best[1], 3)}


def children_cpu(pid: int) -> float:
    """The CPU seconds of a process's children that have ended (a worker's run processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def children_alive(parents: Sequence[int]) -> Counter[int]:
    """How many processes each of ``parents`` has as children now (those ended but not yet reaped included)."""
    alive: Counter[int] = Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # it ended while we looked
            continue
        if parent in parents:
            alive[parent] += 1
    return alive


@dataclass(frozen=True)
class RunParents:
    """The processes the runs are children of: the workers (a run started the ordinary way is the worker's child;
    one started warm leaves only its small launcher there) and the fork server (a warm run)."""

    pids: tuple[int, ...]
    idle: Counter[int]  # the children each had before any run

    @classmethod
    def of(cls, system: LocalSystem) -> RunParents:
        warm = system.warm_server
        workers = [
            p
            for p in system.processes
            if p is not warm and isinstance(p.args, list) and "worker" in " ".join(map(str, p.args))
        ]
        pids = tuple(p.pid for p in [*workers, warm] if p is not None)
        return cls(pids, children_alive(pids))

    def cpu(self) -> float:
        """The CPU seconds of all the runs that have ended, read once the runs running have ended (at most
        SETTLE_SECONDS): a step's run process ends a moment after its next form is ready, and its CPU is counted
        only once it is reaped, so without the wait it would be counted in the next step, which may be the other
        way's."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while children_alive(self.pids) - self.idle and time.monotonic() < deadline:
            time.sleep(0.1)
        return sum(children_cpu(pid) for pid in self.pids)


def runs_started(worker_log: Path) -> int:
    """The runs a worker started: each it took up, less those another worker had taken first (two workers polling
    may reach for the same run, and the server turns the second away)."""
    text = worker_log.read_text()
    return text.count("submitting flow run") - text.count("Aborted submission of flow run")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Step:
    submitted: dt.datetime  # as Prefect's states are stamped: in UTC, by this machine's clock
    seen: float  # seconds until this process saw the next form
    run_id: UUID  # the run that then waited at it
    cpu_seconds: float  # the CPU its run processes used
    warm: bool | None = None  # how its run was started, if the drive chose (else as the system does by default)


def waits(seen: Sequence[float]) -> dict[str, float]:
    """The median, 90th percentile and longest of the waits from Submit to the next form."""
    return {
        "median_seconds": round(statistics.median(seen), 2),
        "p90_seconds": round(percentile(list(seen), 0.9), 2),
        "max_seconds": round(max(seen), 2),
    }


def phase_medians(timed: Sequence[dict[str, float]]) -> dict[str, float]:
    return {name: round(statistics.median(p[name] for p in timed), 2) for name in PHASES}


def compared(steps: Sequence[Step], step_phases: Sequence[dict[str, float] | None]) -> dict[str, Any]:
    """Each way's steps (``ordinary``, ``warm``): how many, their waits, where the time went and CPU per step; the
    ratios warm / ordinary of CPU per step and of the median wait; and whether each target is met. A way with no
    steps has no figures but its count; then no ratio is taken, and neither ratio's target is met."""
    figures: dict[str, dict[str, Any]] = {}
    cpu: dict[str, float] = {}
    median: dict[str, float] = {}
    for way, warm in (("ordinary", False), ("warm", True)):
        mine = [(step, p) for step, p in zip(steps, step_phases, strict=True) if step.warm is warm]
        figures[way] = {"steps": len(mine)}
        if not mine:
            continue
        seen = [step.seen for step, _ in mine]
        cpu[way] = sum(step.cpu_seconds for step, _ in mine) / len(mine)
        median[way] = statistics.median(seen)
        timed = [p for _, p in mine if p is not None]
        figures[way] |= {
            **waits(seen),
            "cpu_seconds_per_step": round(cpu[way], 2),
            "phases_median_seconds": phase_medians(timed) if timed else {},
        }
    both = len(cpu) == 2
    cpu_ratio = cpu["warm"] / cpu["ordinary"] if both and cpu["ordinary"] > 0 else None
    median_ratio = median["warm"] / median["ordinary"] if both and median["ordinary"] > 0 else None
    warm_median = median.get("warm")

    def target(measured: float | None, at_most: float) -> dict[str, Any]:
        return {"at_most": at_most, "met": measured is not None and measured <= at_most}

    return {
        **figures,
        "cpu_per_step_ratio": None if cpu_ratio is None else round(cpu_ratio, 2),
        "median_ratio": None if median_ratio is None else round(median_ratio, 2),
        "targets": {
            "cpu_per_step_ratio": target(cpu_ratio, CPU_PER_STEP_RATIO_TARGET),
            "median_ratio": target(median_ratio, MEDIAN_RATIO_TARGET),
            "warm_median_seconds": target(warm_median, WARM_MEDIAN_TARGET_SECONDS),
        },
    }


def phases(step: Step) -> dict[str, float] | None:
    """From the run's states after the submission: when it was resumed (Scheduled), taken by a worker (Pending),
    running (Running) and waiting at its next form (Paused); ``None`` if one is missing."""
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(step.run_id)
    first: dict[StateType, dt.datetime] = {}
    for state in sorted(states, key=lambda s: s.timestamp):
        if state.timestamp >= step.submitted:
            first.setdefault(state.type, state.timestamp)
    order = (StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED)
    if any(kind not in first for kind in order):
        return None
    marks = [step.submitted, *(first[kind] for kind in order)]
    return {name: (end - start).total_seconds() for name, (start, end) in zip(PHASES, pairwise(marks), strict=True)}


def task_seconds(run_ids: set[UUID], steps: int) -> dict[str, float]:
    """The time each of the flow's tasks took in these runs, in all, per step; the largest first."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    totals: defaultdict[str, float] = defaultdict(float)
    done = 0
    with get_client(sync_client=True) as client:
        while batch := client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(run_ids))), limit=200, offset=done
        ):
            done += len(batch)
            for task in batch:
                if task.start_time is not None and task.end_time is not None:
                    totals[task.name.rsplit("-", 1)[0]] += (task.end_time - task.start_time).total_seconds()
    largest_first = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return {name: round(seconds / max(steps, 1), 3) for name, seconds in largest_first}


def next_form(reference: str, timeout: float = 180) -> FlowRun | None:
    """The review's run once it waits at its next form; ``None`` once the review is closed (some branches close by
    an automatic step after the last answer, with no form to wait at)."""
    from cli.demo import DemoError, is_suspended, lifecycle_runs, review_state
    from models.stages import Stage

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if review_state(reference).stage is Stage.CLOSED:
            return None
        if waiting := next((run for run in lifecycle_runs(reference) if is_suspended(run)), None):
            return waiting
        time.sleep(0.3)
    raise DemoError(f"{reference}: no form was waiting, nor was the review closed, within {timeout:.0f}s")


def drive(
    ui_url: str,
    reviews: int,
    path: str,
    parents: RunParents,
    choose: Callable[[int], bool] | None = None,
) -> list[Step]:
    """Every review from notification to closure, each step timed, with its runs' CPU; the set-up must be running.

    Before each Submit, ``choose``, if given, is called with the step's turn (its place in its review plus the
    review's number), chooses how that step's run starts and says which: warm (True) or the ordinary way."""
    from cli.demo import AtTheGate, notify, review_state, wait_for_answer_processed
    from models.process.demo_case import Case
    from models.process.demo_case import answerer as who_answers

    people = AtTheGate(ui_url, say=lambda _: None)
    steps: list[Step] = []
    try:
        for number in range(reviews):
            case = Case(path=path, pseudonym=f"Child Bench {number}")
            reference = notify(case, people, say=lambda _: None)
            run_waiting = next_form(reference)
            place = 0
            while run_waiting is not None:
                state = review_state(reference)
                answer = case.answer(state.stage)
                cpu_before = parents.cpu()
                warm = None if choose is None else choose(number + place)
                submitted, started = dt.datetime.now(dt.UTC), time.monotonic()
                people.answer(run_waiting, answer, who_answers(state.stage, answer))
                wait_for_answer_processed(reference, state.step_seq)
                run_waiting = next_form(reference)
                if run_waiting is not None:
                    seen = time.monotonic() - started
                    steps.append(Step(submitted, seen, run_waiting.id, parents.cpu() - cpu_before, warm))
                    place += 1
    finally:
        people.sign_out()
    return steps


def run(reviews: int, port: int, *, path: str = "local", team: bool = False, compare: bool = False) -> dict[str, Any]:
    """Needs CSPR_HOME and Prefect's environment set for a home of its own, and for ``team`` the team's databases
    and storage prepared (the command does both). With ``compare``, the steps alternate between runs started the
    ordinary way and warm (each review starts on the other way than the last), and the figures are ``compared``'s."""
    from cli.system import LocalSystem, running
    from cli.warm_runs import set_warm
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo

    system = LocalSystem(port=port, workers=2 if team else 1)

    def alternate(turn: int) -> bool:
        warm = turn % 2 == 1
        set_warm(system.home, warm)
        return warm

    with running(system):
        migrate(get_engine())
        with transaction() as session:
            seed_demo(session)
        parents = RunParents.of(system)
        before = parents.cpu()
        steps = drive(system.ui_url, reviews, path, parents, alternate if compare else None)
        cpu = parents.cpu() - before
        runs = sum(map(runs_started, (system.home / "logs").glob("worker-*.log")))
        step_phases = [phases(step) for step in steps]
        tasks = {} if compare else task_seconds({step.run_id for step in steps}, len(steps))
    timed = [p for p in step_phases if p is not None]
    ready = [sum(p.values()) for p in timed]
    about = {"set_up": "team" if team else "local", "reviews": reviews, "path": path, "steps": len(steps)}
    if compare:
        return {**about, **compared(steps, step_phases), "workers": system.workers, **import_costs()}
    return {
        **about,
        **waits([step.seen for step in steps]),
        "ready_median_seconds": round(statistics.median(ready), 2),
        "ready_p90_seconds": round(percentile(ready, 0.9), 2),
        "phases_median_seconds": phase_medians(timed),
        "task_seconds_per_step": tasks,
        "workers": system.workers,
        "worker_runs": runs,
        "cpu_seconds_per_run": round(cpu / max(runs, 1), 2),
        "cpu_seconds_per_step": round(cpu / max(len(steps), 1), 2),
        **import_costs(),
        "query_seconds": float(os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "1")),
    }
