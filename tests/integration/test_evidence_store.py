"""Evidence documents in the object store (tasks/evidence.py), on SQLite and PostgreSQL, in a folder and on a real S3
server: stored sealed and opened again; attached once only; one left attached to nothing (its answer refused or never
recorded) is deleted by the deadline sweep after two days, with every version of it, and its row; and a closed
review's evidence goes with its other restricted documents when the retention schedule says (tasks/erasure.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import retention, review_keys, signin
from models.answer_check import item_evidence
from models.db import transaction
from models.process.demo_case import Case
from models.process.step import Refusal
from models.review import lookup, transitions
from models.review.transitions import Actor, Noted
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact
from models.tables import Action, EvidenceDocument, RecommendationSource, Review, utcnow
from models.work import evidence
from models.work.actions import NewAction, record_actions
from tasks.erasure import apply_schedule
from tasks.evidence import open_evidence, purge_unattached, store_evidence
from tasks.storage import LocalStore, ObjectStore, sha256_of
from tests.integration.test_answers import TODAY, record, run_to_end

SCHOOL = DEMO_AGENCY_CONTACTS[0][0]
PDF = b"%PDF-1.4\n(Weekly list of missed appointments.)\n%%EOF\n"


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo people's passwords, hashed cheaply: nobody types them here."""
    monkeypatch.setattr(signin, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def given(session: Session, store: ObjectStore, review: Review, number: int, at: dt.datetime) -> EvidenceDocument:
    """A PDF given as action ``number``'s evidence at ``at``, stored as the checker stores it."""
    document = evidence.examine("weekly-list.pdf", PDF)
    row = evidence.new_document(review, number, document, sha256_of(PDF), uuid.uuid4(), at, uuid.uuid4())
    return store_evidence(session, store, review, row, document)


def an_action(session: Session, review: Review) -> Action:
    new = NewAction("Share missed appointments.", "Share them weekly.", SCHOOL, "Mr Owen Price",
                    TODAY + dt.timedelta(days=60), "A list is shared each week.")  # fmt: skip
    (row,) = record_actions(
        session,
        review,
        [new],
        RecommendationSource.RAPID_REVIEW,
        actor=Actor("Chris Lee", Role.COORDINATOR),
        at=utcnow(),
        today=TODAY,
    )
    return row


def rows(engine: Engine) -> set[uuid.UUID]:
    with Session(engine) as session:
        return {d.id for d in session.exec(select(EvidenceDocument)).all()}


def test_evidence_attached_to_nothing_is_deleted_by_the_sweep_after_two_days(
    engine: Engine, any_store: ObjectStore
) -> None:
    reference = record(engine, Case(today=TODAY, pseudonym="Child Swept Evidence"))
    now = utcnow()
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        action = an_action(session, review)
        old = given(session, any_store, review, action.number, now - dt.timedelta(days=3))
        fresh = given(session, any_store, review, action.number, now - dt.timedelta(days=1))
        kept = given(session, any_store, review, action.number, now - dt.timedelta(days=3))
        evidence.attach(session, review, action, str(kept.id), now)
        with pytest.raises(Refusal, match="attached already"):
            evidence.attach(session, review, action, str(kept.id), now)
        with pytest.raises(Refusal, match="not one uploaded for action"):
            evidence.attach(session, review, action, str(uuid.uuid4()), now)
        sealed = any_store.get(old.object_key)
        assert sealed.startswith(b"cspr-sealed-1") and b"Weekly list" not in sealed
        assert open_evidence(session, any_store, fresh) == PDF
        assert fresh.name == "weekly-list.pdf"  # the ORM opens it; at rest it is sealed:
        stored = session.exec(select(EvidenceDocument.name).where(EvidenceDocument.id == fresh.id)).one()
        assert stored.startswith("c1:")  # a column read alone is not opened
    assert all(any_store.exists(d.object_key) for d in (old, fresh, kept))

    with transaction(engine) as session:
        assert purge_unattached(session, lambda: any_store, now) == 1
    assert any_store.versions(old.object_key) == [] and not any_store.exists(old.object_key)
    assert any_store.exists(fresh.object_key) and any_store.exists(kept.object_key)
    assert rows(engine) == {fresh.id, kept.id}
    with transaction(engine) as session:  # and again: nothing more is due
        assert purge_unattached(session, lambda: any_store, now) == 0


def test_the_sweeps_own_purge_deletes_it_too(tmp_path: Path) -> None:
    from models.db import get_engine, migrate
    from models.seed import seed_demo
    from tasks.sweep_tasks import purge_task_storage  # the sweep's own call, on the default database

    engine = get_engine()
    migrate(engine)
    with transaction(engine) as session:  # the default database is shared: the demo partnership whole
        seed_demo(session)
    store = LocalStore(tmp_path / "objects")
    reference = record(engine, Case(today=TODAY, pseudonym=f"Child {uuid.uuid4().hex[:6]}"))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        old = given(session, store, review, 1, utcnow() - evidence.UNATTACHED_FOR - dt.timedelta(minutes=1))
    assert purge_task_storage(store).evidence >= 1
    assert not store.exists(old.object_key) and old.id not in rows(engine)


def test_a_closed_reviews_evidence_goes_with_its_restricted_documents(engine: Engine, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    reference, _ = run_to_end(engine, Case(today=TODAY, pseudonym="Child Evidence Kept"))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        document = given(session, store, review, 1, utcnow())
        action = an_action(session, review)
        evidence.attach(session, review, action, str(document.id), utcnow())
        action_id = action.id
    with transaction(engine) as session:
        assert document.object_key in restricted_due(session, TODAY + relativedelta(years=1, days=2))
    applied = apply_schedule(TODAY + relativedelta(years=1, days=2), store, runs=False, engine=engine)
    assert document.object_key in applied.documents_deleted and applied.failed == []
    assert store.versions(document.object_key) == [] and document.id not in rows(engine)
    with Session(engine) as session:  # and its action no longer offers a download of it
        assert session.get_one(Action, action_id).evidence_key is None
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        last = transitions.history(session, review.id)[-1]
    assert last.transition == Noted.DOCUMENT_DELETED
    assert last.details["document"] == "evidence" and last.details["evidence_document"] == str(document.id)


def restricted_due(session: Session, day: dt.date) -> list[str]:
    """The object keys of the restricted documents the retention schedule makes due on ``day``."""
    return [d.what for d in retention.due(session, day) if d.kind is retention.RecordKind.RESTRICTED_DOCUMENTS]


def test_an_erased_reviews_evidence_is_not_offered_for_download(engine: Engine, tmp_path: Path) -> None:
    """Its key destroyed, the document cannot be opened: the download says there is none (404), not a fault."""
    reference = record(engine, Case(today=TODAY, pseudonym="Child Erased Evidence"))
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        action = an_action(session, review)
        document = given(session, LocalStore(tmp_path), review, action.number, utcnow())
        evidence.attach(session, review, action, str(document.id), utcnow())
        contact = demo_agency_contact(session, SCHOOL)
        assert item_evidence(session, reference, f"action-{action.number}", contact) == document
        review.erased_on = TODAY
        review_keys.destroy(session, review.id)
        session.flush()
        assert item_evidence(session, reference, f"action-{action.number}", contact) is None
