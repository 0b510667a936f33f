"""The rapid review: the coordinator records what the rapid review found, each local review criterion and the
partners' recommendation. The three partners then sign it off (steps/sign_off.py)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, field_validator, model_validator
from sqlmodel import Session

from models import progress
from models.calendar import today_in_england
from models.forms import CleanText, OptionalText, Text, inline, not_in_future
from models.process.checks import not_before, summary
from models.process.step import COORDINATOR, Step
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Entry, Event
from models.stages import Stage, Transition
from models.tables import DecisionKind, Review
from models.work.requests import close_missing, status_lines

if TYPE_CHECKING:
    from models.process.demo_case import Case


class Recommendation(StrEnum):
    local_review = "local review"
    no_review = "no local review"
    national_review = "refer for a national review"


class Theme(StrEnum):
    """Practice themes a rapid review can touch on, counted across reviews in the compliance report. Drawn from
    the themes the national Panel reports on year after year; pick every one that applies."""

    domestic_abuse = "domestic abuse"
    parental_mental_health = "parental mental health"
    parental_substance_misuse = "parental alcohol or drug use"
    neglect = "neglect"
    injury_to_baby = "non-accidental injury to a baby"
    sudden_infant_death = "sudden unexpected death in infancy (safe sleep)"
    sexual_abuse = "child sexual abuse"
    exploitation = "criminal or sexual exploitation, harm outside the home"
    online_harm = "online harm"
    suicide_self_harm = "suicide or self-harm"
    disability = "disabled children or complex health needs"
    men_in_household = "fathers and men in the household"
    identity = "race, culture and identity"
    information_sharing = "information sharing between agencies"
    voice_of_child = "hearing the child's voice"
    escalation = "escalation and professional challenge"


class RapidReview(CleanText):
    facts: Text = Field(title="The facts", description="As far as they can readily be established.")
    immediate_actions: Text = Field(
        title="Immediate safeguarding action", description="Action needed now to keep children safe, or 'none'."
    )
    agencies_involved: Text = Field(title="Agencies involved")
    key_practice_episodes: Text = Field(title="Key practice episodes")
    family_context: OptionalText = Field(
        default="", title="Family context", description="Including the effect of racism and other inequalities."
    )
    learning_now: Text = Field(title="Learning to share now")
    criterion_a_improvements: bool = Field(
        default=False, title="(a) It highlights, or may highlight, improvements needed (reg 11)"
    )
    criterion_b_recurrent_themes: bool = Field(
        default=False, title="(b) It highlights, or may highlight, recurrent themes"
    )
    criterion_c_agencies_working_together: bool = Field(
        default=False, title="(c) It highlights concerns about two or more agencies working together"
    )
    criterion_d_panel_suggested_local: bool = Field(
        default=False, title="(d) The Panel has considered it and concluded a local review may be more appropriate"
    )
    criteria_commentary: OptionalText = Field(default="", title="Commentary on the criteria")
    themes: list[Annotated[Theme, inline(Theme)]] = Field(
        default_factory=list,
        max_length=len(Theme),
        title="Practice themes",
        description="Every theme this incident touches on. Counted across reviews in the compliance report.",
    )
    recommendation: Annotated[Recommendation, inline(Recommendation)] = Field(title="Recommendation")
    national_review_view: Text = Field(title="The partners' view on a national review")
    completed_on: dt.date = Field(title="Date the rapid review was completed")

    @field_validator("themes")
    @classmethod
    def _once_each(cls, themes: list[Theme]) -> list[Theme]:
        return list(dict.fromkeys(themes))

    @model_validator(mode="after")
    def _dates(self) -> RapidReview:
        not_in_future(self.completed_on, "the completion date")
        return self


def handle(session: Session, review: Review, answer: RapidReview, actor: Actor, at: dt.datetime, today: dt.date) -> str:
    notified = progress.milestone_on(session, review, Event.NOTIFIED_ON)
    not_before(answer.completed_on, notified, "The completion date", "the notification")
    round_ = progress.sign_off_round(session, review) + 1
    # a return still missing does not hold the rapid review up: it is recorded as missing, and its request closed
    missing = close_missing(session, review, Stage.RAPID_REVIEW, actor=actor, at=at)
    transitions.record_decision(
        session,
        review,
        DecisionKind.RAPID_REVIEW,
        answer.recommendation.name,
        actor,
        round=round_,
        details={**summary(answer), **({"missing_returns": missing} if missing else {})},
        at=at,
    )
    transitions.apply_transition(
        session, review, Transition.RECORD_RAPID_REVIEW, actor=actor, details={"round": round_}, at=at
    )
    return "rapid review recorded; awaiting the three partners' sign-off"


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    recommendation = {
        "local": "local review",
        "national": "refer for a national review",
        "no-review": "no local review",
    }
    return {
        "facts": "Child Q was admitted to hospital with injuries consistent with neglect over several months.",
        "immediate_actions": "A strategy meeting was held; the sibling is subject to a child protection plan.",
        "agencies_involved": "Children's social care; police; health visiting; the GP practice; the primary school.",
        "key_practice_episodes": "Missed health appointments; a school referral not followed up; a home visit.",
        "family_context": "A single parent household under financial strain, recently moved into the area.",
        "learning_now": "Information about missed appointments was not shared between health and the school.",
        "criterion_a_improvements": True,
        "criterion_b_recurrent_themes": True,
        "criterion_c_agencies_working_together": True,
        "criterion_d_panel_suggested_local": False,
        "criteria_commentary": "Concerns about information sharing between agencies.",
        "themes": ["neglect", "information sharing between agencies"],
        "recommendation": recommendation[c.path],
        "national_review_view": "The partners do not consider a national review necessary."
        if c.path != "national"
        else "The case raises issues of national importance about information sharing.",
        "completed_on": c.day(12 + 3 * n),
    }


STEP = Step(
    stage=Stage.RAPID_REVIEW,
    form=RapidReview,
    handler=handle,
    slug="rapid-review",
    title="Record the rapid review",
    roles=COORDINATOR,
    guidance="Record what the rapid review found, answer each local review criterion (regulation 11) and give the "
    "partners' recommendation. The three partners then sign it off separately.",
    deadline=Entry.RAPID_REVIEW,
    documents=(),
    demo=demo_answer,
    describe_extra=lambda session, review: status_lines(session, review, Stage.RAPID_REVIEW, today_in_england()),
)
