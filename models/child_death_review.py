"""The child death review, beside this review.

Every child's death is reviewed by the child death review partners (the local authority and the integrated care
board) and their child death overview panel, and what a rapid review and a local review find feeds that review
(Working Together to Safeguard Children 2018, chapter 5; the Child Death Review Statutory and Operational Guidance
(England) 2018). So a death notified here carries three things:

- the reference the child death review partners gave the death, recorded with the notification: an identifier, never
  a name (the form's ``Reference``; the step says when it is needed);
- their mailbox, one for each partnership, held in the register and changed only with a record in the register's
  hash-chained history (``set_mailbox``; ``cspr partnerships child-death-review``);
- what they are told, through the outbox as the Panel is: that the rapid review went to the Panel, and that the local
  review was published, or that it was decided not to publish it (``tell``). What they read holds references and
  pseudonyms only, as every message does.

Every function works inside the caller's transaction. Nothing here imports the process (its notification step
imports this module).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from sqlmodel import Session, select

from models.forms import Harm
from models.people import EMAIL, RegisterRefusal, record_change, register_partnership
from models.recipients import LocalBody
from models.review import outbox
from models.review.outbox import Occasion
from models.review.transitions import Actor
from models.rulebook import NotificationKind
from models.tables import CasePerson, Outbox, RegisterAction, Review, utcnow

CHILD_DEATH_REVIEW = LocalBody.CHILD_DEATH_REVIEW
SOURCE = (
    "Working Together to Safeguard Children 2018, chapter 5; Child Death Review Statutory and Operational Guidance "
    "(England) 2018"
)
REFERENCE_LENGTH = 40
_IDENTIFIER = re.compile(r"[A-Za-z0-9 /-]*")
_WORD = re.compile(r"[^\W_]+")


def identifier(value: str) -> str:
    """The reference as the form takes it: letters, numbers, spaces, hyphens and slashes, with a number in it, so that
    a name alone is never taken for a reference. The message repeats nothing typed."""
    if value and (not _IDENTIFIER.fullmatch(value) or not any(c.isdigit() for c in value)):
        raise ValueError(
            "use only letters, numbers, spaces, hyphens and slashes, with at least one number: the child death "
            "review reference is the child death review team's identifier for the death, never a name"
        )
    return value


Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=REFERENCE_LENGTH), AfterValidator(identifier)
]


# --- the reference ------------------------------------------------------------------------------------------


def is_death(review: Review) -> bool:
    """Whether the review is about a death: the child death review partners hear of it."""
    return review.harm is Harm.died


def reference_needed(review: Review) -> bool:
    """Whether the notification must give the child death review reference: a child's death. The child death review
    covers children, so a care leaver's death (up to 24) may have one or not: there it is optional."""
    return is_death(review) and review.notification_kind is not NotificationKind.CARE_LEAVER_DEATH


def shown_reference(review: Review) -> str | None:
    """The reference as a document about a death shows it ("not given" where a care leaver's death has none); None
    for a review of a child who did not die, which shows no line for it."""
    if not is_death(review):
        return None
    return review.child_death_review_reference or "not given"


def holds_a_name(session: Session, review: Review, text: str) -> bool:
    """Whether ``text`` holds a word of a name recorded for the case (a child's or a family member's, and the names a
    record was corrected from): a name typed where an identifier goes."""
    words = {w.casefold() for w in _WORD.findall(text)}
    for person in session.exec(select(CasePerson).where(CasePerson.review_id == review.id)):
        names = [person.name or "", *(str(n) for n in json.loads(person.former_names or "[]"))]
        if words & {part.casefold() for name in names for part in _WORD.findall(name) if len(part) > 1}:
            return True
    return False


# --- their mailbox, in the register -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailbox:
    """A partnership's child death review mailbox, as set (or as it stood: nothing recorded)."""

    partnership: str  # the partnership's code
    name: str  # the partnership's name
    mailbox: str | None
    was: str | None
    recorded: bool  # False: it was that already, and the register's history is unchanged


def mailbox_of(session: Session, code: str) -> Mailbox:
    """The partnership's child death review mailbox today."""
    partnership = register_partnership(session, code)
    held = partnership.child_death_review_email
    return Mailbox(partnership.code, partnership.name, held, held, recorded=False)


def set_mailbox(session: Session, code: str, email: str | None, *, by: Actor, at: dt.datetime | None = None) -> Mailbox:
    """Set the child death review partners' mailbox for a partnership to ``email``, or to none (``None``: their
    messages then wait in the outbox folder, as a national body's do when it has no mailbox). A change is recorded in
    the register's history with who made it and what it was; setting what is set already records nothing."""
    partnership = register_partnership(session, code)
    address = None if email is None else email.strip().casefold()
    if address is not None and (len(address) > 254 or not EMAIL.match(address)):
        raise RegisterRefusal(
            "that is not an email address: give the child death review team's mailbox, e.g. cdop@council.gov.uk"
        )
    was = partnership.child_death_review_email
    if address == was:
        return Mailbox(partnership.code, partnership.name, address, was, recorded=False)
    partnership.child_death_review_email = address
    session.add(partnership)
    session.flush()
    record_change(
        session,
        RegisterAction.CHILD_DEATH_REVIEW,
        None,
        by,
        at or utcnow(),
        partnership=partnership.code,
        mailbox=address,
        was=was,
    )
    return Mailbox(partnership.code, partnership.name, address, was, recorded=True)


# --- what they are told -------------------------------------------------------------------------------------


def about(review: Review) -> tuple[str, ...]:
    """What the child death review partners read beside what every message says (the review's reference, its
    partnership, the children's pseudonyms, where it stands): the references that tie it to their own review, and
    why they are told. Identifiers only, never a name."""
    return (
        f"Reference in the national notification system: {review.national_reference or 'not yet given'}",
        f"Child death review reference: {review.child_death_review_reference or 'not given'}",
        "",
        "You are told because this review is about a child's death, which the child death review partners review "
        f"too: what its rapid review and local review find feeds the child death review ({SOURCE}).",
    )


def tell(session: Session, review: Review, occasion: Occasion, happened: str) -> list[Outbox]:
    """Tell the child death review partners ``happened`` (a death's rapid review sent, its local review published or
    not): one outbox message for ``occasion`` (the Panel's, so a replay sends neither twice), the messages added.
    Nothing for a review of a child who did not die."""
    if not is_death(review):
        return []
    subject = f"{review.reference}: {happened}"
    return outbox.enqueue(session, review, occasion, (CHILD_DEATH_REVIEW,), subject, "\n".join(about(review)))
