"""The audit trail: every stage event and decision hash-chained per review, with who acted; `cspr audit verify`
finds an edited, a deleted and an inserted row, a history rewritten with its hashes made again (the head is signed
with a key the database does not hold), a change to what the chains do not hold (stage, milestones, people,
documents), and, through the anchor in the object store, a history rewritten by someone who holds the key as well
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.demo import Case
from cli.main import app
from models import audit
from models.audit import GENESIS_HASH, HASHES, StoredAnchor, read_anchor, verify
from models.db import alembic_config, migrate, transaction
from models.documents import DocumentKind, DocumentSpec
from models.review import lookup
from models.settings import get_settings
from models.tables import Action, Decision, RegisterEvent, Review, StageEvent, utcnow
from models.work import evidence
from tasks import archive
from tasks.anchors import ANCHOR_RETENTION_YEARS, latest_anchor, write_anchor
from tasks.storage import LocalStore, ObjectStore, RetentionError, S3Store
from tests.integration.test_answers import TODAY, record, run_to_end
from tests.integration.test_evidence_store import an_action, given


def closed_review(engine: Engine) -> str:
    reference, _ = run_to_end(engine, Case(today=TODAY))
    return reference


def findings(engine: Engine, anchor: StoredAnchor | None = None) -> list[str]:
    with Session(engine) as session:
        return [str(f) for f in verify(session, anchor).findings]


def sql(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(statement))


def test_an_untouched_trail_verifies(engine: Engine) -> None:
    closed_review(engine)
    with Session(engine) as session:
        result = verify(session)
    assert result.findings == [] and result.reviews == 1
    assert result.events == 12 and result.decisions == 11  # a local review, notification to closure


TAMPERING: list[tuple[str, Callable[[str], str], str]] = [
    (
        "an edited decision",
        lambda r: "UPDATE decision SET outcome = 'no_review' WHERE seq = 3",
        "decision 3 was changed after it was written",
    ),
    (
        "an edited stage event",
        lambda r: "UPDATE stage_event SET actor_name = 'Someone Else' WHERE seq = 2",
        "stage event 2 was changed after it was written",
    ),
    (
        "how the signer signed in, rewritten",
        lambda r: "UPDATE decision SET actor_signed_in_with = 'password+totp' WHERE seq = 2",
        "decision 2 was changed after it was written",
    ),
    (
        "the signer's account taken away",
        lambda r: "UPDATE stage_event SET actor_id = NULL WHERE seq = 3",
        "stage event 3 was changed after it was written",
    ),
    ("a deleted stage event", lambda r: "DELETE FROM stage_event WHERE seq = 4", "stage event 4 is missing"),
    (
        "the latest decision deleted",
        lambda r: "DELETE FROM decision WHERE seq = (SELECT max(seq) FROM decision)",
        "no longer match its signed head",
    ),
]


@pytest.mark.parametrize(("what", "statement", "expected"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_found(engine: Engine, what: str, statement: Callable[[str], str], expected: str) -> None:
    reference = closed_review(engine)
    sql(engine, statement(reference))
    assert any(f.startswith(reference) and expected in f for f in findings(engine)), findings(engine)


def test_an_entry_written_before_people_signed_in_hashes_as_it_did_then(engine: Engine) -> None:
    """Entries from before migration 0004 carry no account and no way of signing in; their hashes, made without
    either, still verify (the review's creation here has no account either: the caller named who recorded it)."""
    closed_review(engine)
    with Session(engine) as session:
        created = session.exec(select(StageEvent).where(StageEvent.seq == 1)).one()
        signed = session.exec(select(StageEvent).where(StageEvent.seq == 2)).one()
    assert created.actor_id is None and created.actor_signed_in_with is None
    as_written_before = {  # models/audit.py's event_hash before people signed in
        "review_id": str(created.review_id),
        "seq": created.seq,
        "transition": created.transition,
        "from": created.from_stage,
        "to": created.to_stage,
        "actor_name": created.actor_name,
        "actor_role": created.actor_role,
        "reason": created.reason,
        "details": created.details,
        "at": created.at.replace(tzinfo=created.at.tzinfo or dt.UTC)
        .astimezone(dt.UTC)
        .isoformat(timespec="microseconds"),
        "prev": created.prev_hash,
    }
    assert (
        created.hash == hashlib.sha256(json.dumps(as_written_before, sort_keys=True, default=str).encode()).hexdigest()
    )
    assert signed.actor_id is not None and signed.actor_signed_in_with == "password"  # the demo coordinator
    assert findings(engine) == []


def test_a_decision_inserted_outside_the_trail_is_found(engine: Engine) -> None:
    reference = closed_review(engine)
    with engine.begin() as connection:
        review_id = connection.execute(sa.text("SELECT id FROM review")).scalar_one()
        top = connection.execute(sa.text("SELECT max(seq) FROM decision")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO decision (id, review_id, kind, round, outcome, actor_name, actor_role, details, at, "
                "seq, prev_hash, hash) VALUES (:id, :review, 'sign_off', 9, 'signed', 'Someone', 'police', '{}', "
                "'2026-01-01 00:00:00', :seq, '', '')"
            ),
            {
                "id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else str(uuid.uuid4()),
                "review": review_id,
                "seq": top + 1,
            },
        )
    assert any(reference in f and "changed after it was written" in f for f in findings(engine))


def test_cspr_audit_verify_exits_1_on_tampering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        from models.db import get_engine

        closed_review(get_engine())
        unanchored = runner.invoke(app, ["audit", "verify"])
        assert unanchored.exit_code == 0 and "No anchor yet" in unanchored.output
        anchored = runner.invoke(app, ["audit", "anchor"])
        assert anchored.exit_code == 0 and "Anchored 1 review(s) and the register as audit/anchors/" in anchored.output
        intact = runner.invoke(app, ["audit", "verify"])
        assert intact.exit_code == 0 and "the trail is intact" in intact.output
        assert "Checked against the anchor of " in intact.output
        sql(get_engine(), "UPDATE decision SET reasons = 'rewritten' WHERE seq = 1")
        tampered = runner.invoke(app, ["audit", "verify"])
        assert tampered.exit_code == 1 and "1 problem(s)" in tampered.output
    finally:
        get_settings.cache_clear()


# --- what someone who can write the database does ---------------------------------------------------------------

Chained = type[StageEvent] | type[Decision] | type[RegisterEvent]


def rewrite(engine: Engine, table: Chained, seq: int, change: Callable[[Any], None]) -> None:
    """Change an entry, then hash it and every entry after it again, each linked to the one before, exactly as the
    code writes them: the chain alone then holds together."""
    with transaction(engine) as session:
        rows: list[Any] = list(session.exec(select(table).order_by(col(table.seq))).all())
        previous = GENESIS_HASH
        for row in rows:
            if row.seq == seq:
                change(row)
            if row.seq >= seq:
                row.prev_hash = previous
                row.hash = HASHES[table](row)
                session.add(row)
            previous = row.hash


def sign_heads_again(engine: Engine) -> None:
    """What ``store_head`` does after each change, done by whoever holds the audit key."""
    with transaction(engine) as session:
        for review_id in session.exec(select(Review.id)).all():
            audit.store_head(session, review_id)


def sha256_head(engine: Engine) -> None:
    """The head as it was made before it was signed: a SHA-256 anyone can compute."""
    with transaction(engine) as session:
        for review in session.exec(select(Review)).all():
            newest = [
                session.exec(
                    select(table.hash).where(table.review_id == review.id).order_by(col(table.seq).desc())
                ).first()
                or GENESIS_HASH
                for table in (StageEvent, Decision)
            ]
            content = {"events": newest[0], "decisions": newest[1]}
            review.audit_head = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
            session.add(review)


def signed_with_a_guessed_key(engine: Engine) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSPR_AUDIT_KEY", "a key the attacker made up")
        get_settings.cache_clear()
        try:
            sign_heads_again(engine)
        finally:
            get_settings.cache_clear()


HEAD_MADE_AGAIN: dict[str, Callable[[Engine], None]] = {
    "its head hashed as before": sha256_head,
    "its head signed with a guessed key": signed_with_a_guessed_key,
}


@pytest.mark.parametrize("head", HEAD_MADE_AGAIN.values(), ids=HEAD_MADE_AGAIN.keys())
@pytest.mark.parametrize(
    ("table", "seq", "change"),
    [
        (Decision, 3, lambda row: setattr(row, "outcome", "no_review")),
        (StageEvent, 2, lambda row: setattr(row, "actor_name", "Someone Else")),
    ],
    ids=["a decision", "a stage event"],
)
def test_a_history_rewritten_with_its_hashes_made_again_is_found(
    engine: Engine, table: Chained, seq: int, change: Callable[[Any], None], head: Callable[[Engine], None]
) -> None:
    reference = closed_review(engine)
    rewrite(engine, table, seq, change)
    head(engine)
    assert [f for f in findings(engine) if f.startswith(reference)] == [f"{reference}: {HEAD_MISMATCH}"]


HEAD_MISMATCH = (
    "its history, stage, milestones, people's records or documents' checksums no longer match its signed head: "
    "something was changed, added or removed outside the trail, or CSPR_AUDIT_KEY is not the key it was signed with"
)

OUTSIDE_THE_CHAINS = {
    "its stage": "UPDATE review SET stage = 'awaiting_publication'",
    "a milestone's date": """UPDATE milestone SET "on" = '2020-01-02' WHERE event = 'aware_on'""",
    "a milestone removed": "DELETE FROM milestone WHERE event = 'published_on'",
    "a person's pseudonym": "UPDATE case_person SET pseudonym = 'Child Z' WHERE kind = 'child'",
    "a person's age band": "UPDATE case_person SET age_band = '16-17'",
    "a legal hold placed": "UPDATE review SET legal_hold = true",
}


@pytest.mark.parametrize("statement", OUTSIDE_THE_CHAINS.values(), ids=OUTSIDE_THE_CHAINS.keys())
def test_a_change_to_what_the_chains_do_not_hold_is_found(engine: Engine, statement: str) -> None:
    reference = closed_review(engine)
    sql(engine, statement)
    assert f"{reference}: {HEAD_MISMATCH}" in findings(engine)


def test_a_documents_checksum_changed_is_found(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = closed_review(engine)
    monkeypatch.setattr(archive, "_pdf", lambda spec: b"%PDF-1.7 the rapid review record")  # nothing to draw here
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        spec = DocumentSpec(DocumentKind.RAPID_REVIEW, 1, "rapid_review.html", {})
        key = archive.restricted_key(reference, spec.kind, spec.version)
        archive._store(session, LocalStore(tmp_path), review, spec, key, kind=spec.kind, version=1)
    assert findings(engine) == []  # storing the document signed the head again
    sql(engine, f"UPDATE report SET sha256 = '{'0' * 64}'")
    assert findings(engine) == [f"{reference}: {HEAD_MISMATCH}"]


def test_an_attached_evidence_documents_checksum_is_under_the_head_from_migration_0015(
    engine: Engine, tmp_path: Path
) -> None:
    """Given with an answer not recorded, a document is no part of the record; attached, its checksum is signed."""
    reference = record(engine, Case(today=TODAY, pseudonym="Child Evidence Head"))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        action = an_action(session, review)
        document = given(session, LocalStore(tmp_path), review, action.number, utcnow())
    assert findings(engine) == []  # not attached: the head is as it was
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        evidence.attach(session, review, session.get_one(Action, action.id), str(document.id), utcnow())
        audit.store_head(session, review)  # as the answer's note in the history does
    assert findings(engine) == []
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0014")  # signed again as before: without it, which this code finds
    assert findings(engine) == [f"{reference}: {HEAD_MISMATCH}"]
    migrate(engine)
    assert findings(engine) == []
    sql(engine, f"UPDATE evidence_document SET sha256 = '{'0' * 64}'")
    assert findings(engine) == [f"{reference}: {HEAD_MISMATCH}"]


def test_a_stage_that_is_not_where_the_history_left_it_is_found(engine: Engine) -> None:
    """Even by someone who signs the head again with the key: every stage move is an event."""
    reference = closed_review(engine)
    sql(engine, "UPDATE review SET stage = 'awaiting_publication'")
    sign_heads_again(engine)
    assert findings(engine) == [
        f"{reference}: its stage (awaiting_publication) is not where its history left it (closed)"
    ]


# --- the anchors ------------------------------------------------------------------------------------------------

ANCHORED_REWRITES: dict[str, tuple[Chained, int, Callable[[Any], None], str]] = {
    "a decision": (Decision, 3, lambda row: setattr(row, "outcome", "no_review"), "decision 11 is not the one"),
    "a stage event": (StageEvent, 2, lambda row: setattr(row, "actor_name", "Someone Else"), "stage event 12 is not"),
    "the register": (RegisterEvent, 1, lambda row: setattr(row, "actor_name", "Nobody"), "register entry"),
}


@pytest.mark.parametrize(("table", "seq", "change", "expected"), ANCHORED_REWRITES.values(), ids=ANCHORED_REWRITES)
def test_a_rewrite_by_someone_with_the_key_is_found_by_the_anchor(
    engine: Engine, tmp_path: Path, table: Chained, seq: int, change: Callable[[Any], None], expected: str
) -> None:
    """Someone who holds the audit key but cannot reach the object store: every hash and head made again, and the
    database alone holds together; the anchor written before still pins the rows."""
    reference = closed_review(engine)
    store = LocalStore(tmp_path)
    write_anchor(store, engine=engine)
    rewrite(engine, table, seq, change)
    sign_heads_again(engine)
    assert findings(engine) == []  # what the anchor is for
    found = findings(engine, latest_anchor(store))
    who = "the register" if table is RegisterEvent else reference
    assert len(found) == 1 and found[0].startswith(f"{who}: {expected}") and "was rewritten" in found[0], found


def test_a_review_missing_since_the_anchor_is_found(engine: Engine, tmp_path: Path) -> None:
    reference = closed_review(engine)
    store = LocalStore(tmp_path)
    write_anchor(store, engine=engine)
    sql(engine, "UPDATE review SET reference = 'CSPR-2099-0001'")
    found = findings(engine, latest_anchor(store))
    assert len(found) == 1 and found[0].startswith(f"{reference}: it is in the anchor of ")
    assert found[0].endswith("but no longer in the database")


def test_an_anchor_not_signed_with_the_key_is_found(engine: Engine, tmp_path: Path) -> None:
    """A newer anchor put beside the real ones, to pin a rewritten history: without the key it cannot be signed."""
    closed_review(engine)
    store = LocalStore(tmp_path)
    anchored = write_anchor(store, engine=engine)
    forged = json.loads(store.get(anchored.key))
    forged["reviews"][0]["decisions"]["hash"] = "f" * 64
    store.put(
        "audit/anchors/29991231T000000.000000Z.json", json.dumps(forged).encode(), content_type="application/json"
    )
    assert findings(engine, latest_anchor(store)) == [
        "the anchor log: the latest anchor (audit/anchors/29991231T000000.000000Z.json) is not signed with the audit "
        "key: it was not written by cspr, it was changed, or CSPR_AUDIT_KEY is not the key it was written with"
    ]


def test_an_anchor_holds_every_review_and_no_name(engine: Engine, tmp_path: Path) -> None:
    reference = closed_review(engine)
    store = LocalStore(tmp_path)
    anchored = write_anchor(store, engine=engine)
    assert anchored.key.startswith("audit/anchors/") and anchored.reviews == 1
    stored = latest_anchor(store)
    assert stored is not None and stored.name == anchored.key
    anchor = read_anchor(stored)
    assert [r.reference for r in anchor.reviews] == [reference]
    assert (anchor.reviews[0].events.seq, anchor.reviews[0].decisions.seq) == (12, 11)
    assert anchor.register_entry.seq > 0
    assert Case().child_name.encode() not in stored.data and b"Child Q" not in stored.data


def test_an_anchor_cannot_be_deleted_before_its_retention_date(engine: Engine, any_store: ObjectStore) -> None:
    anchored = write_anchor(any_store, engine=engine)
    assert anchored.locked
    assert anchored.retain_until.year == dt.datetime.now(dt.UTC).year + ANCHOR_RETENTION_YEARS
    version = any_store.versions(anchored.key)[0]
    with pytest.raises(RetentionError):
        any_store.delete(anchored.key, version_id=version)
    if isinstance(any_store, S3Store):  # the server itself refuses, whoever asks
        head = any_store.client.head_object(Bucket=any_store.bucket, Key=any_store._key(anchored.key))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        with pytest.raises(Exception, match=r"AccessDenied|locked|retention|Forbidden|InvalidRequest"):
            any_store.client.delete_object(Bucket=any_store.bucket, Key=any_store._key(anchored.key), VersionId=version)
        # a delete without a version only hides it behind a delete marker: the anchor is still read
        any_store.client.delete_object(Bucket=any_store.bucket, Key=any_store._key(anchored.key))
    else:
        with pytest.raises(RetentionError):  # nor replaced
            any_store.put(anchored.key, b"{}", content_type="application/json")
    stored = latest_anchor(any_store)
    assert stored is not None and stored.name == anchored.key and read_anchor(stored).reviews == []


# --- an erased review ---------------------------------------------------------------------------------------------


def erase(engine: Engine) -> None:
    """What erasure leaves (models/retention.py's business, not built here): the review marked erased, its people's
    values unreadable, its entries' content gone; then its head signed again, as recording the erasure does."""
    for statement in (
        f"UPDATE review SET erased_on = '{TODAY.isoformat()}'",
        "UPDATE case_person SET name = 'unreadable', date_of_birth = 'unreadable', characteristics = 'unreadable'",
        "UPDATE stage_event SET reason = NULL, details = '{}'",
        "UPDATE decision SET reasons = NULL, details = '{}'",
    ):
        sql(engine, statement)
    sign_heads_again(engine)


def test_an_erased_review_still_verifies(engine: Engine, tmp_path: Path) -> None:
    reference = closed_review(engine)
    store = LocalStore(tmp_path)
    write_anchor(store, engine=engine)
    erase(engine)
    assert findings(engine, latest_anchor(store)) == []
    sql(
        engine, "UPDATE case_person SET pseudonym = 'Child Z' WHERE kind = 'child'"
    )  # what is left of its records is still covered
    assert findings(engine) == [f"{reference}: {HEAD_MISMATCH}"]


def test_an_erased_reviews_chains_are_still_linked(engine: Engine) -> None:
    reference = closed_review(engine)
    erase(engine)
    sql(engine, "DELETE FROM stage_event WHERE seq = 4")
    assert f"{reference}: stage event 4 is missing (the next is 5)" in findings(engine)


def test_marking_a_review_erased_needs_the_key(engine: Engine) -> None:
    """Erased, a review's entries are checked by their links alone; so the mark is under the signed head."""
    reference = closed_review(engine)
    sql(engine, f"UPDATE review SET erased_on = '{TODAY.isoformat()}'")
    assert findings(engine) == [f"{reference}: {HEAD_MISMATCH}"]


# --- migration 0009 -------------------------------------------------------------------------------------------------


def test_the_migration_signs_every_head(engine: Engine) -> None:
    """Before 0009 a head was a SHA-256 of the chains' newest hashes; the migration signs them all, and going back
    puts the old ones back. (Only the columns 0008 had are read: the models have columns added since.)"""
    closed_review(engine)
    heads = sa.select(col(Review.id), col(Review.audit_head))
    with Session(engine) as session:
        signed = {review_id: head for review_id, head in session.execute(heads).all()}
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0008")
    with Session(engine) as session:
        downgraded = {review_id: head for review_id, head in session.execute(heads).all()}
        assert downgraded.keys() == signed.keys()  # the head of before, exactly: a SHA-256 of the chains' newest hashes
        for review_id, head in downgraded.items():
            newest = [
                session.exec(
                    select(table.hash).where(table.review_id == review_id).order_by(col(table.seq).desc())
                ).first()
                or GENESIS_HASH
                for table in (StageEvent, Decision)
            ]
            content = {"events": newest[0], "decisions": newest[1]}
            assert head == hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest() != signed[review_id]
    migrate(engine)
    assert findings(engine) == []
