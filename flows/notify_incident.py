"""`notify-incident`: a coordinator records a notification from the Prefect UI: a serious child safeguarding incident,
a child harmed outside England, or the death of a looked-after child or of a care leaver (models.rulebook).

The parameters carry no names: children are known by pseudonym. Their real names and dates of birth are asked for in
a private step (the identity form), answered by a coordinator of the partnership signed in at the gate, written
encrypted to the project database, and deleted from Prefect at once; for an unborn child, the mother's name and date
of birth and the expected date of delivery, the same way. A notification made before a child's identity is known skips
that step. The same incident submitted twice gives one review.
"""

from __future__ import annotations

import pydantic
from prefect import flow, get_run_logger
from prefect.input import RunInput

from flows.inputs import IDENTITY, IDENTITY_TO_FOLLOW, IDENTITY_UNBORN, ask, forget
from models.answers import explain
from models.forms import (
    ChildEntry,
    ChildIdentity,
    FormModel,
    Identity,
    IdentityToFollow,
    IncidentNotification,
    Kind,
    UnbornChildIdentity,
    UnbornIdentity,
)
from models.notification_identity import Answered, NotificationRefused, check, guidance, identity_form, title
from models.refusals import Refused
from models.review.creation import ChildRecord, DifferentNotification, FamilyRecord, IncidentRecord
from models.review.transitions import Actor
from models.roles import Role
from models.stages import START
from tasks.lifecycle_tasks import check_partnership, record_incident, signed_in_as
from tasks.runs import label_run, name_run, start_lifecycle

MAX_IDENTITY_ATTEMPTS = 50


@flow(name="notify-incident", validate_parameters=False)
def notify_incident(notification: IncidentNotification) -> str:
    """Record a serious child safeguarding incident and start its review. Returns the review reference."""
    try:
        incident = IncidentNotification.model_validate(notification)
    except pydantic.ValidationError as exc:
        raise NotificationRefused(f"The notification was not recorded: {explain(exc, IncidentNotification)}") from None
    try:
        check_partnership(incident.partnership)
    except Refused as exc:
        raise NotificationRefused(f"The notification was not recorded: {exc}") from None
    name_run(f"{incident.partnership} · new incident", ["cspr", "notification", f"partnership:{incident.partnership}"])
    identity, coordinator = _ask_identity(incident)
    try:
        reference, created = record_incident(_record(incident, identity), coordinator)
    except DifferentNotification as exc:
        raise NotificationRefused(f"The notification was not recorded: {exc}") from None
    label_run(reference, "notify-incident", incident.partnership, START, kind="notification")
    if not created:
        get_run_logger().info("This incident was recorded already as %s; no second review was made", reference)
    start_lifecycle(reference, incident.partnership, START)
    return reference


# the identity step's forms (models/notification_identity.py chooses one) as the run asks them in Prefect's UI
RUN_FORMS: dict[type[FormModel], type[RunInput]] = {
    Identity: IDENTITY,
    UnbornIdentity: IDENTITY_UNBORN,
    IdentityToFollow: IDENTITY_TO_FOLLOW,
}


def _ask_identity(incident: IncidentNotification) -> tuple[Answered | None, Actor]:
    """Ask for the children's identities until a valid answer arrives from a coordinator of the partnership, and
    return it with that coordinator; every answer is deleted from Prefect once read (a replay finds those keys
    empty and moves on to the next). An unborn child's notification asks for the mother's details and the expected
    date of delivery instead of a name and date of birth. A notification made before the identities are known asks
    the coordinator to confirm it instead, and returns no identity."""
    pseudonyms = [c.pseudonym for c in incident.children]
    form = identity_form(incident.identity_known, incident.unborn)
    shown = [f"**{p}**" for p in pseudonyms]
    heading = title(incident.identity_known, incident.unborn)
    paragraphs = guidance(incident.identity_known, shown, incident.unborn)
    message = ""
    for attempt in range(1, MAX_IDENTITY_ATTEMPTS + 1):
        key = f"identity-{attempt}"
        answer = ask(RUN_FORMS[form], key, _description(heading, *paragraphs, refusal=message))
        forget(key)
        if answer is None:
            continue
        coordinator = signed_in_as(incident.partnership, answer.signer, Role.COORDINATOR)
        if isinstance(coordinator, str):  # nothing in an answer nobody can be held to is looked at
            message = coordinator
            continue
        try:
            given = form.model_validate(answer.data)
            if not isinstance(given, Identity | UnbornIdentity):  # confirmed, with no names
                return None, coordinator
            check(given, pseudonyms, incident.incident_date)
            return given, coordinator
        except pydantic.ValidationError as exc:
            message = explain(exc, form)
        except NotificationRefused as exc:
            message = str(exc)
    raise NotificationRefused("too many attempts at the identity form; start the notification again")


def _description(heading: str, *paragraphs: str, refusal: str) -> str:
    """A form's description: a heading, its paragraphs, and why the last answer was refused, if it was."""
    lines = [f"## {heading}"]
    for paragraph in paragraphs:
        lines += ["", paragraph]
    if refusal:
        lines += ["", f"> **Your last answer was not accepted:** {refusal}", "> Nothing was saved. Please try again."]
    return "\n".join(lines)


def _record(incident: IncidentNotification, identity: Answered | None) -> IncidentRecord:
    given: dict[str, ChildIdentity | UnbornChildIdentity] = (
        {c.pseudonym.casefold(): c for c in identity.children} if identity else {}
    )
    return IncidentRecord(
        partnership_code=incident.partnership,
        incident_on=incident.incident_date,
        aware_on=incident.aware_date,
        harm=incident.harm,
        abuse_or_neglect=incident.abuse_or_neglect,
        looked_after=incident.looked_after or incident.kind is Kind.looked_after_death,
        children=[_child(incident, c, given.get(c.pseudonym.casefold())) for c in incident.children],
        family=_family(identity),
        national_reference=incident.national_reference or None,
        kind=incident.kind.rule,
        rapid_review_follows=incident.rapid_review_follows,
        unborn=incident.unborn,
    )


def _child(
    incident: IncidentNotification, notified: ChildEntry, given: ChildIdentity | UnbornChildIdentity | None
) -> ChildRecord:
    """A child as notified, with who they are: an unborn child has no age, name or date of birth, but an expected
    date of delivery (sealed like a date of birth)."""
    if isinstance(given, UnbornChildIdentity):
        return ChildRecord(
            pseudonym=notified.pseudonym, expected_on=given.expected_on, characteristics=given.characteristics()
        )
    return ChildRecord(
        pseudonym=notified.pseudonym,
        age_band=None if incident.unborn else notified.age_band.value,  # an unborn child has no age
        name=given.full_name if given else None,
        date_of_birth=given.date_of_birth if given else None,
        characteristics=given.characteristics() if given else None,
    )


def _family(identity: Answered | None) -> list[FamilyRecord]:
    """The family members named, an unborn child's mother first: the redaction gate checks each one's name and date
    of birth in everything published."""
    if identity is None:
        return []
    family = [FamilyRecord(m.relationship, m.full_name, m.date_of_birth) for m in identity.family_members]
    if isinstance(identity, UnbornIdentity):
        family.insert(0, FamilyRecord("mother", identity.mother.full_name, identity.mother.date_of_birth))
    return family
