"""Commissioning the local review: the coordinator chooses a reviewer from the pool who is independent of the case,
and agrees the terms of reference. The Panel, Ofsted and DfE are told the reviewer's name."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import progress
from models.documents import DocumentKind
from models.forms import CleanText, Line, Text, not_in_future
from models.process import reviewers
from models.process.checks import not_before
from models.process.step import COORDINATOR, Step
from models.recipients import PANEL_OFSTED_DFE
from models.review import outbox
from models.review.outbox import Occasion, Purpose
from models.review.transitions import Actor
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition
from models.tables import Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class Commissioning(CleanText):
    reviewer: Line = Field(title="Reviewer", description="Name as listed in the reviewer pool.")
    terms_of_reference: Text = Field(title="Terms of reference")
    commissioned_on: dt.date = Field(title="Date commissioned")

    @model_validator(mode="after")
    def _dates(self) -> Commissioning:
        not_in_future(self.commissioned_on, "the commissioning date")
        return self


def handle(
    session: Session, review: Review, answer: Commissioning, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    decided = progress.milestone_on(session, review, Event.LCSPR_DECIDED_ON)
    not_before(answer.commissioned_on, decided, "The commissioning date", "the decision to start the review")
    reviewer = reviewers.independent_reviewer(session, review, answer.reviewer, national=False)
    facts = Facts(reviewer_chosen=True, terms_of_reference=True)
    move, terms = Transition.COMMISSION_REVIEWER, answer.terms_of_reference
    reviewers.commission(session, review, reviewer, actor, move, facts, terms, answer.commissioned_on, at=at)
    subject, body = f"{review.reference}: local review commissioned", f"Reviewer: {reviewer.name}"
    outbox.enqueue(session, review, Occasion(Purpose.REVIEWER_NAMED), PANEL_OFSTED_DFE, subject, body)
    return f"{reviewer.name} commissioned"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    terms = "Review the multi-agency response to Child Q, from birth to the incident."
    return {
        "reviewer": "Dr Morgan Ellery",
        "commissioned_on": c.day(30),
        "terms_of_reference": terms,
    }


STEP = Step(
    stage=Stage.COMMISSIONING,
    form=Commissioning,
    handler=handle,
    slug="commissioning",
    title="Commission the reviewer",
    roles=COORDINATOR,
    guidance="Choose a reviewer from the pool who is independent of the case, and agree the terms of reference. The "
    "Panel, Ofsted and DfE are told the reviewer's name.",
    deadline=Entry.LCSPR_PUBLICATION,
    documents=(DocumentKind.TERMS_OF_REFERENCE,),
    demo=demo_answer,
    describe_extra=lambda session, review: reviewers.pool(session, national=False),
)
