"""What people type: the field types every form is built of, and the forms that are no step of the process (the
notification's parameters and the children's identities), as pydantic models. Each step's own form is in its module
under ``models/process/steps/``.

Pure data and validation (no Prefect here); ``flows/inputs.py`` turns each into a Prefect ``RunInput``. Field
order, titles and descriptions are what the coordinator sees in the Prefect UI, so they are written for them.
Every text field has a maximum length, and validation messages never repeat what was typed (it may be
personal data). No form asks who is answering: the gate signs the signed-in person onto each answer
(models/identity.py), and the lifecycle records that person, never a name someone typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, get_args

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

from models.calendar import add_calendar_months, as_date, today_in_england
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


class FieldsNeeded(ValueError):
    """A rule of the form as a whole that some of its fields must be filled in (an agency's return needs its
    involvement, analysis and learning unless it had none): the message is for the answer, ``fields`` name the
    fields, so that a page can show each at its field (gate/form_fields.py); ``otherwise``, the way out of the rule
    if there is one ("answer that your agency had no involvement"), is said once, at the first of them."""

    def __init__(self, message: str, fields: tuple[str, ...], *, otherwise: str = "") -> None:
        super().__init__(message)
        self.fields = fields
        self.otherwise = otherwise


def not_in_future(value: dt.date | None, what: str) -> None:
    if value is not None and value > today_in_england():
        raise ValueError(f"{what} cannot be in the future")


class CleanText(FormModel):
    """Refuses invisible control characters in any text field."""

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _no_control_characters(value)


_PARTNER_LABELS = {role.label: role for role in Role if role in PARTNERS}


def _partner(value: Any) -> Role:
    """A partner as the form offers it, by label ("local authority"); no other role is a partner."""
    role = value if isinstance(value, Role) else _PARTNER_LABELS.get(value) if isinstance(value, str) else None
    if role not in PARTNERS:
        labels = [repr(label) for label in _PARTNER_LABELS]  # as pydantic words a wrong choice of an enum
        raise ValueError(f"Input should be {', '.join(labels[:-1])} or {labels[-1]}")
    return role


# A form answered for one of the three partners (a sign-off) offers them by the names people read them ("local
# authority"), and its answer says it so: the stored role is the field's value.
PartnerChoice = Annotated[
    Role,
    PlainValidator(_partner),
    PlainSerializer(lambda role: role.label, return_type=str),
    WithJsonSchema({"type": "string", "enum": list(_PARTNER_LABELS)}),
]


# --- the notification (the notify-incident deployment's parameters) ------------------------------------


class Harm(StrEnum):
    """The nature of the incident, as the Department counts it: a death, serious harm, or other (most often a child
    who seriously harmed another)."""

    died = "died"
    seriously_harmed = "seriously harmed"
    other = "other"


class AbuseOrNeglect(StrEnum):
    known = "known"
    suspected = "suspected"
    not_suspected = "not known or suspected"


class AgeBand(StrEnum):
    """A child's age at the incident, as the coordinator gives it in the notification. The Department's bands (under 1,
    1 to 5, 6 to 10, 11 to 15, 16 and over, unknown), with 16 and over given in the narrower bands a care leaver's
    death is counted in (16 to 21 and 22 to 24, models/department.py): each of the Department's tables is a regrouping
    of these. Where the identity step gives a date of birth, the age is worked out from it instead, at the incident's
    date, inside the worker."""

    under_1 = "under 1"
    age_1_to_5 = "1 to 5"
    age_6_to_10 = "6 to 10"
    age_11_to_15 = "11 to 15"
    age_16_to_17 = "16 to 17"
    age_18_to_21 = "18 to 21"  # only a care leaver's death is notified at 18 and over
    age_22_to_24 = "22 to 24"
    unknown = "unknown"


ADULT_BANDS = (AgeBand.age_18_to_21, AgeBand.age_22_to_24)  # a care leaver's, never a child's


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
    age_band: Annotated[AgeBand, inline(AgeBand)] = Field(
        default=AgeBand.unknown,
        title="Age at the incident",
        description="If the date of birth is known, it is asked for next and the age is worked out from it. "
        '18 to 21 and 22 to 24 are for a care leaver\'s death only. Leave "unknown" for an unborn child.',
    )


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
    harm: Annotated[Harm, inline(Harm)] = Field(
        title="What happened to the child",
        description='Choose "other" for an incident that is neither a death nor serious harm to the child notified: '
        "most often, a child who seriously harmed another.",
    )
    abuse_or_neglect: Annotated[AbuseOrNeglect, inline(AbuseOrNeglect)] = Field(title="Abuse or neglect")
    looked_after: bool = Field(default=False, title="The child was looked after by a local authority")
    unborn: bool = Field(
        default=False,
        title="The child is unborn",
        description="A serious incident notification may be about an unborn child. Then no age is given, and the next "
        "step asks for the mother's details and the expected date of delivery instead of a date of birth.",
    )
    children: list[ChildEntry] = Field(
        min_length=1,
        title="Children",
        description=f"Each child by pseudonym and age; up to {MAX_CHILDREN} in one notification. List first the child "
        "the harm relates to: the Department's figures count one child for each notification, the first listed.",
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
        not_in_future(self.incident_date, "the date of the incident")
        not_in_future(self.aware_date, "the date the local authority became aware")
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
        adults = [c.pseudonym for c in self.children if c.age_band in ADULT_BANDS]
        if adults and self.kind is not Kind.care_leaver_death:
            raise ValueError(
                f"{', '.join(adults)}: the ages 18 to 21 and 22 to 24 are only for the death of a care leaver; anyone "
                "younger than 18 is a child"
            )
        if self.unborn:
            if self.kind not in (Kind.serious_incident, Kind.outside_england):
                raise ValueError("only a serious incident notification can be about an unborn child")
            aged = [c.pseudonym for c in self.children if c.age_band is not AgeBand.unknown]
            if aged:
                raise ValueError(f'{", ".join(aged)}: an unborn child has no age; leave the age as "unknown"')
        return self

    @property
    def rapid_review_follows(self) -> bool:
        """A rapid review follows a serious incident: abuse or neglect known or suspected, of a child (under 18)."""
        return self.abuse_or_neglect is not AbuseOrNeglect.not_suspected and any(
            c.age_band not in ADULT_BANDS for c in self.children
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


class Known(StrEnum):
    """A yes or no the Department counts, which a coordinator may not know."""

    yes = "yes"
    no = "no"
    not_known = "not known"


class Placement(StrEnum):
    """Where a looked-after child was placed at the time, in the groups of the Department's looked-after statistics."""

    not_looked_after = "not looked after"
    foster = "foster placement"
    adoption = "placed for adoption"
    parents = "placed with parents or others with parental responsibility"
    community = "other placement in the community"
    residential = "children's home, secure unit or semi-independent living"
    other_residential = "other residential setting"
    other = "other placement"
    not_known = "not known"


class Characteristics(CleanText):
    """What the Department publishes about the children notified, so that a partnership can look at
    disproportionality: kept encrypted like names, and reported only in aggregate, small counts suppressed
    (models/department.py). Reviews recorded before these were asked kept one "plan" choice: it is read as the two
    plans it can tell (models/department.py), and kept as it was."""

    sex: Annotated[Sex, inline(Sex)] = Field(default=Sex.not_known, title="Sex")
    ethnicity: Annotated[Ethnicity, inline(Ethnicity)] = Field(default=Ethnicity.not_known, title="Ethnicity")
    disability: Annotated[Disability, inline(Disability)] = Field(default=Disability.not_known, title="Disability")
    child_in_need_plan: Annotated[Known, inline(Known)] = Field(
        default=Known.not_known, title="On a child in need plan at the time"
    )
    child_protection_plan: Annotated[Known, inline(Known)] = Field(
        default=Known.not_known, title="On a child protection plan at the time"
    )
    known_to_agency: Annotated[Known, inline(Known)] = Field(
        default=Known.not_known,
        title="Known to any agency at the time",
        description="Known to children's social care, the police, health, education or any other agency.",
    )
    placement: Annotated[Placement, inline(Placement)] = Field(
        default=Placement.not_known,
        title="Placement, if looked after",
        description='For a child looked after by a local authority; otherwise "not looked after".',
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
            not_in_future(child.date_of_birth, "a child's date of birth")
        for member in self.family_members:
            not_in_future(member.date_of_birth, "a family member's date of birth")
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


# --- an unborn child's identity -------------------------------------------------------------------------

# A pregnancy lasts about nine months: an expected date of delivery further ahead than this is a mistake.
MONTHS_TO_DELIVERY = 10


class _UnbornChild(CleanText):
    pseudonym: Pseudonym = Field(title="Pseudonym (as notified)")
    expected_on: dt.date = Field(
        title="Expected date of delivery",
        description="As the midwife or maternity service gave it. It may be in the future.",
    )


# No name: an unborn child seldom has one, and a name chosen before birth is not one to rely on; once the child is born
# and named, the name is recorded as a correction (models/corrections.py) and the redaction gate checks it from then on.
# Until then the mother's name is what a document could give away. No date of birth: the expected date stands for it.
class UnbornChildIdentity(Characteristics, _UnbornChild):  # the pseudonym and the date first, then the rest
    """An unborn child, under the pseudonym used in the notification."""

    def characteristics(self) -> dict[str, str]:
        return {name: getattr(self, name).value for name in Characteristics.model_fields}


class Mother(CleanText):
    full_name: Line = Field(title="Mother's full name")
    date_of_birth: dt.date | None = Field(default=None, title="Mother's date of birth (if known)")


class UnbornIdentity(CleanText):
    """An unborn child's identity step: the mother's real identity and the expected date of delivery instead of the
    child's name and date of birth. Kept as ``Identity`` is: encrypted in the project database, never in Prefect; the
    mother is recorded as a family member, so that nothing published names her."""

    children: list[UnbornChildIdentity] = Field(
        min_length=1, max_length=MAX_CHILDREN, title="Unborn children", description="Twins or more: one row each."
    )
    mother: Mother = Field(
        title="The mother",
        description="Her name is never shown in any document; it is used to check that nothing published names her.",
    )
    family_members: list[FamilyMember] = Field(
        default_factory=list,
        max_length=30,
        title="Other family members",
        description="The father, brothers and sisters, or anyone else whose names must never appear in anything "
        "published.",
    )

    @model_validator(mode="after")
    def _dates(self) -> UnbornIdentity:
        latest = as_date(add_calendar_months(today_in_england().isoformat(), MONTHS_TO_DELIVERY))
        if any(child.expected_on > latest for child in self.children):
            raise ValueError(
                f"an expected date of delivery is more than {MONTHS_TO_DELIVERY} months from today; check the year"
            )
        not_in_future(self.mother.date_of_birth, "the mother's date of birth")
        for member in self.family_members:
            not_in_future(member.date_of_birth, "a family member's date of birth")
        return self


def free_text_of(forms: Iterable[type[BaseModel]]) -> frozenset[str]:
    """The names of every free-text field of ``forms``, and of the forms nested in their fields (a list of timeline
    entries, say): what models/sealing.py seals inside a decision's details."""
    found: set[str] = set()
    waiting, seen = list(forms), set()
    while waiting:
        form = waiting.pop()
        if form in seen:
            continue
        seen.add(form)
        for name, field in form.model_fields.items():
            if FREE in field.metadata:
                found.add(name)
            waiting += _models_in(field.annotation)
    return frozenset(found)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type holds, however deep (``list[TimelineEntry]``, ``Entry | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]
