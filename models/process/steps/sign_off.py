"""The partners' sign-off of the rapid review: a step with a task for each of the three safeguarding partners. Each
signs off separately, in any order, each a different person; any one may send it back with a reason. It goes to the
Panel when all three have signed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator
from sqlmodel import Session

from models import child_death_review, progress, rulebook
from models.documents import DocumentKind
from models.forms import CleanText, OptionalText, PartnerChoice, inline, not_in_future
from models.partners import organisation_on
from models.process.checks import not_before, send_back
from models.process.step import Refusal, Step
from models.recipients import NationalBody
from models.review import outbox, transitions
from models.review.outbox import Occasion, Purpose
from models.review.transitions import Actor
from models.roles import PARTNERS, Role
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition
from models.tables import DecisionKind, Review

if TYPE_CHECKING:
    from models.process.demo_case import Case


class SignOffDecision(StrEnum):
    approve = "sign off"
    send_back = "send back"


class SignOff(CleanText):
    partner: PartnerChoice = Field(title="You sign for", description="Each of the three partners signs separately.")
    decision: Annotated[SignOffDecision, inline(SignOffDecision)] = Field(title="Decision")
    signed_on: dt.date = Field(title="Date of your decision")
    reason: OptionalText = Field(default="", title="Reason", description="Required when sending it back.")

    @model_validator(mode="after")
    def _reason(self) -> SignOff:
        not_in_future(self.signed_on, "the date of your decision")
        if self.decision is SignOffDecision.send_back and not self.reason:
            raise ValueError("give a reason for sending the rapid review back")
        return self


def handle(session: Session, review: Review, answer: SignOff, actor: Actor, at: dt.datetime, today: dt.date) -> str:
    signed = progress.signed_by(session, review)
    _, rapid = transitions.latest_decision(session, review, DecisionKind.RAPID_REVIEW)
    completed = dt.date.fromisoformat(rapid.details["completed_on"]) if rapid else None
    not_before(answer.signed_on, completed, "The date of your decision", "the rapid review's completion")
    if answer.partner.value in signed:
        raise Refusal(f"the {answer.partner.label} partner has already signed off this rapid review")
    if actor.person_id in progress.signers(session, review):  # three partners, so three different people
        raise Refusal(
            "you have already signed this rapid review for another partner, and each partner's sign-off must come "
            f"from a different person: ask the {answer.partner.label} partner's representative to sign it"
        )
    round_ = progress.sign_off_round(session, review)
    if answer.decision is SignOffDecision.send_back:
        transitions.record_decision(
            session, review, DecisionKind.SIGN_OFF, "sent_back", actor, round=round_, reasons=answer.reason, at=at
        )
        send_back(session, review, Transition.RETURN_RAPID_REVIEW, actor, answer.reason, at=at)
        return "rapid review sent back"
    # the body they signed for, as the register has it today: a merger later does not rewrite whom they signed for
    on = {"on": answer.signed_on.isoformat(), "for": organisation_on(session, review.partnership_id, actor.person_id)}
    transitions.record_decision(
        session, review, DecisionKind.SIGN_OFF, "signed", actor, round=round_, details=on, at=at
    )
    now_signed = {Role(r) for r, outcome in {**signed, answer.partner.value: "signed"}.items() if outcome == "signed"}
    if now_signed >= PARTNERS:
        sent_on = max(answer.signed_on, *progress.sign_off_dates(session, review))
        transitions.apply_transition(
            session,
            review,
            Transition.SEND_RAPID_REVIEW,
            actor=actor,
            facts=Facts(signed_off_by=frozenset(now_signed)),
            milestones={Event.RAPID_REVIEW_SENT_ON: sent_on},
            at=at,
        )
        sent = Occasion(Purpose.RAPID_REVIEW)
        outbox.enqueue(session, review, sent, (NationalBody.PANEL,), f"{review.reference}: rapid review")
        child_death_review.tell(session, review, sent, "the rapid review of this death was sent to the Panel")
        return "signed off by all three partners; sent to the Panel"
    return f"signed off by the {answer.partner.label} partner"


def answered(session: Session, review: Review) -> frozenset[Role]:
    """The partners who have answered already: a partner who has signed is no longer waited on."""
    return frozenset(Role(role) for role in progress.signed_by(session, review))


def partners_signed(session: Session, review: Review) -> list[str]:
    """Each partner, signed off or waiting (the health partner by the name the review's edition gives it)."""
    signed = progress.signed_by(session, review)
    edition = rulebook.edition(review.edition)
    lines = []
    for role in (r for r in Role if r in PARTNERS):
        label = edition.health_partner if role is Role.HEALTH else role.label
        lines.append(f"- {label}: {'signed off' if role.value in signed else 'waiting'}")
    return [*lines, ""]


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    order = c.sign_off_order
    sending_back = c.send_back_first and n == 0
    partner = Role(order[0] if sending_back else order[(n - (1 if c.send_back_first else 0)) % 3])
    return {
        "partner": partner.label,
        "decision": "send back" if sending_back else "sign off",
        "signed_on": c.day(14 + (3 if c.send_back_first and not sending_back else 0)),
        "reason": "The family context section needs the school's account." if sending_back else "",
    }


def demo_partner(answer: Mapping[str, Any]) -> Role:
    """The demo person giving a sign-off: the partner it is for."""
    return Role.from_label(str(answer["partner"]))


STEP = Step(
    stage=Stage.RAPID_REVIEW_SIGN_OFF,
    form=SignOff,
    handler=handle,
    slug="rapid-review-sign-off",
    title="Sign off the rapid review",
    roles=PARTNERS,
    guidance="Each safeguarding partner (local authority, police, health) signs off separately, in any order. Any one "
    "of them may send it back with a reason. It goes to the Panel when all three have signed.",
    deadline=Entry.RAPID_REVIEW,
    documents=(DocumentKind.RAPID_REVIEW,),
    demo=demo_answer,
    describe_extra=partners_signed,
    answered=answered,
    answered_by=lambda answer: frozenset({answer.partner}),
    demo_answered_by=demo_partner,
)
