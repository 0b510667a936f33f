"""The national review under way: the partnership co-operates and supplies information. The Panel's publication of
the national review is recorded when it happens, with the actions the partnership adopts on its recommendations (rows
of actions, as for a local review: actions.py). The review then closes, or, while any action is open (the rapid
review's included), follows them through first (``Stage.ACTIONS_UNDER_WAY``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models.forms import CleanText, not_in_future
from models.process.step import PANEL, Step
from models.process.steps.actions import ActionEntry, action_rows, adopt, national_actions
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Event
from models.stages import Facts, Stage, Transition
from models.tables import DecisionKind, RecommendationSource, Review
from models.work.actions import open_actions
from models.work.requests import agency_lines

if TYPE_CHECKING:
    from models.process.demo_case import Case


class NationalReportPublished(CleanText):
    published_on: dt.date = Field(title="Date the Panel published the national review")
    actions: list[ActionEntry] = action_rows(
        "Local actions on the national review's recommendations",
        "Optional: one row for each action the partnership adopts. Each is followed through to its close, and the "
        "review stays open until every one is closed.",
    )

    @model_validator(mode="after")
    def _dates(self) -> NationalReportPublished:
        not_in_future(self.published_on, "the publication date")
        return self


def handle(
    session: Session, review: Review, answer: NationalReportPublished, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    made = adopt(session, review, answer.actions, RecommendationSource.NATIONAL_REVIEW, actor=actor, at=at, today=today)
    transitions.record_decision(
        session, review, DecisionKind.NATIONAL_REPORT, "published", actor, details={"actions": len(made)}, at=at
    )
    milestones = {Event.PUBLISHED_ON: answer.published_on}
    still_open = open_actions(session, review)
    if still_open:
        move = Transition.FOLLOW_NATIONAL_ACTIONS
        said = f"national review published; {still_open} action(s) open, each followed through to its close"
    else:
        move, said = Transition.NATIONAL_REPORT_PUBLISHED, "national review published; review closed"
    facts = Facts(open_actions=still_open)
    transitions.apply_transition(session, review, move, actor=actor, facts=facts, milestones=milestones, at=at)
    return said


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {"published_on": c.day(95), "actions": national_actions(c)}


STEP = Step(
    stage=Stage.NATIONAL_REVIEW_UNDER_WAY,
    form=NationalReportPublished,
    handler=handle,
    slug="national-review",
    title="National review under way",
    roles=PANEL,
    guidance="The partnership co-operates and supplies information. Record the Panel's publication of the national "
    "review when it happens, with any local actions the partnership adopts on its recommendations.",
    deadline=None,
    documents=(),
    demo=demo_answer,
    describe_extra=agency_lines,
)
