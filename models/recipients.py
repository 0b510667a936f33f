"""Who a message can be for: the national bodies, the bodies beside the review partnership (the child death review
partners), the review partnership's people (its coordinator, its local partners, or everyone registered in one role)
and the operators. Pure: the rulebook's notifications, the forms' descriptions and
the outbox all name recipients this way. An agency's contacts are read by their agency's name, which the caller looks up
(models/messages.py ``agency_names``) and passes in.

Each recipient is a string, the one the outbox stores: "panel", "coordinator", "role:police". The rulebook's editions
and prefect.yaml's message-failed trigger name them by these strings too."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from enum import StrEnum

from models.roles import Role


class NationalBody(StrEnum):
    """A national body: one mailbox each, a setting of the deployment (models/messages.py)."""

    PANEL = "panel"
    OFSTED = "ofsted"
    DFE = "dfe"
    SECRETARY_OF_STATE = "secretary_of_state"


class LocalBody(StrEnum):
    """A body beside the review partnership with one mailbox, which the partnership's register holds (not a person,
    and not a setting of the deployment): told as a national body is, at its partnership's address
    (models/messages.py)."""

    CHILD_DEATH_REVIEW = "child_death_review"  # the child death review partners (models/child_death_review.py)


class Group(StrEnum):
    """People in the register, as a group: the review partnership's coordinator or its local partners, or the
    operators (registered in no partnership: the whole system's)."""

    LOCAL_PARTNERS = "local_partners"
    COORDINATOR = "coordinator"
    OPERATORS = "operators"


ROLE = "role:"  # how a role's representatives are stored: "role:police"


class Representatives(str):
    """The people registered in one role in the review's partnership: a string, as the outbox stores it
    ("role:police"), that knows its role."""

    __slots__ = ()

    def __new__(cls, role: Role) -> Representatives:
        return super().__new__(cls, f"{ROLE}{role.value}")

    def __getnewargs__(self) -> tuple[Role]:  # made again from its role, when unpickled
        return (self.role,)

    @property
    def role(self) -> Role:
        return Role(self.removeprefix(ROLE))


AGENCY = "agency:"  # how an agency's contacts are stored: "agency:<the agency's id>"


class AgencyContacts(str):
    """The contacts registered for one agency of the review's partnership: a string, as the outbox stores it
    ("agency:<id>"), that knows its agency."""

    __slots__ = ()

    def __new__(cls, agency_id: uuid.UUID | str) -> AgencyContacts:
        return super().__new__(cls, f"{AGENCY}{uuid.UUID(str(agency_id))}")

    def __getnewargs__(self) -> tuple[str]:  # made again from its agency's id, when unpickled
        return (str(self.agency_id),)

    @property
    def agency_id(self) -> uuid.UUID:
        return uuid.UUID(self.removeprefix(AGENCY))


Recipient = NationalBody | LocalBody | Group | Representatives | AgencyContacts

PANEL_OFSTED_DFE = (NationalBody.PANEL, NationalBody.OFSTED, NationalBody.DFE)
PANEL_AND_SOS = (NationalBody.PANEL, NationalBody.SECRETARY_OF_STATE)

RECIPIENTS: dict[str, str] = {  # the recipients by name, and what a person reads for each
    NationalBody.PANEL: "the Child Safeguarding Practice Review Panel",
    NationalBody.OFSTED: "Ofsted",
    NationalBody.DFE: "the Department for Education",
    NationalBody.SECRETARY_OF_STATE: "the Secretary of State for Education",
    LocalBody.CHILD_DEATH_REVIEW: "the child death review partners",
    Group.LOCAL_PARTNERS: "the local safeguarding partners",
    Group.COORDINATOR: "the review coordinator",
    Group.OPERATORS: "cspr's operators",
}
OPERATORS = Group.OPERATORS


def for_role(role: Role) -> Representatives:
    return Representatives(role)


def recipient_label(recipient: str | Recipient, agencies: Mapping[uuid.UUID, str] | None = None) -> str:
    """What a person reads for a recipient, or for one as the outbox stores it. An agency's contacts are "the contacts
    of Riverside Medical Practice" when ``agencies`` (agencies' names by id: not personal data) names their agency, and
    "the agency's contacts" otherwise."""
    stored = str(recipient)
    if stored.startswith(ROLE):
        return f"the {Role(stored.removeprefix(ROLE)).label} representatives"
    if stored.startswith(AGENCY):
        agency = _agency_id(stored)
        name = (agencies or {}).get(agency) if agency else None
        return f"the contacts of {name}" if name else "the agency's contacts"
    return RECIPIENTS.get(stored, stored)


def _agency_id(stored: str) -> uuid.UUID | None:
    """The agency an "agency:<id>" recipient names; None for one whose id cannot be read (written outside cspr)."""
    try:
        return uuid.UUID(stored.removeprefix(AGENCY))
    except ValueError:
        return None


def agency_ids(recipients: Iterable[str]) -> set[uuid.UUID]:
    """The agencies whose contacts are among ``recipients`` (as the outbox stores them)."""
    return {found for r in recipients if r.startswith(AGENCY) and (found := _agency_id(r)) is not None}
