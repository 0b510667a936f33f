"""Prefect tasks that read and write the project database. Each is idempotent: a replayed run that calls
one again with the same arguments changes nothing more."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from prefect import get_run_logger, task

from models import answers, steps
from models.calendar import today_in_england
from models.db import transaction
from models.records import Actor, IncidentRecord, create_review, partnership_by_code, review_by_reference
from models.roles import Role
from models.stages import Stage, Transition
from models.tables import Partnership
from models.timeline import timeline_markdown

ActionKind = Literal["form", "wait", "automatic", "finished"]


@dataclass(frozen=True)
class NextAction:
    """What the lifecycle does next, with nothing personal in it (it becomes a task result)."""

    reference: str
    partnership: str
    stage: Stage
    kind: ActionKind
    slug: str
    counter: int  # the review's answer counter: names the form to ask, or the timer to set
    key: str = ""  # the form's key, for a form
    description: str = ""
    on: dt.date | None = None  # for a wait
    transition: Transition | None = None  # for an automatic move


@task(name="read-next-step")
def next_step(reference: str) -> NextAction:
    with transaction() as session:
        review = review_by_reference(session, reference)
        partnership = session.get_one(Partnership, review.partnership_id).code
        action = steps.next_action(session, review)
        base = {"reference": reference, "partnership": partnership, "stage": Stage(review.stage)}
        match action:
            case steps.WaitForForm(step=step, counter=counter, description=description):
                return NextAction(
                    **base, kind="form", slug=step.slug, counter=counter, key=action.key, description=description
                )
            case steps.WaitUntil(on=on, why=why, counter=counter):
                return NextAction(**base, kind="wait", slug="waiting", counter=counter, on=on, description=why)
            case steps.Automatic(transition=move):
                slug = move.replace("_", "-")
                return NextAction(**base, kind="automatic", slug=slug, counter=review.step_seq, transition=move)
        return NextAction(**base, kind="finished", slug="closed", counter=review.step_seq)


@task(name="record-answer")
def record_answer(reference: str, key: str, data: dict[str, Any], refusal: str | None = None) -> answers.Outcome:
    """Write a person's answer (or its refusal) to the database. Logs the outcome, never the answer."""
    with transaction() as session:
        outcome = answers.apply_answer(session, review_by_reference(session, reference), key, data, refusal=refusal)
    logger = get_run_logger()
    if outcome.accepted:
        logger.info("%s: %s", reference, outcome.message)
    else:
        logger.warning("%s: answer refused: %s", reference, outcome.message)
    return outcome


@task(name="automatic-step")
def automatic_step(reference: str, transition: Transition, expected_stage: Stage) -> None:
    with transaction() as session:
        review = review_by_reference(session, reference)
        if review.stage != expected_stage:  # done already by an earlier attempt
            return
        answers.apply_automatic(session, review, transition)
    get_run_logger().info("%s: %s", reference, transition.replace("_", " "))


@task(name="record-incident")
def record_incident(incident: IncidentRecord, recorded_by: str) -> tuple[str, bool]:
    """Create the review (or find the one already recorded for this incident). Returns (reference, created)."""
    with transaction() as session:
        review, created = create_review(session, incident, actor=Actor(recorded_by, Role.COORDINATOR))
    return review.reference, created


@task(name="check-partnership")
def check_partnership(code: str) -> str:
    with transaction() as session:
        return partnership_by_code(session, code).name


@task(name="timeline")
def timeline(reference: str) -> str:
    with transaction() as session:
        return timeline_markdown(session, review_by_reference(session, reference), today_in_england())
