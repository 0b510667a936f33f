"""Checking the audit trail: every review's stage events and decisions, each chain walked from its first entry,
every hash recomputed, and the heads compared with the review's, so an edited, inserted or deleted row shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.records import GENESIS_HASH, audit_head, decision_hash, event_hash
from models.tables import Decision, Review, StageEvent


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
    findings: list[Finding]


def _walk(reference: str, what: str, rows: Sequence[StageEvent | Decision]) -> tuple[list[Finding], str]:
    findings: list[Finding] = []
    previous = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            findings.append(Finding(reference, f"{what} {expected_seq} is missing (the next is {row.seq})"))
        recomputed = event_hash(row) if isinstance(row, StageEvent) else decision_hash(row)
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
        chain = session.exec(select(StageEvent).where(StageEvent.review_id == review.id)
                             .order_by(col(StageEvent.seq))).all()  # fmt: skip
        made = session.exec(select(Decision).where(Decision.review_id == review.id)
                            .order_by(col(Decision.seq))).all()  # fmt: skip
        found, last_event = _walk(review.reference, "stage event", list(chain))
        findings += found
        found, last_decision = _walk(review.reference, "decision", list(made))
        findings += found
        if review.audit_head != audit_head(last_event, last_decision):
            findings.append(Finding(review.reference, "its latest entries do not match the head it recorded: "
                                                      "an entry was removed or added outside the trail"))  # fmt: skip
        events, decisions = events + len(chain), decisions + len(made)
    return Verified(len(reviews), events, decisions, findings)
