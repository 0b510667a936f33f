"""Faults through the lifecycle, against real components: the S3 server stops just as a review is published."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, select

from cli.demo import Case, review_state
from cli.seaweed import SeaweedS3
from cli.system import LocalSystem
from flows.deadline_sweep import deadline_sweep
from models.db import get_engine
from models.review.lookup import review_by_reference
from models.roles import Role
from models.stages import Stage
from models.tables import Report
from tasks.archive import store_documents
from tasks.storage import open_store
from tests.utils import inprocess
from tests.utils.answering import submit


def published_reports(reference: str) -> list[Report]:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        return list(session.exec(select(Report).where(Report.review_id == review.id, Report.published)))


def test_s3_stopped_during_publication_fails_cleanly_and_a_later_run_publishes_once(
    deployed: LocalSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = SeaweedS3(tmp_path / "s3", "cspr-fault", "cspr-fault-secret-key")
    monkeypatch.setenv("CSPR_STORAGE_URL", f"s3://cspr-fault-{uuid.uuid4().hex[:6]}/reviews")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("CSPR_S3_ENDPOINT_URL", s3.start())
    # the same retries as in production, with short waits: the test is about what happens, not how long
    monkeypatch.setattr(
        "flows.review_lifecycle.store_documents", store_documents.with_options(retry_delay_seconds=[1, 1])
    )
    try:
        case = Case(pseudonym="Child Outage")
        reference, _ = inprocess.notify(case)
        inprocess.answer_until(reference, case, Stage.AWAITING_PUBLICATION)
        s3.stop()  # the partnership's S3 goes down as the coordinator publishes
        run = inprocess.suspended_run(reference)
        submit(run, case.answer(Stage.AWAITING_PUBLICATION), Role.COORDINATOR)
        state = inprocess.advance(reference)
        # the run keeps the review's documents before it acts on an answer; with S3 down it cannot, so after
        # its retries it fails cleanly, having acted on nothing
        assert state is not None and state.is_failed(), state
        task_runs = inprocess.task_runs(run.id, "store-documents")
        assert max(t.run_count for t in task_runs) == 1 + store_documents.retries  # it tried again, then gave up
        assert review_state(reference).stage is Stage.AWAITING_PUBLICATION
        assert published_reports(reference) == []

        monkeypatch.setenv("CSPR_S3_ENDPOINT_URL", s3.start())  # back, with the objects it had
        deadline_sweep()  # the sweep finds the review without a run and gives it one
        inprocess.give(reference, case.answer(Stage.AWAITING_PUBLICATION))  # the decision is asked for again
        assert review_state(reference).stage is Stage.PUBLISHED  # now waiting for the actions to be recorded
        (published,) = published_reports(reference)
        assert len(open_store().versions(published.object_key)) == 1  # published exactly once
        deadline_sweep()  # a review waiting for a person has its run: nothing is restored twice
        assert len(published_reports(reference)) == 1
    finally:
        s3.stop()
