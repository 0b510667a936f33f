"""The three hash chains (models/chain.py): a review's stage events, its decisions and the register's history are
appended by one rule and walked by one rule. An edit to an entry of any of them is found by `cspr audit verify`; the
first entry is the one numbered 1, and only it follows the genesis hash (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import verify
from models.chain import GENESIS_HASH, Break, ChainEntry, Unopened, follows, walk
from models.db import transaction
from models.people import add_person
from models.review.creation import create_review
from models.review.lookup import review_by_reference
from models.review.transitions import Actor, Noted, note, record_decision
from models.roles import Role
from models.tables import Decision, DecisionKind
from tests.utils.factories import incident, make_partnership

COORDINATOR = Actor("Chris Lee", "coordinator")
OPERATOR = Actor("an operator (command line)", Role.OPERATOR)
AT = dt.datetime(2026, 12, 18, 10, 0, tzinfo=dt.UTC)


def trail(engine: Engine) -> str:
    """A review with three stage events and two decisions, and a register of two entries, all intact."""
    with transaction(engine) as session:
        make_partnership(session)
        review, _ = create_review(session, incident(), actor=COORDINATOR, at=AT)
        note(session, review, Noted.LEGAL_HOLD, actor=OPERATOR, reason="an inquest", at=AT)
        note(session, review, Noted.HOLD_LIFTED, actor=OPERATOR, reason="the inquest is over", at=AT)
        record_decision(session, review, DecisionKind.DRAFT, "received", COORDINATOR, at=AT)
        record_decision(session, review, DecisionKind.QUALITY_ASSURANCE, "approved", COORDINATOR, at=AT)
        for name, email, role in [
            ("Dana Okafor", "dana.okafor@northshire-police.example", Role.POLICE),
            ("Jo Evans-Ward", "jo@northshire-icb.example", Role.HEALTH),
        ]:
            add_person(
                session,
                name=name,
                email=email,
                role=role,
                partnership_code="northshire",
                organisation="Northshire",
                by=OPERATOR,
                at=AT,
            )
        reference = review.reference
    assert findings(engine) == []
    return reference


def findings(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [str(f) for f in verify(session).findings]


def sql(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(statement))


EDITS = {
    "a stage event": (
        "UPDATE stage_event SET actor_name = 'Someone Else' WHERE seq = 2",
        "{reference}: stage event 2 was changed after it was written",
    ),
    "a decision": (
        "UPDATE decision SET outcome = 'rejected' WHERE seq = 1",
        "{reference}: decision 1 was changed after it was written",
    ),
    "the register": (
        "UPDATE register_event SET actor_name = 'Someone Else' WHERE seq = 1",
        "the register: register entry 1 was changed after it was written",
    ),
}


@pytest.mark.parametrize(("statement", "found"), EDITS.values(), ids=EDITS.keys())
def test_an_edit_to_each_chain_is_found(engine: Engine, statement: str, found: str) -> None:
    reference = trail(engine)
    sql(engine, statement)
    assert findings(engine) == [found.format(reference=reference)]


def test_the_first_entry_is_number_1_and_only_it_follows_the_genesis_hash() -> None:
    assert follows(None) == (1, GENESIS_HASH)
    # decisions recorded before decisions were chained (migration 0002: number 0, no hash) stand before the chain
    assert follows(Unopened(0, "", "")) == (1, GENESIS_HASH)
    # after the first, an entry follows the stored hash as it is, an empty one too: the walk is what finds that
    assert follows(Unopened(3, "a" * 64, "")) == (4, "")
    first = ChainEntry(seq=1, prev_hash=GENESIS_HASH, hash="b" * 64)
    second = ChainEntry(seq=2, prev_hash="b" * 64, hash="c" * 64)
    assert walk([first, second], None) == []
    nothing_before = ChainEntry(seq=1, prev_hash="", hash="b" * 64)
    assert walk([nothing_before, second], None) == [Break(1, "does not follow the one before it")]


def test_a_decision_after_the_ones_from_before_the_chain_is_its_first(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
        review, _ = create_review(session, incident(), actor=COORDINATOR, at=AT)
        reference = review.reference
    with engine.begin() as connection:  # a decision as migration 0002 left the ones recorded before it
        review_id = connection.execute(sa.text("SELECT id FROM review")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO decision (id, review_id, kind, round, outcome, actor_name, actor_role, details, at, "
                "seq, prev_hash, hash) VALUES (:id, :review, 'rapid_review', 1, 'local_review', 'Chris Lee', "
                "'coordinator', '{}', '2026-12-01 00:00:00', 0, '', '')"
            ),
            {"id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else str(uuid.uuid4()), "review": review_id},
        )
    with transaction(engine) as session:
        made = record_decision(
            session, review_by_reference(session, reference), DecisionKind.DRAFT, "received", COORDINATOR
        )
        assert (made.seq, made.prev_hash) == (1, GENESIS_HASH)
    # the old decision itself is outside the trail, and reported; the first chained one follows as the append wrote it
    assert not any("decision" in f and "does not follow" in f for f in findings(engine))


def test_an_emptied_hash_does_not_start_the_chain_again(engine: Engine) -> None:
    reference = trail(engine)
    sql(engine, "UPDATE decision SET hash = '' WHERE seq = 2")
    with transaction(engine) as session:
        made = record_decision(
            session, review_by_reference(session, reference), DecisionKind.PUBLICATION, "published", COORDINATOR
        )
        assert (made.seq, made.prev_hash) == (3, "")
    assert findings(engine) == [f"{reference}: decision 2 was changed after it was written"]
    with Session(engine) as session:
        assert session.exec(select(Decision.seq).order_by(col(Decision.seq))).all() == [1, 2, 3]


def test_a_stage_no_step_has_written_into_the_database_is_found_not_fatal(engine: Engine) -> None:
    """An enumerated column reads a value no member has as the string it is: verify reports the row."""
    reference = trail(engine)
    sql(engine, "UPDATE review SET stage = 'nowhere'")
    found = findings(engine)
    assert f"{reference}: its stage (nowhere) is not where its history left it (incident_recorded)" in found
    assert any(f.startswith(f"{reference}: its history, stage, milestones") for f in found)
