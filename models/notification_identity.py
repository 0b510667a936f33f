"""The notification's identity step: who the children are, given by a coordinator once the notification is made.

Its words and its one rule beyond the form's own (each child notified, by the same pseudonym) live here, so that the
notification's run (flows/notify_incident.py) and the coordinator's task page (gate/tasks_app.py) ask the same and
refuse the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.forms import Identity
from models.refusals import Refused


class NotificationRefused(Refused):
    """The notification, or its identity step, cannot be recorded as given; ``str()`` says what to change."""


def check_pseudonyms(identity: Identity, pseudonyms: Sequence[str]) -> None:
    """One entry for each child notified, under the pseudonym the notification used."""
    given = sorted(c.pseudonym.casefold() for c in identity.children)
    if given != sorted(p.casefold() for p in pseudonyms):
        raise NotificationRefused(
            "give one entry for each child notified, with the same pseudonyms: " + ", ".join(pseudonyms)
        )


def title(identity_known: bool) -> str:
    return "Who the children are" if identity_known else "Notifying before the children's identities are known"


def guidance(identity_known: bool, pseudonyms: Sequence[str]) -> list[str]:
    """The paragraphs above the form; ``pseudonyms`` as they should be shown (in bold, in the run's markdown)."""
    children = ", ".join(pseudonyms)
    if identity_known:
        return [
            "Give each child's full name and date of birth, under the pseudonym used in the notification: "
            f"{children}, and what the Department's figures count: sex, ethnicity, disability and any child in "
            "need or child protection plan. Add family members whose names must never appear in anything published.",
            "These details are encrypted in the partnership's own database and deleted from this system as soon as "
            "they are saved. Everywhere else the children are known only by their pseudonyms.",
        ]
    return [
        f"Confirm that this notification is recorded now for {children}, without names or dates of birth. The "
        "pseudonyms stand for the children in everything that follows."
    ]
