"""The outbox: messages to the Panel, Ofsted, DfE, the Secretary of State, the coordinator and the local partners.

Messages are written in the same transaction as the decision that causes them; delivering them is a separate,
idempotent step, so a relay that refuses or is down never blocks or undoes a decision.

- With a mail relay (``CSPR_SMTP_URL``, tasks/mail.py), each message goes by email to each of its mailboxes
  (models/messages.py: the national bodies' from the settings, people's from the register), one ``Delivery`` row
  each with its state: pending, sent, or failed with the relay's answer. A relay that does not take a message now is
  tried again with backoff (by the delivery run every five minutes, flows/deliver_messages.py, and by the deadline
  sweep and the review's own runs); a recipient refused for good, or still not taken after the last try, is failed,
  and an event ``cspr.message.failed`` says so. Every try of one message carries the same Message-ID, taken from its
  outbox row.
- Without one, or for a recipient with no mailbox, the message is a text file in ``CSPR_HOME/outbox`` (one file per
  message, named by reference, purpose and recipient in letters, digits, dots, underscores and hyphens alone:
  ``folder_name``), where an operator or a mail gateway picks it up.

A message delivered is never delivered again; two deliverers at once (a review's run, the delivery run, the sweep)
each claim a delivery before sending it, so only one sends it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.events import emit_event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import messages
from models.db import transaction
from models.recipients import OPERATORS, ROLE, recipient_label
from models.review.lookup import review_by_reference
from models.review.outbox import Occasion, enqueue
from models.settings import get_settings
from models.tables import Delivery, DeliveryState, Outbox, Review, utcnow
from models.task_ref import task_path
from tasks.mail import Refused, Relay, relay_from_settings, send

FAILED_EVENT = "cspr.message.failed"
BACKOFF_MINUTES = (1, 5, 30, 120, 360)  # before each next try; a delivery not taken after the last is failed
CLAIM_FOR = dt.timedelta(minutes=5)  # a sender's hold on one delivery: far longer than one send takes
NOT_REGISTERED = "not sent: the person is no longer in the register"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # what an outbox folder's file name may not hold


@dataclass(frozen=True)
class Failure:
    """A delivery given up on: which message, to which kind of recipient (as the outbox stores it, and as a person
    reads it: "the contacts of Riverside Medical Practice" rather than "agency:<id>"), and what the relay said."""

    reference: str
    purpose: str
    recipient: str
    answer: str
    reads_as: str

    def __str__(self) -> str:
        return f"{self.reference}: {self.purpose} to {self.reads_as}: {self.answer}"


@dataclass
class Delivered:
    sent: int = 0  # emails the relay took now
    to_folder: int = 0  # messages written to the outbox folder now
    retrying: int = 0  # emails not taken now, to be tried again
    failed: list[Failure] = field(default_factory=list)  # given up on now

    @property
    def delivered(self) -> int:
        return self.sent + self.to_folder


def outbox_folder() -> Path:
    return get_settings().resolved_home / "outbox"


@task(name="deliver-outbox")
def deliver_outbox(reference: str) -> Delivered:
    """Deliver this review's pending messages, and say which could not be."""
    result = deliver(reference)
    for failure in result.failed:
        emit_event(
            event=FAILED_EVENT,
            resource={
                "prefect.resource.id": f"cspr.review.{reference}",
                "prefect.resource.name": reference,
                "cspr.recipient": failure.recipient,  # the trigger telling the operators skips their own
            },
            payload={
                "reference": reference,
                "purpose": failure.purpose,
                "recipient": failure.recipient,
                "answer": failure.answer,
            },
        )
    if result.delivered or result.retrying or result.failed:
        get_run_logger().info(
            "%s: %d email(s) sent, %d message(s) to the outbox folder, %d to try again, %d failed",
            reference,
            result.sent,
            result.to_folder,
            result.retrying,
            len(result.failed),
        )
    return result


def deliver(reference: str, *, engine: Engine | None = None, now: dt.datetime | None = None) -> Delivered:
    """Deliver one review's pending messages: what ``deliver_outbox`` does, without Prefect. Each email is claimed,
    sent and recorded on its own, so that a slow relay never lets a second deliverer's claim on it lapse."""
    now = now or utcnow()
    settings = get_settings()
    relay = relay_from_settings(settings)
    result = Delivered()
    with transaction(engine) as session:
        review = review_by_reference(session, reference)
        pending = session.exec(
            select(Outbox).where(Outbox.review_id == review.id, col(Outbox.sent_at).is_(None)).with_for_update()
        ).all()
        by_email, to_folder = [], []
        for row in pending:
            if relay is not None and _deliveries(session, review, row, now):
                by_email.append(row)
            else:
                to_folder.append(row)
        names = messages.agency_names(session, (row.recipient for row in to_folder))
        for row in to_folder:
            _to_folder(reference, row, now, names)
            result.to_folder += 1
        _settle(session, [m.id for m in by_email], now)  # held for a digest, or settled by another deliverer
        due = _due(session, by_email, now)
        about = messages.letter(session, review, ui_url(), (m.recipient for _, m in due)) if due else None
    if relay is None or about is None:
        return result
    for delivery_id, message in due:
        with transaction(engine) as session:
            address = _claim(session, delivery_id, message.recipient, now)
            if address is None:  # another deliverer has it, or the person left the register
                _settle(session, [message.id], now)
                continue
        email = messages.compose(
            about,
            link=absolute(message.link),
            subject=message.subject,
            recipient=message.recipient,
            to=address,
            sender=settings.mail_from,
            message_id=messages.message_id(message.id, settings.mail_from),
            at=now,
        )
        outcome = _try(relay, email, address)
        with transaction(engine) as session:
            _record(session, reference, delivery_id, outcome, now, result)
            _settle(session, [message.id], now)
    return result


@dataclass(frozen=True)
class _Message:
    """What an email needs of its outbox row, read in the transaction that found it due."""

    id: uuid.UUID
    purpose: str
    recipient: str
    subject: str
    link: str


def _due(session: Session, pending: list[Outbox], now: dt.datetime) -> list[tuple[uuid.UUID, _Message]]:
    by_id = {m.id: _Message(m.id, m.purpose, m.recipient, m.subject, m.link) for m in pending}
    if not by_id:
        return []
    due = session.exec(
        select(Delivery.id, Delivery.outbox_id).where(
            col(Delivery.outbox_id).in_(by_id),
            Delivery.state == DeliveryState.PENDING,
            col(Delivery.next_try_at) <= now,
        )
    ).all()
    return [(delivery_id, by_id[outbox_id]) for delivery_id, outbox_id in due]


def _settle(session: Session, outbox_ids: list[uuid.UUID], now: dt.datetime) -> None:
    """A message none of whose deliveries waits to be sent (each sent, failed, or held for a digest) leaves the
    outbox, so that neither the sweep nor a run tries it again."""
    for outbox_id in outbox_ids:
        states = session.exec(select(Delivery.state).where(Delivery.outbox_id == outbox_id)).all()
        if DeliveryState.PENDING not in states:
            message = session.get_one(Outbox, outbox_id)
            if message.sent_at is None:
                message.sent_at, message.attempts = now, message.attempts + 1
                session.add(message)


def _claim(session: Session, delivery_id: uuid.UUID, recipient: str, now: dt.datetime) -> str | None:
    """The delivery's address, claimed (compare-and-set) so that no other deliverer sends it meanwhile; None if
    another has it, or it is settled. A person no longer in the register is not written to: failed, saying so."""
    if not _take(session, delivery_id, DeliveryState.PENDING, now):
        return None
    delivery = session.get_one(Delivery, delivery_id)
    if not messages.still_reached(session, recipient, delivery.address):
        delivery.state, delivery.answer, delivery.claimed_until = DeliveryState.FAILED, NOT_REGISTERED, None
        session.add(delivery)
        return None
    return delivery.address


def _deliveries(session: Session, review: Review, message: Outbox, now: dt.datetime) -> list[Delivery]:
    """The message's deliveries, made the first time from where its recipient is reached today."""
    made = session.exec(select(Delivery).where(Delivery.outbox_id == message.id)).all()
    if made:
        return list(made)
    addresses = messages.addresses(session, review, message.recipient, get_settings())
    daily = messages.takes_digest(session, message.recipient, addresses)
    rows = [
        Delivery(
            outbox_id=message.id,
            address=address,
            state=DeliveryState.HELD if address in daily else DeliveryState.PENDING,
            next_try_at=now,
            created_at=now,
        )
        for address in addresses
    ]
    session.add_all(rows)
    session.flush()
    return rows


def folder_name(reference: str, purpose: str, recipient: str) -> str:
    """The outbox folder's file for one message: its reference, purpose and recipient, as the outbox stores them, in
    letters, digits, dots, underscores and hyphens alone (safe on any file system, in a shell, and to a mail gateway
    that picks them up): a space becomes a hyphen ("no involvement": "no-involvement"), a colon between a stored
    value's parts a dot ("role:police": "role.police"), and anything else an underscore."""
    parts = (reference, purpose, recipient)
    return "--".join(_UNSAFE.sub("_", p.replace(" ", "-").replace(":", ".")) for p in parts) + ".txt"


def _to_folder(reference: str, message: Outbox, now: dt.datetime, agencies: dict[uuid.UUID, str]) -> None:
    folder = outbox_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / folder_name(reference, message.purpose, message.recipient)
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        to = recipient_label(message.recipient, agencies)
        tmp.write_text(
            f"To: {to}\nSubject: {message.subject}\n\n{message.body}\n",
            encoding="utf-8",
        )
        tmp.replace(target)
    message.sent_at = now
    message.attempts += 1


def _take(session: Session, delivery_id: uuid.UUID, state: DeliveryState, now: dt.datetime) -> bool:
    """Claim a delivery still in ``state`` and claimed by nobody (compare-and-set); True if this sender has it. A
    pending one only while its next try is due: another sender that has just tried it and failed leaves it for its
    next try, not for a second try at once. The hold runs from the clock now, not from when this sender began (a
    sender that waited minutes on a relay that does not answer still holds what it claims)."""
    due = (col(Delivery.next_try_at) <= now,) if state is DeliveryState.PENDING else ()
    claimed = session.execute(
        sa.update(Delivery)
        .where(
            col(Delivery.id) == delivery_id,
            col(Delivery.state) == state,
            sa.or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
            *due,
        )
        .values(claimed_until=max(now, utcnow()) + CLAIM_FOR)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _try(relay: Relay, email: EmailMessage, address: str) -> str | Refused:
    try:
        return send(relay, email, address)
    except Refused as refused:
        return refused


def _record(
    session: Session,
    reference: str,
    delivery_id: uuid.UUID,
    outcome: str | Refused,
    now: dt.datetime,
    result: Delivered,
) -> None:
    """A delivery's outcome: sent; failed (refused for good, or after the last try); or tried again later."""
    delivery = session.get_one(Delivery, delivery_id)
    delivery.attempts += 1
    delivery.claimed_until = None
    if not isinstance(outcome, Refused):
        delivery.state, delivery.sent_at, delivery.answer = DeliveryState.SENT, now, outcome[:500]
        result.sent += 1
    elif outcome.permanent or delivery.attempts > len(BACKOFF_MINUTES):
        delivery.state, delivery.answer = DeliveryState.FAILED, outcome.answer
        message = session.get_one(Outbox, delivery.outbox_id)
        label = recipient_label(message.recipient, messages.agency_names(session, [message.recipient]))
        result.failed.append(Failure(reference, message.purpose, message.recipient, outcome.answer, label))
    else:
        delivery.answer = outcome.answer
        delivery.next_try_at = now + dt.timedelta(minutes=BACKOFF_MINUTES[delivery.attempts - 1])
        result.retrying += 1
    session.add(delivery)
    session.flush()


def send_digests(*, engine: Engine | None = None, now: dt.datetime | None = None) -> Delivered:
    """Each person who chose the daily digest gets their held messages in one email; what was sent, and what failed
    (a digest the relay did not take stays held for the next day, unless refused for good)."""
    now = now or utcnow()
    settings = get_settings()
    relay = relay_from_settings(settings)
    result = Delivered()
    if relay is None:
        return result
    base = ui_url().rstrip("/")
    with transaction(engine) as session:
        held = session.exec(
            select(Delivery, Outbox, Review)
            .join(Outbox, col(Outbox.id) == col(Delivery.outbox_id))
            .join(Review, col(Review.id) == col(Outbox.review_id))
            .where(Delivery.state == DeliveryState.HELD)
            .order_by(col(Delivery.created_at))
        ).all()
        by_address: dict[str, list[tuple[uuid.UUID, str, str]]] = {}
        for delivery, message, review in held:
            link = absolute(message.link) or f"{base}/artifacts/key/{review.reference.lower()}"
            by_address.setdefault(delivery.address, []).append((delivery.id, message.subject, link))
    for address, listed in by_address.items():
        with transaction(engine) as session:  # claimed just before sending, so that no claim lapses while it waits
            items = _claim_held(session, address, listed, now)
        if not items:
            continue
        email = messages.compose_digest(
            [(subject, link) for _, subject, link in items],
            to=address,
            sender=settings.mail_from,
            message_id=messages.digest_id([i for i, _, _ in items], settings.mail_from),
            at=now,
        )
        outcome = _try(relay, email, address)
        with transaction(engine) as session:
            for delivery_id, _, _ in items:
                delivery = session.get_one(Delivery, delivery_id)
                delivery.attempts, delivery.claimed_until = delivery.attempts + 1, None
                if not isinstance(outcome, Refused):
                    delivery.state, delivery.sent_at, delivery.answer = DeliveryState.SENT, now, outcome[:500]
                elif outcome.permanent:
                    delivery.state, delivery.answer = DeliveryState.FAILED, outcome.answer
                else:  # held again, for the next digest
                    delivery.state, delivery.answer = DeliveryState.HELD, outcome.answer
                session.add(delivery)
        if not isinstance(outcome, Refused):
            result.sent += 1
        elif outcome.permanent:
            result.failed.append(Failure("digest", "daily_digest", "a person", outcome.answer, "a person"))
        else:
            result.retrying += 1
    return result


def _claim_held(
    session: Session, address: str, listed: list[tuple[uuid.UUID, str, str]], now: dt.datetime
) -> list[tuple[uuid.UUID, str, str]]:
    """The held deliveries to one person this sender now has (compare-and-set each); none for a person no longer
    in the register, whose held messages are failed, saying so."""
    claimed = [item for item in listed if _take(session, item[0], DeliveryState.HELD, now)]
    if claimed and not messages.still_reached(session, ROLE, address):
        session.execute(
            sa.update(Delivery)
            .where(col(Delivery.id).in_([i for i, _, _ in claimed]))
            .values(state=DeliveryState.FAILED, answer=NOT_REGISTERED, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return []
    return claimed


@task(name="send-digests")
def send_daily_digests() -> Delivered:
    result = send_digests()
    if result.sent or result.retrying or result.failed:
        get_run_logger().info(
            "daily digests: %d sent, %d to try again, %d failed", result.sent, result.retrying, len(result.failed)
        )
    return result


@task(name="announce-waiting")
def announce_waiting(reference: str) -> int:
    """Tell the people who may answer the step the review waits at (models/messages.py), with a link to the step's
    task page; how many messages that made (none when they were told already)."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        link = f"{ui_url().rstrip('/')}{task_path(reference, review.stage)}"
        return len(messages.announce_waiting(session, review, link))


@task(name="tell-operators")
def tell_operators(reference: str, purpose: str, recipient: str) -> bool:
    """A message to the operators that the review's ``purpose`` message to ``recipient`` was not delivered, in the
    outbox once however often this runs; False if it was there already. A failed message to the operators
    themselves is not reported again (nobody else to tell: the sweep's summary lists it)."""
    if recipient == OPERATORS:
        return False
    with transaction() as session:
        review = review_by_reference(session, reference)
        subject = messages.failure_subject(reference, purpose, recipient, messages.agency_names(session, (recipient,)))
        added = enqueue(session, review, Occasion.not_delivered(purpose, recipient), (OPERATORS,), subject)
    return bool(added)


def references_due(*, engine: Engine | None = None, now: dt.datetime | None = None) -> list[str]:
    """Reviews with a message to deliver now (the delivery run's, flows/deliver_messages.py): an email whose next try
    is due and that no sender holds, or a message never tried (its review's run stopped before delivering it). One
    query: none when nothing waits. A message whose emails all wait for a later try is not due, nor one held for a
    daily digest (the sweep sends those)."""
    now = now or utcnow()
    pending = sa.and_(col(Delivery.outbox_id) == col(Outbox.id), col(Delivery.state) == DeliveryState.PENDING)
    due = sa.and_(
        pending,
        col(Delivery.next_try_at) <= now,
        sa.or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
    )
    with transaction(engine) as session:
        rows = session.exec(
            select(Review.reference)
            .join(Outbox, col(Outbox.review_id) == col(Review.id))
            .where(
                col(Outbox.sent_at).is_(None),
                sa.or_(sa.exists().where(due), ~sa.exists().where(pending)),
            )
            .distinct()
        ).all()
    return sorted(rows)


def references_with_messages_waiting(*, engine: Engine | None = None) -> list[str]:
    """Reviews with a message not yet delivered (an email to try again): the sweep delivers them."""
    with transaction(engine) as session:
        rows = session.exec(
            select(Review.reference)
            .join(Outbox, col(Outbox.review_id) == col(Review.id))
            .where(col(Outbox.sent_at).is_(None))
            .distinct()
        ).all()
    return sorted(rows)


def absolute(link: str) -> str:
    """A message's link as the email gives it: a path of cspr's own (an item's page) under the address people open
    cspr at; a full address (or none) as it is."""
    return f"{ui_url().rstrip('/')}{link}" if link.startswith("/") else link


def ui_url() -> str:
    """Where people open cspr: the public address behind TLS, or Prefect's own UI address."""
    from prefect.settings import PREFECT_UI_URL

    return get_settings().public_url or str(PREFECT_UI_URL.value() or "http://127.0.0.1:4200")
