"""`review-lifecycle`: one run per review, advancing it from wherever the database says it stands.

A reconciler: each turn of the loop asks the database what the review waits for. A person's step suspends the run
(no process is held while people take weeks); the answer, with the person the gate signed onto it, is written to the
database before anything acts on it, then removed from Prefect. A date to wait for becomes a scheduled run of this
deployment, and this run ends. Crashed, retried or replayed after a suspend, the run asks again and repeats nothing.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field

from flows.inputs import FORMS, ask, forget, forget_all_but, forget_runs
from models.identity import Identity
from tasks.archive import check_publication, store_documents
from tasks.notices import announce_waiting, deliver_outbox
from tasks.records import automatic_step, next_step, record_answer, timeline
from tasks.runs import (
    ended_runs,
    label_run,
    other_live_runs,
    publish_timeline,
    release_slot,
    review_slot,
    schedule_lifecycle,
)
from tasks.worklist import publish_worklist

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
    while True:
        with review_slot(reference):
            action = next_step(reference)
            label_run(reference, action.slug, action.partnership, action.stage)
            store_documents(reference)
            if action.kind == "form":
                announce_waiting(reference)  # once per visit of the step: a replay or a refusal tells nobody again
            deliver_outbox(reference)
            publish_timeline(reference, timeline(reference))
            publish_worklist(reference if action.kind == "form" else None, action.partnership)
            forget_all_but(action.key if action.kind == "form" else None)
            if action.kind == "automatic":
                assert action.transition is not None
                automatic_step(reference, action.transition, action.stage)
                continue
        if action.kind == "finished":
            release_slot(reference)
            return "closed"
        if action.kind == "wait":
            assert action.on is not None
            schedule_lifecycle(
                reference, action.on, action.description, action.partnership, action.stage, action.counter
            )
            logger.info("%s waits until %s: %s", reference, action.on.isoformat(), action.description)
            return f"waiting until {action.on.isoformat()}"
        answer = ask(FORMS[action.stage], action.key, action.description)  # suspends: no slot held
        if answer is not None:
            # the redaction gate reads a whole report: not for an answer nobody can be held to, which is refused
            signed = isinstance(answer.signer, Identity)
            refusal = check_publication(reference, action.stage, answer.data) if signed else None
            with review_slot(reference):
                record_answer(reference, action.key, answer.data, answer.signer, refusal)
        forget(action.key)
