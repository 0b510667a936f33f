"""Retention (models/retention.py, tasks/erasure.py), on SQLite and PostgreSQL: a review past its period is erased by
destroying its data key (its names unreadable, and not in the database's bytes, nor its WAL, nor the object store),
its audit trail stays and records the erasure; its restricted documents go with every version; a review under legal
hold is kept; a dry run changes nothing; a mistyped name is corrected, audited, and checked by the redaction gate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.demo import Case
from cli.main import app
from models import audit, documents, retention
from models.audit import verify
from models.corrections import CorrectionRefused, correct_person
from models.db import get_engine, migrate, transaction
from models.documents import known_people
from models.retention import RecordKind
from models.review import lookup, transitions
from models.review.transitions import Actor, Noted
from models.tables import CasePerson, Decision, Report, Review, StageEvent
from tasks.archive import restricted_key
from tasks.erasure import apply_schedule, delete_every_version
from tasks.pdf import render_pdf
from tasks.redaction import find_personal_data
from tasks.storage import LocalStore, ObjectStore, S3Store
from tests.integration.test_answers import TODAY, run_to_end

CHILD = "Isembard Fairweather-Quist"  # invented
MOTHER = "Philippa Fairweather"  # invented
OPERATOR = Actor("an operator", "operator")
LONG_AFTER = TODAY + relativedelta(years=36)  # past the case records' 35 years from closure


def closed_case(engine: Engine, pseudonym: str = "Child Retain") -> str:
    reference, _ = run_to_end(engine, Case(today=TODAY, child_name=CHILD, family_name=MOTHER, pseudonym=pseudonym))
    return reference


def with_a_restricted_document(engine: Engine, store: ObjectStore, reference: str) -> str:
    key = restricted_key(reference, "rapid-review", 9)
    store.put(key, b"%PDF-1.4 rapid review of " + CHILD.encode(), content_type="application/pdf")
    store.put(key, b"%PDF-1.4 rapid review, second version", content_type="application/pdf")
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        session.add(Report(review_id=review.id, kind="rapid-review", version=9, object_key=key, sha256="0" * 64))
        audit.store_head(session, review)
    return key


def raw_bytes(engine: Engine) -> bytes:
    """Everything the database holds, as bytes: its files (and WAL) on SQLite, every table's text on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names()]
        return b" ".join(str(row).encode() for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"')))


def file_bytes(engine: Engine, table: str) -> bytes:
    """The bytes of the files that hold ``table``, as the disk has them: the SQLite file and its WAL, or the table's
    files in PostgreSQL's data directory (this machine's server; written out by a checkpoint first)."""
    if engine.dialect.name == "sqlite":
        return raw_bytes(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
        path = conn.execute(
            sa.text("SELECT current_setting('data_directory') || '/' || pg_relation_filepath(:t)"), {"t": table}
        ).scalar_one()
    return b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*"))


def wrapped_key(engine: Engine, reference: str) -> bytes:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.text(
                    "SELECT k.wrapped FROM review_key k JOIN review r ON r.id = k.review_id WHERE r.reference = :r"
                ),
                {"r": reference},
            )
            .scalar_one()
            .encode()
        )


def test_the_schedule_gives_every_kind_of_record_a_period_and_a_source() -> None:
    periods = retention.schedule()
    assert set(periods) == set(RecordKind)
    assert periods[RecordKind.CASE_RECORDS].years == 35 and periods[RecordKind.CASE_RECORDS].choice
    assert periods[RecordKind.PUBLISHED_REPORTS].kept_for_good
    assert all(p.source for p in periods.values())
    assert periods[RecordKind.RUN_HISTORY].describe() == "90 days after the run ended"
    assert periods[RecordKind.RESTRICTED_DOCUMENTS].describe() == "1 year after the review closed"


def test_a_dry_run_lists_what_is_due_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    reference = closed_case(engine)
    with transaction(engine) as session:
        assert retention.due(session, TODAY) == []  # just closed: nothing due
        due = retention.due(session, LONG_AFTER)
    assert [(d.kind, d.reference, d.what) for d in due] == [(RecordKind.CASE_RECORDS, reference, "its data key")]
    assert due[0].due_on == due[0].since + relativedelta(years=35) + dt.timedelta(days=1)
    with Session(engine) as session:
        assert session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Retain")).one().name == CHILD


def test_erasure_destroys_the_names_and_keeps_the_audit_trail(engine: Engine, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    reference = closed_case(engine)
    kept = closed_case(engine, "Child Kept")
    key = with_a_restricted_document(engine, store, reference)
    with transaction(engine) as session:
        retention.hold(session, lookup.review_by_reference(session, kept), reason="a coroner's inquest", by=OPERATOR)
    assert CHILD.encode() in store.get(key) or store.versions(key)
    destroyed = wrapped_key(engine, reference)
    assert destroyed in file_bytes(engine, "review_key")  # the control: on disk before
    applied = apply_schedule(LONG_AFTER, store, runs=False, engine=engine)
    assert applied.erased == [reference] and applied.held == [kept] and applied.documents_deleted == [key]
    assert applied.purged and applied.failed == []
    assert destroyed not in file_bytes(engine, "review_key")  # not only unreachable: gone from the files
    assert store.versions(key) == []
    with Session(engine) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        people = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).all()
        decisions = session.exec(select(Decision).where(Decision.review_id == review.id)).all()
        last = session.exec(
            select(StageEvent).where(StageEvent.review_id == review.id).order_by(sa.desc(StageEvent.seq))  # type: ignore[arg-type]
        ).first()
        held = session.exec(select(Review).where(Review.reference == kept)).one()
        held_names = {p.name for p in session.exec(select(CasePerson).where(CasePerson.review_id == held.id))}
    assert review.erased_on == LONG_AFTER and {p.name for p in people} == {None}
    assert {p.pseudonym for p in people} >= {"Child Retain"}  # what was never personal stays
    assert decisions and all(d.reasons is None for d in decisions)
    assert last is not None and last.transition == Noted.ERASED and last.to_stage == "closed"
    assert held.erased_on is None and CHILD in held_names  # the held review is untouched
    with transaction(engine) as session:
        assert verify(session).findings == []  # the trail of the erased review still holds together
    dump = raw_bytes(engine)  # the file, its WAL and its shared memory on SQLite
    assert CHILD.encode() not in dump and MOTHER.encode() not in dump
    # and again: nothing more is due for it
    with transaction(engine) as session:
        assert [d.reference for d in retention.due(session, LONG_AFTER) if not d.held] == []


def test_a_held_review_cannot_be_erased_and_a_hold_needs_a_reason(engine: Engine) -> None:
    reference = closed_case(engine)
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        with pytest.raises(ValueError, match="say why"):
            retention.hold(session, review, reason=" ", by=OPERATOR)
        retention.hold(session, review, reason="a civil claim", by=OPERATOR)
        with pytest.raises(ValueError, match="under legal hold"):
            retention.erase(session, review, LONG_AFTER)
        retention.hold(session, review, reason="the claim settled", by=OPERATOR, lift=True)
        events = [e.transition for e in transitions.history(session, review.id)]
    assert events[-2:] == [Noted.LEGAL_HOLD, Noted.HOLD_LIFTED]


def test_a_restricted_document_goes_with_every_s3_version(s3_endpoint: str, tmp_path: Path) -> None:
    store = S3Store(f"cspr-retention-{tmp_path.name[-8:].lower()}".replace("_", "-"))
    key = "reviews/cspr-2026-0099/rapid-review/v1.pdf"
    for text in (b"first", b"second", b"third"):
        store.put(key, b"%PDF-1.4 " + text, content_type="application/pdf")
    assert len(store.versions(key)) == 3
    delete_every_version(store, key)
    assert store.versions(key) == [] and not store.exists(key)


def test_a_mistyped_name_is_corrected_audited_and_checked_by_the_redaction_gate(engine: Engine) -> None:
    reference = closed_case(engine)
    corrected = "Isambard Fairweather-Quist"
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        with pytest.raises(CorrectionRefused, match="recorded already"):
            correct_person(session, review, "Child Retain", name=CHILD, by=OPERATOR)
        with pytest.raises(CorrectionRefused, match="no one recorded as 'Child Z'"):
            correct_person(session, review, "Child Z", name=corrected, by=OPERATOR)
        correct_person(session, review, "child retain", name=corrected, by=OPERATOR)
        last = transitions.history(session, review.id)[-1]
        people = known_people(session, review)
        spec = documents.final_report(session, review)
    assert last.transition == Noted.PERSON_CORRECTED
    assert last.details == {"person": "Child Retain", "corrected": ["name"]}  # which, never the values
    assert corrected in {p.name for p in people}
    spec.context["draft"] = {**spec.context["draft"], "summary": f"{corrected} was known to services."}
    findings = [str(f) for f in find_personal_data(render_pdf(spec.template, spec.context).pdf, people)]
    assert findings and all("Child Retain" in f and corrected not in f for f in findings)
    spec.context["draft"] = {**spec.context["draft"], "summary": f"{CHILD} was known to services."}  # the old one
    findings = [str(f) for f in find_personal_data(render_pdf(spec.template, spec.context).pdf, people)]
    assert any("a name formerly recorded of Child Retain" in f for f in findings)
    assert all(CHILD not in f for f in findings)
    with transaction(engine) as session:
        assert verify(session).findings == []


def test_cspr_person_correct_asks_for_the_name_and_says_what_it_did(tmp_path: Path) -> None:
    migrate(get_engine())
    reference = closed_case(get_engine(), "Child Prompt")
    runner = CliRunner()
    refused = runner.invoke(app, ["person", "correct", reference, "Child Nobody"], input="A Name\n\n")
    assert refused.exit_code == 2 and "no one recorded as 'Child Nobody'" in refused.output
    done = runner.invoke(app, ["person", "correct", reference, "Child Prompt"], input="\n2019-05-18\n")
    assert done.exit_code == 0, done.output
    assert "Child Prompt's record corrected" in done.output and "2019-05-18" not in done.output.split("\n")[-2]
    with Session(get_engine()) as session:
        person = session.exec(select(CasePerson).where(CasePerson.pseudonym == "Child Prompt")).one()
    assert person.date_of_birth == "2019-05-18" and person.name == CHILD
    dry = runner.invoke(app, ["retention", "--dry-run", "--as-of", LONG_AFTER.isoformat()])
    assert dry.exit_code == 0 and reference in dry.output and "dry run" in dry.output
    ahead = runner.invoke(app, ["retention", "--as-of", LONG_AFTER.isoformat()])  # erasing ahead of time: refused
    assert ahead.exit_code == 2 and "is still to come" in " ".join(ahead.output.split())
    with Session(get_engine()) as session:
        assert session.exec(select(Review).where(Review.reference == reference)).one().erased_on is None
