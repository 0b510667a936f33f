"""The national review's commissioning: the Panel chooses a reviewer from its pool and the Secretary of State
confirms the appointment; recorded here with what the partnership will supply."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models.forms import CleanText, Line, OptionalText, not_in_future
from models.process import reviewers
from models.process.step import PANEL, Step
from models.review.transitions import Actor
from models.stages import Facts, Stage, Transition
from models.tables import Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class NationalCommissioning(CleanText):
    reviewer: Line = Field(title="Reviewer from the Panel's pool")
    confirmed_by_secretary_of_state_on: dt.date = Field(title="Date the Secretary of State confirmed the appointment")
    local_contribution: OptionalText = Field(
        default="", title="What the partnership will supply", description="Information and co-operation."
    )

    @model_validator(mode="after")
    def _dates(self) -> NationalCommissioning:
        not_in_future(self.confirmed_by_secretary_of_state_on, "the confirmation date")
        return self


def handle(
    session: Session, review: Review, answer: NationalCommissioning, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    reviewer = reviewers.independent_reviewer(session, review, answer.reviewer, national=True)
    facts = Facts(reviewer_chosen=True, secretary_of_state_confirmed=True)
    terms = answer.local_contribution or "National review led by the Panel"
    move, on = Transition.CONFIRM_NATIONAL_REVIEWER, answer.confirmed_by_secretary_of_state_on
    reviewers.commission(session, review, reviewer, actor, move, facts, terms, on, confirmed=True, at=at)
    return f"national review: {reviewer.name} appointed"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {
        "reviewer": "Priya Castellano",
        "confirmed_by_secretary_of_state_on": c.day(40),
        "local_contribution": "Chronologies from every agency; access to practitioners.",
    }


STEP = Step(
    stage=Stage.NATIONAL_REVIEW,
    form=NationalCommissioning,
    handler=handle,
    slug="national-commissioning",
    title="National review: the Panel's reviewer",
    roles=PANEL,
    guidance="The Panel chooses a reviewer from its pool and the Secretary of State confirms the appointment. Record "
    "it here with what the partnership will supply.",
    deadline=None,
    documents=(),
    demo=demo_answer,
    describe_extra=lambda session, review: reviewers.pool(session, national=True),
)
