"""Prefect tasks that read and write the project database. Each is idempotent: a replayed run that calls
one again with the same arguments changes nothing more."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from models import answers, process
from models.calendar import today_in_england
from models.db import transaction
from models.identity import Identity
from models.process import Refusal
from models.review.creation import IncidentRecord, create_review
from models.review.lookup import partnership_by_code, review_by_reference
from models.review.transitions import Actor
from models.roles import Role
from models.stages import Stage, Transition
from models.tables import Partnership
from models.timeline import timeline_markdown


@dataclass(frozen=True)
class Standing:
    """The review a next action is about, its partnership and the stage it stands at: what the run is named and
    tagged with. Nothing personal: a next action is a task result. Results are kept in memory here, but a setting
    (PREFECT_RESULTS_PERSIST_BY_DEFAULT) would have Prefect pickle or JSON-encode them, so each next action is a
    frozen dataclass of plain values that survives both (tests/unit/test_next_action.py)."""

    reference: str
    partnership: str
    stage: Stage


@dataclass(frozen=True)
class AskPerson(Standing):
    """A person's step: suspend on the stage's form under ``key`` and record the answer."""

    slug: str  # the step's, for run names: "CSPR-2026-0042 · rapid-review-sign-off"
    key: str  # the form's key: the stage and the review's answer counter
    description: str  # markdown shown above the form


@dataclass(frozen=True)
class WaitForDate(Standing):
    """Nothing to do before ``on``: set a timer (a scheduled run) for that day and end."""

    on: dt.date
    why: str
    counter: int  # the review's answer counter when the wait began: part of the timer's idempotency key
    slug: ClassVar[str] = "waiting"


@dataclass(frozen=True)
class MoveAutomatically(Standing):
    """A move nobody answers for: make it, and ask again."""

    transition: Transition

    @property
    def slug(self) -> str:
        return self.transition.replace("_", "-")


@dataclass(frozen=True)
class WaitForItems(Standing):
    """The review waits on its items' own runs (its actions): nothing to do until they are done, when the last of
    them starts the lifecycle again."""

    why: str
    slug: ClassVar[str] = "following-actions"


@dataclass(frozen=True)
class ReviewClosed(Standing):
    """The review is closed: nothing is left to do."""

    slug: ClassVar[str] = "closed"


NextAction = AskPerson | WaitForDate | MoveAutomatically | WaitForItems | ReviewClosed


@task(name="read-next-step")
def next_step(reference: str) -> NextAction:
    """What the lifecycle does next with the review, as the database says (``models.process.next_action``)."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        partnership = session.get_one(Partnership, review.partnership_id).code
        here = (reference, partnership, Stage(review.stage))
        match process.next_action(session, review):
            case process.WaitForForm(step=step, description=description) as form:
                return AskPerson(*here, slug=step.slug, key=form.key, description=description)
            case process.WaitUntil(on=on, why=why, counter=counter):
                return WaitForDate(*here, on=on, why=why, counter=counter)
            case process.Automatic(transition=move):
                return MoveAutomatically(*here, transition=move)
            case process.WaitForWork(why=why):
                return WaitForItems(*here, why=why)
            case process.Finished():
                return ReviewClosed(*here)


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
