"""A database error inside a run leaves none of the statement's values in Prefect's logs: the project's engines hide
them (``hide_parameters``). The planted value goes in a column that is not sealed, so only that hiding keeps it out;
the control shows the same error from an engine that does not hide them would have carried it."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa
from prefect import flow, task
from prefect.logging.handlers import APILogWorker

from cli.system import LocalSystem
from models.db import get_engine, transaction
from models.review import creation, lookup, transitions
from models.settings import get_settings
from models.tables import CasePerson
from tests.utils.factories import incident
from tests.utils.search import search_sqlite

PLANTED = "Perpetua Lockwood-Adebayo"  # invented: written where a relationship goes, so it is not sealed
PSEUDONYM = "Child Error Log"
PROBE_VALUE = "CSPR_TEST_PROBE_VALUE"


def _duplicate_person(reference: str, relationship: str, engine: sa.Engine | None = None) -> None:
    """The same pseudonym twice in one review: refused by the database's unique constraint."""
    with transaction(engine) as session:
        review = lookup.review_by_reference(session, reference)
        session.add(
            CasePerson(review_id=review.id, kind="family_member", pseudonym=PSEUDONYM, relationship=relationship)
        )
        session.flush()


@task(name="cspr-probe-failing-write", retries=0)
def failing_write(reference: str) -> None:
    # the value comes from inside the run, as a name read from the database would, never as a parameter (parameters
    # are Prefect's to keep, and cspr never passes a name as one)
    _duplicate_person(reference, os.environ[PROBE_VALUE])


@flow(name="cspr-probe-failing-transition")
def probe(reference: str) -> None:
    failing_write(reference)


def test_a_failed_write_in_a_run_leaves_no_value_in_prefects_logs(
    deployed: LocalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction() as session:
        review, _ = creation.create_review(
            session,
            incident(aware_on=dt.date(2026, 12, 9), pseudonyms=(PSEUDONYM,)),
            actor=transitions.Actor("Chris Lee", "coordinator"),
        )
        reference = review.reference
    marker = f"{PLANTED} {uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(PROBE_VALUE, marker)
    with pytest.raises(sa.exc.IntegrityError):
        probe(reference)
    APILogWorker.drain_all(timeout=10)
    database = get_settings().resolved_home / "prefect" / "prefect.db"
    assert search_sqlite(database, ["cspr-probe-failing-write"])  # the positive control: the failure was logged
    assert search_sqlite(database, [marker, PLANTED]) == []
    # the control: an engine that shows its values would have put it in the message the log holds
    showing = sa.create_engine(get_engine().url)
    try:
        with pytest.raises(sa.exc.IntegrityError) as refused:
            _duplicate_person(reference, marker, showing)
        assert marker in str(refused.value)
    finally:
        showing.dispose()
