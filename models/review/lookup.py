"""Finding a review by its reference, or a partnership by its code, or refusing in words a person reads."""

from __future__ import annotations

from sqlmodel import Session, col, select

from models.refusals import Refused
from models.tables import Partnership, Review


class UnknownReview(Refused):
    """A review reference that is not recorded."""


class UnknownPartnership(Refused):
    """A partnership code that is not registered; ``str()`` names the ones that are."""


def partnership_by_code(session: Session, code: str | None) -> Partnership:
    partnership = session.exec(select(Partnership).where(Partnership.code == code)).first()
    if partnership is None:
        known = ", ".join(p.code for p in session.exec(select(Partnership).order_by(col(Partnership.code))))
        raise UnknownPartnership(f"there is no safeguarding partnership {code!r}; known partnerships: {known}")
    return partnership


def review_by_reference(session: Session, reference: str, *, lock: bool = False) -> Review:
    """The review; with ``lock``, its row locked until the transaction ends (on SQLite the transaction holds the
    whole database already)."""
    query = select(Review).where(Review.reference == reference)
    review = session.exec(query.with_for_update() if lock else query).first()
    if review is None:
        raise UnknownReview(f"there is no review {reference!r}")
    return review
