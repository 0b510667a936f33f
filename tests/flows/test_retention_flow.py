"""`retention` through Prefect, as a dry run (a real run would erase the other tests' reviews in this session's
database; erasure itself is tested in tests/integration/test_retention.py): what would go is listed by reference,
never by name, and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from cli.demo import Case
from cli.system import LocalSystem
from flows.retention_run import retention
from models.db import get_engine
from models.tables import CasePerson, PersonKind, Review
from tests.utils import inprocess
from tests.utils.api import service_api

CHILD = "Wilhelmina Osei-Brightwater"  # invented


def test_a_dry_run_lists_a_closed_review_by_reference_and_changes_nothing(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Retention Flow", child_name=CHILD, path="no-review")
    reference, _ = inprocess.notify(case)
    assert inprocess.drive(reference, case) == []
    with pytest.raises(ValueError, match="still to come"):  # only a dry run may look ahead
        retention(as_of=dt.date(2070, 1, 1), dry_run=False)
    counts = retention(as_of=dt.date(2070, 1, 1), dry_run=True)
    assert counts["due"] >= 1
    artifacts = service_api(deployed).post("/artifacts/latest/filter", json={}).json()
    summary = next(a for a in artifacts if a["key"] == "retention")["data"]
    assert reference in summary and "dry run: nothing was changed" in summary and "its data key" in summary
    assert CHILD not in summary and "Child Retention Flow" not in summary
    with Session(get_engine()) as session:
        review = session.exec(select(Review).where(Review.reference == reference)).one()
        person = session.exec(
            select(CasePerson).where(CasePerson.review_id == review.id, CasePerson.kind == PersonKind.CHILD)
        ).one()
    assert review.erased_on is None and person.name == CHILD
