"""The final report sent to the Panel and the Secretary of State, at least 7 working days before it is published:
publication is asked for when they have passed (steps/publication.py). A corrected report is sent again, and its own
7 working days run from the new date."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import progress
from models.forms import CleanText, not_in_future
from models.process.checks import not_before
from models.process.step import COORDINATOR, Step
from models.recipients import PANEL_AND_SOS
from models.review import outbox, timetable, transitions
from models.review.outbox import Occasion
from models.review.transitions import Actor
from models.rulebook import Entry, Event
from models.stages import Stage, Transition
from models.tables import Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class FinalReportSent(CleanText):
    sent_on: dt.date = Field(
        title="Date the final report was sent to the Panel and the Secretary of State",
        description="Publication may follow no sooner than 7 working days later.",
    )

    @model_validator(mode="after")
    def _dates(self) -> FinalReportSent:
        not_in_future(self.sent_on, "the date sent")
        return self


def handle(
    session: Session, review: Review, answer: FinalReportSent, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    decided = progress.milestone_on(session, review, Event.LCSPR_DECIDED_ON)
    not_before(answer.sent_on, decided, "The date sent", "the decision to start the review")
    sends = progress.times_taken(session, review, Transition.SEND_FINAL_REPORT)
    # a corrected report is sent again, and its own 7 working days run from the new date
    transitions.apply_transition(session, review, Transition.SEND_FINAL_REPORT, actor=actor, at=at)
    timetable.set_milestones(session, review, {Event.FINAL_REPORT_SENT_ON: answer.sent_on}, replace=sends > 0)
    timetable.refresh_deadlines(session, review)
    outbox.enqueue(
        session, review, Occasion.final_report(sends + 1), PANEL_AND_SOS, f"{review.reference}: final report"
    )
    not_before_on = timetable.deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE)
    if not_before_on is None:  # an edition that sets no notice period before publication
        return "final report sent"
    return f"final report sent; publication not before {not_before_on:%d %B %Y}"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {"sent_on": (c.report_sent_on or dt.date.fromisoformat(c.day(85))).isoformat()}


STEP = Step(
    stage=Stage.REPORT_APPROVED,
    form=FinalReportSent,
    handler=handle,
    slug="final-report-sent",
    title="Send the final report to the Panel and the Secretary of State",
    roles=COORDINATOR,
    guidance="Send the final report at least 7 working days before it is published, then record the date here. The "
    "publication decision is asked for when the 7 working days have passed.",
    deadline=Entry.LCSPR_PUBLICATION,
    documents=(),
    demo=demo_answer,
)
