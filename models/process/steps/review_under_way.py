"""The local review under way: the coordinator records each written request to the reviewer (for information or a
draft) as it is made, and the draft report when it arrives, which goes to quality assurance."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, model_validator
from sqlmodel import Session

from models import progress
from models.calendar import today_in_england
from models.documents import DocumentKind
from models.forms import FREE, CleanText, Line, OptionalText, inline, not_in_future
from models.process.step import COORDINATOR, Step
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Entry
from models.stages import Stage, Transition
from models.tables import DecisionKind, Review
from models.work.requests import agency_lines, ask_agencies, close_missing, status_lines

if TYPE_CHECKING:
    from models.process.demo_case import Case


class ProgressUpdate(StrEnum):
    monitoring_request = "written request to the reviewer"
    agencies_asked = "agencies asked for information"
    draft_submitted = "draft report submitted"


class TimelineEntry(CleanText):
    on: dt.date = Field(title="Date")
    event: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), FREE] = Field(
        title="What happened"
    )


MAX_AGENCIES = 50
RecommendationText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReviewProgress(CleanText):
    """A written request to the reviewer, or the reviewer's draft report. Write about the children by pseudonym:
    the report is checked for their names before anything is published."""

    update: Annotated[ProgressUpdate, inline(ProgressUpdate)] = Field(title="What happened")
    on: dt.date = Field(title="Date")
    request: OptionalText = Field(
        default="",
        title="The written request",
        description="What the partners asked the reviewer for (information, a draft); required for a request.",
    )
    agencies: list[Line] = Field(
        default_factory=list,
        max_length=MAX_AGENCIES,
        title="Agencies the reviewer asks for information",
        description="Each by its name in the partnership's register; required to ask agencies.",
    )
    summary: OptionalText = Field(default="", title="Draft report: summary")
    recommendations: Annotated[list[RecommendationText], FREE] = Field(
        default_factory=list, max_length=100, title="Draft report: recommendations", description="One per item."
    )
    child_experience: OptionalText = Field(default="", title="Draft report: the child's experience and perspective")
    family_context: OptionalText = Field(default="", title="Draft report: family context")
    systemic_analysis: OptionalText = Field(default="", title="Draft report: systemic analysis")
    practitioner_involvement: OptionalText = Field(
        default="", title="Draft report: how practitioners and the family were involved"
    )
    timeline: list[TimelineEntry] = Field(default_factory=list, max_length=500, title="Draft report: timeline")

    @model_validator(mode="after")
    def _check(self) -> ReviewProgress:
        not_in_future(self.on, "the date")
        if self.update is ProgressUpdate.monitoring_request and not self.request:
            raise ValueError("write down the request made to the reviewer")
        if self.update is ProgressUpdate.agencies_asked and not self.agencies:
            raise ValueError("name the agencies to ask for information")
        if self.update is ProgressUpdate.draft_submitted and not (
            self.summary and self.recommendations and self.systemic_analysis
        ):
            raise ValueError("a draft report needs at least its summary, recommendations and systemic analysis")
        return self

    def draft(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            include={
                "summary",
                "recommendations",
                "child_experience",
                "family_context",
                "systemic_analysis",
                "practitioner_involvement",
                "timeline",
            },
        )


def handle(
    session: Session, review: Review, answer: ReviewProgress, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    on = {"on": answer.on.isoformat()}
    if answer.update is ProgressUpdate.monitoring_request:
        kind = DecisionKind.MONITORING_REQUEST
        round_ = progress.decisions_made(session, review, kind) + 1
        transitions.record_decision(
            session, review, kind, "requested", actor, round=round_, reasons=answer.request, details=on, at=at
        )
        return "written request to the reviewer recorded"
    if answer.update is ProgressUpdate.agencies_asked:
        asked = ask_agencies(session, review, answer.agencies, actor=actor, at=at, today=today)
        return f"{len(asked)} agencies asked for information for the local review"
    # the reviewer has written the draft: a return still missing is recorded so, and its request closed
    close_missing(session, review, Stage.REVIEW_UNDER_WAY, actor=actor, at=at)
    round_ = progress.decisions_made(session, review, DecisionKind.DRAFT) + 1
    transitions.record_decision(
        session, review, DecisionKind.DRAFT, "submitted", actor, round=round_, details=answer.draft(), at=at
    )
    transitions.apply_transition(session, review, Transition.SUBMIT_DRAFT, actor=actor, details=on, at=at)
    return "draft received; quality assurance next"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    if n == 0:
        return {
            "update": "written request to the reviewer",
            "on": c.day(50),
            "request": "Please share a first draft of the chronology by the end of the month.",
        }
    if n == 1 and c.agencies:
        return {"update": "agencies asked for information", "on": c.day(52), "agencies": list(c.agencies[:2])}
    return {"update": "draft report submitted", "on": c.day(60 + n), "request": "", **DRAFT}


DRAFT: dict[str, Any] = {
    "summary": "Child Q, aged seven, was seriously harmed through neglect over several months. Agencies each held "
    "part of the picture: missed health appointments, a school's concerns about weight loss, and a housing move.",
    "recommendations": [
        "The ICB and schools agree a weekly exchange of missed-appointment information for children on plans.",
        "Children's social care checks school attendance and health contacts at every strategy discussion.",
        "The partnership runs multi-agency training on recognising neglect in primary-age children.",
    ],
    "child_experience": "Child Q told a teacher they were often hungry and that home was cold.",
    "family_context": "A single parent under financial strain, recently moved into the area, with little support.",
    "systemic_analysis": "Information was held in separate systems with no routine for sharing it; thresholds for "
    "neglect were applied differently by each agency; a house move interrupted the health visiting service.",
    "practitioner_involvement": "Twelve practitioners took part in a learning event; the parent was invited to "
    "contribute and met the reviewer.",
    "timeline": [
        {"on": "2025-09-03", "event": "Child Q starts at a new primary school after a house move."},
        {"on": "2025-11-12", "event": "Second missed health appointment; letter sent to the old address."},
        {"on": "2026-01-20", "event": "School raises a concern about Child Q's weight with the school nurse."},
        {"on": "2026-03-02", "event": "Child Q is admitted to hospital."},
    ],
}


STEP = Step(
    stage=Stage.REVIEW_UNDER_WAY,
    form=ReviewProgress,
    handler=handle,
    slug="review-under-way",
    title="Review under way",
    roles=COORDINATOR,
    guidance="Record each written request to the reviewer (for information or a draft) as it is made, and the draft "
    "report when it arrives.",
    deadline=Entry.LCSPR_PUBLICATION,
    documents=(DocumentKind.DRAFT_REPORT,),
    demo=demo_answer,
    describe_extra=lambda session, review: [
        *agency_lines(session, review),
        *status_lines(session, review, Stage.REVIEW_UNDER_WAY, today_in_england()),
    ],
)
