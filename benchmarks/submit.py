"""Benchmark of Submit on a task page: from pressing Submit to the page saying the answer is accepted, against the
same answer sent to Prefect's resume route through the gate, in one run.

Starts a local set-up of its own (a Prefect server on SQLite with the gate in it, the checker, one process worker)
exactly as `cspr demo` does, and brings N invented reviews, one at a time, to their first step, "Record the
notification" (``Stage.INCIDENT_RECORDED``), which the coordinator answers either way. Alternately, review by review
(so that both ways meet the same conditions), the coordinator answers it:

- ``task_page``: on the step's task page, as the browser does: the page is opened first (not timed), then the time
  runs from sending Submit (the form's fields, the page's token and form key) through its answer (303 to
  ``.../accepted``) and the GET of the accepted page, until that page is in hand. The gate reads the form, has the
  checker run the lifecycle's own checks in a rolled-back transaction, finds the review's waiting run in Prefect and
  hands the answer over signed with who gave it.
- ``resume_route``: the same answer to Prefect's ``POST /api/flow_runs/{id}/resume`` through the gate, as the UI's
  Submit did (``{"run_input": answer}``, with the CSRF headers fetched first, not timed), until its response. The
  gate reads the run and the register, then hands the answer over in the same way.

Only the requests are timed (``time.perf_counter``); between two measurements the run takes the answer and waits at
its next form, so no measurement overlaps another's work. Figures: median, 90th percentile and max of each, the
ratio of the medians, and whether the task page's median is within the target (1 s).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.step import next_form, percentile

if TYPE_CHECKING:
    from cli.demo import AtTheGate
    from cli.gate_client import GateSession
    from models.process.demo_case import Case

TARGET_SECONDS = 1.0
WAYS = ("task_page", "resume_route")


@dataclass(frozen=True)
class Timed:
    way: str
    seconds: float  # from sending Submit to having the accepted page, or the resume route's response
    submit_seconds: float  # the task page's POST alone (equal to ``seconds`` on the resume route)


def on_the_task_page(session: GateSession, path: str, posted: dict[str, list[str]]) -> Timed:
    """Open the task page (not timed), then time Submit and the accepted page it sends the person to."""
    from cli.gate_client import FORM_KEY, GateRefused, _form_token, _page_errors

    page = session.client.get(path)
    if page.status_code != 200:
        raise GateRefused(f"the task page did not open (HTTP {page.status_code}): {_page_errors(page)}")
    key = FORM_KEY.search(page.text)
    fields: dict[str, str | list[str]] = {**posted, "form_token": _form_token(page), "action": "submit"}
    fields["form_key"] = key.group(1) if key else ""
    started = time.perf_counter()
    answered = session.client.post(path, data=fields)
    submitted = time.perf_counter()
    location = answered.headers.get("location", "")
    if answered.status_code != 303 or not location.endswith("/accepted"):
        raise GateRefused(f"Submit was not accepted (HTTP {answered.status_code}): {_page_errors(answered)}")
    accepted = session.client.get(location)
    done = time.perf_counter()
    if accepted.status_code != 200 or "accepted" not in accepted.text:
        raise GateRefused(f"the accepted page did not open (HTTP {accepted.status_code})")
    return Timed("task_page", done - started, submitted - started)


def by_the_resume_route(session: GateSession, run_id: str, answer: dict[str, Any]) -> Timed:
    """The CSRF headers (not timed), then time the answer sent to Prefect's resume route through the gate."""
    from cli.gate_client import GateRefused, _detail

    headers = session._csrf()
    started = time.perf_counter()
    response = session.client.post(f"/api/flow_runs/{run_id}/resume", json={"run_input": answer}, headers=headers)
    done = time.perf_counter()
    if not response.is_success or response.json().get("status") != "ACCEPT":
        raise GateRefused(f"the resume route refused the answer (HTTP {response.status_code}): {_detail(response)}")
    return Timed("resume_route", done - started, done - started)


def answer_one(people: AtTheGate, case: Case, way: str) -> Timed:
    """Bring one new review to its notification step, answer it ``way`` as the coordinator, and wait until the run
    has taken the answer and stands at its next form (or the review closed)."""
    from cli.demo import DemoError, notify, review_state, wait_for_answer_processed
    from gate import form_fields
    from models.process import STEPS
    from models.roles import Role
    from models.stages import Stage
    from models.task_ref import task_path

    reference = notify(case, people, say=lambda _: None)
    run = next_form(reference)
    state = review_state(reference)
    if run is None or state.stage is not Stage.INCIDENT_RECORDED:
        raise DemoError(f"{reference} is not waiting at the notification step (it is at {state.stage.value})")
    answer = case.answer(state.stage)
    coordinator = people.signed_in(Role.COORDINATOR)
    if way == "task_page":
        path = task_path(reference, state.stage)
        timed = on_the_task_page(coordinator, path, form_fields.as_posted(STEPS[state.stage].form, answer))
    else:
        timed = by_the_resume_route(coordinator, str(run.id), answer)
    after = wait_for_answer_processed(reference, state.step_seq)
    if after.refusal:
        raise DemoError(f"{reference}: the lifecycle refused the answer given {way}: {after.refusal}")
    next_form(reference)  # the run's work for the answer is done before the next measurement begins
    return timed


def figures(timings: list[Timed]) -> dict[str, Any]:
    """Median, 90th percentile and max of each way, the ratio of the medians, and the target."""
    out: dict[str, Any] = {}
    for way in WAYS:
        seconds = [t.seconds for t in timings if t.way == way]
        out |= {
            f"{way}_count": len(seconds),
            f"{way}_median_seconds": round(statistics.median(seconds), 3),
            f"{way}_p90_seconds": round(percentile(seconds, 0.9), 3),
            f"{way}_max_seconds": round(max(seconds), 3),
        }
    pages = [t for t in timings if t.way == "task_page"]
    out["task_page_submit_median_seconds"] = round(statistics.median(t.submit_seconds for t in pages), 3)
    out["task_page_accepted_page_median_seconds"] = round(
        statistics.median(t.seconds - t.submit_seconds for t in pages), 3
    )
    median_page = statistics.median(t.seconds for t in pages)
    median_route = statistics.median(t.seconds for t in timings if t.way == "resume_route")
    out["ratio_task_page_over_resume_route"] = round(median_page / median_route, 2)
    out["target_seconds"] = TARGET_SECONDS
    out["target_met"] = median_page <= TARGET_SECONDS
    out["seconds_in_order"] = [[t.way, round(t.seconds, 3)] for t in timings]
    return out


def drive(ui_url: str, reviews: int) -> list[Timed]:
    """A review answered on its task page to warm up, then each review in turn, the two ways alternating (the task
    page first); the set-up must be running."""
    from cli.demo import AtTheGate
    from models.process.demo_case import Case

    people = AtTheGate(ui_url, say=lambda _: None)
    try:
        # the first warms the task page's own path (the checker's first check), which the notification's identity
        # step does not: the resume route's hand-over it shares with that step is warm already
        warm_up = answer_one(people, Case(path="local", pseudonym="Child Submit Warm"), "task_page")
        return [warm_up] + [
            answer_one(people, Case(path="local", pseudonym=f"Child Submit {n}"), WAYS[n % 2]) for n in range(reviews)
        ]
    finally:
        people.sign_out()


def run(reviews: int, port: int) -> dict[str, Any]:
    """Needs CSPR_HOME and Prefect's environment set for a home of its own (the command does both)."""
    if reviews < 2:
        raise ValueError("at least two reviews: one answered each way")
    from cli.system import LocalSystem, running
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo

    system = LocalSystem(port=port)
    with running(system):
        migrate(get_engine())
        with transaction() as session:
            seed_demo(session)
        warm_up, *timings = drive(system.ui_url, reviews)
    return {"set_up": "local", "reviews": reviews, **figures(timings), "warm_up_seconds": round(warm_up.seconds, 3)}
