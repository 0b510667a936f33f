"""The Panel's response to the rapid review: whether it will carry out a national review. Its contact records it, or
a coordinator enters it on the Panel's behalf from the Panel's letter, and the record says so."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import progress
from models.forms import CleanText, OptionalLine, OptionalText, not_in_future
from models.process.checks import not_before, summary
from models.process.step import PANEL, Refusal, Step
from models.review import transitions
from models.review.transitions import Actor
from models.roles import Role
from models.rulebook import Entry, Event
from models.stages import Stage, Transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class PanelResponse(CleanText):
    """Recorded as the Panel's when the Panel's contact submits it; a coordinator may enter it on the Panel's
    behalf, giving the reference of the Panel's letter."""

    responded_on: dt.date = Field(title="Date of the Panel's response")
    national_review: bool = Field(default=False, title="The Panel will carry out a national review")
    agrees_with_local_recommendation: bool = Field(
        default=False, title="The Panel agrees with the local recommendation"
    )
    comments: OptionalText = Field(default="", title="The Panel's comments")
    # optional here because the Panel's own contact needs none; whether it is required depends on who submits it,
    # which only the lifecycle knows (its handler, below)
    letter_reference: OptionalLine = Field(
        default="",
        title="Reference of the Panel's letter",
        description="Required when you enter the response on the Panel's behalf.",
    )

    @model_validator(mode="after")
    def _dates(self) -> PanelResponse:
        not_in_future(self.responded_on, "the response date")
        return self


def handle(
    session: Session, review: Review, answer: PanelResponse, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    sent = progress.milestone_on(session, review, Event.RAPID_REVIEW_SENT_ON)
    not_before(answer.responded_on, sent, "The response date", "the date the rapid review was sent")
    # The Panel's own contact records the Panel's response; anyone else (a coordinator) only enters it for the
    # Panel, from the Panel's letter, and the record says so.
    for_panel = (
        {}
        if actor.role == Role.PANEL
        else {"on_behalf_of": Role.PANEL.value, "letter_reference": answer.letter_reference}
    )
    if for_panel and not answer.letter_reference:
        raise Refusal(
            "you are entering the Panel's response on the Panel's behalf: give the reference of the Panel's letter "
            'under "Reference of the Panel\'s letter", so the record shows where the response came from'
        )
    outcome = "national_review" if answer.national_review else "no_national_review"
    details = {**summary(answer), **for_panel}
    transitions.record_decision(session, review, DecisionKind.PANEL_RESPONSE, outcome, actor, details=details, at=at)
    transitions.apply_transition(
        session,
        review,
        Transition.RECORD_PANEL_RESPONSE,
        actor=actor,
        details=for_panel,
        milestones={Event.PANEL_RESPONDED_ON: answer.responded_on},
        at=at,
    )
    return "the Panel's response recorded" + (" on the Panel's behalf" if for_panel else "")


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {
        "responded_on": c.day(24),
        "national_review": c.path == "national",
        "agrees_with_local_recommendation": True,
        "comments": "",
    }


STEP = Step(
    stage=Stage.AWAITING_PANEL,
    form=PanelResponse,
    handler=handle,
    slug="panel-response",
    title="Record the Panel's response",
    roles=PANEL,
    guidance="Record whether the Panel will carry out a national review and whether it agrees with the local "
    "recommendation. The Panel has no fixed time; about 10 working days is usual. A coordinator entering it on the "
    "Panel's behalf gives the reference of the Panel's letter.",
    deadline=Entry.PANEL_RESPONSE,
    documents=(),
    demo=demo_answer,
)
