"""The actions on the recommendations, recorded once the report (or the information about improvements) is
published; progress on them goes in the partnership's yearly report. The review then closes."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlmodel import Session

from models.forms import CleanText, Text
from models.process.step import COORDINATOR, Step
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Event
from models.stages import TERMINAL, Stage, Transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class ActionsRecorded(CleanText):
    actions: Text = Field(
        title="Actions on the recommendations",
        description="Who does what by when; reported in the partnership's yearly report.",
    )


def handle(
    session: Session, review: Review, answer: ActionsRecorded, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    transitions.record_decision(session, review, DecisionKind.ACTIONS, "recorded", actor, reasons=answer.actions, at=at)
    move = Transition.RECORD_ACTIONS if review.stage == Stage.PUBLISHED else Transition.RECORD_IMPROVEMENT_ACTIONS
    milestones = {Event.ACTIONS_REPORTED_ON: today}
    transitions.apply_transition(session, review, move, actor=actor, milestones=milestones, at=at)
    return "actions recorded; review closed" if review.stage in TERMINAL else "actions recorded"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {
        "actions": "1. Health and schools share missed appointments weekly (ICB, by March).\n"
        "2. Multi-agency training on neglect (partnership, by June).",
    }


STEP = Step(
    stage=Stage.PUBLISHED,
    form=ActionsRecorded,
    handler=handle,
    slug="actions",
    title="Record the actions on the recommendations",
    roles=COORDINATOR,
    guidance="Record the actions agreed on the recommendations; progress goes in the partnership's yearly report.",
    deadline=None,
    documents=(),
    demo=demo_answer,
)
# the same step once only the information about improvements was published
AFTER_IMPROVEMENTS = replace(STEP, stage=Stage.IMPROVEMENTS_PUBLISHED)
