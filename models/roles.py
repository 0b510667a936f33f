"""Who acts in a review: the one role enum, used by the state machine, the forms, the tables and the register.

Pure: no database. The first three roles are the statutory safeguarding partners (Children Act 2004 s16E).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who someone acts as; the value is what the review's history and the register store."""

    LOCAL_AUTHORITY = "local_authority"
    POLICE = "police"
    HEALTH = "health"  # clinical commissioning group (WT2018) / integrated care board (WT2023)
    COORDINATOR = "coordinator"
    PANEL = "panel"
    OPERATOR = "operator"  # runs the system: deployments, work pools, the register; registered in no partnership
    AGENCY_CONTACT = "agency_contact"  # answers for an agency: its information, its actions; signs nothing off

    @property
    def label(self) -> str:
        """How people read it: "local authority"."""
        return self.value.replace("_", " ")

    @classmethod
    def from_label(cls, text: str) -> Role:
        """The role a person chose by its label ("local authority") or its stored value ("local_authority")."""
        wanted = " ".join(text.replace("_", " ").split()).casefold()
        for role in cls:
            if role.label == wanted:
                return role
        raise ValueError(f"{text!r} is not a role")


PARTNERS: frozenset[Role] = frozenset({Role.LOCAL_AUTHORITY, Role.POLICE, Role.HEALTH})
