"""The outbox delivered by email, against a real SMTP server on loopback (aiosmtpd, tests/utils/smtp.py) with
STARTTLS or implicit TLS and authentication: each message to each mailbox once, with a Message-ID that stays the
same across tries; a relay that is down is tried again with backoff and each message delivered once when it is
back; a refused recipient is failed with the relay's answer and blocks nothing; two deliverers at once send once;
and no email holds a child's name or date of birth, or anything typed into a form. Each test of the outbox runs on
SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cli.demo import Case
from models.agencies import end_agency
from models.calendar import calendar_for
from models.db import transaction
from models.messages import addresses, announce_waiting
from models.people import set_digest
from models.review.lookup import review_by_reference
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, DEMO_PARTNERSHIP
from models.settings import get_settings
from models.stages import Stage
from models.tables import Account, Delivery, DeliveryState, InformationRequest, Outbox
from models.task_ref import task_path
from models.work.chasing import chase_items
from models.work.requests import ask_agencies
from tasks.mail import Refused, parse_relay, send
from tasks.notices import BACKOFF_MINUTES, deliver, folder_name, outbox_folder, send_digests
from tests.integration.test_answers import _at, answer, quick_passwords
from tests.utils.signin import OPERATOR
from tests.utils.smtp import PASSWORD, MailRelay, running_relay, use_relay

__all__ = ["quick_passwords"]  # the demo people's accounts, hashed cheaply

PANEL, OFSTED, DFE, SOS = "notices@panel.example", "notices@ofsted.example", "notices@dfe.example", "sos@dfe.example"
CHILD, DOB = "Wilhelmina Trevaskis-Obi", dt.date(2018, 3, 9)  # invented
MINUTE = dt.timedelta(minutes=1)
PRACTICE, _, LEE = DEMO_AGENCY_CONTACTS[1]  # Riverside Medical Practice, and its contact's address


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailRelay]:
    """The relay running, and the system's settings pointing at it (the national bodies' mailboxes too)."""
    with running_relay(tmp_path) as running:
        use_relay(monkeypatch, running, PANEL=PANEL, OFSTED=OFSTED, DFE=DFE, SECRETARY_OF_STATE=SOS)
        yield running
    get_settings.cache_clear()


def a_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "CSPR-2026-0001: test", "cspr@example.org", PANEL
    message["Message-ID"] = "<cspr.test@example.org>"
    message.set_content("A test.")
    return message


def at_the_panel(engine: Engine) -> str:
    """A review whose rapid review has just gone to the Panel: one message, to the Panel, waiting in the outbox."""
    reference, _ = _at(engine, Stage.AWAITING_PANEL, Case(child_name=CHILD, child_dob=DOB))
    return reference


def practice_asked(engine: Engine) -> str:
    """A review at its rapid review whose coordinator has asked the demo partnership's GP practice for its
    information: an email to the practice's contacts waiting in the outbox."""
    reference, _ = _at(engine, Stage.RAPID_REVIEW, Case(child_name=CHILD, child_dob=DOB))
    with transaction(engine) as session:
        review = review_by_reference(session, reference)
        coordinator = Actor("Chris Lee", Role.COORDINATOR)
        asked = ask_agencies(session, review, [PRACTICE], actor=coordinator, at=_now(), today=dt.date.today())
        assert len(asked) == 1
    return reference


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def deliveries(engine: Engine, reference: str) -> list[Delivery]:
    with Session(engine) as session:
        review = review_by_reference(session, reference)
        return list(
            session.exec(
                select(Delivery).join(Outbox).where(Outbox.review_id == review.id).order_by(Delivery.address)
            ).all()
        )


def unsent(engine: Engine, reference: str) -> int:
    with Session(engine) as session:
        review = review_by_reference(session, reference)
        return len(session.exec(select(Outbox).where(Outbox.review_id == review.id, Outbox.sent_at == None)).all())  # noqa: E711


# --- the transport ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "implicit-tls"])
def test_the_relay_takes_a_message_over_tls_after_authentication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implicit_tls: bool
) -> None:
    with running_relay(tmp_path, implicit_tls=implicit_tls) as relay:
        monkeypatch.setenv("SSL_CERT_FILE", str(relay.ca_file))
        answer = send(parse_relay(relay.url, PASSWORD), a_message(), PANEL)
        (got,) = relay.received
    assert answer.startswith("250")
    assert got.envelope_to == [PANEL] and got.authenticated and got.secure
    assert got.message["Message-ID"] == "<cspr.test@example.org>"


def test_a_wrong_password_is_a_refusal_to_try_again_not_a_message_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_relay(tmp_path) as relay:
        monkeypatch.setenv("SSL_CERT_FILE", str(relay.ca_file))
        with pytest.raises(Refused) as caught:
            send(parse_relay(relay.url, "not the password"), a_message(), PANEL)
        assert relay.received == []
    assert not caught.value.permanent and caught.value.answer.startswith("535")


def test_a_relay_whose_certificate_is_not_trusted_is_not_given_the_password(tmp_path: Path) -> None:
    with running_relay(tmp_path) as relay, pytest.raises(Refused) as caught:
        send(parse_relay(relay.url, PASSWORD), a_message(), PANEL)  # the system's authorities: not the test's
    assert not caught.value.permanent and "SSL" in caught.value.answer


def test_a_refused_recipient_is_refused_for_good_with_the_relays_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_relay(tmp_path) as relay:
        monkeypatch.setenv("SSL_CERT_FILE", str(relay.ca_file))
        relay.refuse.add(PANEL)
        with pytest.raises(Refused) as caught:
            send(parse_relay(relay.url, PASSWORD), a_message(), PANEL)
    assert caught.value.permanent and caught.value.answer == "550 5.1.1 No such mailbox here"


# --- the outbox by email ------------------------------------------------------------------------------------


def test_each_message_goes_once_to_its_mailbox_with_no_name_in_it(engine: Engine, relay: MailRelay) -> None:
    reference = at_the_panel(engine)
    first = deliver(reference, engine=engine)
    assert (first.sent, first.to_folder, first.retrying, first.failed) == (1, 0, 0, [])
    again = deliver(reference, engine=engine)  # a replayed run, or the sweep after it
    assert again.delivered == 0 and unsent(engine, reference) == 0
    (got,) = relay.received
    assert got.envelope_to == [PANEL] and got.message["To"] == PANEL
    assert got.message["Subject"] == f"{reference}: rapid review"
    body = got.message.get_content()
    # the review waits for the Panel's response: the link is that step's task page
    assert reference in body and "Child Q" in body and task_path(reference, Stage.AWAITING_PANEL) in body
    assert not got.message.is_multipart()  # nothing attached, ever
    (delivery,) = deliveries(engine, reference)
    assert delivery.state == DeliveryState.SENT and delivery.answer.startswith("250") and delivery.attempts == 1
    assert got.message["Message-ID"] == f"<cspr.{delivery.outbox_id}@northshire-scp.example>"
    raw = got.message.as_string()
    for planted in (CHILD, *CHILD.split()[1].split("-"), DOB.isoformat(), DOB.strftime("%d/%m/%Y"), "9 March 2018"):
        assert planted.lower() not in raw.lower(), planted


def test_a_relay_that_is_down_is_tried_again_with_backoff_and_each_message_arrives_once(
    engine: Engine, relay: MailRelay
) -> None:
    reference = at_the_panel(engine)  # the decision that caused the message is recorded, whatever the relay does
    relay.stop()
    now = dt.datetime.now(dt.UTC)
    down = deliver(reference, engine=engine, now=now)
    assert (down.sent, down.retrying, down.failed) == (0, 1, [])
    (waiting,) = deliveries(engine, reference)
    assert waiting.state == DeliveryState.PENDING and "did not answer" in waiting.answer
    assert waiting.next_try_at.replace(tzinfo=dt.UTC) == now + BACKOFF_MINUTES[0] * MINUTE
    relay.start()
    assert deliver(reference, engine=engine, now=now + MINUTE / 2).sent == 0  # not due yet
    back = deliver(reference, engine=engine, now=now + 2 * MINUTE)
    assert back.sent == 1 and unsent(engine, reference) == 0
    assert deliver(reference, engine=engine, now=now + 10 * MINUTE).delivered == 0
    (got,) = relay.received
    (sent,) = deliveries(engine, reference)
    assert sent.state == DeliveryState.SENT and sent.attempts == 2
    assert got.message["Message-ID"] == f"<cspr.{sent.outbox_id}@northshire-scp.example>"


def test_a_relay_down_past_the_last_try_fails_the_message_and_says_why(engine: Engine, relay: MailRelay) -> None:
    reference = at_the_panel(engine)
    relay.stop()
    now = dt.datetime.now(dt.UTC)
    for wait in (0, *BACKOFF_MINUTES):
        now += wait * MINUTE
        result = deliver(reference, engine=engine, now=now)
    assert result.retrying == 0 and len(result.failed) == 1
    (failure,) = result.failed
    assert (failure.reference, failure.purpose, failure.recipient) == (reference, "rapid_review", "panel")
    (delivery,) = deliveries(engine, reference)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == len(BACKOFF_MINUTES) + 1
    assert unsent(engine, reference) == 0  # settled: nothing more will be tried


def test_a_refused_recipient_is_failed_and_the_others_still_get_theirs(engine: Engine, relay: MailRelay) -> None:
    reference, c = _at(engine, Stage.AWAITING_DECISION, Case(path="no-review", child_name=CHILD, child_dob=DOB))
    deliver(reference, engine=engine)  # the Panel's rapid review message
    relay.refuse.add(OFSTED)
    assert answer(engine, reference, c.answer(Stage.AWAITING_DECISION)).accepted  # no review: Panel, Ofsted, DfE
    result = deliver(reference, engine=engine)
    assert result.sent == 2 and [f.recipient for f in result.failed] == ["ofsted"]
    assert result.failed[0].answer == "550 5.1.1 No such mailbox here"
    states = {d.address: (d.state, d.answer[:3]) for d in deliveries(engine, reference)}
    assert states[OFSTED] == (DeliveryState.FAILED, "550")
    assert states[DFE][0] == states[PANEL][0] == DeliveryState.SENT
    assert Counter(address for r in relay.received for address in r.envelope_to) == {PANEL: 2, DFE: 1}


def test_two_deliverers_at_once_send_each_message_once(engine: Engine, relay: MailRelay) -> None:
    reference = at_the_panel(engine)
    results = []
    go = threading.Barrier(2)

    def deliverer() -> None:
        go.wait()
        results.append(deliver(reference, engine=engine))

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.sent for r in results) == [0, 1]
    assert len(relay.received) == 1


def test_without_a_mailbox_for_a_body_its_message_goes_to_the_outbox_folder(
    engine: Engine, relay: MailRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSPR_PANEL_MAILBOX")
    get_settings.cache_clear()
    reference = at_the_panel(engine)
    result = deliver(reference, engine=engine)
    assert (result.sent, result.to_folder) == (0, 1) and relay.received == []
    assert (get_settings().resolved_home / "outbox" / f"{reference}--rapid_review--panel.txt").exists()


def test_an_email_to_an_agencys_contacts_names_the_agency(engine: Engine, relay: MailRelay) -> None:
    reference = practice_asked(engine)
    assert deliver(reference, engine=engine).failed == []
    (got,) = [r for r in relay.received if r.envelope_to == [LEE]]
    lines = got.message.get_content().splitlines()  # as it arrived: CRLF line ends
    assert str(got.message["Subject"]).startswith(f"{reference}: information requested from {PRACTICE}, due by ")
    assert lines[2:4] == [f"For: the contacts of {PRACTICE}", f"Review: {reference}"]
    assert CHILD not in got.message.as_string()


def test_a_failed_email_to_an_agencys_contacts_is_named_by_the_agency_in_a_summary(
    engine: Engine, relay: MailRelay
) -> None:
    relay.refuse.add(LEE)
    reference = practice_asked(engine)
    failed = [f for f in deliver(reference, engine=engine).failed if f.recipient.startswith("agency:")]
    assert [f.reads_as for f in failed] == [f"the contacts of {PRACTICE}"]
    assert str(failed[0]).startswith(f"{reference}: item:request-1:asked:0 to the contacts of {PRACTICE}: 550")


def test_an_agency_past_its_last_day_is_told_nothing_more_and_its_overdue_work_goes_to_the_coordinator(
    engine: Engine, relay: MailRelay
) -> None:
    reference = practice_asked(engine)
    deliver(reference, engine=engine)  # the request itself, to the practice's contact
    yesterday = dt.date.today() - dt.timedelta(days=1)
    with transaction(engine) as session:
        review = review_by_reference(session, reference)
        (request,) = session.exec(select(InformationRequest).where(InformationRequest.review_id == review.id)).all()
        ended = end_agency(
            session, DEMO_PARTNERSHIP, PRACTICE, yesterday, by=Actor("Chris Lee", Role.COORDINATOR), with_open_work=True
        )
        assert ended.left_open == (f"{reference} request 1",)
        assert addresses(session, review, f"agency:{request.agency_id}", get_settings()) == []
        assert [c for c in chase_items(session, request.due_on) if c.reference == reference] == []  # no reminder
        escalated = [c for c in chase_items(session, calendar_for().add(request.due_on, 1)) if c.reference == reference]
        assert [(c.item, c.overdue) for c in escalated] == [("request-1", True)]
        told = session.exec(
            select(Outbox.recipient).where(Outbox.review_id == review.id, col(Outbox.purpose).contains("escalation"))
        ).all()
    assert told == ["coordinator"]
    received = len(relay.received)
    deliver(reference, engine=engine)
    assert [r.envelope_to for r in relay.received[received:] if LEE in r.envelope_to] == []


def test_an_agencys_message_in_the_outbox_folder_names_the_agency_in_a_safe_file_name(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSPR_SMTP_URL", raising=False)  # no relay: every message goes to the folder
    get_settings.cache_clear()
    reference = practice_asked(engine)
    with Session(engine) as session:
        review = review_by_reference(session, reference)
        (asked,) = session.exec(
            select(Outbox).where(Outbox.review_id == review.id, col(Outbox.purpose).startswith("item:"))
        ).all()
    deliver(reference, engine=engine)
    names = sorted(p.name for p in outbox_folder().iterdir())
    assert names and all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in names), names
    name = folder_name(reference, asked.purpose, asked.recipient)
    assert name == f"{reference}--item.request-1.asked.0--agency.{asked.recipient.removeprefix('agency:')}.txt"
    text = (outbox_folder() / name).read_text(encoding="utf-8")
    assert text.startswith(f"To: the contacts of {PRACTICE}\nSubject: {reference}: information requested from ")


# --- the daily digest ---------------------------------------------------------------------------------------


def test_a_person_who_chose_the_digest_gets_one_email_a_day_with_everything(engine: Engine, relay: MailRelay) -> None:

    reference, _ = _at(engine, Stage.RAPID_REVIEW, Case(child_name=CHILD, child_dob=DOB))
    with transaction(engine) as session:
        coordinator = session.exec(select(Account).where(Account.email == "chris.lee@northshire-scp.example")).one()
        set_digest(session, coordinator.email, daily=True, by=OPERATOR)
    with transaction(engine) as session:  # the rapid review waits on the coordinator: told (held for the digest)
        review = review_by_reference(session, reference)
        assert announce_waiting(session, review, "http://127.0.0.1:4200/runs/flow-run/r1")
    assert deliver(reference, engine=engine).sent == 0 and relay.received == []
    assert unsent(engine, reference) == 0  # held for the digest: the outbox is done with it
    (held,) = [d for d in deliveries(engine, reference) if d.address == coordinator.email]
    assert held.state == DeliveryState.HELD

    digest = send_digests(engine=engine)
    assert digest.sent == 1 and send_digests(engine=engine).sent == 0  # once
    (got,) = [r for r in relay.received if r.envelope_to == [coordinator.email]]
    assert got.message["Subject"] == "cspr: your daily digest, 1 message(s)"
    body = got.message.get_content()
    assert f"{reference}: waiting for you: Record the rapid review" in body and "/runs/flow-run/r1" in body
    assert CHILD not in got.message.as_string()
    (sent,) = [d for d in deliveries(engine, reference) if d.address == coordinator.email]
    assert sent.state == DeliveryState.SENT


def test_a_person_no_longer_in_the_register_is_not_written_to(engine: Engine, relay: MailRelay) -> None:
    from models.people import disable_person

    reference, _ = _at(engine, Stage.RAPID_REVIEW, Case(child_name=CHILD, child_dob=DOB))
    with transaction(engine) as session:
        announce_waiting(session, review_by_reference(session, reference), "http://127.0.0.1:4200/runs/flow-run/r1")
    relay.stop()
    now = dt.datetime.now(dt.UTC)
    assert deliver(reference, engine=engine, now=now).retrying == 1  # the relay down: to be tried again
    with transaction(engine) as session:  # meanwhile the coordinator leaves
        disable_person(session, "chris.lee@northshire-scp.example", by=OPERATOR)
    relay.start()
    result = deliver(reference, engine=engine, now=now + 2 * MINUTE)
    assert result.sent == 0 and relay.received == [] and unsent(engine, reference) == 0
    (delivery,) = deliveries(engine, reference)
    assert delivery.state == DeliveryState.FAILED and "no longer in the register" in delivery.answer
