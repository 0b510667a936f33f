"""A serious incident recorded as a new review: its people, its first event, its first milestone and timetable, and
its reference (``CSPR-2026-0042``, the next free number of the year). A resubmission of a recorded incident is the same
review, or refused if it says something else."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import rulebook, stages
from models.forms import AbuseOrNeglect, Harm
from models.refusals import Refused
from models.review.timetable import refresh_deadlines, set_milestones
from models.review.transitions import Actor, append_event
from models.rulebook import Event
from models.tables import CasePerson, Partnership, PersonKind, Review, utcnow


@dataclass(frozen=True)
class ChildRecord:
    """A child in a new case. ``name`` and ``date_of_birth`` are encrypted at rest and never leave."""

    pseudonym: str
    age_band: str | None = None
    name: str | None = None
    date_of_birth: dt.date | None = None
    characteristics: Mapping[str, str] | None = None  # models.forms.Characteristics, as values
    expected_on: dt.date | None = None  # an unborn child's expected date of delivery, encrypted like a date of birth


@dataclass(frozen=True)
class FamilyRecord:
    relationship: str
    name: str
    date_of_birth: dt.date | None = None


@dataclass(frozen=True)
class IncidentRecord:
    partnership_code: str
    incident_on: dt.date
    aware_on: dt.date
    harm: Harm
    abuse_or_neglect: AbuseOrNeglect
    looked_after: bool
    children: Sequence[ChildRecord]
    family: Sequence[FamilyRecord] = ()
    national_reference: str | None = None
    kind: rulebook.NotificationKind = rulebook.NotificationKind.SERIOUS_INCIDENT
    rapid_review_follows: bool = True
    unborn: bool = False  # the children notified are unborn: no age band, no date of birth


def incident_key(incident: IncidentRecord) -> str:
    """What makes two submissions the same incident: partnership, dates, harm and the children's pseudonyms."""
    basis = "|".join(
        [
            incident.partnership_code,
            incident.incident_on.isoformat(),
            incident.aware_on.isoformat(),
            incident.harm,
            ",".join(sorted(c.pseudonym.strip().casefold() for c in incident.children)),
        ]
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def create_review(
    session: Session, incident: IncidentRecord, *, actor: Actor, at: dt.datetime | None = None
) -> tuple[Review, bool]:
    """Record a serious incident as a new review, or return the review already recorded for it.

    Returns ``(review, created)``. The review follows the guidance edition in force on the day the local authority
    became aware (rulebook.EDITION_RULE), and its rapid review is counted as its partnership counts it then, or as
    that edition does: both are pinned here, so a later edition or a later choice moves none of its dates.
    """
    at = at or utcnow()
    partnership = session.exec(select(Partnership).where(Partnership.code == incident.partnership_code)).first()
    if partnership is None:
        raise LookupError(f"unknown partnership {incident.partnership_code!r}")
    key = incident_key(incident)
    existing = _review_by_incident(session, partnership.id, key)
    if existing is not None:
        _same_notification(existing, incident)
        return existing, False
    edition = rulebook.edition_in_force(incident.aware_on)
    rapid_review_from = partnership.rapid_review_count or edition.rapid_review_count
    for _attempt in range(20):
        review = Review(
            reference=_next_reference(session, at.year),
            partnership_id=partnership.id,
            edition=edition.id,
            stage=stages.START,
            incident_on=incident.incident_on,
            aware_on=incident.aware_on,
            harm=incident.harm,
            abuse_or_neglect=incident.abuse_or_neglect,
            looked_after=incident.looked_after,
            notification_kind=incident.kind,
            rapid_review_follows=incident.rapid_review_follows,
            incident_key=key,
            national_reference=incident.national_reference,
            rapid_review_from=rapid_review_from,
            unborn=incident.unborn,
            created_at=at,
            updated_at=at,
        )
        try:
            with session.begin_nested():
                session.add(review)
                session.flush()
        except IntegrityError:
            # Either the same incident was recorded concurrently (return that one) or the reference was
            # taken by another new review (try the next number).
            existing = _review_by_incident(session, partnership.id, key)
            if existing is not None:
                _same_notification(existing, incident)
                return existing, False
            continue
        break
    else:  # pragma: no cover - twenty concurrent creations in one year-second
        raise RuntimeError("could not allocate a review reference; try again")
    for position, child in enumerate(incident.children, start=1):
        session.add(
            CasePerson(
                review_id=review.id,
                kind=PersonKind.CHILD,
                pseudonym=child.pseudonym.strip(),
                position=position,  # the Department counts the first child listed
                age_band=child.age_band,
                name=child.name,
                date_of_birth=child.date_of_birth.isoformat() if child.date_of_birth else None,
                characteristics=json.dumps(dict(child.characteristics)) if child.characteristics else None,
                expected_on=child.expected_on.isoformat() if child.expected_on else None,
            )
        )
    for number, member in enumerate(incident.family, start=1):
        session.add(
            CasePerson(
                review_id=review.id,
                kind=PersonKind.FAMILY_MEMBER,
                pseudonym=f"Family member {number}",
                relationship=member.relationship,
                name=member.name,
                date_of_birth=member.date_of_birth.isoformat() if member.date_of_birth else None,
            )
        )
    append_event(
        session,
        review,
        transition=stages.Transition.RECORD_INCIDENT,
        from_stage=None,
        to_stage=stages.START,
        actor=actor,
        reason=None,
        details={
            "edition": edition.id,
            "kind": incident.kind.value,
            "rapid_review_follows": incident.rapid_review_follows,
        },
        at=at,
    )
    set_milestones(session, review, {Event.AWARE_ON: incident.aware_on})
    refresh_deadlines(session, review)
    return review, True


class DifferentNotification(Refused):
    """The incident was recorded already, as another kind of notification or with another outcome; ``str()`` says
    which review, for the coordinator."""


def _same_notification(existing: Review, incident: IncidentRecord) -> None:
    """A resubmission of a recorded incident is the same review only if it says the same thing: one that changes
    what is notified, or whether a rapid review follows, is refused rather than silently dropped."""
    if (existing.notification_kind, existing.rapid_review_follows) != (incident.kind, incident.rapid_review_follows):
        raise DifferentNotification(
            f"this incident was recorded already as {existing.reference}, as a different kind of notification or "
            "with a different answer on abuse or neglect. Nothing new was recorded. If what was recorded is wrong, "
            "ask the partnership's cspr operator to correct it"
        )


def _review_by_incident(session: Session, partnership_id: uuid.UUID, key: str) -> Review | None:
    return session.exec(
        select(Review).where(Review.partnership_id == partnership_id, Review.incident_key == key)
    ).first()


def _next_reference(session: Session, year: int) -> str:
    prefix = f"CSPR-{year}-"
    last = session.exec(select(sa.func.max(Review.reference)).where(col(Review.reference).startswith(prefix))).one()
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"
