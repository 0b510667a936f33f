"""The data layer, run once on SQLite and once on the PostgreSQL server (the `engine` fixture)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import audit
from models.db import alembic_config, current_revision, migrate, transaction
from models.review import creation, transitions
from models.review.transitions import Actor, StaleStage
from models.roles import PARTNERS
from models.rulebook import Event
from models.stages import Facts, IllegalTransition, Stage
from models.tables import CasePerson, Deadline, DeadlineStatus, Partnership, Review, StageEvent
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership

COORDINATOR = Actor("Chris Lee", "coordinator")
AT = dt.datetime(2026, 12, 18, 10, 0, tzinfo=dt.UTC)


def new_review(engine: Engine, **kw: object) -> Review:
    with transaction(engine) as session:
        if session.exec(select(sa.func.count()).select_from(Partnership)).one() == 0:
            make_partnership(session)
        review, created = creation.create_review(session, incident(**kw), actor=COORDINATOR, at=AT)  # type: ignore[arg-type]
        assert created
        return review


def test_migrations_apply_from_empty_and_again(engine: Engine) -> None:
    assert current_revision(engine) == "0015"
    migrate(engine)  # idempotent
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # the models and the migrations agree: autogenerate finds nothing to add
    tables = set(sa.inspect(engine).get_table_names())
    assert {
        "partnership",
        "review",
        "case_person",
        "stage_event",
        "deadline",
        "decision",
        "reviewer",
        "commission",
        "report",
        "outbox",
        "milestone",
        "representative",
        "delivery",
    } <= tables


def test_a_review_is_created_with_its_history_and_deadlines(engine: Engine) -> None:
    review = new_review(engine)
    assert review.reference == "CSPR-2026-0001"
    assert review.stage == Stage.INCIDENT_RECORDED
    assert review.edition == "wt2026"  # recorded in November 2026
    with Session(engine) as session:
        events = transitions.history(session, review.id)
        assert [(e.seq, e.transition, e.to_stage) for e in events] == [(1, "record_incident", "incident_recorded")]
        deadlines = {d.name: d for d in session.exec(select(Deadline).where(Deadline.review_id == review.id))}
    assert deadlines["notify_panel"].due_on == dt.date(2026, 12, 29)
    assert deadlines["rapid_review"].due_on == dt.date(2027, 1, 13)
    assert "CA2004" in deadlines["notify_panel"].source


def test_the_same_incident_twice_is_one_review(engine: Engine) -> None:
    first = new_review(engine)
    with transaction(engine) as session:
        again, created = creation.create_review(session, incident(), actor=COORDINATOR, at=AT)
    assert not created
    assert again.id == first.id
    other = new_review(engine, pseudonyms=("Child R",))
    assert other.reference == "CSPR-2026-0002"


def test_names_and_dates_of_birth_are_encrypted_at_rest(engine: Engine) -> None:
    review = new_review(engine)
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT name, date_of_birth FROM case_person")).one()
        dump = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM case_person")) for v in row)
    assert PLANTED_NAME not in dump and PLANTED_DOB.isoformat() not in dump
    assert raw.name.startswith("c1:")  # sealed under the review's own data key (models/sealing.py)
    with Session(engine) as session:
        person = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).one()
    assert person.name == PLANTED_NAME
    assert person.date_of_birth == PLANTED_DOB.isoformat()
    assert person.pseudonym == "Child Q"


def test_a_transition_moves_the_stage_records_who_and_recomputes_deadlines(engine: Engine) -> None:
    review = new_review(engine)
    with transaction(engine) as session:
        review = session.get_one(Review, review.id)
        event = transitions.apply_transition(
            session,
            review,
            "submit_notification",
            actor=COORDINATOR,
            details={"panel_reference": "SIN-123"},
            milestones={Event.NOTIFIED_ON: dt.date(2026, 12, 22), Event.PARTNERS_TOLD_ON: dt.date(2026, 12, 22)},
        )
        assert event.seq == 2
    with Session(engine) as session:
        stored = session.get_one(Review, review.id)
        assert stored.stage == Stage.RAPID_REVIEW
        assert stored.version == 1
        history = transitions.history(session, review.id)
        assert [e.actor_name for e in history] == ["Chris Lee", "Chris Lee"]
        assert history[1].prev_hash == history[0].hash
        assert all(audit.event_hash(e) == e.hash for e in history)  # the chain verifies after a round trip
        notify = session.exec(
            select(Deadline).where(Deadline.review_id == review.id, Deadline.name == "notify_panel")
        ).one()
    assert notify.status == DeadlineStatus.MET
    assert notify.met_on == dt.date(2026, 12, 22)


def test_an_illegal_move_writes_nothing(engine: Engine) -> None:
    review = new_review(engine)
    with pytest.raises(IllegalTransition, match="cannot"), transaction(engine) as session:
        transitions.apply_transition(session, session.get_one(Review, review.id), "publish", actor=COORDINATOR)
    with Session(engine) as session:
        assert session.get_one(Review, review.id).stage == Stage.INCIDENT_RECORDED
        assert len(transitions.history(session, review.id)) == 1


def test_a_stale_read_loses_the_compare_and_set(engine: Engine) -> None:
    review = new_review(engine)
    with Session(engine) as session:
        stale = session.get_one(Review, review.id)
        session.expunge(stale)
    with transaction(engine) as session:
        transitions.apply_transition(
            session, session.get_one(Review, review.id), "submit_notification", actor=COORDINATOR
        )
    with pytest.raises(StaleStage, match="already moved on"), transaction(engine) as session:
        transitions.apply_transition(
            session, session.merge(stale, load=False), "submit_notification", actor=COORDINATOR
        )
    with Session(engine) as session:
        assert len(transitions.history(session, review.id)) == 2


def test_a_concurrent_double_transition_leaves_exactly_one(engine: Engine) -> None:
    """Eight writers read the review at the same stage and race to move it: one wins, seven lose cleanly."""
    review = new_review(engine)
    with transaction(engine) as session:
        for name in ("submit_notification", "record_rapid_review"):
            transitions.apply_transition(session, session.get_one(Review, review.id), name, actor=COORDINATOR)
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(i: int) -> None:
        with Session(engine) as reader:
            snapshot = reader.get_one(Review, review.id)
            reader.expunge(snapshot)
        barrier.wait()
        try:
            with transaction(engine) as session:
                transitions.apply_transition(
                    session,
                    session.merge(snapshot, load=False),
                    "send_rapid_review",
                    actor=Actor(f"writer {i}", "coordinator"),
                    facts=Facts(signed_off_by=PARTNERS),
                )
            result = "moved"
        except StaleStage:
            result = "stale"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["moved"] + ["stale"] * (writers - 1)
    with Session(engine) as session:
        sent = session.exec(
            select(StageEvent).where(StageEvent.review_id == review.id, StageEvent.transition == "send_rapid_review")
        ).all()
        assert len(sent) == 1
        assert session.get_one(Review, review.id).stage == Stage.AWAITING_PANEL
        assert [e.seq for e in transitions.history(session, review.id)] == [1, 2, 3, 4]


def test_concurrent_creation_of_the_same_incident_gives_one_review(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def submit() -> None:
        barrier.wait()
        with transaction(engine) as session:
            review, _ = creation.create_review(session, incident(), actor=COORDINATOR, at=AT)
            ids.append(str(review.id))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(ids) == 4 and len(set(ids)) == 1
    with Session(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(Review)).one() == 1


def test_partnership_closure_days_move_its_deadlines(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session, closure_days=["2026-12-24", "2026-12-31"])
    review = new_review(engine)
    with Session(engine) as session:
        notify = session.exec(
            select(Deadline).where(Deadline.review_id == review.id, Deadline.name == "notify_panel")
        ).one()
    assert notify.due_on == dt.date(2026, 12, 30)


def test_a_database_error_carries_no_value_into_a_log(engine: Engine) -> None:
    """hide_parameters: an error's message (what Prefect's logs would get) shows the statement, never its values."""
    new_review(engine)
    with pytest.raises(sa.exc.IntegrityError) as refused, transaction(engine) as session:  # the same review twice
        review = session.exec(select(Review)).one()
        session.add(CasePerson(review_id=review.id, kind="child", pseudonym="Child Q", name=PLANTED_NAME))
        session.flush()
    said = str(refused.value)
    # PostgreSQL's own detail names the duplicated key (a pseudonym, which is no one's name); the name is encrypted
    # before it is sent, and no value of the statement is shown
    assert "hidden due to hide_parameters" in said and PLANTED_NAME not in said


def test_sqlite_zeroes_what_it_deletes(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("secure_delete is SQLite's: PostgreSQL's free space is not a file a reader gets")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
