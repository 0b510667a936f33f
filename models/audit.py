"""The audit trail: how its entries are hashed, each review's signed head, the anchors, and checking it all.

Each stage event and each decision of a review is hashed over its content (who acted too: their name, role, account
and how they signed in) and the hash of the entry before it (``event_hash``, ``decision_hash``). The register (who may
act, models/people.py) has one chain of its own, ``register_event_hash``. How an entry joins its chain, and how a
chain is walked, is models/chain.py's.

A review's head (``Review.audit_head``, ``signed_head``) is an HMAC, with the audit key (models/system_credentials.py,
never in the database), over the newest entry of both chains and what the chains do not hold: the review's stage, its
milestones, its people's records (their names too, decrypted: they enter only through the HMAC, so no plain hash of a
name is stored anywhere), its stored documents' checksums and its actions' attached evidence documents'.
``store_head`` stores it whenever one of them changes. Someone who can write the database but lacks the key can edit a
row and recompute every hash after it, but not the head.

An anchor (``anchor``) records every review's newest entries and head, and the register's newest entry, signed with
the key. tasks/anchors.py writes one to the object store, under retention, at the end of each deadline sweep (and on
``cspr audit anchor``). Someone who holds the key as well, but cannot reach the object store, can rewrite a history
and sign its head again, but not the rows an anchor pinned.

``verify`` walks every chain and recomputes every hash and head, and checks the rows at the places the latest anchor
pinned. A review that was erased (``Review.erased_on``: its data key destroyed, so its encrypted values read as
nothing) keeps its history without its content: its entries cannot be hashed again, so its chains are checked by
their links alone (each entry's number, and its ``prev_hash`` against the stored hash before it), and its head is
signed over its people's records without their values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from models.chain import GENESIS_HASH, Unopened, follows, walk
from models.master_key import DecryptionError
from models.system_credentials import audit_key
from models.tables import (
    CasePerson,
    Decision,
    EvidenceDocument,
    Milestone,
    RegisterEvent,
    Report,
    Review,
    StageEvent,
)

# what each HMAC signs, written into what it signs: a head can never pass for an anchor, nor the other way round
HEAD_PURPOSE = b"cspr audit head v1"
ANCHOR_PURPOSE = b"cspr audit anchor v1"
ANCHOR_FORMAT = 1
ANCHOR_LOG = "the anchor log"  # how a finding about the anchors themselves names what it is about


def _utc(at: dt.datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")


def _digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _sign(purpose: bytes, content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(audit_key().encode(), purpose + b"\n" + canonical, hashlib.sha256).hexdigest()


def _signed_in(row: StageEvent | Decision) -> dict[str, str]:
    """Who proved who they are, for the hash: only when recorded, so rows written before people signed in (a typed
    name, no account) hash as they did when they were written, and still verify."""
    person = {"actor_id": row.actor_id, "actor_signed_in_with": row.actor_signed_in_with}
    return {name: str(value) for name, value in person.items() if value is not None}


def _entry(row: StageEvent | Decision | RegisterEvent) -> dict[str, Any]:
    """What every entry's hash covers: its place, who acted, its details, when, and the hash before it."""
    return {
        "seq": row.seq,
        "actor_name": row.actor_name,
        "actor_role": row.actor_role,
        "details": row.details,
        "at": _utc(row.at),
        "prev": row.prev_hash,
    }


def _review_entry(row: StageEvent | Decision) -> dict[str, Any]:
    """What the hash of an entry of a review's chains covers besides: the review, and how the actor signed in."""
    return {**_entry(row), **_signed_in(row), "review_id": str(row.review_id)}


def decision_hash(row: Decision) -> str:
    return _digest(
        {**_review_entry(row), "kind": row.kind, "round": row.round, "outcome": row.outcome, "reasons": row.reasons}
    )


def event_hash(event: StageEvent) -> str:
    """The audit chain: each event's hash covers its content and the previous event's hash."""
    return _digest(
        {
            **_review_entry(event),
            "transition": event.transition,
            "from": event.from_stage,
            "to": event.to_stage,
            "reason": event.reason,
        }
    )


def register_event_hash(event: RegisterEvent) -> str:
    return _digest({**_entry(event), "action": event.action, "account_id": str(event.account_id)})


HASHES: dict[type, Callable[[Any], str]] = {
    StageEvent: event_hash,
    Decision: decision_hash,
    RegisterEvent: register_event_hash,
}


# --- the signed head ----------------------------------------------------------------------------------------


class ChainEnd(BaseModel):
    """The newest entry of a chain: its number and stored hash (0 and the genesis hash for an empty chain)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    hash: str = GENESIS_HASH


def _newest(session: Session, table: type[StageEvent] | type[Decision], review_id: uuid.UUID | None = None) -> Any:
    """The newest entry of the chain ``table`` of one review (``review_id``) or of every review: rows of
    (review_id, seq, hash), one query whatever their number."""
    per_review: Any = sa.select(col(table.review_id).label("review_id"), sa.func.max(col(table.seq)).label("seq"))
    if review_id is not None:
        per_review = per_review.where(col(table.review_id) == review_id)
    newest = per_review.group_by(col(table.review_id)).subquery()
    return session.execute(
        sa.select(col(table.review_id), col(table.seq), col(table.hash)).join(
            newest, sa.and_(col(table.review_id) == newest.c.review_id, col(table.seq) == newest.c.seq)
        )
    ).all()


def _chain_end(session: Session, table: type[StageEvent] | type[Decision], review_id: uuid.UUID) -> str:
    """The hash the review's next entry of the chain ``table`` will follow (models/chain.py's rule: GENESIS_HASH for
    an empty chain, or one of decisions from before decisions were chained)."""
    rows = _newest(session, table, review_id)
    return follows(rows[0] if rows else None)[1]


# A migration that signs heads through this code names the schema it runs at in its session's ``info`` under
# SIGNING_AT: the models hold columns added by later migrations, which that schema has not got yet.
SIGNING_AT = "cspr.audit.signing_at"
OLDER_SCHEMAS = frozenset({"0009"})
BEFORE_EVIDENCE = frozenset({"0009", "0014"})  # heads signed without evidence documents: 0015 brought them under
PEOPLE_AT_0009 = (
    "review_id",
    "kind",
    "pseudonym",
    "age_band",
    "relationship",
    "name",
    "date_of_birth",
    "characteristics",
    "former_names",
)


def _people(session: Session, review_id: uuid.UUID, *, erased: bool) -> list[dict[str, str | None]]:
    """Each person's record as the ORM reads it (names decrypted). An erased review's values cannot be read any
    more, and are left out: its head covers the rest of each record."""
    if erased:
        rows = session.execute(
            sa.select(
                col(CasePerson.id),
                col(CasePerson.kind),
                col(CasePerson.pseudonym),
                col(CasePerson.age_band),
                col(CasePerson.relationship),
            ).where(col(CasePerson.review_id) == review_id)
        ).all()
        records = [
            {
                "id": str(row.id),
                "kind": row.kind,
                "pseudonym": row.pseudonym,
                "age_band": row.age_band,
                "relationship": row.relationship,
            }
            for row in rows
        ]
    else:
        # read afresh: a record loaded earlier in this transaction may have been changed since by another one
        query = select(CasePerson).where(CasePerson.review_id == review_id).execution_options(populate_existing=True)
        older = session.info.get(SIGNING_AT) in OLDER_SCHEMAS
        if older:  # migration 0009 signs before the later columns exist: it reads only the ones the head covered then
            query = query.options(load_only(*(getattr(CasePerson, name) for name in PEOPLE_AT_0009)))
        people = session.exec(query).all()
        records = [
            {
                "id": str(person.id),
                "kind": person.kind,
                "pseudonym": person.pseudonym,
                "age_band": person.age_band,
                "relationship": person.relationship,
                "name": person.name,
                "date_of_birth": person.date_of_birth,
                "characteristics": person.characteristics,
                **({"former_names": person.former_names} if person.former_names else {}),
                # kept since 0012: in the head only where set, so the heads signed before it still hold. (The order
                # children were listed in is not covered: migration 0012 numbered existing ones after signing.)
                **({"expected_on": person.expected_on} if not older and person.expected_on else {}),
            }
            for person in people
        ]
    return sorted(records, key=lambda record: str(record["id"]))


def signed_head(session: Session, review_id: uuid.UUID) -> str:
    """The review's audit head, as stored in the database now (flush first): an HMAC with the audit key over the
    newest stage event's and decision's hashes, the stage, whether and when it was erased, its legal hold, the
    milestones, the people's records, the documents' checksums and the attached evidence documents'. 64 hex
    characters. May raise ``DecryptionError`` when a person's record of a review not erased cannot be read."""
    stage, erased_on, held = session.execute(
        sa.select(col(Review.stage), col(Review.erased_on), col(Review.legal_hold)).where(col(Review.id) == review_id)
    ).one()
    milestones = session.execute(
        sa.select(col(Milestone.event), col(Milestone.on)).where(col(Milestone.review_id) == review_id)
    ).all()
    reports = session.execute(
        sa.select(col(Report.kind), col(Report.version), col(Report.sha256)).where(col(Report.review_id) == review_id)
    ).all()
    evidence = _evidence(session, review_id)
    return _sign(
        HEAD_PURPOSE,
        {
            "events": _chain_end(session, StageEvent, review_id),
            "decisions": _chain_end(session, Decision, review_id),
            "stage": stage,
            # in the head, so that marking a review erased (which checks less of it) needs the key
            "erased_on": erased_on.isoformat() if erased_on else None,
            "legal_hold": bool(held),  # so that lifting a hold (and so allowing erasure) needs the key too
            "milestones": sorted([event, on.isoformat()] for event, on in milestones),
            "people": _people(session, review_id, erased=erased_on is not None),
            "reports": sorted([kind, version, sha256] for kind, version, sha256 in reports),
            # only when there is any: the heads signed before evidence documents existed stay good as they are
            **({"evidence": evidence} if evidence else {}),
        },
    )


def _evidence(session: Session, review_id: uuid.UUID) -> list[list[str]]:
    """The evidence documents attached to the review's actions, each as its id, action and checksum: part of the
    review's record from when its answer is recorded. One given with an answer that was not recorded is not (the
    sweep deletes it); nor any when a migration signs as a revision before 0015 did (``BEFORE_EVIDENCE``)."""
    if session.info.get(SIGNING_AT) in BEFORE_EVIDENCE:
        return []
    rows = session.execute(
        sa.select(col(EvidenceDocument.id), col(EvidenceDocument.action_number), col(EvidenceDocument.sha256)).where(
            col(EvidenceDocument.review_id) == review_id, col(EvidenceDocument.action_id).is_not(None)
        )
    ).all()
    return sorted([str(document), str(number), sha256] for document, number, sha256 in rows)


def store_head(session: Session, review: Review | uuid.UUID) -> None:
    """Sign the review's audit head again (``signed_head``) and store it. Call it after every change to what the head
    covers: an entry of either chain, the stage, a milestone, a person's record, a stored document. Removing the
    latest entry, or changing any of these outside this code, then shows to ``cspr audit verify``.

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


# --- anchors ------------------------------------------------------------------------------------------------


class AnchoredReview(BaseModel):
    reference: str
    events: ChainEnd
    decisions: ChainEnd
    head: str  # the signed head it had then: what an investigator compares a backup with


class Anchor(BaseModel):
    """Where every chain stood at a moment. Signed (HMAC with the audit key) as written; see ``read_anchor``."""

    format: int
    at: dt.datetime
    reviews: list[AnchoredReview]
    register_entry: ChainEnd  # the register's newest entry

    @property
    def when(self) -> str:
        return f"{self.at.astimezone(dt.UTC):%d %B %Y at %H:%M} UTC"


def anchor(session: Session, at: dt.datetime) -> bytes:
    """The anchor of the whole trail as it stands: for every review its newest stage event and decision (number and
    hash) and its signed head, and the register's newest entry; the time; all signed with the audit key. JSON, to
    store as it is. A few queries whatever the number of reviews."""
    events = {row.review_id: ChainEnd(seq=row.seq, hash=row.hash) for row in _newest(session, StageEvent)}
    decisions = {row.review_id: ChainEnd(seq=row.seq, hash=row.hash) for row in _newest(session, Decision)}
    reviews = session.execute(
        sa.select(col(Review.id), col(Review.reference), col(Review.audit_head)).order_by(col(Review.reference))
    ).all()
    register = session.execute(
        sa.select(col(RegisterEvent.seq), col(RegisterEvent.hash)).order_by(col(RegisterEvent.seq).desc()).limit(1)
    ).first()
    content = Anchor(
        format=ANCHOR_FORMAT,
        at=at,
        reviews=[
            AnchoredReview(
                reference=reference,
                events=events.get(review_id, ChainEnd()),
                decisions=decisions.get(review_id, ChainEnd()),
                head=head,
            )
            for review_id, reference, head in reviews
        ],
        register_entry=ChainEnd(seq=register.seq, hash=register.hash) if register else ChainEnd(),
    ).model_dump(mode="json")
    return json.dumps({**content, "signature": _sign(ANCHOR_PURPOSE, content)}, sort_keys=True).encode()


@dataclass(frozen=True)
class StoredAnchor:
    """An anchor as read back from the object store: its key there, and its bytes."""

    name: str
    data: bytes


class BadAnchor(ValueError):
    """An anchor that cannot be trusted: unreadable, or not signed with the audit key. ``str()`` says which."""


def read_anchor(stored: StoredAnchor) -> Anchor:
    """The anchor, once its signature is checked against the audit key; ``BadAnchor`` otherwise."""
    try:
        content = json.loads(stored.data)
        signature = content.pop("signature")
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise BadAnchor(f"the latest anchor ({stored.name}) cannot be read: it is not an anchor cspr wrote") from exc
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _sign(ANCHOR_PURPOSE, content)):
        raise BadAnchor(
            f"the latest anchor ({stored.name}) is not signed with the audit key: it was not written by cspr, it was "
            "changed, or CSPR_AUDIT_KEY is not the key it was written with"
        )
    try:
        return Anchor.model_validate(content)
    except ValidationError as exc:
        raise BadAnchor(f"the latest anchor ({stored.name}) is signed but not in a form this cspr reads") from exc


# --- checking -----------------------------------------------------------------------------------------------


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
    anchor: Anchor | None = None  # the anchor the trail was checked against, if there was one to trust
    anchor_name: str | None = None


@dataclass
class _Chains:
    """The stored hashes of a review's entries, by number: what the anchor's places are looked up in."""

    events: dict[int, str] = field(default_factory=dict)
    decisions: dict[int, str] = field(default_factory=dict)


Chained = TypeVar("Chained", StageEvent, Decision)  # a review's two chains


def _entries(session: Session, table: type[Chained], review_id: uuid.UUID) -> list[Chained | Unopened]:
    """A review's chain, in order."""
    where = col(table.review_id) == review_id
    try:
        return list(session.exec(select(table).where(where).order_by(col(table.seq))).all())
    except DecryptionError:
        pass
    # an entry does not open: read them one at a time, to say which, and walk the chain all the same
    entries: list[Chained | Unopened] = []
    stored = sa.select(col(table.id), col(table.seq), col(table.prev_hash), col(table.hash))
    for row_id, seq, prev_hash, hash_ in session.execute(stored.where(where).order_by(col(table.seq))).all():
        try:
            entries.append(session.get_one(table, row_id, populate_existing=True))
        except DecryptionError:
            entries.append(Unopened(seq, prev_hash, hash_))
    return entries


Walked = TypeVar("Walked", StageEvent, Decision, RegisterEvent)


def _walk(
    reference: str, what: str, rows: Sequence[Walked | Unopened], hashed: Callable[[Walked], str] | None
) -> list[Finding]:
    """One chain walked (models/chain.py), each break a finding: ``hashed`` None for an erased review's entries,
    which have lost their content and are checked by their links alone."""
    return [Finding(reference, f"{what} {b.seq} {b.problem}") for b in walk(rows, hashed)]


def _check_head(session: Session, review: Review) -> list[Finding]:
    try:
        head = signed_head(session, review.id)
    except DecryptionError as exc:
        return [Finding(review.reference, f"a person's record cannot be read, so its head cannot be checked ({exc})")]
    if hmac.compare_digest(review.audit_head, head):
        return []
    return [
        Finding(
            review.reference,
            "its history, stage, milestones, people's records or documents' checksums no longer match its signed "
            "head: something was changed, added or removed outside the trail, or CSPR_AUDIT_KEY is not the key it "
            "was signed with",
        )
    ]


def _check_stage(session: Session, review: Review) -> list[Finding]:
    """Every stage move is an event, so the review stands where its newest event left it."""
    left_at = session.exec(
        select(StageEvent.to_stage).where(StageEvent.review_id == review.id).order_by(col(StageEvent.seq).desc())
    ).first()
    if left_at is None or review.stage == left_at:
        return []
    return [Finding(review.reference, f"its stage ({review.stage}) is not where its history left it ({left_at})")]


def _pinned(reference: str, what: str, end: ChainEnd, stored: Mapping[int, str], when: str) -> list[Finding]:
    if end.seq == 0:  # the chain was empty then
        return []
    if end.seq not in stored:
        return [Finding(reference, f"{what} {end.seq}, anchored on {when}, is gone")]
    if stored[end.seq] != end.hash:
        return [
            Finding(
                reference,
                f"{what} {end.seq} is not the one anchored on {when}: its history up to then was rewritten",
            )
        ]
    return []


def _check_anchor(anchored: Anchor, chains: Mapping[str, _Chains], register: Mapping[int, str]) -> list[Finding]:
    """The rows at the places the anchor pinned still carry the hashes it recorded: a history rewritten before it,
    even with every hash and the head made again with the key, shows."""
    when = anchored.when
    findings: list[Finding] = []
    for review in anchored.reviews:
        here = chains.get(review.reference)
        if here is None:
            findings.append(Finding(review.reference, f"it is in the anchor of {when} but no longer in the database"))
            continue
        findings += _pinned(review.reference, "stage event", review.events, here.events, when)
        findings += _pinned(review.reference, "decision", review.decisions, here.decisions, when)
    return findings + _pinned("the register", "register entry", anchored.register_entry, register, when)


def verify(session: Session, anchor: StoredAnchor | None = None) -> Verified:
    """Check every review's chains and signed head, the register's chain and, given the latest anchor, every place
    it pinned. Each problem is a finding in words for an operator; nothing is changed."""
    findings: list[Finding] = []
    chains: dict[str, _Chains] = {}
    events = decisions = 0
    reviews = session.exec(select(Review).order_by(col(Review.reference))).all()
    for review in reviews:
        chain = _entries(session, StageEvent, review.id)
        made = _entries(session, Decision, review.id)
        erased = review.erased_on is not None
        findings += _walk(review.reference, "stage event", chain, None if erased else event_hash)
        findings += _walk(review.reference, "decision", made, None if erased else decision_hash)
        findings += _check_stage(session, review)
        findings += _check_head(session, review)
        chains[review.reference] = _Chains({e.seq: e.hash for e in chain}, {d.seq: d.hash for d in made})
        events, decisions = events + len(chain), decisions + len(made)
    register = session.exec(select(RegisterEvent).order_by(col(RegisterEvent.seq))).all()
    findings += _walk("the register", "register entry", register, register_event_hash)
    trusted: Anchor | None = None
    if anchor is not None:
        try:
            trusted = read_anchor(anchor)
        except BadAnchor as exc:
            findings.append(Finding(ANCHOR_LOG, str(exc)))
        else:
            findings += _check_anchor(trusted, chains, {r.seq: r.hash for r in register})
    return Verified(
        len(reviews),
        events,
        decisions,
        len(register),
        findings,
        trusted,
        anchor.name if anchor is not None else None,
    )
