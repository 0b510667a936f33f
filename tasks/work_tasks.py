"""Prefect tasks for the work around a review (models/work/): what an item's run waits for, recording an answer to
it, and starting each item's run. Idempotent as the lifecycle's are: a replayed run changes nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.states import Cancelled
from sqlmodel import Session, col, select

from models.answers import Outcome
from models.calendar import today_in_england
from models.db import transaction
from models.identity import Identity
from models.process import WAITS_FOR_ACTIONS
from models.review.lookup import review_by_reference
from models.stages import Stage
from models.tables import (
    Action,
    InformationRequest,
    Partnership,
    Review,
    action_is_open,
    request_is_open,
)
from models.work.actions import open_actions
from models.work.answering import AskFor, apply_item_answer, next_for
from models.work.items import ItemKind, ItemRef
from models.work.kinds import WORK
from tasks.runs import LIVE, forget_inputs, live_runs, other_runs, review_tags, run_lifecycle, synchronously

WORK_DEPLOYMENT = "review-work/review-work"


@dataclass(frozen=True)
class ItemStanding:
    """The item a next action is about: what its run is named and tagged with. Nothing personal."""

    reference: str
    partnership: str
    stage: Stage  # the review's


@dataclass(frozen=True)
class AskItem(ItemStanding):
    key: str
    description: str  # markdown above the form


@dataclass(frozen=True)
class ItemDone(ItemStanding):
    slug: ClassVar[str] = "closed"


@task(name="read-next-item-step")
def next_item(reference: str, item: str) -> AskItem | ItemDone:
    ref = ItemRef.parse(item)
    with transaction() as session:
        review = review_by_reference(session, reference)
        here = (reference, session.get_one(Partnership, review.partnership_id).code, Stage(review.stage))
        match next_for(session, review, WORK[ref.kind], ref.number):
            case AskFor(key=key, description=description):
                return AskItem(*here, key=key, description=description)
            case _:
                return ItemDone(*here)


@task(name="record-item-answer", cache_policy=NO_CACHE, persist_result=False)
def record_item_answer(reference: str, item: str, key: str, data: dict[str, Any], signer: Identity | str) -> Outcome:
    """Write an answer to an item (or its refusal); logs the outcome, never the answer. Once the review's last open
    action is closed, its lifecycle is started again to close the review."""
    ref = ItemRef.parse(item)
    with transaction() as session:
        review = review_by_reference(session, reference)
        outcome = apply_item_answer(session, review, WORK[ref.kind], ref.number, key, data, signer=signer)
        stage = Stage(review.stage)
        last_closed = stage in WAITS_FOR_ACTIONS and open_actions(session, review) == 0
        partnership = session.get_one(Partnership, review.partnership_id).code
    logger = get_run_logger()
    if outcome.accepted:
        logger.info("%s %s: %s", reference, ref.label, outcome.message)
    else:
        logger.warning("%s %s: answer refused: %s", reference, ref.label, outcome.message)
    if last_closed and not outcome.already_applied:
        run_lifecycle(reference, partnership, stage, idempotency_key=f"{reference}:actions-closed")
    return outcome


def open_items(reference: str) -> list[ItemRef]:
    """The review's items still waiting for someone."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        requests = session.exec(
            select(InformationRequest.number).where(InformationRequest.review_id == review.id, request_is_open())
        ).all()
        actions = session.exec(select(Action.number).where(Action.review_id == review.id, action_is_open())).all()
    return [ItemRef(ItemKind.REQUEST, n) for n in requests] + [ItemRef(ItemKind.ACTION, n) for n in actions]


@task(name="start-item-runs")
def start_item_runs(reference: str, partnership: str, stage: Stage) -> int:
    """A run for each of the review's open items that has none live: each waits for its own people, beside the
    review's own run. The same item gives the same run however often this is called, so one whose run failed gets
    none here (the deadline sweep starts it again: ``restore_lost_item_runs``). A run still waiting for an item closed
    elsewhere (a return recorded as missing when the rapid review was) is cancelled, its forms forgotten. Returns how
    many items are open."""
    items = {f"item:{reference}:{ref}": ref for ref in open_items(reference)}
    live = _live_item_runs(reference)
    _cancel_closed([run for run in live if run.state is not None and run.state.is_paused()], set(items))
    have = {tag for run in live for tag in run.tags}
    for tag, ref in items.items():
        if tag not in have:  # one call for the review's runs, rather than one per open item at every turn
            _start_item_run(reference, partnership, stage, ref, idempotency_key=f"{reference}:{ref}:start")
    return len(items)


@task(name="restore-lost-item-runs")
def restore_lost_item_runs() -> list[str]:
    """Give every open item of every open review that has no run (its run failed, or crashed and was not started
    again) a run again, which carries on from where the item's record says it stands, as ``restore_lost_runs`` does
    for the reviews' own runs. Returns the items, as "CSPR-2026-0042 request 2"."""
    # by their parameters, which a run has from its creation (its item's tag only once it has started: a run the
    # crash trigger made may still be waiting for a worker)
    have = {f"{run.parameters.get('reference')}:{run.parameters.get('item')}" for run in live_runs("work")}
    today = today_in_england()
    with transaction() as session:
        lost = [item for item in _open_items_of_open_reviews(session) if f"{item[0]}:{item[3]}" not in have]
    for reference, partnership, stage, ref in lost:
        _start_item_run(reference, partnership, stage, ref, idempotency_key=f"{reference}:{ref}:restore:{today}")
    restored = [f"{reference} {ref.label}" for reference, _, _, ref in lost]
    if restored:
        get_run_logger().warning("%d item(s) had lost their run and have one again: %s", len(restored), restored)
    return restored


def _open_items_of_open_reviews(session: Session) -> list[tuple[str, str, Stage, ItemRef]]:
    """Every item still waiting for someone, with its review's reference, partnership and stage."""
    found: list[tuple[str, str, Stage, ItemRef]] = []
    for kind, table, still_open in (
        (ItemKind.REQUEST, InformationRequest, request_is_open()),
        (ItemKind.ACTION, Action, action_is_open()),
    ):
        rows = session.exec(
            select(Review.reference, Partnership.code, Review.stage, table.number)
            .join(Review, col(Review.id) == col(table.review_id))
            .join(Partnership, col(Partnership.id) == col(Review.partnership_id))
            .where(still_open, col(Review.stage) != Stage.CLOSED)
        ).all()
        found += [(reference, code, Stage(stage), ItemRef(kind, n)) for reference, code, stage, n in rows]
    return found


def _start_item_run(reference: str, partnership: str, stage: Stage, ref: ItemRef, *, idempotency_key: str) -> None:
    synchronously(
        run_deployment(
            WORK_DEPLOYMENT,
            parameters={"reference": reference, "item": str(ref)},
            timeout=0,
            as_subflow=False,
            idempotency_key=idempotency_key,
            tags=item_tags(reference, partnership, stage, ref),
            flow_run_name=f"{reference} · {ref}",
        )
    )


def other_item_runs(reference: str, ref: ItemRef) -> list[UUID]:
    """The item's other runs that are running or waiting for someone (named as its: ``item_tags``)."""
    return other_runs(reference, [StateType.RUNNING, StateType.PAUSED], tags=(f"item:{reference}:{ref}",))


def item_tags(reference: str, partnership: str, stage: str, ref: ItemRef) -> list[str]:
    """An item run's tags: the review's (as "work", not "lifecycle") and the item's own, which the gate finds it by."""
    return [*review_tags(reference, partnership, stage, kind="work"), f"item:{reference}:{ref}"]


def _live_item_runs(reference: str) -> list[FlowRun]:
    """The review's item runs that have not ended: scheduled, running, or waiting for someone."""
    states = FlowRunFilterState(type=FlowRunFilterStateType(any_=[*LIVE, StateType.SCHEDULED]))
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"review:{reference}", "work"]), state=states)
        )


def _cancel_closed(waiting: list[FlowRun], open_tags: set[str]) -> None:
    """Cancel each run waiting for an item that is closed, and forget its forms."""
    with get_client(sync_client=True) as client:
        for run in waiting:
            if not open_tags & set(run.tags):
                client.set_flow_run_state(run.id, Cancelled(message="the item was closed"), force=True)
                forget_inputs(run.id)
