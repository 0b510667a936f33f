"""What people type: the notification parameters and the form of every human step, as pydantic models.

Pure data and validation (no Prefect here); ``flows/inputs.py`` turns each into a Prefect ``RunInput``. Field
order, titles and descriptions are what the coordinator sees in the Prefect UI, so they are written for them.
Every text field has a maximum length, and validation messages never repeat what was typed (it may be
personal data). No form asks who is answering: the gate signs the signed-in person onto each answer
(models/identity.py), and the lifecycle records that person, never a name someone typed.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from models.calendar import today_in_england
from models.roles import PARTNERS, Role
from models.rulebook import NotificationKind

MAX_CHILDREN = 4  # one notification may cover up to four children in the same incident (Panel guidance)

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalLine = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class _FreeText:
    """Marks a field where people write what they like, so it may hold a name: sealed at rest (models/sealing.py)."""


FREE = _FreeText()
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), FREE]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000), FREE]
Pseudonym = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 .'\-]+$")
]


def inline(kind: type[StrEnum]) -> WithJsonSchema:
    """An enum's choices written into the field's own schema. Pydantic refers to an enum defined once under
    "$defs"; Prefect's UI then shows an empty drop-down, so every choice a coordinator makes is inlined."""
    return WithJsonSchema({"type": "string", "enum": [member.value for member in kind]})


class FormModel(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


def _no_control_characters(value: Any) -> Any:
    if isinstance(value, str) and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("contains control characters; please retype it")
    return value


def _not_in_future(value: dt.date | None, what: str) -> None:
    if value is not None and value > today_in_england():
        raise ValueError(f"{what} cannot be in the future")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class CleanText(FormModel):
    """Refuses invisible control characters in any text field."""

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _no_control_characters(value)


# --- the notification (the notify-incident deployment's parameters) ------------------------------------


class Harm(StrEnum):
    died = "died"
    seriously_harmed = "seriously harmed"


class AbuseOrNeglect(StrEnum):
    known = "known"
    suspected = "suspected"
    not_suspected = "not known or suspected"


class AgeBand(StrEnum):
    under_1 = "under 1"
    age_1_to_4 = "1-4"
    age_5_to_9 = "5-9"
    age_10_to_15 = "10-15"
    age_16_to_17 = "16-17"
    age_18_to_24 = "18-24 (a care leaver)"  # only a care leaver's death is notified at these ages


class Kind(StrEnum):
    """The kinds of notification, as the form offers them (models.rulebook.NotificationKind by name)."""

    serious_incident = "serious incident: abuse or neglect known or suspected"
    outside_england = "a child normally resident here, died or seriously harmed outside England"
    looked_after_death = "death of a looked-after child, whatever the cause"
    care_leaver_death = "death of a care leaver (up to and including age 24)"

    @property
    def rule(self) -> NotificationKind:
        return NotificationKind(self.name)


class ChildEntry(CleanText):
    pseudonym: Pseudonym = Field(
        title="Pseudonym",
        description='How the child is known in this system and every document, e.g. "Child Q". Never a real name.',
    )
    age_band: Annotated[AgeBand, inline(AgeBand)] = Field(title="Age band")


class IncidentNotification(CleanText):
    """A serious child safeguarding incident, as the local authority records it. No names here: the children's
    names and dates of birth are asked for in a separate, private step and never stored in Prefect."""

    partnership: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        title="Safeguarding partnership",
        description='The partnership\'s short code, e.g. "northshire".',
    )
    kind: Annotated[Kind, inline(Kind)] = Field(
        default=Kind.serious_incident,
        title="What is being notified",
        description="Every kind goes through the national notification route; a rapid review follows a serious "
        "incident only.",
    )
    incident_date: dt.date = Field(title="Date of the incident")
    aware_date: dt.date = Field(
        title="Date the local authority became aware",
        description="Day 0 of the 5 working days for notifying the Panel.",
    )
    harm: Annotated[Harm, inline(Harm)] = Field(title="What happened to the child")
    abuse_or_neglect: Annotated[AbuseOrNeglect, inline(AbuseOrNeglect)] = Field(title="Abuse or neglect")
    looked_after: bool = Field(default=False, title="The child was looked after by a local authority")
    children: list[ChildEntry] = Field(
        min_length=1,
        title="Children",
        description=f"Each child by pseudonym and age band; up to {MAX_CHILDREN} in one notification.",
    )
    national_reference: OptionalLine = Field(
        default="",
        title="Reference in the national notification system",
        description="Once the notification has been submitted; can be added later.",
    )
    identity_known: bool = Field(
        default=True,
        title="The children's names are known",
        description="Untick to notify before a child's identity is known: no names are asked for now.",
    )

    @field_validator("children")
    @classmethod
    def _at_most_four(cls, children: list[ChildEntry]) -> list[ChildEntry]:
        if len(children) > MAX_CHILDREN:
            raise ValueError(f"one notification covers at most {MAX_CHILDREN} children; notify the others separately")
        names = [c.pseudonym.casefold() for c in children]
        if len(set(names)) != len(names):
            raise ValueError("two children have the same pseudonym; give each child their own")
        return children

    @model_validator(mode="after")
    def _dates_and_criteria(self) -> IncidentNotification:
        _not_in_future(self.incident_date, "the date of the incident")
        _not_in_future(self.aware_date, "the date the local authority became aware")
        if self.aware_date < self.incident_date:
            raise ValueError("the local authority cannot have become aware before the incident happened")
        deaths = (Kind.looked_after_death, Kind.care_leaver_death)
        if self.kind in deaths and self.harm is not Harm.died:
            raise ValueError(f"a {self.kind.value.split(' (')[0]} is notified when the person has died")
        if self.kind not in deaths and self.abuse_or_neglect is AbuseOrNeglect.not_suspected:
            raise ValueError(
                "a serious incident is notified when abuse or neglect is known or suspected (Children Act 2004 "
                f's16C). If a looked-after child or a care leaver has died, choose "{Kind.looked_after_death.value}" '
                f'or "{Kind.care_leaver_death.value}": those are notified whatever the cause'
            )
        adults = [c.pseudonym for c in self.children if c.age_band is AgeBand.age_18_to_24]
        if adults and self.kind is not Kind.care_leaver_death:
            raise ValueError(
                f"{', '.join(adults)}: the age band 18-24 is only for the death of a care leaver; anyone younger "
                "than 18 is a child"
            )
        return self

    @property
    def rapid_review_follows(self) -> bool:
        """A rapid review follows a serious incident: abuse or neglect known or suspected, of a child (under 18)."""
        return self.abuse_or_neglect is not AbuseOrNeglect.not_suspected and any(
            c.age_band is not AgeBand.age_18_to_24 for c in self.children
        )


# --- the steps ------------------------------------------------------------------------------------------


class Sex(StrEnum):
    female = "female"
    male = "male"
    not_known = "not known"


class Ethnicity(StrEnum):
    """The major ethnic groups the Department's statistics use."""

    white = "White"
    mixed = "Mixed or multiple ethnic groups"
    asian = "Asian or Asian British"
    black = "Black, Black British, Caribbean or African"
    other = "Other ethnic group"
    not_known = "not known or refused"


class Disability(StrEnum):
    yes = "disabled"
    no = "not disabled"
    not_known = "not known"


class Plan(StrEnum):
    child_protection = "child protection plan"
    child_in_need = "child in need plan"
    neither = "neither"
    not_known = "not known"


class Characteristics(CleanText):
    """What the Department publishes about the children notified, so that a partnership can look at
    disproportionality: kept encrypted like names, and reported only in aggregate, counts under 5 suppressed."""

    sex: Annotated[Sex, inline(Sex)] = Field(default=Sex.not_known, title="Sex")
    ethnicity: Annotated[Ethnicity, inline(Ethnicity)] = Field(default=Ethnicity.not_known, title="Ethnicity")
    disability: Annotated[Disability, inline(Disability)] = Field(default=Disability.not_known, title="Disability")
    plan: Annotated[Plan, inline(Plan)] = Field(
        default=Plan.not_known, title="Child in need or child protection plan at the time"
    )


class _NamedChild(CleanText):
    pseudonym: Pseudonym = Field(title="Pseudonym (as notified)")
    full_name: Line = Field(title="Full name")
    date_of_birth: dt.date = Field(title="Date of birth")


class ChildIdentity(Characteristics, _NamedChild):  # the name first in the form, then the characteristics
    def characteristics(self) -> dict[str, str]:
        return {name: getattr(self, name).value for name in Characteristics.model_fields}


class FamilyMember(CleanText):
    relationship: Line = Field(title="Relationship to the child", description='e.g. "mother", "stepfather"')
    full_name: Line = Field(title="Full name")
    date_of_birth: dt.date | None = Field(default=None, title="Date of birth (if known)")


class Identity(CleanText):
    """The children's (and family members') real identities: encrypted in the project database, never kept in
    Prefect, and used to check that nothing published names them."""

    children: list[ChildIdentity] = Field(min_length=1, max_length=MAX_CHILDREN, title="Children")
    family_members: list[FamilyMember] = Field(default_factory=list, max_length=30, title="Family members")

    @model_validator(mode="after")
    def _dates(self) -> Identity:
        for child in self.children:
            _not_in_future(child.date_of_birth, "a child's date of birth")
        for member in self.family_members:
            _not_in_future(member.date_of_birth, "a family member's date of birth")
        return self


class IdentityToFollow(CleanText):
    """A notification made before the children's identities are known: confirmed by a coordinator of the partnership,
    with no names."""

    confirmed: bool = Field(
        default=False,
        title="Record this notification now, without the children's names",
        description="Tick to confirm. The pseudonyms stand for the children until their identities are known.",
    )

    @model_validator(mode="after")
    def _ticked(self) -> IdentityToFollow:
        if not self.confirmed:
            raise ValueError("tick the box to record the notification without the children's names")
        return self


class NotificationSubmitted(CleanText):
    panel_reference: Line = Field(
        title="Reference from the national notification system",
        description="Given when the notification is submitted through the national notification route.",
    )
    notified_on: dt.date = Field(title="Date the notification was submitted")
    # drawn as a plain date that may be left empty: the UI draws "date or None" as a switch between a date and
    # "Property is type None", and would send a default of None, which the plain date's schema refuses
    partners_told_on: Annotated[dt.date | None, WithJsonSchema({"type": "string", "format": "date"})] = Field(
        default=None,
        json_schema_extra=_no_default,
        title="Date the local safeguarding partners were told",
        description="Needed for a serious incident; leave empty for a death notified where nothing more follows.",
    )

    @model_validator(mode="after")
    def _dates(self) -> NotificationSubmitted:
        _not_in_future(self.notified_on, "the notification date")
        _not_in_future(self.partners_told_on, "the date the partners were told")
        return self


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
        _not_in_future(self.completed_on, "the completion date")
        return self


_PARTNER_LABELS = {role.label: role for role in Role if role in PARTNERS}


def _partner(value: Any) -> Role:
    """A partner as the form offers it, by label ("local authority"); no other role signs off."""
    role = value if isinstance(value, Role) else _PARTNER_LABELS.get(value) if isinstance(value, str) else None
    if role not in PARTNERS:
        labels = [repr(label) for label in _PARTNER_LABELS]  # as pydantic words a wrong choice of an enum
        raise ValueError(f"Input should be {', '.join(labels[:-1])} or {labels[-1]}")
    return role


# The sign-off form offers the three partners by the names people read them ("local authority"), and its answer
# says it so: the stored role is the field's value.
PartnerChoice = Annotated[
    Role,
    PlainValidator(_partner),
    PlainSerializer(lambda role: role.label, return_type=str),
    WithJsonSchema({"type": "string", "enum": list(_PARTNER_LABELS)}),
]


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
        _not_in_future(self.signed_on, "the date of your decision")
        if self.decision is SignOffDecision.send_back and not self.reason:
            raise ValueError("give a reason for sending the rapid review back")
        return self


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
    # which only the lifecycle knows (models/handlers.py)
    letter_reference: OptionalLine = Field(
        default="",
        title="Reference of the Panel's letter",
        description="Required when you enter the response on the Panel's behalf.",
    )

    @model_validator(mode="after")
    def _dates(self) -> PanelResponse:
        _not_in_future(self.responded_on, "the response date")
        return self


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

    @model_validator(mode="after")
    def _check(self) -> FinalDecision:
        _not_in_future(self.decided_on, "the decision date")
        if self.decision is LocalDecision.no_review and not self.immediate_learning:
            raise ValueError("record the immediate learning from the rapid review when there is no local review")
        return self


class Commissioning(CleanText):
    reviewer: Line = Field(title="Reviewer", description="Name as listed in the reviewer pool.")
    terms_of_reference: Text = Field(title="Terms of reference")
    commissioned_on: dt.date = Field(title="Date commissioned")

    @model_validator(mode="after")
    def _dates(self) -> Commissioning:
        _not_in_future(self.commissioned_on, "the commissioning date")
        return self


class ProgressUpdate(StrEnum):
    monitoring_request = "written request to the reviewer"
    draft_submitted = "draft report submitted"


class TimelineEntry(CleanText):
    on: dt.date = Field(title="Date")
    event: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), FREE] = Field(
        title="What happened"
    )


Recommendation_ = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


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
    summary: OptionalText = Field(default="", title="Draft report: summary")
    recommendations: Annotated[list[Recommendation_], FREE] = Field(
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
        _not_in_future(self.on, "the date")
        if self.update is ProgressUpdate.monitoring_request and not self.request:
            raise ValueError("write down the request made to the reviewer")
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


class FinalReportSent(CleanText):
    sent_on: dt.date = Field(
        title="Date the final report was sent to the Panel and the Secretary of State",
        description="Publication may follow no sooner than 7 working days later.",
    )

    @model_validator(mode="after")
    def _dates(self) -> FinalReportSent:
        _not_in_future(self.sent_on, "the date sent")
        return self


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


class ActionsRecorded(CleanText):
    actions: Text = Field(
        title="Actions on the recommendations",
        description="Who does what by when; reported in the partnership's yearly report.",
    )


class NationalCommissioning(CleanText):
    reviewer: Line = Field(title="Reviewer from the Panel's pool")
    confirmed_by_secretary_of_state_on: dt.date = Field(title="Date the Secretary of State confirmed the appointment")
    local_contribution: OptionalText = Field(
        default="", title="What the partnership will supply", description="Information and co-operation."
    )

    @model_validator(mode="after")
    def _dates(self) -> NationalCommissioning:
        _not_in_future(self.confirmed_by_secretary_of_state_on, "the confirmation date")
        return self


class NationalReportPublished(CleanText):
    published_on: dt.date = Field(title="Date the Panel published the national review")
    local_actions: OptionalText = Field(default="", title="Local actions arising")

    @model_validator(mode="after")
    def _dates(self) -> NationalReportPublished:
        _not_in_future(self.published_on, "the publication date")
        return self


def _free_text_fields() -> frozenset[str]:
    """The names of every free-text field of every form (nested ones too: they are forms as well)."""
    found: set[str] = set()
    waiting: list[type[BaseModel]] = [FormModel]
    while waiting:
        form = waiting.pop()
        waiting += form.__subclasses__()
        found |= {name for name, field in form.model_fields.items() if FREE in field.metadata}
    return frozenset(found)


# what models/sealing.py seals inside a decision's details
FREE_TEXT = _free_text_fields()
