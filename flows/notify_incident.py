"""`notify-incident`: a coordinator records a notification from the Prefect UI: a serious child safeguarding incident,
a child harmed outside England, or the death of a looked-after child or of a care leaver (models.rulebook).

The parameters carry no names: children are known by pseudonym. Their real names and dates of birth are asked for in
a private step (the identity form), answered by a coordinator of the partnership signed in at the gate, written
encrypted to the project database, and deleted from Prefect at once. A notification made before a child's identity
is known skips that step. The same incident submitted twice gives one review.
"""

from __future__ import annotations

from typing import Any

import pydantic
from prefect import flow, get_run_logger

from flows.inputs import IDENTITY, IDENTITY_TO_FOLLOW, ask, forget
from models.answers import explain
from models.forms import Identity, IdentityToFollow, IncidentNotification, Kind
from models.notification_identity import NotificationRefused, check_pseudonyms, guidance, title
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


def _ask_identity(incident: IncidentNotification) -> tuple[Identity | None, Actor]:
    """Ask for the children's identities until a valid answer arrives from a coordinator of the partnership, and
    return it with that coordinator; every answer is deleted from Prefect once read (a replay finds those keys
    empty and moves on to the next). A notification made before the identities are known asks the coordinator to
    confirm it instead, and returns no identity."""
    pseudonyms = [c.pseudonym for c in incident.children]
    message = ""
    for attempt in range(1, MAX_IDENTITY_ATTEMPTS + 1):
        key = f"identity-{attempt}"
        if incident.identity_known:
            answer = ask(IDENTITY, key, _identity_description(pseudonyms, message))
        else:
            answer = ask(IDENTITY_TO_FOLLOW, key, _to_follow_description(pseudonyms, message))
        forget(key)
        if answer is None:
            continue
        coordinator = signed_in_as(incident.partnership, answer.signer, Role.COORDINATOR)
        if isinstance(coordinator, str):  # nothing in an answer nobody can be held to is looked at
            message = coordinator
            continue
        try:
            if not incident.identity_known:
                IdentityToFollow.model_validate(answer.data)
                return None, coordinator
            identity = Identity.model_validate(answer.data)
            check_pseudonyms(identity, pseudonyms)
            return identity, coordinator
        except pydantic.ValidationError as exc:
            message = explain(exc, Identity if incident.identity_known else IdentityToFollow)
        except NotificationRefused as exc:
            message = str(exc)
    raise NotificationRefused("too many attempts at the identity form; start the notification again")


def _identity_description(pseudonyms: list[str], refusal: str) -> str:
    return _description(title(True), *guidance(True, [f"**{p}**" for p in pseudonyms]), refusal=refusal)


def _to_follow_description(pseudonyms: list[str], refusal: str) -> str:
    return _description(title(False), *guidance(False, [f"**{p}**" for p in pseudonyms]), refusal=refusal)


def _description(heading: str, *paragraphs: str, refusal: str) -> str:
    """A form's description: a heading, its paragraphs, and why the last answer was refused, if it was."""
    lines = [f"## {heading}"]
    for paragraph in paragraphs:
        lines += ["", paragraph]
    if refusal:
        lines += ["", f"> **Your last answer was not accepted:** {refusal}", "> Nothing was saved. Please try again."]
    return "\n".join(lines)


def _record(incident: IncidentNotification, identity: Identity | None) -> IncidentRecord:
    by_pseudonym: dict[str, Any] = {c.pseudonym.casefold(): c for c in identity.children} if identity else {}
    return IncidentRecord(
        partnership_code=incident.partnership,
        incident_on=incident.incident_date,
        aware_on=incident.aware_date,
        harm=incident.harm,
        abuse_or_neglect=incident.abuse_or_neglect,
        looked_after=incident.looked_after or incident.kind is Kind.looked_after_death,
        children=[
            ChildRecord(
                pseudonym=c.pseudonym,
                age_band=None if incident.unborn else c.age_band.value,  # an unborn child has no age
                name=by_pseudonym[c.pseudonym.casefold()].full_name if identity else None,
                date_of_birth=by_pseudonym[c.pseudonym.casefold()].date_of_birth if identity else None,
                characteristics=by_pseudonym[c.pseudonym.casefold()].characteristics() if identity else None,
            )
            for c in incident.children
        ],
        family=[FamilyRecord(m.relationship, m.full_name, m.date_of_birth) for m in identity.family_members]
        if identity
        else [],
        national_reference=incident.national_reference or None,
        kind=incident.kind.rule,
        rapid_review_follows=incident.rapid_review_follows,
        unborn=incident.unborn,
    )
