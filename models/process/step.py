"""What a step of the process is: a person's step (``Step``), its handler typed to its form, or a stage that moves on
by itself (``AutomaticStage``).

Each step is declared whole in its own module under ``models/process/steps/``: its form, its handler, its row (who
answers it, its guidance, its deadline, its documents), its demo answer, and what it alone does beyond the common
steps (its special cases, given as the optional hooks below). ``models/process/table.py`` finds them there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlmodel import Session

from models.documents import DocumentKind
from models.forms import FormModel
from models.refusals import Refused
from models.review.transitions import Actor
from models.roles import Role
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition
from models.tables import Review

if TYPE_CHECKING:
    from models.process.demo_case import Case

F = TypeVar("F", bound=FormModel)

# Acts on an accepted answer, inside the caller's transaction: records the decision, the transition, the deadlines and
# any outbox messages and says what happened, or raises Refusal (or IllegalTransition), and the caller undoes it all.
# Its answer is the step's form: mypy refuses a step whose handler takes another.
Handler = Callable[[Session, Review, F, Actor, dt.datetime, dt.date], str]
Lines = Callable[[Session, Review], list[str]]  # markdown lines for the description above the form
DemoAnswer = Callable[["Case", int], dict[str, Any]]  # the demo's answer the n-th time the step is asked (n from 0)

COORDINATOR = frozenset({Role.COORDINATOR})
# The Panel's steps: its contact answers them, or a coordinator records what the Panel decided (its response then
# only with the reference of the Panel's letter, and recorded as entered on the Panel's behalf: steps/panel_response.py)
PANEL = frozenset({Role.PANEL, Role.COORDINATOR})


class Refusal(Refused):
    """An answer that cannot be accepted; ``str()`` is the message for the person who gave it."""


@dataclass(frozen=True)
class Wait:
    """A date the review waits for at a stage before anything more is done there."""

    until: Callable[[Session, Review], dt.date | None]  # read from the review; None: nothing to wait for
    why: str


@dataclass(frozen=True)
class Step(Generic[F]):
    """A step a person answers: the stage it is asked at, its form and what an answer to it does."""

    stage: Stage
    form: type[F]
    handler: Handler[F]
    slug: str  # for run names: "CSPR-2026-0042 · rapid-review-sign-off"
    title: str
    roles: frozenset[Role]  # who may answer it
    guidance: str
    deadline: Entry | None  # the timetable entry this step works towards, shown above the form
    documents: tuple[DocumentKind, ...]  # the documents its answers call for
    demo: DemoAnswer  # what the demo's invented case answers (models/process/demo_case.py)
    # Its special cases, each left None by a step that has none:
    deadline_of: Callable[[Review], str] | None = None  # a deadline that depends on the review, not the step alone
    describe_case: Lines | None = None  # shown above the deadline: what this review's step involves
    describe_extra: Lines | None = None  # shown below the deadline: where the step stands, what to choose from
    answered: Callable[[Session, Review], frozenset[Role]] | None = None  # roles that answered already (in parallel)
    answered_by: Callable[[F], frozenset[Role]] | None = None  # who may give this very answer, when the answer says
    demo_answered_by: Callable[[Mapping[str, Any]], Role] | None = None  # the demo person giving it, when it says
    wait: Wait | None = None  # a date to wait for before the form is asked


@dataclass(frozen=True)
class AutomaticStage:
    """A stage no person answers: the lifecycle makes ``transition`` by itself (after ``wait``, if any)."""

    stage: Stage
    transition: Transition
    wait: Wait | None = None
    # what the move's guards look at, read from the review; while a guard fails the review waits for people's work
    # elsewhere (its actions' own runs), and the lifecycle runs again when that work is done
    facts: Callable[[Session, Review], Facts] | None = None
    marks: Event | None = None  # the event the move records as happening on its day
