"""The publication decision, asked for once 7 working days have passed since the final report was sent: publish
the report; or publish information about the improvements to be made (with reasons); or defer, with a date to look
again (steps/publication_deferred.py); or return the report to the reviewer for correction. Before anything is
published, the redaction gate reads what would be (tasks/archive.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import child_death_review, progress, rulebook
from models.calendar import today_in_england
from models.documents import DocumentKind
from models.forms import CleanText, OptionalText, inline
from models.process.checks import summary
from models.process.step import COORDINATOR, Step, Wait
from models.recipients import PANEL_AND_SOS, PANEL_OFSTED_DFE
from models.review import outbox, timetable, transitions
from models.review.outbox import Occasion, Purpose
from models.review.transitions import Actor
from models.roles import PARTNERS
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition, reachable_from, transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class PublicationChoice(StrEnum):
    publish = "publish the report"
    improvements_only = "publish information about improvements only"
    defer = "defer publication"
    correct = "return the report to the reviewer for correction"


class Publication(CleanText):
    decision: Annotated[PublicationChoice, inline(PublicationChoice)] = Field(title="Decision")
    reasons: OptionalText = Field(
        default="",
        title="Reasons",
        description="Required unless publishing the full report (e.g. criminal proceedings pending; what to correct).",
    )
    look_again_on: dt.date | None = Field(default=None, title="When deferred: date to look again")

    @model_validator(mode="after")
    def _check(self) -> Publication:
        if self.decision is not PublicationChoice.publish and not self.reasons:
            raise ValueError("give the reasons for not publishing the full report now")
        if self.decision is PublicationChoice.defer and self.look_again_on is None:
            raise ValueError("give a date to look again at publication")
        if self.look_again_on is not None and self.look_again_on < today_in_england():
            raise ValueError("the date to look again cannot be in the past")
        return self


def publish_not_before(session: Session, review: Review, today: dt.date) -> dt.date | None:
    """The earliest day of publication: the review's own date, or today where its edition sets no notice period after
    the final report is sent (so nothing waits for a date no rule gives). An edition that does set one and has no
    date for it yet (the report not sent) gives None, which the state machine refuses."""
    if not rulebook.edition(review.edition).defines(Entry.PUBLISH_NOT_BEFORE):
        return today
    return timetable.deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE)


def handle(session: Session, review: Review, answer: Publication, actor: Actor, at: dt.datetime, today: dt.date) -> str:
    facts = Facts(today=today, publish_not_before=publish_not_before(session, review, today), reason=answer.reasons)
    round_ = progress.decisions_made(session, review, DecisionKind.PUBLICATION) + 1
    transitions.record_decision(
        session,
        review,
        DecisionKind.PUBLICATION,
        answer.decision.name,
        actor,
        round=round_,
        reasons=answer.reasons or None,
        details=summary(answer),
        at=at,
    )
    if answer.decision is PublicationChoice.defer:
        assert answer.look_again_on is not None
        transitions.apply_transition(
            session,
            review,
            Transition.DEFER_PUBLICATION,
            actor=actor,
            facts=facts,
            reason=answer.reasons,
            details={"look_again_on": answer.look_again_on.isoformat()},
            at=at,
        )
        subject = f"{review.reference}: publication deferred until at least {answer.look_again_on:%d %B %Y}"
        deferred = Occasion.publication_deferred(round_)
        outbox.enqueue(session, review, deferred, PANEL_AND_SOS, subject, answer.reasons)
        later = f"publication of the local review deferred until at least {answer.look_again_on:%d %B %Y}"
        child_death_review.tell(session, review, deferred, later)  # not the reasons: they are free text
        return f"publication deferred; looked at again on {answer.look_again_on:%d %B %Y}"
    if answer.decision is PublicationChoice.correct:
        transitions.apply_transition(
            session, review, Transition.RETURN_FOR_CORRECTION, actor=actor, facts=facts, reason=answer.reasons, at=at
        )
        return "returned to the reviewer for correction; the corrected report goes through quality assurance again"
    full = answer.decision is PublicationChoice.publish
    transitions.apply_transition(
        session,
        review,
        Transition.PUBLISH if full else Transition.PUBLISH_IMPROVEMENTS,
        actor=actor,
        facts=facts,
        reason=answer.reasons or None,
        milestones={Event.PUBLISHED_ON: today},
        at=at,
    )
    subject = f"{review.reference}: {answer.decision.value}"
    outbox.enqueue(session, review, Occasion(Purpose.PUBLISHED), PANEL_OFSTED_DFE, subject)
    child_death_review.tell(session, review, Occasion(Purpose.PUBLISHED), TOLD_OF_DEATH[answer.decision])
    return "published" if full else "information about improvements published"


# what the child death review partners read of each decision to publish, or not to publish the report
TOLD_OF_DEATH = {
    PublicationChoice.publish: "the local review's report was published",
    PublicationChoice.improvements_only: "it was decided not to publish the local review's report: information "
    "about the improvements to be made was published instead",
}
PUBLISHING = frozenset({PublicationChoice.publish.value, PublicationChoice.improvements_only.value})
# Every stage a review can reach once it is published, however many steps come after publication.
AFTER_PUBLICATION = frozenset(
    stage
    for move in (Transition.PUBLISH, Transition.PUBLISH_IMPROVEMENTS)
    for stage in reachable_from(transition(move).target)
)


def would_publish(stage: str, answer: Mapping[str, object]) -> str | None:
    """The decision an answer at ``stage`` would make public (the report, or the information about improvements),
    read before it is recorded; None for any other answer, or an answer to another step."""
    decision = str(answer.get("decision", ""))
    return decision if stage == STEP.stage and decision in PUBLISHING else None


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    if n < c.deferrals:
        return {
            "decision": "defer publication",
            "look_again_on": c.today.isoformat(),
            "reasons": "Criminal proceedings are pending; the police asked for publication to wait.",
        }
    if c.improvements_only:
        return {
            "decision": "publish information about improvements only",
            "reasons": "Publishing the full report would harm the welfare of the child's sibling.",
        }
    return {"decision": "publish the report", "reasons": ""}


STEP = Step(
    stage=Stage.AWAITING_PUBLICATION,
    form=Publication,
    handler=handle,
    slug="publication-decision",
    title="Decide on publication",
    roles=PARTNERS | COORDINATOR,
    guidance="Publish the report; or publish information about the improvements to be made (with reasons); or defer "
    "(e.g. criminal proceedings or an inquest pending), giving a date to look again. The Panel and the Secretary of "
    "State are told of a deferral; where a child died, the child death review partners are told of the decision.",
    deadline=Entry.LCSPR_PUBLICATION,
    documents=(DocumentKind.IMPROVEMENTS_STATEMENT,),
    demo=demo_answer,
    wait=Wait(
        until=lambda session, review: timetable.deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE),
        why="publication may not come sooner than 7 working days after the report went",
    ),
)
