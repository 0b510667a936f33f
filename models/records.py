"""Writing a review's life to the database: creation, stage transitions and its timetable.

Every function here works inside the caller's transaction (``models.db.transaction()``), so a decision,
the stage move it causes, the audit event, the recomputed deadlines and any outbox message commit
together or not at all.

A transition is a compare-and-set on the review's stage: ``UPDATE review SET stage = :to WHERE id = :id AND
stage = :expected``. Of two writers racing from the same stage exactly one updates a row; the other gets
``StaleStage`` and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import rulebook, stages
from models.audit import GENESIS_HASH, decision_hash, event_hash, signed_head
from models.refusals import Refused
from models.rulebook import Entry, Event
from models.stages import Facts, Stage
from models.tables import (
    CasePerson,
    Deadline,
    DeadlineStatus,
    Decision,
    DecisionKind,
    Milestone,
    Outbox,
    Partnership,
    PersonKind,
    Review,
    StageEvent,
    utcnow,
)


class StaleStage(RuntimeError):
    """The review was no longer at the expected stage: someone else moved it first. Nothing was written."""

    def __init__(self, reference: str, expected: str, actual: str | None) -> None:
        super().__init__(
            f"{reference} has already moved on (expected stage {expected!r}, found {actual!r}); nothing was changed"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Actor:
    """Who acts: a person as the register knows them (with how they proved it), or the system itself."""

    name: str
    role: str
    person_id: str | None = None  # their account's id; None for the system, or an operator at the command line
    signed_in_with: str | None = None  # "password+totp", "password" (a demo account) or "oidc"; None likewise


@dataclass(frozen=True)
class ChildRecord:
    """A child in a new case. ``name`` and ``date_of_birth`` are encrypted at rest and never leave."""

    pseudonym: str
    age_band: str | None = None
    name: str | None = None
    date_of_birth: dt.date | None = None
    characteristics: Mapping[str, str] | None = None  # models.forms.Characteristics, as values


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
    harm: str
    abuse_or_neglect: str
    looked_after: bool
    children: Sequence[ChildRecord]
    family: Sequence[FamilyRecord] = ()
    national_reference: str | None = None
    kind: rulebook.NotificationKind = rulebook.NotificationKind.SERIOUS_INCIDENT
    rapid_review_follows: bool = True


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


# --- creation -------------------------------------------------------------------------------------------


def create_review(
    session: Session, incident: IncidentRecord, *, actor: Actor, at: dt.datetime | None = None
) -> tuple[Review, bool]:
    """Record a serious incident as a new review, or return the review already recorded for it.

    Returns ``(review, created)``. The review is pinned to the guidance edition in force on the day it is
    recorded (the day of notification).
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
    edition = rulebook.edition_in_force(at.date())
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
            notification_kind=incident.kind.value,
            rapid_review_follows=incident.rapid_review_follows,
            incident_key=key,
            national_reference=incident.national_reference,
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
    for child in incident.children:
        session.add(
            CasePerson(
                review_id=review.id,
                kind=PersonKind.CHILD,
                pseudonym=child.pseudonym.strip(),
                age_band=child.age_band,
                name=child.name,
                date_of_birth=child.date_of_birth.isoformat() if child.date_of_birth else None,
                characteristics=json.dumps(dict(child.characteristics)) if child.characteristics else None,
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
    _append_event(
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


# --- transitions ----------------------------------------------------------------------------------------


def apply_transition(
    session: Session,
    review: Review,
    name: stages.Transition,
    *,
    actor: Actor,
    facts: Facts | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    milestones: Mapping[Event, dt.date] | None = None,
    at: dt.datetime | None = None,
) -> StageEvent:
    """Move ``review`` along transition ``name`` from the stage it was read at.

    Raises ``IllegalTransition`` (not allowed, or a guard fails) or ``StaleStage`` (another writer moved it
    first); in both cases nothing is written.
    """
    at = at or utcnow()
    expected = Stage(review.stage)
    move = stages.check(expected, name, facts or Facts())
    result = session.execute(
        sa.update(Review)
        .where(col(Review.id) == review.id, col(Review.stage) == expected.value)
        .values(stage=move.target.value, version=Review.version + 1, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        actual = session.execute(sa.select(col(Review.stage)).where(col(Review.id) == review.id)).scalar()
        raise StaleStage(review.reference, expected.value, actual)
    session.refresh(review)
    event = _append_event(
        session,
        review,
        transition=name,
        from_stage=expected,
        to_stage=move.target,
        actor=actor,
        reason=reason,
        details=dict(details or {}),
        at=at,
    )
    if milestones:
        set_milestones(session, review, milestones)
    refresh_deadlines(session, review)
    return event


def _append_event(
    session: Session,
    review: Review,
    *,
    transition: str,
    from_stage: Stage | None,
    to_stage: Stage,
    actor: Actor,
    reason: str | None,
    details: dict[str, Any],
    at: dt.datetime,
) -> StageEvent:
    last = session.exec(
        select(StageEvent).where(StageEvent.review_id == review.id).order_by(col(StageEvent.seq).desc()).limit(1)
    ).first()
    seq = 1 if last is None else last.seq + 1
    prev_hash = GENESIS_HASH if last is None else last.hash
    event = StageEvent(
        review_id=review.id,
        seq=seq,
        transition=transition,
        from_stage=from_stage.value if from_stage else None,
        to_stage=to_stage.value,
        actor_name=actor.name,
        actor_role=actor.role,
        actor_id=_account_id(actor),
        actor_signed_in_with=actor.signed_in_with,
        reason=reason,
        details=details,
        at=at,
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    store_head(session, review)
    return event


class Noted(StrEnum):
    """What a review's history records besides its moves: its stage stays where it is."""

    LEGAL_HOLD = "legal_hold"  # kept whatever its retention says (models/retention.py)
    HOLD_LIFTED = "legal_hold_lifted"
    ERASED = "erased"  # its data key destroyed
    DOCUMENT_DELETED = "document_deleted"  # a restricted document past its retention
    PERSON_CORRECTED = "person_corrected"  # a person's recorded name or date of birth put right


def note(
    session: Session,
    review: Review,
    what: Noted,
    *,
    actor: Actor,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> StageEvent:
    """Record in the review's history something done to it that is not a move: the chain and the head cover it."""
    stage = Stage(review.stage)
    return _append_event(
        session,
        review,
        transition=what,
        from_stage=stage,
        to_stage=stage,
        actor=actor,
        reason=reason,
        details=dict(details or {}),
        at=at or utcnow(),
    )


def record_decision(
    session: Session,
    review: Review,
    kind: DecisionKind,
    outcome: str,
    actor: Actor,
    *,
    round: int = 1,
    reasons: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Decision:
    """Append a decision to the review's audit trail: chained to the review's previous decision."""
    last = session.exec(
        select(Decision).where(Decision.review_id == review.id).order_by(col(Decision.seq).desc()).limit(1)
    ).first()
    row = Decision(
        review_id=review.id,
        kind=kind,
        round=round,
        outcome=outcome,
        actor_name=actor.name,
        actor_role=actor.role,
        actor_id=_account_id(actor),
        actor_signed_in_with=actor.signed_in_with,
        reasons=reasons,
        details=dict(details or {}),
        at=at or utcnow(),
        seq=1 if last is None else last.seq + 1,
        prev_hash=GENESIS_HASH if last is None or not last.hash else last.hash,
    )
    row.hash = decision_hash(row)
    session.add(row)
    session.flush()
    store_head(session, review)
    return row


def _account_id(actor: Actor) -> uuid.UUID | None:
    return None if actor.person_id is None else uuid.UUID(actor.person_id)


def store_head(session: Session, review: Review | uuid.UUID) -> None:
    """Sign the review's audit head again (models.audit.signed_head) and store it. Call it after every change to
    what the head covers: an entry of either chain, the stage, a milestone, a person's record, a stored document.
    Removing the latest entry, or changing any of these outside this code, then shows to ``cspr audit verify``.

    The review's row is locked first, so that two transactions changing one review (a transition and its
    documents being stored) sign in turn, each over what the other committed; ``key_share`` takes the lock a
    transition's own update takes (FOR NO KEY UPDATE), which a row pointing at the review does not wait for."""
    review_id = review if isinstance(review, uuid.UUID) else review.id
    session.flush()
    session.execute(sa.select(col(Review.id)).where(col(Review.id) == review_id).with_for_update(key_share=True))
    session.execute(
        sa.update(Review)
        .where(col(Review.id) == review_id)
        .values(audit_head=signed_head(session, review_id))
        .execution_options(synchronize_session=False)
    )


def enqueue(
    session: Session, review: Review, purpose: str, recipients: Sequence[str], subject: str, body: str = ""
) -> list[Outbox]:
    """Add a message for each recipient unless it is already there (so a replay never sends twice)."""
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


def latest_decision(session: Session, review: Review, kind: DecisionKind) -> tuple[int, Decision | None]:
    """How many decisions of ``kind`` the review has, and the latest of them."""
    rows = session.exec(
        select(Decision).where(Decision.review_id == review.id, Decision.kind == kind).order_by(col(Decision.at))
    ).all()
    return len(rows), (rows[-1] if rows else None)


def deadline_on(session: Session, review: Review, name: Entry) -> dt.date | None:
    """The date of one entry of the review's stored timetable, if it has that entry."""
    row = session.exec(select(Deadline).where(Deadline.review_id == review.id, Deadline.name == name)).first()
    return None if row is None else row.due_on


def history(session: Session, review_id: uuid.UUID) -> list[StageEvent]:
    return list(session.exec(select(StageEvent).where(StageEvent.review_id == review_id).order_by(col(StageEvent.seq))))


# --- milestones and deadlines ---------------------------------------------------------------------------


def set_milestones(
    session: Session, review: Review, milestones: Mapping[Event, dt.date], *, replace: bool = False
) -> None:
    """Record when events happened. A milestone already recorded keeps its first date unless ``replace`` (an
    event that truly happened again, such as a corrected report sent again)."""
    known = {m.event: m for m in session.exec(select(Milestone).where(Milestone.review_id == review.id))}
    changed = False
    for event, on in milestones.items():
        row = known.get(Event(event).value)
        if row is None:
            session.add(Milestone(review_id=review.id, event=Event(event).value, on=on))
            changed = True
        elif replace and row.on != on:
            row.on = on
            session.add(row)
            changed = True
    session.flush()
    if changed:  # the head covers the milestones: deadlines are counted from them
        store_head(session, review)


def milestones_of(session: Session, review_id: uuid.UUID) -> dict[Event, dt.date]:
    rows = session.exec(select(Milestone).where(Milestone.review_id == review_id))
    return {Event(m.event): m.on for m in rows}


def refresh_deadlines(session: Session, review: Review) -> list[Deadline]:
    """Recompute the review's timetable from its pinned edition and milestones, and store it."""
    partnership = session.get(Partnership, review.partnership_id)
    assert partnership is not None
    events = milestones_of(session, review.id)
    edition = rulebook.edition(review.edition)
    entries = edition.timetable(
        events,
        closure_days=tuple(dt.date.fromisoformat(d) for d in partnership.closure_days),
        rapid_review_from=Event(partnership.rapid_review_from),
        applies=edition.applying(rulebook.NotificationKind(review.notification_kind), review.rapid_review_follows),
    )
    stored = {d.name: d for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))}
    now = utcnow()
    kept: list[Deadline] = []
    for entry in entries:
        status, met_on = _status(entry, events)
        row = stored.pop(entry.name, None) or Deadline(
            review_id=review.id, name=entry.name, basis_on=entry.basis_on, due_on=entry.due_on
        )
        row.rule_id = entry.rule.id
        row.title = entry.rule.title
        row.meaning = entry.meaning
        row.kind = entry.rule.kind.value
        row.source = entry.rule.source
        row.basis = entry.basis.value
        row.basis_on = entry.basis_on
        row.due_on = entry.due_on
        row.provisional = entry.provisional
        row.status = status
        row.met_on = met_on
        row.updated_at = now
        session.add(row)
        kept.append(row)
    for stale in stored.values():  # a corrected milestone can make an entry disappear
        session.delete(stale)
    session.flush()
    return kept


@dataclass(frozen=True)
class Recounted:
    """An open deadline counted again with a newer bank holiday list."""

    reference: str
    title: str
    was: dt.date
    now: dt.date
    provisional: bool  # still past the newer list's last year

    @property
    def moved(self) -> bool:
        return self.was != self.now


def recount_open(session: Session) -> list[Recounted]:
    """Count again every open deadline of every open review with the bank holiday list now in use (after ``cspr
    calendar import``): the provisional ones past the old list, and any other a one-off holiday added inside the years
    it covered has moved. What each was and is now, the ones that moved first."""
    reviews = session.exec(
        select(Review)
        .where(col(Review.stage) != Stage.CLOSED)
        .where(col(Review.id).in_(select(Deadline.review_id).where(col(Deadline.status) == DeadlineStatus.OPEN)))
        .order_by(col(Review.reference))
    ).all()
    found: list[Recounted] = []
    for review in reviews:
        before = {
            d.name: d
            for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))
            if d.status == DeadlineStatus.OPEN
        }
        was = {name: d.due_on for name, d in before.items()}
        for row in refresh_deadlines(session, review):
            if row.name in was:
                found.append(Recounted(review.reference, row.title, was[row.name], row.due_on, row.provisional))
    return sorted(found, key=lambda r: (not r.moved, r.reference, r.now))


def _status(entry: rulebook.TimetableEntry, events: Mapping[Event, dt.date]) -> tuple[DeadlineStatus, dt.date | None]:
    rule = entry.rule
    if entry.meaning == "due by":
        # a "within" deadline is met by the rule's end event; a "latest start" one by its start event
        done = rule.to_event if entry.name == rule.id else rule.from_event
        happened = events.get(done)
        if happened is None:
            return DeadlineStatus.OPEN, None
        return (DeadlineStatus.MET if happened <= entry.due_on else DeadlineStatus.MISSED), happened
    happened = events.get(rule.to_event)  # "not before" / "until at least": broken if the end came too early
    if happened is None:
        return DeadlineStatus.OPEN, None
    return (DeadlineStatus.MET if happened >= entry.due_on else DeadlineStatus.MISSED), happened
