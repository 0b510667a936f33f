"""The audit trail: how its entries are hashed, and checking it.

Each stage event and each decision of a review is hashed over its content (who acted too: their name, role, account
and how they signed in) and the hash of the entry before it (``event_hash``, ``decision_hash``), and the review
records the heads of both chains hashed together (``audit_head``); ``models/records.py`` writes them. Checking walks
every review's chains from their first entry, recomputes every hash and compares the heads with the review's, so an
edited, inserted or deleted row shows. The register (who may act, models/people.py) has one chain of its own,
``register_event_hash``, walked the same way (it keeps no head yet, so a removed latest entry of the register is not
seen).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from models.tables import Decision, RegisterEvent, Review, StageEvent

GENESIS_HASH = "0" * 64


def _utc(at: dt.datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")


def _digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _signed_in(row: StageEvent | Decision) -> dict[str, str]:
    """Who proved who they are, for the hash: only when recorded, so rows written before people signed in (a typed
    name, no account) hash as they did when they were written, and still verify."""
    person = {"actor_id": row.actor_id, "actor_signed_in_with": row.actor_signed_in_with}
    return {name: str(value) for name, value in person.items() if value is not None}


def decision_hash(row: Decision) -> str:
    return _digest(
        {
            **_signed_in(row),
            "review_id": str(row.review_id),
            "seq": row.seq,
            "kind": row.kind,
            "round": row.round,
            "outcome": row.outcome,
            "actor_name": row.actor_name,
            "actor_role": row.actor_role,
            "reasons": row.reasons,
            "details": row.details,
            "at": _utc(row.at),
            "prev": row.prev_hash,
        }
    )


def event_hash(event: StageEvent) -> str:
    """The audit chain: each event's hash covers its content and the previous event's hash."""
    return _digest(
        {
            **_signed_in(event),
            "review_id": str(event.review_id),
            "seq": event.seq,
            "transition": event.transition,
            "from": event.from_stage,
            "to": event.to_stage,
            "actor_name": event.actor_name,
            "actor_role": event.actor_role,
            "reason": event.reason,
            "details": event.details,
            "at": _utc(event.at),
            "prev": event.prev_hash,
        }
    )


def register_event_hash(event: RegisterEvent) -> str:
    return _digest(
        {
            "seq": event.seq,
            "action": event.action,
            "account_id": str(event.account_id),
            "details": event.details,
            "actor_name": event.actor_name,
            "actor_role": event.actor_role,
            "at": _utc(event.at),
            "prev": event.prev_hash,
        }
    )


HASHES: dict[type, Callable[[Any], str]] = {
    StageEvent: event_hash,
    Decision: decision_hash,
    RegisterEvent: register_event_hash,
}


def audit_head(last_event_hash: str, last_decision_hash: str) -> str:
    return _digest({"events": last_event_hash, "decisions": last_decision_hash})


@dataclass(frozen=True)
class Finding:
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"{self.reference}: {self.problem}"


@dataclass(frozen=True)
class Verified:
    reviews: int
    events: int
    decisions: int
    register_events: int
    findings: list[Finding]


def _walk(
    reference: str, what: str, rows: Sequence[StageEvent | Decision | RegisterEvent]
) -> tuple[list[Finding], str]:
    findings: list[Finding] = []
    previous = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            findings.append(Finding(reference, f"{what} {expected_seq} is missing (the next is {row.seq})"))
        recomputed = HASHES[type(row)](row)
        if row.hash != recomputed:
            findings.append(Finding(reference, f"{what} {row.seq} was changed after it was written"))
        elif row.prev_hash != previous:
            findings.append(Finding(reference, f"{what} {row.seq} does not follow the one before it"))
        previous = row.hash
    return findings, previous


def verify(session: Session) -> Verified:
    findings: list[Finding] = []
    events = decisions = 0
    reviews = session.exec(select(Review).order_by(col(Review.reference))).all()
    for review in reviews:
        chain = session.exec(
            select(StageEvent).where(StageEvent.review_id == review.id).order_by(col(StageEvent.seq))
        ).all()
        made = session.exec(select(Decision).where(Decision.review_id == review.id).order_by(col(Decision.seq))).all()
        found, last_event = _walk(review.reference, "stage event", list(chain))
        findings += found
        found, last_decision = _walk(review.reference, "decision", list(made))
        findings += found
        if review.audit_head != audit_head(last_event, last_decision):
            findings.append(
                Finding(
                    review.reference,
                    "its latest entries do not match the head it recorded: "
                    "an entry was removed or added outside the trail",
                )
            )
        events, decisions = events + len(chain), decisions + len(made)
    register = session.exec(select(RegisterEvent).order_by(col(RegisterEvent.seq))).all()
    findings += _walk("the register", "register entry", list(register))[0]
    return Verified(len(reviews), events, decisions, len(register), findings)
