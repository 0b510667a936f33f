"""The notification's identity step: who the children are, given by a coordinator once the notification is made.

Its words, which form it asks (a born child's name and date of birth; an unborn child's expected date of delivery and
the mother's details; or, before anyone's identity is known, a confirmation), and its rules beyond the form's own (each
child notified, by the same pseudonym; an unborn child's expected date of delivery near the incident) live here, so
that the notification's run (flows/notify_incident.py) and the coordinator's task page (gate/notification_task.py) ask
the same and refuse the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from models.calendar import add_calendar_months, as_date
from models.forms import MONTHS_TO_DELIVERY, FormModel, Identity, IdentityToFollow, UnbornIdentity
from models.refusals import Refused

# A pregnancy is seldom left to run more than two weeks past its expected date; an unborn child's expected date this
# long before the incident (when the child was unborn) is a mistake, with room to spare.
WEEKS_PAST_EXPECTED = 6

Answered = Identity | UnbornIdentity  # the identity step's answer, once the identities are known


class NotificationRefused(Refused):
    """The notification, or its identity step, cannot be recorded as given; ``str()`` says what to change."""


def identity_form(identity_known: bool, unborn: bool) -> type[FormModel]:
    """The form the identity step asks, for a notification of ``unborn`` children or not."""
    if not identity_known:
        return IdentityToFollow
    return UnbornIdentity if unborn else Identity


def check(identity: Answered, pseudonyms: Sequence[str], incident_on: dt.date | None) -> None:
    """The step's rules beyond the form's own; ``incident_on``, the notification's date of the incident (None where the
    page cannot read it: the run, which always can, checks it)."""
    check_pseudonyms(identity, pseudonyms)
    if isinstance(identity, UnbornIdentity) and incident_on is not None:
        check_expected_dates(identity, incident_on)


def check_pseudonyms(identity: Answered, pseudonyms: Sequence[str]) -> None:
    """One entry for each child notified, under the pseudonym the notification used."""
    given = sorted(c.pseudonym.casefold() for c in identity.children)
    if given != sorted(p.casefold() for p in pseudonyms):
        raise NotificationRefused(
            "give one entry for each child notified, with the same pseudonyms: " + ", ".join(pseudonyms)
        )


def check_expected_dates(identity: UnbornIdentity, incident_on: dt.date) -> None:
    """Each child was unborn on the day of the incident, so due no long time before it nor more than a pregnancy after
    it. The refusal names the pseudonym, never the date typed."""
    earliest = incident_on - dt.timedelta(weeks=WEEKS_PAST_EXPECTED)
    latest = as_date(add_calendar_months(incident_on.isoformat(), MONTHS_TO_DELIVERY))
    wrong = [c.pseudonym for c in identity.children if not earliest <= c.expected_on <= latest]
    if wrong:
        raise NotificationRefused(
            f"{', '.join(wrong)}: the expected date of delivery must be between {WEEKS_PAST_EXPECTED} weeks before "
            f"and {MONTHS_TO_DELIVERY} months after the date of the incident, when the child was unborn; check the "
            "date and its year"
        )


def title(identity_known: bool, unborn: bool = False) -> str:
    if not identity_known:
        return "Notifying before the children's identities are known"
    return "The mother and the expected date of delivery" if unborn else "Who the children are"


def guidance(identity_known: bool, pseudonyms: Sequence[str], unborn: bool = False) -> list[str]:
    """The paragraphs above the form; ``pseudonyms`` as they should be shown (in bold, in the run's markdown)."""
    children = ", ".join(pseudonyms)
    kept = (
        "These details are encrypted in the partnership's own database and deleted from this system as soon as "
        "they are saved. Everywhere else the children are known only by their pseudonyms."
    )
    if identity_known and unborn:
        return [
            "This notification is about an unborn child, so no name or date of birth is asked for the child. Give "
            f"the expected date of delivery under the pseudonym used in the notification: {children}, and what the "
            "Department's figures count, as far as it is known.",
            "Give the mother's full name and, if known, her date of birth, and add any other family members whose "
            "names must never appear in anything published. The mother's name and the expected date are never shown "
            "in any document.",
            kept,
        ]
    if identity_known:
        return [
            "Give each child's full name and date of birth, under the pseudonym used in the notification: "
            f"{children}, and what the Department's figures count: sex, ethnicity, disability and any child in "
            "need or child protection plan. Add family members whose names must never appear in anything published.",
            kept,
        ]
    return [
        f"Confirm that this notification is recorded now for {children}, without names or dates of birth. The "
        "pseudonyms stand for the children in everything that follows."
    ]
