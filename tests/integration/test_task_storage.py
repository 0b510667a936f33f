"""What a person keeps on their tasks page (models/drafts.py, models/claims.py, models/task_ref.py): drafts sealed
under a key of their own, "I'm on it" claims and follow-up dates, each kept for one visit of a review to a step; and
the migration that adds their tables. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import claims, drafts, retention, signin
from models.claims import ClaimView, NotYours, Taken
from models.db import alembic_config, current_revision, get_engine, migrate, transaction
from models.review import creation, transitions
from models.review.transitions import Actor
from models.seed import seed_demo
from models.stages import Facts, Stage
from models.tables import Account, AnswerDraft, FollowUp, Partnership, Review, TaskClaim
from models.task_ref import MovedOn, TaskRef, current_task, current_tasks
from tests.utils.factories import incident, make_partnership

PLANTED = "Zephyrine Quill-Ashdown"  # occurs nowhere else: a search for it means something
GATE_KEY = "the-gate-key-of-these-tests"
COORDINATOR = Actor("Chris Lee", "coordinator")
AT = dt.datetime(2026, 12, 18, 10, 0, tzinfo=dt.UTC)
FIELDS = {"summary": [f"{PLANTED} was seen by the health visitor."], "themes": ["neglect", "housing"]}


def new_review(engine: Engine, pseudonym: str = "Child Q") -> uuid.UUID:
    with transaction(engine) as session:
        if session.exec(select(Partnership).where(Partnership.code == "northshire")).first() is None:
            make_partnership(session)
        review, _ = creation.create_review(session, incident(pseudonyms=(pseudonym,)), actor=COORDINATOR, at=AT)
        return review.id


def new_account(engine: Engine, name: str, *, active: bool = True) -> uuid.UUID:
    with transaction(engine) as session:
        account = Account(email=f"{uuid.uuid4().hex[:12]}@northshire.example.org", name=name, active=active)
        session.add(account)
        session.flush()
        return account.id


def move(engine: Engine, review_id: uuid.UUID, name: str, facts: Facts | None = None) -> TaskRef:
    with transaction(engine) as session:
        review = session.get_one(Review, review_id)
        transitions.apply_transition(session, review, name, actor=COORDINATOR, facts=facts)  # type: ignore[arg-type]
        return current_task(session, review)


def task_of(engine: Engine, review_id: uuid.UUID) -> TaskRef:
    with Session(engine) as session:
        return current_task(session, session.get_one(Review, review_id))


def save(
    engine: Engine, account_id: uuid.UUID, task: TaskRef, fields: dict[str, list[str]], at: dt.datetime = AT
) -> None:
    with transaction(engine) as session:
        drafts.save(session, GATE_KEY, account_id, task, fields, at)


def load(engine: Engine, account_id: uuid.UUID, task: TaskRef, gate_key: str = GATE_KEY) -> dict[str, list[str]] | None:
    with Session(engine) as session:
        return drafts.load(session, gate_key, account_id, task)


def count(engine: Engine, model: type[AnswerDraft] | type[TaskClaim] | type[FollowUp]) -> int:
    with Session(engine) as session:
        return session.exec(select(sa.func.count()).select_from(model)).one()


# --- tasks -----------------------------------------------------------------------------------------------------------


def test_a_task_is_the_visit_that_brought_the_review_to_its_stage(engine: Engine) -> None:
    review_id = new_review(engine)
    assert task_of(engine, review_id) == TaskRef(review_id, Stage.INCIDENT_RECORDED, 1)
    assert move(engine, review_id, "submit_notification") == TaskRef(review_id, Stage.RAPID_REVIEW, 2)
    assert move(engine, review_id, "record_rapid_review").visit == 3
    with transaction(engine) as session:  # a note moves nothing: the same visit
        retention.hold(session, session.get_one(Review, review_id), reason="the coroner's inquest", by=COORDINATOR)
    assert task_of(engine, review_id) == TaskRef(review_id, Stage.RAPID_REVIEW_SIGN_OFF, 3)
    back = move(engine, review_id, "return_rapid_review", Facts(reason="the chronology is incomplete"))
    assert back == TaskRef(review_id, Stage.RAPID_REVIEW, 5)  # the same step asked again: a new visit
    other = new_review(engine, "Child R")
    with Session(engine) as session:
        assert current_tasks(session, [review_id, other, review_id]) == {
            review_id: back,
            other: TaskRef(other, Stage.INCIDENT_RECORDED, 1),
        }


# --- drafts ----------------------------------------------------------------------------------------------------------


def test_a_draft_is_saved_loaded_and_overwritten_and_only_its_author_reads_it(engine: Engine) -> None:
    task = task_of(engine, new_review(engine))
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    assert load(engine, alex, task) is None
    save(engine, alex, task, FIELDS)
    assert load(engine, alex, task) == FIELDS
    save(engine, alex, task, {"summary": ["second thoughts"]}, AT + dt.timedelta(hours=1))
    assert load(engine, alex, task) == {"summary": ["second thoughts"]}
    assert count(engine, AnswerDraft) == 1
    with Session(engine) as session:
        assert drafts.saved_at(session, alex, task) == AT + dt.timedelta(hours=1)
        assert drafts.saved_at(session, sam, task) is None
    assert load(engine, sam, task) is None  # none of their own
    assert load(engine, alex, task, gate_key="another gate key") is None  # the gate's key replaced: gone, not an error


def test_the_sealed_column_holds_none_of_the_text(engine: Engine) -> None:
    task = task_of(engine, new_review(engine))
    save(engine, new_account(engine, "Alex Morgan"), task, FIELDS)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT count(*) FROM draft WHERE sealed LIKE :p OR sealed LIKE :q"),
            {"p": "%Zephyrine%", "q": "%health visitor%"},
        ).scalar_one()
        dump = " ".join(str(value) for row in conn.execute(sa.text("SELECT * FROM draft")) for value in row)
    assert found == 0
    assert PLANTED not in dump and "Quill-Ashdown" not in dump and "neglect" not in dump
    assert dump.count("d1:") == 1


def test_a_draft_copied_to_another_place_does_not_open(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    save(engine, alex, task, FIELDS)
    save(engine, sam, task, {"summary": ["Sam's own"]})
    with engine.begin() as conn:  # Alex's sealed draft written over Sam's row
        conn.execute(
            sa.text(
                "UPDATE draft SET sealed = (SELECT sealed FROM draft WHERE account_id = :alex) WHERE account_id = :sam"
            ),
            {"alex": _stored(engine, alex), "sam": _stored(engine, sam)},
        )
    assert load(engine, sam, task) is None  # never raised to the page
    assert load(engine, alex, task) == FIELDS
    later = move(engine, review_id, "submit_notification")
    with engine.begin() as conn:  # and Alex's own draft moved to another task of theirs
        conn.execute(
            sa.text("UPDATE draft SET stage = :stage, visit = :visit WHERE account_id = :alex"),
            {"stage": later.stage.value, "visit": later.visit, "alex": _stored(engine, alex)},
        )
    assert load(engine, alex, later) is None
    with engine.begin() as conn:  # a sealed value changed, or not sealed as cspr seals
        conn.execute(
            sa.text("UPDATE draft SET sealed = 'd1:AAAA' WHERE account_id = :alex"), {"alex": _stored(engine, alex)}
        )
    assert load(engine, alex, later) is None


def _stored(engine: Engine, account_id: uuid.UUID) -> object:
    """An id as the database stores it: 32 hex characters on SQLite, a uuid on PostgreSQL."""
    return account_id.hex if engine.dialect.name == "sqlite" else account_id


def test_drafts_go_after_thirty_days_when_discarded_and_when_the_answer_is_accepted(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    other = task_of(engine, new_review(engine, "Child R"))
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    save(engine, alex, task, FIELDS)
    save(engine, sam, task, FIELDS, AT + dt.timedelta(days=2))
    save(engine, alex, other, FIELDS)
    with transaction(engine) as session:
        assert drafts.purge(session, AT + drafts.KEPT_FOR) == 0  # thirty days to the minute: still kept
    with transaction(engine) as session:
        assert drafts.purge(session, AT + drafts.KEPT_FOR + dt.timedelta(seconds=1)) == 2
    assert load(engine, alex, task) is None and load(engine, sam, task) == FIELDS

    save(engine, alex, task, FIELDS)
    save(engine, alex, other, FIELDS)
    with transaction(engine) as session:
        drafts.discard(session, sam, task)
    assert load(engine, sam, task) is None and load(engine, alex, task) == FIELDS
    save(engine, sam, task, FIELDS)
    with transaction(engine) as session:
        drafts.discard_task(session, task)  # everyone's draft of the task answered
    assert load(engine, alex, task) is None and load(engine, sam, task) is None
    assert load(engine, alex, other) == FIELDS  # another task's stays


def test_a_draft_must_be_a_form_as_posted(engine: Engine) -> None:
    task = task_of(engine, new_review(engine))
    with pytest.raises(TypeError), transaction(engine) as session:
        drafts.save(session, GATE_KEY, new_account(engine, "Alex Morgan"), task, {"summary": "not a list"}, AT)  # type: ignore[dict-item]


# --- claims and follow-ups -------------------------------------------------------------------------------------------


def test_one_holder_at_a_time_let_go_by_the_holder_or_a_coordinator(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    with transaction(engine) as session:
        claims.take(session, task, alex, AT)
        claims.take(session, task, alex, AT + dt.timedelta(hours=1))  # again: nothing changes
    with Session(engine) as session:
        assert claims.holders(session, [task]) == {task: ClaimView(alex, "Alex Morgan", AT)}
    since = "Alex Morgan has been on this step since 18 December 2026"
    with pytest.raises(Taken, match=since) as taken, transaction(engine) as session:
        claims.take(session, task, sam, AT)
    assert taken.value.holder.account_id == alex
    only = "Alex Morgan is on this step: only they, or a coordinator"
    with pytest.raises(NotYours, match=only), transaction(engine) as session:
        claims.release(session, task, sam, coordinator=False)
    with transaction(engine) as session:
        claims.release(session, task, sam, coordinator=True)
        claims.release(session, task, sam, coordinator=False)  # held by nobody: nothing to do
        claims.take(session, task, sam, AT)
    with transaction(engine) as session:
        claims.release(session, task, sam, coordinator=False)
    with Session(engine) as session:
        assert claims.holders(session, [task]) == {}
    with transaction(engine) as session:
        claims.take(session, task, alex, AT)
        claims.release_task(session, task)  # the answer accepted: whoever held it
    with Session(engine) as session:
        assert claims.holders(session, [task]) == {}


def test_a_claim_is_for_one_visit_and_a_disabled_holder_holds_nothing(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    with transaction(engine) as session:
        claims.take(session, task, alex, AT)
    later = move(engine, review_id, "submit_notification")
    with Session(engine) as session:
        assert claims.holders(session, [later]) == {}  # the page asks about the tasks waiting now
    with pytest.raises(MovedOn, match="moved on"), transaction(engine) as session:
        claims.take(session, task, sam, AT)
    with transaction(engine) as session:
        claims.take(session, later, alex, AT)
        account = session.get_one(Account, alex)
        account.active = False
        session.add(account)
    with Session(engine) as session:
        assert claims.holders(session, [later]) == {}
    with transaction(engine) as session:
        claims.take(session, later, sam, AT + dt.timedelta(days=1))
    with Session(engine) as session:
        assert claims.holders(session, [later, task]) == {later: ClaimView(sam, "Sam Patel", AT + dt.timedelta(days=1))}
    with transaction(engine) as session:
        assert claims.purge(session) == 1  # the first visit's claim
    assert count(engine, TaskClaim) == 1


def test_a_follow_up_date_is_set_changed_and_cleared_and_only_its_owner_sees_it(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    alex, sam = new_account(engine, "Alex Morgan"), new_account(engine, "Sam Patel")
    with transaction(engine) as session:
        claims.set_follow_up(session, task, alex, dt.date(2027, 1, 4))
        claims.set_follow_up(session, task, alex, dt.date(2027, 1, 6))
        claims.set_follow_up(session, task, sam, dt.date(2027, 1, 5))
    with Session(engine) as session:
        assert claims.follow_ups(session, alex, [task]) == {task: dt.date(2027, 1, 6)}
        assert claims.follow_ups(session, sam, [task]) == {task: dt.date(2027, 1, 5)}
    with transaction(engine) as session:
        claims.set_follow_up(session, task, alex, None)
        claims.set_follow_up(session, task, alex, None)  # cleared already: nothing to do
    with Session(engine) as session:
        assert claims.follow_ups(session, alex, [task]) == {}
    later = move(engine, review_id, "submit_notification")
    with pytest.raises(MovedOn), transaction(engine) as session:
        claims.set_follow_up(session, task, alex, dt.date(2027, 1, 6))
    with transaction(engine) as session:
        claims.set_follow_up(session, later, alex, dt.date(2027, 1, 7))
    with Session(engine) as session:
        assert claims.follow_ups(session, sam, [later]) == {}
    with transaction(engine) as session:
        assert claims.purge(session) == 1  # Sam's date for the visit that is over
    with Session(engine) as session:
        assert claims.follow_ups(session, alex, [later]) == {later: dt.date(2027, 1, 7)}


# --- erasure, the sweep and the migration ----------------------------------------------------------------------------


def test_erasing_a_review_deletes_its_drafts_claims_and_follow_ups(engine: Engine) -> None:
    review_id = new_review(engine)
    task = task_of(engine, review_id)
    kept = task_of(engine, new_review(engine, "Child R"))
    alex = new_account(engine, "Alex Morgan")
    for each in (task, kept):
        save(engine, alex, each, FIELDS)
        with transaction(engine) as session:
            claims.take(session, each, alex, AT)
            claims.set_follow_up(session, each, alex, dt.date(2027, 1, 6))
    with transaction(engine) as session:
        retention.erase(session, session.get_one(Review, review_id), dt.date(2062, 1, 1))
    assert (count(engine, AnswerDraft), count(engine, TaskClaim), count(engine, FollowUp)) == (1, 1, 1)
    assert load(engine, alex, kept) == FIELDS


def test_the_sweep_purges_what_nobody_will_come_back_to(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.sweep_tasks import purge_task_storage  # the sweep's own call, on the default database

    engine = get_engine()
    migrate(engine)
    # the session's default database is shared with the tests that run flows: it gets the whole demo partnership,
    # reviewers and all, as their `deployed` would give it, never a bare partnership that would stop the seeding
    monkeypatch.setattr(signin, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with transaction(engine) as session:
        seed_demo(session)
    review_id = new_review(engine, f"Child {uuid.uuid4().hex[:6]}")
    task = task_of(engine, review_id)
    alex = new_account(engine, f"Sweep {uuid.uuid4().hex[:6]}")
    save(engine, alex, task, FIELDS, dt.datetime.now(dt.UTC) - drafts.KEPT_FOR - dt.timedelta(minutes=1))
    with transaction(engine) as session:
        claims.take(session, task, alex, AT)
    move(engine, review_id, "submit_notification")
    purged = purge_task_storage()
    assert purged.drafts >= 1 and purged.claims >= 1
    assert load(engine, alex, task) is None
    with Session(engine) as session:
        assert claims.holders(session, [task]) == {}


def test_the_migration_adds_the_tables_and_takes_them_away(engine: Engine) -> None:
    task = task_of(engine, new_review(engine))
    save(engine, new_account(engine, "Alex Morgan"), task, FIELDS)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009")
    assert current_revision(engine) == "0009"
    assert not {"draft", "task_claim", "follow_up"} & set(sa.inspect(engine).get_table_names())
    migrate(engine)
    assert current_revision(engine) == "0015"
    assert {"draft", "task_claim", "follow_up"} <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # the models and the migrations agree
