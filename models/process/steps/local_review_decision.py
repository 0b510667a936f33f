"""The partners' decision on a local child safeguarding practice review, with reasons: a local review, none (with
the immediate learning), or the national review the Panel chose. The Panel, Ofsted and DfE are told.

The partners also adopt here the rapid review's recommendations, as rows of actions (actions.py): each is followed
through by its own run, beside whatever review follows, and the review does not close while one is open."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import progress
from models.documents import DocumentKind
from models.forms import CleanText, OptionalText, Text, inline, not_in_future
from models.process.checks import not_before, summary
from models.process.step import COORDINATOR, Step
from models.process.steps.actions import ActionEntry, action_rows, adopt, rapid_review_actions
from models.recipients import PANEL_OFSTED_DFE
from models.review import outbox, transitions
from models.review.outbox import Occasion, Purpose
from models.review.transitions import Actor
from models.roles import PARTNERS
from models.rulebook import Event
from models.stages import Facts, Stage, Transition
from models.tables import DecisionKind, RecommendationSource, Review
from models.work.requests import agency_lines

if TYPE_CHECKING:
    from models.process.demo_case import Case


class LocalDecision(StrEnum):
    local_review = "local review"
    no_review = "no local review"
    national_review = "national review led by the Panel"


class FinalDecision(CleanText):
    decision: Annotated[LocalDecision, inline(LocalDecision)] = Field(title="The partners' decision")
    decided_on: dt.date = Field(title="Date of the decision", description="A local review's 6 months run from it.")
    reasons: Text = Field(title="Reasons", description="Against the local review criteria.")
    immediate_learning: OptionalText = Field(
        default="", title="Immediate learning", description="Required when there is to be no local review."
    )
    actions: list[ActionEntry] = action_rows(
        "Actions on the rapid review's recommendations",
        "Optional: one row for each action the partners adopt from the rapid review. Each is followed through to its "
        "close, and the review stays open until every one is closed.",
    )

    @model_validator(mode="after")
    def _check(self) -> FinalDecision:
        not_in_future(self.decided_on, "the decision date")
        if self.decision is LocalDecision.no_review and not self.immediate_learning:
            raise ValueError("record the immediate learning from the rapid review when there is no local review")
        return self


_MOVES = {
    LocalDecision.local_review: Transition.DECIDE_LOCAL_REVIEW,
    LocalDecision.no_review: Transition.DECIDE_NO_REVIEW,
    LocalDecision.national_review: Transition.DECIDE_NATIONAL_REVIEW,
}


def handle(
    session: Session, review: Review, answer: FinalDecision, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    responded = progress.milestone_on(session, review, Event.PANEL_RESPONDED_ON)
    not_before(answer.decided_on, responded, "The decision date", "the Panel's response")
    facts = Facts(panel_national_review=progress.panel_chose_national(session, review), reason=answer.reasons)
    move = _MOVES[answer.decision]
    milestones = {Event.LCSPR_DECIDED_ON: answer.decided_on} if move is Transition.DECIDE_LOCAL_REVIEW else {}
    made = adopt(session, review, answer.actions, RecommendationSource.RAPID_REVIEW, actor=actor, at=at, today=today)
    transitions.record_decision(
        session,
        review,
        DecisionKind.LCSPR_DECISION,
        answer.decision.name,
        actor,
        reasons=answer.reasons,
        details={**summary(answer), "actions": len(made)},  # the actions are their own records, each in the history
        at=at,
    )
    transitions.apply_transition(
        session, review, move, actor=actor, facts=facts, reason=answer.reasons, milestones=milestones, at=at
    )
    subject = f"{review.reference}: decision on a local review: {answer.decision.value}"
    outbox.enqueue(session, review, Occasion(Purpose.LCSPR_DECISION), PANEL_OFSTED_DFE, subject)
    adopted = f"; {len(made)} action(s) on the rapid review's recommendations recorded" if made else ""
    return f"decision recorded: {answer.decision.value}{adopted}"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    decision = {"local": "local review", "national": "national review led by the Panel", "no-review": "no local review"}
    return {
        "decision": decision[c.path],
        "decided_on": c.day(26),
        "reasons": "Criteria (a) to (c) are met: the case may highlight improvements in information sharing.",
        "immediate_learning": "Share missed-appointment information with the school nurse."
        if c.path == "no-review"
        else "",
        "actions": rapid_review_actions(c),
    }


STEP = Step(
    stage=Stage.AWAITING_DECISION,
    form=FinalDecision,
    handler=handle,
    slug="local-review-decision",
    title="Decide on a local child safeguarding practice review",
    roles=PARTNERS | COORDINATOR,
    guidance="Record the partners' final decision with reasons. The Panel, Ofsted and DfE are told.",
    deadline=None,
    documents=(DocumentKind.DECISION_LETTER,),
    demo=demo_answer,
    describe_extra=agency_lines,
)
