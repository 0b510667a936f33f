"""Documents through the lifecycle: every stage's document kept, the redaction gate refusing a report that names
the child, and the same review on S3."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from cli.demo import Case, review_state
from cli.system import LocalSystem
from models import documents
from models.audit import verify
from models.db import get_engine
from models.process.steps.review_under_way import DRAFT
from models.review.lookup import review_by_reference
from models.stages import Stage
from tasks.archive import read_document, stored_documents
from tasks.redaction import find_personal_data
from tasks.storage import S3Store, open_store
from tests.utils import inprocess

KINDS = {
    "notification-summary",
    "rapid-review",
    "decision-letter",
    "terms-of-reference",
    "draft-report",
    "final-report",
    "published-final-report",
}


def people(reference: str) -> list[documents.KnownPerson]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        return documents.known_people(session, review)


def check_documents(reference: str) -> None:
    reports = stored_documents(reference)
    assert {r.kind for r in reports} == KINDS
    store = open_store()
    for report in reports:
        assert reference in report.object_key and "Ashcombe" not in report.object_key
        pdf = read_document(report, store)  # checksum verified, and opened with the review's key if sealed
        assert pdf.startswith(b"%PDF")
        stored = store.get(report.object_key)  # restricted documents are sealed in the store; published ones are not
        assert stored.startswith(b"%PDF") is report.published and (stored == pdf) is report.published
    published = [r for r in reports if r.published]
    assert [r.object_key for r in published] == [f"published/{reference}/final-report.pdf"]
    assert published[0].retain_until is not None
    assert find_personal_data(read_document(published[0], store), people(reference)) == []
    with Session(get_engine()) as session:  # each document stored signed the review's head again
        assert [str(f) for f in verify(session).findings if f.reference == reference] == []


def test_a_local_review_keeps_every_document_and_publishes_one(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Docs")
    reference, _ = inprocess.notify(case)
    assert inprocess.drive(reference, case) == []
    check_documents(reference)


def test_the_same_review_on_s3(deployed: LocalSystem, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPR_STORAGE_URL", f"s3://cspr-{uuid.uuid4().hex[:8]}/reviews")
    case = Case(pseudonym="Child Cloud")
    reference, _ = inprocess.notify(case)
    assert inprocess.drive(reference, case) == []
    check_documents(reference)
    store = open_store()
    assert isinstance(store, S3Store) and store.supports_retention
    head = store.client.head_object(Bucket=store.bucket, Key=store._key(f"published/{reference}/final-report.pdf"))
    assert head["ServerSideEncryption"] == "AES256" and head.get("ObjectLockMode") == "COMPLIANCE"


def test_the_gate_refuses_a_report_that_names_the_child_and_publishes_the_corrected_one(
    deployed: LocalSystem,
) -> None:
    case = Case(pseudonym="Child Gate")
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.REVIEW_UNDER_WAY)
    leaky = {
        **case.answer(Stage.REVIEW_UNDER_WAY),
        "update": "draft report submitted",
        "request": "",
        **DRAFT,
        "summary": f"{case.child_name} was seen by the GP twice.",
    }
    inprocess.give(reference, leaky)
    for stage in (Stage.QUALITY_ASSURANCE, Stage.REPORT_APPROVED):
        inprocess.give(reference, case.answer(stage))
    inprocess.give(reference, case.answer(Stage.AWAITING_PUBLICATION))
    state = review_state(reference)
    assert state.stage is Stage.AWAITING_PUBLICATION
    assert state.refusal is not None and "the name of Child Gate appears in page" in state.refusal
    assert case.child_name not in state.refusal
    assert not [r for r in stored_documents(reference) if r.published], "nothing was published"
    # the coordinator returns it for correction; the corrected report goes round again and is published
    inprocess.give(
        reference,
        {
            "decision": "return the report to the reviewer for correction",
            "reasons": "The summary names the child.",
        },
    )
    assert review_state(reference).stage is Stage.REVIEW_UNDER_WAY
    assert inprocess.drive(reference, case) == []
    published = [r for r in stored_documents(reference) if r.published]
    assert len(published) == 1
    assert find_personal_data(read_document(published[0]), people(reference)) == []
