"""`review-lifecycle`: one run per review, advancing it from wherever the database says it stands.

A reconciler: each turn of the loop asks the database what the review waits for. A person's step suspends the run
(no process is held while people take weeks); the answer, with the person the gate signed onto it, is written to the
database before anything acts on it, then removed from Prefect. A date to wait for becomes a scheduled run of this
deployment, and this run ends. Crashed, retried or replayed after a suspend, the run asks again and repeats nothing.
"""

from __future__ import annotations

from typing import Annotated, assert_never

from prefect import flow, get_run_logger
from pydantic import Field

from flows.inputs import FORMS, ask, forget, forget_all_but, forget_runs
from models.identity import Identity
from tasks.archive import check_publication, store_documents
from tasks.lifecycle_tasks import (
    AskPerson,
    MoveAutomatically,
    ReviewClosed,
    WaitForDate,
    WaitForItems,
    automatic_step,
    next_step,
    record_answer,
    timeline,
)
from tasks.notices import announce_waiting, deliver_outbox
from tasks.runs import (
    ended_runs,
    label_run,
    other_live_runs,
    publish_timeline,
    release_slot,
    review_slot,
    schedule_lifecycle,
)
from tasks.work_tasks import start_item_runs
from tasks.worklist_artifacts import refresh_worklist

Reference = Annotated[str, Field(pattern=r"^CSPR-\d{4}-\d{4,}$", title="Review reference", examples=["CSPR-2026-0042"])]


@flow(name="review-lifecycle", log_prints=False)
def review_lifecycle(reference: Reference) -> str:
    """Advance one review to its next step that needs a person or a date, recording every answer."""
    logger = get_run_logger()
    others = other_live_runs(reference)
    if others:
        ids = ", ".join(map(str, others))
        logger.warning("%s is already being handled by run(s) %s; this run stops without acting", reference, ids)
        return "already being handled"
    forget_runs(ended_runs(reference))
    items_changed = True
    while True:
        with review_slot(reference):
            action = next_step(reference)
            label_run(reference, action.slug, action.partnership, action.stage)
            store_documents(reference)
            asking = action if isinstance(action, AskPerson) else None
            if asking:
                announce_waiting(reference)  # once per visit of the step: a replay or a refusal tells nobody again
            deliver_outbox(reference)
            publish_timeline(reference, timeline(reference))
            refresh_worklist(action.partnership)  # one row; the whole worklist at most once a minute
            if items_changed:  # a run for each new item (and, on the run's first turn, for any without one)
                start_item_runs(reference, action.partnership, action.stage)
                items_changed = False
            forget_all_but(asking.key if asking else None)
            if isinstance(action, MoveAutomatically):
                automatic_step(reference, action.transition, action.stage)
                continue
        match action:
            case ReviewClosed():
                release_slot(reference)
                return "closed"
            case WaitForItems(why=why):
                logger.info("%s waits for its actions' own runs: %s", reference, why)
                return "following the actions through"
            case WaitForDate(on=on, why=why, partnership=partnership, stage=stage, counter=counter):
                schedule_lifecycle(reference, on, why, partnership, stage, counter)
                logger.info("%s waits until %s: %s", reference, on.isoformat(), why)
                return f"waiting until {on.isoformat()}"
            case AskPerson(stage=stage, key=key, description=description):
                answer = ask(FORMS[stage], key, description)  # suspends: no slot held
                if answer is not None:
                    # the redaction gate reads a whole report: not for an answer nobody can be held to (refused)
                    signed = isinstance(answer.signer, Identity)
                    refusal = check_publication(reference, stage, answer.data) if signed else None
                    with review_slot(reference):
                        record_answer(reference, key, answer.data, answer.signer, refusal)
                    items_changed = True
                forget(key)
            case _:
                assert_never(action)  # mypy: every next action is handled above
