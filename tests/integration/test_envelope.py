"""Envelope encryption (models/review_keys.py, models/sealing.py), on SQLite and PostgreSQL: each review has its own
data key; names, dates of birth and free text are sealed under it, bound to where they live; an old database is migrated
without loss; destroying a review's key erases it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import audit, master_key, review_keys, sealing
from models.db import alembic_config, current_revision, transaction
from models.review import creation, transitions
from models.review.transitions import Actor
from models.tables import CasePerson, Commission, Decision, DecisionKind, Review, Reviewer, StageEvent
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership

COORDINATOR = Actor("Chris Lee", "coordinator")
AT = dt.datetime(2026, 12, 18, 10, 0, tzinfo=dt.UTC)
SECOND_NAME = "Ottoline Marchbanks-Adeyemi"  # invented, like the planted one


def two_reviews(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """Two reviews, each with a child, a decision whose free text names the first child, and terms of reference."""
    ids = []
    with transaction(engine) as session:
        make_partnership(session)
        reviewer = Reviewer(name="Sam Reviewer", organisation="Independent")
        session.add(reviewer)
        for aware_on, name in ((dt.date(2026, 12, 18), PLANTED_NAME), (dt.date(2026, 12, 21), SECOND_NAME)):
            review, _ = creation.create_review(
                session, incident(aware_on=aware_on, name=name), actor=COORDINATOR, at=AT
            )
            transitions.record_decision(
                session,
                review,
                DecisionKind.RAPID_REVIEW,
                "recommend_lcspr",
                COORDINATOR,
                reasons=f"{name} was seen twice at school",
                details={"facts": f"{name} lived with her aunt", "completed_on": "2026-12-20", "themes": ["neglect"]},
                at=AT,
            )
            session.add(
                Commission(
                    review_id=review.id,
                    reviewer_id=reviewer.id,
                    terms_of_reference=f"How agencies worked with {name}",
                    commissioned_on=dt.date(2026, 12, 30),
                )
            )
            ids.append(review.id)
    return ids[0], ids[1]


def raw_dump(engine: Engine, *tables: str) -> str:
    with engine.connect() as conn:
        return " ".join(str(v) for t in tables for row in conn.execute(sa.text(f"SELECT * FROM {t}")) for v in row)


def test_names_dates_of_birth_and_free_text_are_sealed_and_read_back(engine: Engine) -> None:
    first, second = two_reviews(engine)
    dump = raw_dump(engine, "case_person", "decision", "stage_event", "commission", "outbox")
    for secret in (PLANTED_NAME, SECOND_NAME, PLANTED_DOB.isoformat(), "seen twice", "her aunt", "How agencies"):
        assert secret not in dump
    assert "2026-12-20" in dump and "neglect" in dump  # dates and themes stay readable: the report counts them
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT review_id, wrapped, wrapped_by FROM review_key")).all()
    assert len(keys) == 2 and {k.wrapped_by for k in keys} == {"local"} and keys[0].wrapped != keys[1].wrapped
    with Session(engine) as session:
        person = session.exec(select(CasePerson).where(CasePerson.review_id == first)).one()
        decision = session.exec(select(Decision).where(Decision.review_id == first)).one()
        terms = session.exec(select(Commission).where(Commission.review_id == second)).one()
    assert (person.name, person.date_of_birth) == (PLANTED_NAME, PLANTED_DOB.isoformat())
    assert decision.reasons == f"{PLANTED_NAME} was seen twice at school"
    assert decision.details == {
        "facts": f"{PLANTED_NAME} lived with her aunt",
        "completed_on": "2026-12-20",
        "themes": ["neglect"],
    }
    assert terms.terms_of_reference == f"How agencies worked with {SECOND_NAME}"
    with transaction(engine) as session:  # and the audit trail's hashes, over the plain values, still hold
        assert audit.verify(session).findings == []


@pytest.mark.parametrize(
    ("table", "column", "other_review"),
    [
        ("case_person", "name", True),  # another review's child's name
        ("decision", "reasons", True),
        ("commission", "terms_of_reference", True),
        ("case_person", "date_of_birth", False),  # the same review, another column of the same row
    ],
)
def test_a_value_copied_elsewhere_fails_to_decrypt(engine: Engine, table: str, column: str, other_review: bool) -> None:
    first, second = two_reviews(engine)
    source_column = column if other_review else "name"
    source_review = first
    with engine.begin() as conn:
        value = conn.execute(
            sa.text(f"SELECT {source_column} FROM {table} WHERE review_id = :r"), {"r": _id(engine, source_review)}
        ).scalar_one()
        target = second if other_review else first
        conn.execute(
            sa.text(f"UPDATE {table} SET {column} = :v WHERE review_id = :r"), {"v": value, "r": _id(engine, target)}
        )
    cls = {"case_person": CasePerson, "decision": Decision, "commission": Commission}[table]
    with (
        Session(engine) as session,
        pytest.raises(master_key.DecryptionError, match="copied from another row or review"),
    ):
        session.exec(select(cls).where(cls.review_id == (second if other_review else first))).all()  # type: ignore[attr-defined]


def _id(engine: Engine, review_id: uuid.UUID) -> str:
    """How the dialect stores a UUID, for a raw statement."""
    return review_id.hex if engine.dialect.name == "sqlite" else str(review_id)


def test_an_existing_database_is_migrated_without_loss(engine: Engine) -> None:
    """A database of the version before (names under the master key, free text in the clear) is migrated to a data
    key per review, and reads back exactly as it was; and back again."""
    first, _ = two_reviews(engine)
    with Session(engine) as session:
        before = _everything(session)
    head = current_revision(engine)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with engine.connect() as conn:  # the old shape: names under the master key, free text plain
        name = conn.execute(sa.text("SELECT name FROM case_person WHERE review_id = :r"), {"r": _id(engine, first)})
        reasons = conn.execute(sa.text("SELECT reasons FROM decision WHERE review_id = :r"), {"r": _id(engine, first)})
        assert master_key.decrypt(name.scalar_one()) == PLANTED_NAME
        assert reasons.scalar_one() == f"{PLANTED_NAME} was seen twice at school"
        assert not sa.inspect(conn).has_table("review_key")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert current_revision(engine) == head
    review_keys._UNWRAPPED.clear()
    with Session(engine) as session:
        assert _everything(session) == before
    assert PLANTED_NAME not in raw_dump(engine, "case_person", "decision", "commission")
    with transaction(engine) as session:
        assert audit.verify(session).findings == []


def _everything(session: Session) -> list[object]:
    rows: list[object] = []
    for cls in (CasePerson, Decision, StageEvent, Commission):
        for row in session.exec(select(cls).order_by(cls.id)):  # type: ignore[attr-defined]
            rows.append({k: v for k, v in row.model_dump().items() if k != "created_at"})
    return rows


def test_destroying_a_reviews_key_erases_its_sealed_values_and_only_its_own(engine: Engine) -> None:
    first, second = two_reviews(engine)
    with transaction(engine) as session:
        assert review_keys.destroy(session, first)
        assert not review_keys.destroy(session, first)  # once
    with Session(engine) as session:
        person = session.exec(select(CasePerson).where(CasePerson.review_id == first)).one()
        decision = session.exec(select(Decision).where(Decision.review_id == first)).one()
        other = session.exec(select(CasePerson).where(CasePerson.review_id == second)).one()
        review = session.get_one(Review, first)
    assert (person.name, person.date_of_birth, decision.reasons) == (None, None, None)
    assert decision.details == {"facts": None, "completed_on": "2026-12-20", "themes": ["neglect"]}
    assert person.pseudonym == "Child Q" and review.reference  # what was never personal stays
    assert other.name == SECOND_NAME
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.text("SELECT wrapped FROM review_key WHERE review_id = :r"), {"r": _id(engine, first)}
        )
        assert wrapped.scalar_one() is None


def test_a_sealed_document_opens_only_where_it_was_stored_and_sealing_it_again_gives_the_same_bytes() -> None:
    key, review_id = os.urandom(32), uuid.uuid4()
    pdf = b"%PDF-1.7 " + PLANTED_NAME.encode()
    sealed = sealing.seal_document(key, "restricted/CSPR-2026-0001/rapid-review/v1.pdf", review_id, pdf)
    assert sealing.is_sealed_document(sealed) and PLANTED_NAME.encode() not in sealed
    assert sealing.seal_document(key, "restricted/CSPR-2026-0001/rapid-review/v1.pdf", review_id, pdf) == sealed
    assert sealing.seal_document(key, "restricted/CSPR-2026-0001/rapid-review/v1.pdf", review_id, pdf + b" ") != sealed
    assert sealing.open_document(key, "restricted/CSPR-2026-0001/rapid-review/v1.pdf", review_id, sealed) == pdf
    with pytest.raises(master_key.DecryptionError, match="changed or moved"):
        sealing.open_document(key, "restricted/CSPR-2026-0002/rapid-review/v1.pdf", review_id, sealed)
    with pytest.raises(master_key.DecryptionError, match="changed or moved"):
        sealing.open_document(key, "restricted/CSPR-2026-0001/rapid-review/v1.pdf", uuid.uuid4(), sealed)


def test_a_savepoint_rolled_back_leaves_no_key_behind_that_was_never_stored(engine: Engine) -> None:
    """A review's first sealed value makes its key; if that is rolled back (a refused answer's savepoint), the next
    sealed value must make a key that is stored, not reuse the one that went with the rollback."""
    with transaction(engine) as session:
        make_partnership(session)
        unknown = incident(name=None)  # notified before the child's identity was known: nothing to seal yet
        unknown = dataclasses.replace(unknown, children=[dataclasses.replace(unknown.children[0], date_of_birth=None)])
        review, _ = creation.create_review(session, unknown, actor=COORDINATOR, at=AT)
        assert review_keys.key_row(session, review.id) is None
        savepoint = session.begin_nested()
        transitions.record_decision(session, review, DecisionKind.SIGN_OFF, "sent_back", COORDINATOR, reasons="first")
        savepoint.rollback()
        transitions.record_decision(session, review, DecisionKind.SIGN_OFF, "sent_back", COORDINATOR, reasons="second")
        review_id = review.id
    with Session(engine) as session:
        assert [d.reasons for d in session.exec(select(Decision).where(Decision.review_id == review_id))] == ["second"]
