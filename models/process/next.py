"""What a review waits for at its stage, read from the database: ``next_action`` says what the lifecycle must do next.

It is the only place that decides this, so a run that crashes, is retried or replays after a suspend asks again and
gets the same answer from the recorded state. It names no stage: each step's special cases are its own hooks
(models/process/step.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from models import rulebook
from models.calendar import PROVISIONAL_NOTE, today_in_england
from models.process.step import Step
from models.process.table import AUTOMATIC, STEPS
from models.stages import HUMAN_LABELS, TERMINAL, Stage, Transition, transition
from models.tables import Deadline, DeadlineStatus, Review


@dataclass(frozen=True)
class WaitForForm:
    step: Step[Any]
    counter: int  # the review's answer counter: every answer expected has its own
    description: str  # markdown shown above the form

    @property
    def key(self) -> str:
        """The form's key in Prefect: the stage and the answer counter."""
        return form_key(self.step.stage, self.counter)


@dataclass(frozen=True)
class WaitUntil:
    on: dt.date  # the lifecycle is scheduled to run again on this date
    why: str
    counter: int  # the review's answer counter when the wait began: part of the timer's idempotency key


@dataclass(frozen=True)
class Automatic:
    transition: Transition


@dataclass(frozen=True)
class WaitForWork:
    """The stage's move waits on work done in other runs (the actions on the recommendations): nothing to do until
    that work is done, when the lifecycle is started again."""

    why: str


@dataclass(frozen=True)
class Finished:
    pass


Action = WaitForForm | WaitUntil | Automatic | WaitForWork | Finished


def form_key(stage: Stage, counter: int) -> str:
    return f"{stage.replace('_', '-')}-{counter}"


def step_key(review: Review) -> str:
    return form_key(Stage(review.stage), review.step_seq)


def next_action(session: Session, review: Review, today: dt.date | None = None) -> Action:
    today = today or today_in_england()
    stage = Stage(review.stage)
    if stage in TERMINAL:
        return Finished()
    here = STEPS.get(stage) or AUTOMATIC[stage]
    if here.wait is not None:
        until = here.wait.until(session, review)
        if until is not None and today < until:
            return WaitUntil(until, here.wait.why, review.step_seq)
    if stage in AUTOMATIC:
        auto = AUTOMATIC[stage]
        if auto.facts is not None:
            failed = transition(auto.transition).failed_guards(auto.facts(session, review))
            if failed:
                return WaitForWork("; ".join(guard.message for guard in failed))
        return Automatic(auto.transition)
    step = STEPS[stage]
    return WaitForForm(step, review.step_seq, describe(session, review, step))


def deadline_for(review: Review, step: Step[Any]) -> str | None:
    """The timetable entry a review's step works towards: the step's own, unless it depends on the review (the
    notification's is its kind's)."""
    return step.deadline_of(review) if step.deadline_of is not None else step.deadline


def describe(session: Session, review: Review, step: Step[Any]) -> str:
    """The markdown shown above a form: what the step is, its deadline, and why a last answer was refused."""
    lines = [f"## {review.reference}: {step.title}", "", step.guidance, ""]
    deadline = deadline_for(review, step)
    if step.describe_case is not None:
        lines += step.describe_case(session, review)
    if deadline:
        due = session.exec(select(Deadline).where(Deadline.review_id == review.id, Deadline.name == deadline)).first()
        if due is not None and due.status == DeadlineStatus.OPEN:
            book = rulebook.edition(review.edition)
            lines.append(
                f"**{due.title}: {due.meaning} {due.due_on:%A %d %B %Y}**: {book.kind_words(due.kind)} ({due.source})."
            )
            if due.alternative_basis and due.alternative_on:  # the other count, shown beside, never chased
                on = f"{due.alternative_on:%A %d %B %Y}"
                lines.append(f"Beside it: {book.alternative_words(due.rule_id, due.alternative_basis, on)}.")
            if due.provisional:
                lines.append(f"This date is *provisional*: {PROVISIONAL_NOTE}.")
            lines.append("")
    if step.describe_extra is not None:
        lines += step.describe_extra(session, review)
    if review.step_refusal:
        lines.append(f"> **Your last answer was not accepted:** {review.step_refusal}")
        lines.append("> Nothing was changed. Please correct it and submit again.")
    lines.append(f"_Stage: {HUMAN_LABELS[Stage(review.stage)]}. Guidance: {rulebook.edition(review.edition).title}._")
    return "\n".join(lines)
