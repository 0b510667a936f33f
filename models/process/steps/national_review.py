"""The national review under way: the partnership co-operates and supplies information; the Panel's publication of
the national review, and any local actions, are recorded when it happens, and the review closes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models.forms import CleanText, OptionalText, not_in_future
from models.process.step import PANEL, Step
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Event
from models.stages import Stage, Transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class NationalReportPublished(CleanText):
    published_on: dt.date = Field(title="Date the Panel published the national review")
    local_actions: OptionalText = Field(default="", title="Local actions arising")

    @model_validator(mode="after")
    def _dates(self) -> NationalReportPublished:
        not_in_future(self.published_on, "the publication date")
        return self


def handle(
    session: Session, review: Review, answer: NationalReportPublished, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    local_actions = answer.local_actions or None
    transitions.record_decision(
        session, review, DecisionKind.NATIONAL_REPORT, "published", actor, reasons=local_actions, at=at
    )
    milestones = {Event.PUBLISHED_ON: answer.published_on}
    transitions.apply_transition(
        session, review, Transition.NATIONAL_REPORT_PUBLISHED, actor=actor, milestones=milestones, at=at
    )
    return "national review published; review closed"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {
        "published_on": c.day(95),
        "local_actions": "Adopt the national recommendations on information sharing.",
    }


STEP = Step(
    stage=Stage.NATIONAL_REVIEW_UNDER_WAY,
    form=NationalReportPublished,
    handler=handle,
    slug="national-review",
    title="National review under way",
    roles=PANEL,
    guidance="The partnership co-operates and supplies information. Record the Panel's publication of the national "
    "review and any local actions when it happens.",
    deadline=None,
    documents=(),
    demo=demo_answer,
)
