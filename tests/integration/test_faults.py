"""Faults during a transition, against the real PostgreSQL server: the database connection dies part-way through
a transition (as it does when the server restarts), and nothing half-written is left; the retry completes it."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.db import make_engine, migrate, transaction
from models.review import creation, lookup, transitions
from models.rulebook import Event
from models.stages import Facts
from models.tables import Decision, Milestone, Review, StageEvent
from tests.utils.factories import incident, make_partnership

COORDINATOR = transitions.Actor("Chris Lee", "coordinator")


@pytest.fixture
def pg(postgres_server_url: str) -> Engine:
    engine = make_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    migrate(engine)
    return engine


def counts(engine: Engine) -> tuple[str, int, int, int]:
    with Session(engine) as session:
        review = session.exec(select(Review)).one()
        return (
            review.stage,
            len(session.exec(select(StageEvent)).all()),
            len(session.exec(select(Milestone)).all()),
            len(session.exec(select(Decision)).all()),
        )


@pytest.mark.postgres
def test_a_connection_lost_mid_transition_leaves_nothing_half_written(pg: Engine) -> None:
    with transaction(pg) as session:
        make_partnership(session)
        review, _ = creation.create_review(session, incident(aware_on=dt.date(2026, 11, 2)), actor=COORDINATOR)
        reference = review.reference
    before = counts(pg)
    killer = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with pytest.raises(sa.exc.OperationalError), transaction(pg) as session:
        review = lookup.review_by_reference(session, reference)
        transitions.record_decision(session, review, "notification", "submitted", COORDINATOR)
        transitions.apply_transition(
            session,
            review,
            "submit_notification",
            actor=COORDINATOR,
            facts=Facts(),
            milestones={Event.NOTIFIED_ON: dt.date(2026, 11, 4)},
        )
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with killer.connect() as conn:  # the server drops this session's connection, as a restart does
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.execute(sa.text("SELECT 1"))  # the next statement finds the connection gone
    killer.dispose()
    assert counts(pg) == before  # no stage moved, no event, milestone or decision written
    with transaction(pg) as session:  # the retry, on a new connection, completes it once
        review = lookup.review_by_reference(session, reference)
        transitions.apply_transition(
            session,
            review,
            "submit_notification",
            actor=COORDINATOR,
            facts=Facts(),
            milestones={Event.NOTIFIED_ON: dt.date(2026, 11, 4)},
        )
    stage, events, milestones, _ = counts(pg)
    assert stage == "rapid_review" and events == before[1] + 1 and milestones == before[2] + 1
    pg.dispose()
