"""Quality assurance of the draft report: the partners (or the coordinator for them) check the report against each
point, and approve it or return it to the reviewer with reasons."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import progress
from models.documents import DocumentKind
from models.forms import CleanText, OptionalText, inline
from models.process.checks import send_back
from models.process.step import COORDINATOR, Refusal, Step
from models.review import transitions
from models.review.transitions import Actor
from models.roles import PARTNERS
from models.rulebook import Entry
from models.stages import Facts, Stage, Transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class QaOutcome(StrEnum):
    approve = "approve the final report"
    return_to_reviewer = "return to the reviewer"


class QualityAssurance(CleanText):
    summary_of_recommendations: bool = Field(default=False, title="A summary of recommendations is present")
    systemic_analysis: bool = Field(default=False, title="Systemic and underlying reasons are analysed")
    child_perspective_and_family_context: bool = Field(
        default=False, title="The child's experience and family context are given"
    )
    practitioners_and_family_involved: bool = Field(
        default=False, title="Practitioners and, where appropriate, family were involved"
    )
    plain_english: bool = Field(default=False, title="Written in plain English")
    anonymised: bool = Field(
        default=False, title="Anonymised: fit to publish without harming any child or vulnerable adult"
    )
    outcome: Annotated[QaOutcome, inline(QaOutcome)] = Field(title="Outcome")
    reasons: OptionalText = Field(default="", title="Reasons", description="Required when returning it.")

    def checklist(self) -> dict[str, bool]:
        return {
            name: bool(getattr(self, name))
            for name in (
                "summary_of_recommendations",
                "systemic_analysis",
                "child_perspective_and_family_context",
                "practitioners_and_family_involved",
                "plain_english",
                "anonymised",
            )
        }

    @model_validator(mode="after")
    def _check(self) -> QualityAssurance:
        if self.outcome is QaOutcome.return_to_reviewer and not self.reasons:
            raise ValueError("give the reasons for returning the report to the reviewer")
        return self


def handle(
    session: Session, review: Review, answer: QualityAssurance, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    checklist = answer.checklist()
    kind = DecisionKind.QUALITY_ASSURANCE
    round_ = progress.decisions_made(session, review, kind) + 1
    if answer.outcome is QaOutcome.return_to_reviewer:
        transitions.record_decision(
            session, review, kind, "returned", actor, round=round_, reasons=answer.reasons, details=checklist, at=at
        )
        move = Transition.RETURN_TO_REVIEWER
        send_back(session, review, move, actor, answer.reasons, details={"round": round_}, at=at)
        return f"returned to the reviewer (round {round_})"
    missing = [QualityAssurance.model_fields[k].title or k for k, ok in checklist.items() if not ok]
    if missing:
        raise Refusal("the report cannot be approved until every check is met; not yet met: " + "; ".join(missing))
    transitions.record_decision(session, review, kind, "approved", actor, round=round_, details=checklist, at=at)
    facts = Facts(qa_checklist_complete=True)
    transitions.apply_transition(session, review, Transition.APPROVE_REPORT, actor=actor, facts=facts, at=at)
    return "final report approved"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    returning = n < c.qa_returns
    return {
        "summary_of_recommendations": True,
        "systemic_analysis": not returning,
        "child_perspective_and_family_context": True,
        "practitioners_and_family_involved": True,
        "plain_english": True,
        "anonymised": True,
        "outcome": "return to the reviewer" if returning else "approve the final report",
        "reasons": "The systemic analysis needs to go beyond the sequence of events." if returning else "",
    }


STEP = Step(
    stage=Stage.QUALITY_ASSURANCE,
    form=QualityAssurance,
    handler=handle,
    slug="quality-assurance",
    title="Quality assurance of the draft report",
    roles=PARTNERS | COORDINATOR,
    guidance="Check the report against each point. Approve it, or return it to the reviewer with reasons.",
    deadline=Entry.LCSPR_PUBLICATION,
    documents=(DocumentKind.FINAL_REPORT,),
    demo=demo_answer,
)
