"""Prefect tasks that read and write the project database. Each is idempotent: a replayed run that calls
one again with the same arguments changes nothing more."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models import answers, steps
from models.calendar import today_in_england
from models.db import transaction
from models.handlers import Refusal
from models.identity import Identity
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


# Tasks that touch personal data (names, dates of birth, what people typed) say on the task itself that their inputs
# are never hashed into a cache and their results never persisted: a missing or changed PREFECT_* variable cannot
# then make Prefect keep them.
@task(name="record-answer", cache_policy=NO_CACHE, persist_result=False)
def record_answer(
    reference: str, key: str, data: dict[str, Any], signer: Identity | str, refusal: str | None = None
) -> answers.Outcome:
    """Write a person's answer (or its refusal) to the database, as given by ``signer`` (who the gate signed onto it,
    or why nobody can be held to it). Logs the outcome, never the answer."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        outcome = answers.apply_answer(session, review, key, data, signer=signer, refusal=refusal)
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


@task(name="record-incident", cache_policy=NO_CACHE, persist_result=False)
def record_incident(incident: IncidentRecord, recorded_by: Actor) -> tuple[str, bool]:
    """Create the review (or find the one already recorded for this incident). Returns (reference, created)."""
    with transaction() as session:
        review, created = create_review(session, incident, actor=recorded_by)
    return review.reference, created


@task(name="check-signer")
def signed_in_as(partnership_code: str, signer: Identity | str, role: Role) -> Actor | str:
    """The person who answered, as the register knows them in ``role`` in the partnership; or why their answer
    cannot be accepted, for them (nothing is recorded then)."""
    with transaction() as session:
        try:
            return answers.acting(session, partnership_by_code(session, partnership_code), signer, frozenset({role}))
        except Refusal as exc:
            return str(exc)


@task(name="check-partnership")
def check_partnership(code: str) -> str:
    with transaction() as session:
        return partnership_by_code(session, code).name


@task(name="timeline")
def timeline(reference: str) -> str:
    with transaction() as session:
        return timeline_markdown(session, review_by_reference(session, reference), today_in_england())
