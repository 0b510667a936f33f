"""The messages a review sends: each written to the outbox in the transaction of the decision that causes it, once.

A message is keyed by its review, its purpose and its recipient (the outbox's unique key), so a replay never sends it
twice. What it is for is typed (``Occasion``: a ``Purpose`` and, for a purpose that recurs, which time) and stored as
the string cspr has always written for it (``Occasion.stored``), which the outbox's existing rows and its unique key
use; who it is for is a ``models.recipients.Recipient``, stored as its ``str()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, select

from models.recipients import Recipient
from models.stages import Stage
from models.tables import Outbox, Review

PURPOSE_LENGTH = 80  # the outbox's purpose column


class Purpose(StrEnum):
    """What an outbox message is for."""

    RAPID_REVIEW = "rapid_review"  # the rapid review, to the Panel
    LCSPR_DECISION = "lcspr_decision"  # the partners' decision on a local review
    REVIEWER_NAMED = "reviewer_named"  # the reviewer commissioned
    FINAL_REPORT = "final_report"  # each send of the final report
    PUBLICATION_DEFERRED = "publication_deferred"  # each round of publication deferred
    PUBLISHED = "published"
    WAITING = "waiting"  # a step waits on its people: once per visit of the stage
    REMINDER = "reminder"  # a deadline is near, at each level
    ESCALATION = "escalation"  # a deadline is overdue, at each level
    NOT_DELIVERED = "not_delivered"  # to the operators: another message could not be delivered
    ITEM = "item"  # the work around a review: a request or an action asked, answered, changed, chased


@dataclass(frozen=True)
class Occasion:
    """One occasion of a ``Purpose``: ``number`` the round or the send, for a purpose counted so; ``about`` what else
    makes it another message (the stage and its visit, the deadline and its level, the undelivered message). Made by
    the class methods below, or ``Occasion(purpose)`` for a purpose that happens once."""

    purpose: Purpose
    number: int | None = None
    about: tuple[str, ...] = ()

    def stored(self) -> str:
        """The outbox's purpose: "rapid_review", "final_report_2", "waiting:rapid_review_sign_off:4", ...; cut to the
        column's length."""
        name = self.purpose.value if self.number is None else f"{self.purpose.value}_{self.number}"
        return ":".join((name, *self.about))[:PURPOSE_LENGTH]

    @classmethod
    def final_report(cls, send: int) -> Occasion:
        """The ``send``-th sending of the final report (1: "final_report"; 2: "final_report_2", a corrected one)."""
        return cls(Purpose.FINAL_REPORT, None if send == 1 else send)

    @classmethod
    def publication_deferred(cls, round_: int) -> Occasion:
        return cls(Purpose.PUBLICATION_DEFERRED, round_)

    @classmethod
    def waiting(cls, stage: Stage, entered: int | None) -> Occasion:
        """The review waits at ``stage``, entered by its stage event number ``entered``."""
        return cls(Purpose.WAITING, about=(stage.value, str(entered)))

    @classmethod
    def chased(cls, deadline: str, level: int, *, overdue: bool) -> Occasion:
        """A deadline's reminder (``overdue``: its escalation) at ``level``."""
        return cls(Purpose.ESCALATION if overdue else Purpose.REMINDER, about=(deadline, str(level)))

    @classmethod
    def item(cls, item: str, event: str, number: int) -> Occasion:
        """The message about ``event`` ("asked", "returned"...) of ``item`` ("request-2"), at its ``number``-th
        answer."""
        return cls(Purpose.ITEM, about=(item, event, str(number)))

    @classmethod
    def not_delivered(cls, purpose: str, recipient: str) -> Occasion:
        """The message stored with ``purpose`` to ``recipient`` (as the outbox stores them) was not delivered."""
        return cls(Purpose.NOT_DELIVERED, about=(purpose, recipient))


def enqueue(
    session: Session, review: Review, occasion: Occasion, recipients: Sequence[Recipient], subject: str, body: str = ""
) -> list[Outbox]:
    """Add a message for each recipient unless it is already there (so a replay never sends twice); the ones added."""
    return _add(session, review, occasion.stored(), [str(r) for r in recipients], subject, body)


def _add(
    session: Session, review: Review, purpose: str, recipients: Sequence[str], subject: str, body: str
) -> list[Outbox]:
    existing = {
        m.recipient
        for m in session.exec(select(Outbox).where(Outbox.review_id == review.id, Outbox.purpose == purpose))
    }
    added = [
        Outbox(review_id=review.id, purpose=purpose, recipient=r, subject=subject, body=body)
        for r in recipients
        if r not in existing
    ]
    session.add_all(added)
    session.flush()
    return added
