"""What operators see of a review in Prefect: run names, tags, the timeline artifact, and timers.

Everything here carries the review reference, the partnership code and the stage; never a name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect import get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.concurrency.sync import concurrency
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.input.actions import ensure_flow_run_id
from prefect.runtime import flow_run
from prefect.states import Crashed
from sqlmodel import col, select

from models import process
from models.calendar import today_in_england
from models.db import transaction
from models.identity import FORM_INPUTS
from models.stages import Stage
from models.tables import Partnership, Review

LIFECYCLE_DEPLOYMENT = "review-lifecycle/review-lifecycle"
LONDON = ZoneInfo("Europe/London")
TIMER_HOUR = 7  # timers fire at 07:00 London time on the day, like the morning deadline sweep
LIVE = [StateType.PENDING, StateType.RUNNING, StateType.PAUSED, StateType.CANCELLING]
ENDED = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
ENDED_WITHIN = dt.timedelta(days=14)  # the runs whose leftover forms each sweep deletes: ended in the last two weeks

T = TypeVar("T")


def synchronously(result: T | Coroutine[Any, Any, T]) -> T:
    """What one of Prefect's sync-or-async functions (``run_deployment`` and others made with ``async_dispatch``)
    returned, typed as the value it is in cspr, whose flows and tasks are all synchronous. A coroutine would mean the
    caller had become async: it is refused rather than left unawaited."""
    if isinstance(result, Coroutine):
        result.close()
        raise TypeError("a Prefect call answered asynchronously in cspr's synchronous code")
    return result


def review_tags(reference: str, partnership: str, stage: str, kind: str = "lifecycle") -> list[str]:
    return ["cspr", kind, f"review:{reference}", f"partnership:{partnership}", f"stage:{stage}"]


def label_run(reference: str, slug: str, partnership: str, stage: str, kind: str = "lifecycle") -> None:
    """Name this run "CSPR-2026-0042 · rapid-review-sign-off" and tag it with partnership and stage."""
    name_run(f"{reference} · {slug}", review_tags(reference, partnership, stage, kind))


def name_run(name: str, tags: list[str]) -> None:
    run_id = flow_run.get_id()
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(run_id), name=name, tags=tags)


def other_runs(reference: str, states: list[StateType], tags: tuple[str, ...] = ("lifecycle",)) -> list[UUID]:
    """Ids of this review's other runs in the given states: its lifecycle runs, or those with ``tags`` (an item's)."""
    me = flow_run.get_id()
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"review:{reference}", *tags]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states)),
                id=FlowRunFilterId(not_any_=[UUID(me)]) if me else None,
            )
        )
    return [r.id for r in runs]


def other_live_runs(reference: str) -> list[UUID]:
    """This review's other lifecycle runs that are running or waiting for a person."""
    return other_runs(reference, LIVE)


def ended_runs(reference: str) -> list[UUID]:
    return other_runs(reference, ENDED)


def forget_inputs(run_id: UUID | None, keep: set[str] | None = None) -> int:
    """Delete a run's forms, answers and who gave them (this run's, if ``run_id`` is None), but those in ``keep``.
    Returns how many were deleted."""
    deleted, keep, run_id = 0, keep or set(), ensure_flow_run_id(run_id)
    with get_client(sync_client=True) as client:
        for prefix in FORM_INPUTS:
            while True:  # a page at a time, until a page comes back short or nothing in it could be deleted
                page = client.filter_flow_run_input(flow_run_id=run_id, key_prefix=prefix, limit=200, exclude_keys=keep)
                before = deleted
                for stored in page:
                    with suppress(ObjectNotFound, PrefectHTTPStatusError):
                        client.delete_flow_run_input(flow_run_id=stored.flow_run_id, key=stored.key)
                        deleted += 1
                if len(page) < 200 or deleted == before:
                    break
    return deleted


@task(name="forget-ended-runs")
def forget_ended_runs(within: dt.timedelta | None = ENDED_WITHIN) -> int:
    """Delete every form answer left in Prefect by any of cspr's runs that ended (failed, crashed, cancelled or
    completed) within ``within`` (None: whenever they ended; the monthly retention run's full pass, which also
    catches what runs left before the sweep did this): notification runs too, whose identity answer carries names if
    the run died between saving it and forgetting it. The sweep runs every working day, so its window only has to
    span a long weekend; it is generous. Returns how many inputs were deleted."""
    since = None if within is None else dt.datetime.now(dt.UTC) - within
    states = FlowRunFilterState(type=FlowRunFilterStateType(any_=ENDED))
    ended: list[UUID] = []
    page = 200
    with get_client(sync_client=True) as client:
        for offset in range(0, 10_000_000, page):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=["cspr"]),
                    state=states,
                    end_time=None if since is None else FlowRunFilterEndTime(after_=since),
                ),
                limit=page,
                offset=offset,
            )
            ended += [r.id for r in runs]
            if len(runs) < page:
                break
    deleted = sum(forget_inputs(run_id) for run_id in ended)
    if deleted:
        get_run_logger().info("%d form input(s) left by %d ended run(s) deleted", deleted, len(ended))
    return deleted


def publish_timeline(reference: str, markdown: str) -> None:
    key = reference.lower()  # artifact keys are lower case: "cspr-2026-0042"
    create_markdown_artifact(markdown=markdown, key=key, description=f"{reference}: timeline and deadlines")


def timer_time(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, dt.time(TIMER_HOUR), tzinfo=LONDON)


def run_lifecycle(
    reference: str,
    partnership: str,
    stage: str,
    *,
    idempotency_key: str,
    at: dt.datetime | None = None,
    extra_tags: tuple[str, ...] = (),
    name: str | None = None,
) -> str:
    """Create a run of the review's lifecycle deployment (now, or scheduled for ``at``) and return its id without
    waiting for it. The idempotency key makes asking twice give the one run."""
    run = synchronously(
        run_deployment(
            LIFECYCLE_DEPLOYMENT,
            parameters={"reference": reference},
            scheduled_time=at,
            timeout=0,
            as_subflow=False,
            idempotency_key=idempotency_key,
            tags=[*review_tags(reference, partnership, stage), *extra_tags],
            flow_run_name=name,
        )
    )
    return str(run.id)


@task(name="schedule-lifecycle")
def schedule_lifecycle(reference: str, on: dt.date, why: str, partnership: str, stage: str, counter: int) -> str:
    """A scheduled run of the lifecycle for ``on``: a durable timer operators see among upcoming runs.
    The same review, stage, answer counter and date give the same run, however often this is called."""
    return run_lifecycle(
        reference,
        partnership,
        stage,
        idempotency_key=f"{reference}:timer:{stage}:{counter}:{on.isoformat()}",
        at=timer_time(on),
        extra_tags=("timer",),
        name=f"{reference} · timer · {why[:40]}",
    )


def slot_name(reference: str) -> str:
    return f"review-{reference}"


@contextmanager
def review_slot(reference: str) -> Iterator[None]:
    """Hold the review's one concurrency slot (a Prefect global concurrency limit of 1, named for the review)
    while a run acts on it, so two runs of the same review never act at once; another waits its turn. Held only
    while acting, never while a run is suspended waiting for people."""
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(slot_name(reference), limit=1)
    # the slot is leased, and the lease renewed while the run lives: a run whose process dies mid-stage frees it
    # within a minute, so the run started in its place is not held up for long
    with concurrency(slot_name(reference), occupy=1, timeout_seconds=600, strict=True, lease_duration=60):
        yield


def release_slot(reference: str) -> None:
    """A closed review needs no slot: remove its limit, so operators' concurrency page lists open reviews only."""
    with get_client(sync_client=True) as client, suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(slot_name(reference))


def start_lifecycle(reference: str, partnership: str, stage: str) -> str:
    return run_lifecycle(reference, partnership, stage, idempotency_key=f"{reference}:start")


def reviews_with_runs() -> set[str]:
    """References of the reviews that have a lifecycle run running, waiting for a person, or scheduled (a timer)."""
    return {t.removeprefix("review:") for run in live_runs("lifecycle") for t in run.tags if t.startswith("review:")}


def live_runs(kind: str) -> list[FlowRun]:
    """Every run of ``kind`` ("lifecycle", "work", the deployment's own tag, which a run has from its creation) that
    is running, waiting for a person, or scheduled."""
    found: list[FlowRun] = []
    page = 200
    states = FlowRunFilterState(type=FlowRunFilterStateType(any_=[*LIVE, StateType.SCHEDULED]))
    with get_client(sync_client=True) as client:
        for offset in range(0, 10_000_000, page):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[kind]), state=states),
                limit=page,
                offset=offset,
            )
            found += runs
            if len(runs) < page:
                break
    return found


@task(name="restore-lost-runs")
def restore_lost_runs() -> list[str]:
    """Give every open review that has no lifecycle run (its run failed or crashed, or its timer was deleted) a run
    again: a timer for the date it waits for, or a run that carries on from where its record says it stands."""
    have = reviews_with_runs()
    today = today_in_england()
    restored: list[str] = []
    with transaction() as session:
        open_reviews = session.exec(select(Review).where(col(Review.stage) != Stage.CLOSED)).all()
        for review in (r for r in open_reviews if r.reference not in have):
            partnership = session.get_one(Partnership, review.partnership_id).code
            action = process.next_action(session, review, today=today)
            if isinstance(action, process.WaitForWork):  # no run until its actions' runs are done: none is lost
                continue
            if isinstance(action, process.WaitUntil):
                why, counter = action.why, action.counter
                schedule_lifecycle.fn(review.reference, action.on, why, partnership, review.stage, counter)
            else:
                key = f"{review.reference}:restore:{today.isoformat()}"
                run_lifecycle(review.reference, partnership, review.stage, idempotency_key=key)
            restored.append(review.reference)
    if restored:
        logger = get_run_logger()
        logger.warning("%d review(s) had lost their run and have one again: %s", len(restored), ", ".join(restored))
    return restored


def unresponsive_after() -> dt.timedelta:
    """CSPR_UNRESPONSIVE_AFTER (default five missed heartbeats, one a minute: a busy machine is not a dead one)."""
    from models.settings import get_settings

    return dt.timedelta(seconds=get_settings().unresponsive_after)


@task(name="crash-if-silent")
def crash_if_silent(flow_run_id: UUID) -> str:
    """Mark a run Crashed if it is still Running and has been since before its heartbeats stopped.

    Prefect's automation says only that no heartbeat came for a while after the last one; a heartbeat can reach
    the server after the run suspended or ended (events are sent in the background), so the run's state decides.
    """
    logger = get_run_logger()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        state = run.state
        if state is None or state.type is not StateType.RUNNING:
            verdict = f"it is {state.name if state else 'without a state'}: nothing to do"
        elif state.timestamp > dt.datetime.now(dt.UTC) - unresponsive_after():
            verdict = "it started running again since: nothing to do"
        else:
            client.set_flow_run_state(
                flow_run_id, Crashed(message="its process stopped sending heartbeats"), force=True
            )
            verdict = "marked Crashed: its process stopped sending heartbeats"
    logger.info("run %s (%s): %s", run.name, flow_run_id, verdict)
    return verdict
