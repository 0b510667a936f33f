"""The audit trail: every stage event and decision hash-chained per review, with who acted; `cspr audit verify`
finds an edited, a deleted and an inserted row (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.demo import Case
from cli.main import app
from models.audit import verify
from models.settings import get_settings
from models.tables import StageEvent
from tests.integration.test_answers import TODAY, run_to_end


def closed_review(engine: Engine) -> str:
    reference, _ = run_to_end(engine, Case(today=TODAY))
    return reference


def findings(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [str(f) for f in verify(session).findings]


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
        "its latest entries do not match the head it recorded",
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
        intact = runner.invoke(app, ["audit", "verify"])
        assert intact.exit_code == 0 and "the trail is intact" in intact.output
        sql(get_engine(), "UPDATE decision SET reasons = 'rewritten' WHERE seq = 1")
        tampered = runner.invoke(app, ["audit", "verify"])
        assert tampered.exit_code == 1 and "1 problem(s)" in tampered.output
    finally:
        get_settings.cache_clear()
