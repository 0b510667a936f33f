"""Who a message can be for, by name: the national bodies, the partnership's people by role, the operators. Pure: the
rulebook's notifications, the forms' descriptions and the outbox all name recipients this way."""

from __future__ import annotations

from models.roles import Role

RECIPIENTS = {
    "panel": "the Child Safeguarding Practice Review Panel",
    "ofsted": "Ofsted",
    "dfe": "the Department for Education",
    "secretary_of_state": "the Secretary of State for Education",
    "local_partners": "the local safeguarding partners",
    "coordinator": "the review coordinator",
    "operators": "cspr's operators",
}
OPERATORS = "operators"  # registered in no partnership: the whole system's
ROLE = "role:"  # "role:police": the people registered in that role in the review's partnership


def for_role(role: Role) -> str:
    return f"{ROLE}{role.value}"


def recipient_label(recipient: str) -> str:
    if recipient.startswith(ROLE):
        return f"the {Role(recipient.removeprefix(ROLE)).label} representatives"
    return RECIPIENTS.get(recipient, recipient)
