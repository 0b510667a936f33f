"""The delivery run's part of the outbox (flows/deliver_messages.py: ``references_due``, then each review's
``deliver``), against a real SMTP server on loopback (tests/utils/smtp.py), on SQLite and on PostgreSQL: it finds in
one query the reviews whose messages are due (an email at its next try, a message never tried) and nothing else; a
message that failed while the relay was down is delivered once the relay is back, without the review moving; two
delivery runs and a review's own run at once send each message once; and a claim holds against a second sender
however long the first took to get to it."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.db import transaction
from models.messages import announce_waiting, message_id
from models.people import set_digest
from models.process.demo_case import Case
from models.recipients import NationalBody, Recipient
from models.review.lookup import review_by_reference
from models.review.outbox import Occasion, Purpose, enqueue
from models.settings import get_settings
from models.tables import Delivery, DeliveryState, Outbox
from tasks.notices import BACKOFF_MINUTES, CLAIM_FOR, Delivered, _take, deliver, references_due
from tests.integration.test_answers import quick_passwords, record
from tests.utils.signin import OPERATOR
from tests.utils.smtp import MailRelay, running_relay, use_relay

__all__ = ["quick_passwords"]  # the demo people's accounts, hashed cheaply

PANEL, OFSTED, DFE = "notices@panel.example", "notices@ofsted.example", "notices@dfe.example"
COORDINATOR = "chris.lee@northshire-scp.example"  # the demo partnership's coordinator
BODIES: tuple[Recipient, ...] = (NationalBody.PANEL, NationalBody.OFSTED, NationalBody.DFE)
MINUTE = dt.timedelta(minutes=1)
SENDER = "cspr@northshire-scp.example"  # use_relay's CSPR_MAIL_FROM


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailRelay]:
    with running_relay(tmp_path) as running:
        use_relay(monkeypatch, running, PANEL=PANEL, OFSTED=OFSTED, DFE=DFE)
        yield running
    get_settings.cache_clear()


def review_with_messages(engine: Engine, pseudonym: str, to: tuple[Recipient, ...] = BODIES) -> str:
    """A new review with one message waiting in the outbox for each of ``to``, never tried."""
    reference = record(engine, Case(pseudonym=pseudonym))
    with transaction(engine) as session:
        review = review_by_reference(session, reference)
        enqueue(session, review, Occasion(Purpose.REVIEWER_NAMED), to, f"{reference}: reviewer named")
    return reference


def a_delivery_run(engine: Engine, now: dt.datetime) -> Delivered:
    """What one run of flows/deliver_messages.py does, without Prefect: each review whose messages are due,
    delivered."""
    total = Delivered()
    for reference in references_due(engine=engine, now=now):
        result = deliver(reference, engine=engine, now=now)
        total.sent, total.to_folder = total.sent + result.sent, total.to_folder + result.to_folder
        total.retrying, total.failed = total.retrying + result.retrying, total.failed + result.failed
    return total


def deliveries(engine: Engine, *references: str) -> list[Delivery]:
    with Session(engine) as session:
        ids = [review_by_reference(session, r).id for r in references]
        query = select(Delivery).join(Outbox).where(col(Outbox.review_id).in_(ids)).order_by(col(Delivery.address))
        return list(session.exec(query).all())


def message_ids(engine: Engine, *references: str) -> set[str]:
    """The Message-ID each of the reviews' messages carries on every try."""
    with Session(engine) as session:
        ids = [review_by_reference(session, r).id for r in references]
        rows = session.exec(select(Outbox.id).where(col(Outbox.review_id).in_(ids))).all()
    return {message_id(row, SENDER) for row in rows}


def slow_relay(relay: MailRelay, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The relay takes ``seconds`` over each message: senders at once overlap for certain."""
    handler: Any = relay._handler
    taken = handler.handle_DATA

    async def slowly(server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(seconds)
        said: str = await taken(server, session, envelope)
        return said

    monkeypatch.setattr(handler, "handle_DATA", slowly)


# --- what is due ------------------------------------------------------------------------------------------------


def test_with_nothing_due_a_delivery_run_makes_one_query(engine: Engine, relay: MailRelay) -> None:
    now = dt.datetime.now(dt.UTC)
    sent = review_with_messages(engine, "Child Sent", (NationalBody.PANEL,))
    assert deliver(sent, engine=engine, now=now).sent == 1
    relay.stop()
    later = review_with_messages(engine, "Child Later", (NationalBody.PANEL,))
    assert deliver(later, engine=engine, now=now).retrying == 1  # its next try is a minute away
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # (SQLite's BEGIN IMMEDIATE: no query)
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        assert a_delivery_run(engine, now + MINUTE / 2).delivered == 0
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
    assert references_due(engine=engine, now=now + 2 * MINUTE) == [later]  # and its try, once due


def test_due_are_the_messages_never_tried_and_the_emails_at_their_next_try_and_nothing_else(
    engine: Engine, relay: MailRelay
) -> None:
    now = dt.datetime.now(dt.UTC)
    never_tried = review_with_messages(engine, "Child Never")
    failed_once = review_with_messages(engine, "Child Once", (NationalBody.PANEL,))
    relay.stop()
    assert deliver(failed_once, engine=engine, now=now).retrying == 1
    relay.start()
    held = record(engine, Case(pseudonym="Child Held"))  # a message held for the coordinator's daily digest
    with transaction(engine) as session:
        set_digest(session, COORDINATOR, daily=True, by=OPERATOR)
        assert announce_waiting(session, review_by_reference(session, held), "http://127.0.0.1:4200/r")
    assert deliver(held, engine=engine, now=now).delivered == 0
    assert references_due(engine=engine, now=now) == [never_tried]  # the failed one's next try is a minute away
    assert references_due(engine=engine, now=now + 2 * MINUTE) == sorted([never_tried, failed_once])
    with transaction(engine) as session:  # another sender holds the failed one's email now
        (delivery,) = deliveries(engine, failed_once)
        assert _take(session, delivery.id, DeliveryState.PENDING, now + 2 * MINUTE)
    assert references_due(engine=engine, now=now + 2 * MINUTE) == [never_tried]


# --- tried again ------------------------------------------------------------------------------------------------


def test_a_message_that_failed_is_delivered_by_the_delivery_run_once_the_relay_is_back(
    engine: Engine, relay: MailRelay
) -> None:
    reference = review_with_messages(engine, "Child Retry", (NationalBody.PANEL,))
    with Session(engine) as session:
        before = review_by_reference(session, reference)
    relay.stop()  # the review's run tries it, and the relay is down
    now = dt.datetime.now(dt.UTC)
    assert deliver(reference, engine=engine, now=now).retrying == 1
    relay.start()
    assert a_delivery_run(engine, now + MINUTE / 2).sent == 0 and relay.received == []  # not due yet
    back = a_delivery_run(engine, now + BACKOFF_MINUTES[0] * MINUTE)  # the next run after its try fell due
    assert (back.sent, back.retrying, back.failed) == (1, 0, [])
    assert a_delivery_run(engine, now + 10 * MINUTE).delivered == 0  # and never again
    (got,) = relay.received
    assert got.envelope_to == [PANEL] and got.message["Message-ID"] in message_ids(engine, reference)
    (delivery,) = deliveries(engine, reference)
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 2
    with Session(engine) as session:  # the review did not move: only its message went
        after = review_by_reference(session, reference)
    assert (after.stage, after.version) == (before.stage, before.version)


def test_the_delivery_run_leaves_the_daily_digests_to_the_sweep(engine: Engine, relay: MailRelay) -> None:
    reference = record(engine, Case(pseudonym="Child Digest"))
    with transaction(engine) as session:
        set_digest(session, COORDINATOR, daily=True, by=OPERATOR)
        assert announce_waiting(session, review_by_reference(session, reference), "http://127.0.0.1:4200/r")
    now = dt.datetime.now(dt.UTC)
    assert a_delivery_run(engine, now).delivered == 0  # the message, never tried: held for the digest
    assert a_delivery_run(engine, now + 10 * MINUTE).delivered == 0
    assert relay.received == []
    assert [d.state for d in deliveries(engine, reference) if d.address == COORDINATOR] == [DeliveryState.HELD]


# --- at once ------------------------------------------------------------------------------------------------------


def test_two_delivery_runs_and_a_reviews_run_at_once_send_each_message_once(
    engine: Engine, relay: MailRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = [review_with_messages(engine, f"Child Fresh {n}") for n in (1, 2)]  # never tried
    failed = review_with_messages(engine, "Child Failed")  # tried while the relay was down: due again
    relay.stop()
    now = dt.datetime.now(dt.UTC)
    assert deliver(failed, engine=engine, now=now).retrying == len(BODIES)
    relay.start()
    slow_relay(relay, monkeypatch, 0.1)
    later = now + 2 * MINUTE
    go = threading.Barrier(3)
    results: list[Delivered] = []
    errors: list[BaseException] = []

    def at_once(deliverer: Any) -> None:
        go.wait()
        try:
            results.append(deliverer())
        except BaseException as exc:  # a thread's failure would otherwise be lost
            errors.append(exc)

    senders = [
        lambda: a_delivery_run(engine, later),
        lambda: a_delivery_run(engine, later),
        lambda: deliver(failed, engine=engine, now=later),  # the review's own run, moving on meanwhile
    ]
    threads = [threading.Thread(target=at_once, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(results) == 3
    everything = message_ids(engine, *fresh, failed)
    arrived = Counter(str(r.message["Message-ID"]) for r in relay.received)
    assert set(arrived) == everything and len(everything) == 3 * len(BODIES)
    assert set(arrived.values()) == {1}, arrived  # each message once
    assert sum(r.sent for r in results) == len(everything)
    done = deliveries(engine, *fresh, failed)
    assert {d.state for d in done} == {DeliveryState.SENT}
    assert sorted(d.attempts for d in done) == [1] * 6 + [2] * 3  # and tried no more often than due
    assert references_due(engine=engine, now=later + 10 * MINUTE) == []


def test_a_claim_holds_from_the_clock_and_a_try_just_failed_is_not_tried_again_at_once(
    engine: Engine, relay: MailRelay
) -> None:
    reference = review_with_messages(engine, "Child Claimed", (NationalBody.PANEL,))
    relay.stop()
    now = dt.datetime.now(dt.UTC)
    assert deliver(reference, engine=engine, now=now).retrying == 1
    (delivery,) = deliveries(engine, reference)
    with transaction(engine) as session:  # another sender, who began when the try was made: not due for it
        assert not _take(session, delivery.id, DeliveryState.PENDING, now)
    due = now + 2 * MINUTE
    began = due - 2 * CLAIM_FOR  # a sender that began long ago (a relay that did not answer held it up)
    with transaction(engine) as session:
        session.execute(sa.update(Delivery).where(col(Delivery.id) == delivery.id).values(next_try_at=began))
    with transaction(engine) as session:
        assert _take(session, delivery.id, DeliveryState.PENDING, began)
    with transaction(engine) as session:  # a sender of today, while the first still sends it: not taken
        assert not _take(session, delivery.id, DeliveryState.PENDING, dt.datetime.now(dt.UTC) + MINUTE)
