"""The child death review beside a death's review (SQLite and PostgreSQL): the notification records the child death
review partners' reference (needed for a child's death, optional for a care leaver's, never a name) and the
notification summary shows it; the partners are told through the real SMTP server (aiosmtpd, tests/utils/smtp.py)
when the rapid review goes to the Panel and when the local review is published, deferred, or published as
information about improvements only, with no name in any message; a partnership with no mailbox for them has their
messages in the outbox folder; `cspr partnerships child-death-review` sets the mailbox, in the register's history."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from models import answers, documents, process
from models.audit import verify
from models.child_death_review import set_mailbox
from models.db import transaction
from models.forms import ADULT_BANDS, Harm, Kind
from models.process.demo_case import Case
from models.review import lookup
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_CHILD_DEATH_REVIEW
from models.settings import get_settings
from models.stages import Stage
from models.tables import Outbox, Partnership, RegisterAction, RegisterEvent
from tasks.notices import deliver, outbox_folder
from tasks.pdf import render_html
from tests.integration.test_answers import TODAY, answer, quick_passwords, record, state, written
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, make_partnership
from tests.utils.smtp import MailRelay, Received, running_relay, use_relay

__all__ = ["quick_passwords"]  # the demo people's accounts, hashed cheaply

PANEL, OFSTED, DFE, SOS = "notices@panel.example", "notices@ofsted.example", "notices@dfe.example", "sos@dfe.example"
CDR = "CDOP/2026/0042"
NATIONAL = "SIN-2026-10-1234"  # the demo's reference in the national notification system
OPERATOR = Actor("Olu Operator (command line)", Role.OPERATOR)


@dataclasses.dataclass
class Death(Case):
    """The demo case, of a child who died (``kind``); the notification step gives ``cdr`` as the child death review
    reference (none if empty). The child carries the planted name and date of birth."""

    kind: Kind = Kind.serious_incident
    cdr: str = CDR
    child_name: str = PLANTED_NAME
    child_dob: dt.date = PLANTED_DOB

    def notification(self) -> dict[str, Any]:
        notified = {**super().notification(), "harm": Harm.died.value, "kind": self.kind.value}
        if self.kind is Kind.care_leaver_death:  # a young person of 22 to 24: no rapid review follows
            notified["children"] = [{"pseudonym": self.pseudonym, "age_band": ADULT_BANDS[-1].value}]
        return notified

    def answer(self, stage: Stage) -> dict[str, Any]:
        given = super().answer(stage)
        if stage is Stage.INCIDENT_RECORDED and self.cdr:
            given["child_death_review_reference"] = self.cdr
        return given


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailRelay]:
    """The relay running, and the system's settings pointing at it (the national bodies' mailboxes too)."""
    with running_relay(tmp_path) as running:
        use_relay(monkeypatch, running, PANEL=PANEL, OFSTED=OFSTED, DFE=DFE, SECRETARY_OF_STATE=SOS)
        yield running
    get_settings.cache_clear()


def walk(engine: Engine, reference: str, c: Case, to: Stage) -> None:
    """Answer each step as the case says (running automatic moves) until the review waits at ``to``."""
    for _ in range(40):
        with transaction(engine) as session:
            review = lookup.review_by_reference(session, reference)
            if review.stage == to:
                return
            action = process.next_action(session, review, today=TODAY)
            if isinstance(action, process.Automatic):
                answers.apply_automatic(session, review, action.transition)
                continue
        assert isinstance(action, process.WaitForForm), action
        outcome = answer(engine, reference, c.answer(Stage(action.step.stage)))
        assert outcome.accepted, outcome.message
    raise AssertionError(f"{reference} never reached {to}")


def to_cdr(relay: MailRelay) -> list[Received]:
    return [r for r in relay.received if r.envelope_to == [DEMO_CHILD_DEATH_REVIEW]]


def assert_no_name(received: list[Received]) -> None:
    """No message holds the child's or the family member's name, or the child's date of birth, in any spelling."""
    planted = (
        *PLANTED_NAME.replace("-", " ").split(),
        PLANTED_NAME,
        *Case.family_name.split(),
        PLANTED_DOB.isoformat(),
        PLANTED_DOB.strftime("%d/%m/%Y"),
        f"{PLANTED_DOB.day} {PLANTED_DOB:%B %Y}",
    )
    for got in received:
        raw = got.message.as_string().lower()
        for word in planted:
            assert word.lower() not in raw, word


def assert_told(got: Received, reference: str, happened: str) -> None:
    assert got.message["Subject"] == f"{reference}: {happened}"
    assert not got.message.is_multipart()  # nothing attached
    body = got.message.get_content().replace("\r\n", "\n")
    assert f"For: the child death review partners\nReview: {reference}\n" in body
    assert "Children (by pseudonym): Child Q" in body
    assert f"Reference in the national notification system: {NATIONAL}" in body
    assert f"Child death review reference: {CDR}" in body
    assert "Child Death Review Statutory and Operational Guidance (England) 2018" in body


# --- told through the relay -------------------------------------------------------------------------------------


def test_a_deaths_rapid_review_and_publication_reach_the_child_death_review_partners_with_no_name(
    engine: Engine, relay: MailRelay
) -> None:
    c = Death(today=TODAY)
    reference = record(engine, c)
    walk(engine, reference, c, Stage.AWAITING_PANEL)
    first = deliver(reference, engine=engine)
    assert (first.sent, first.to_folder, first.failed) == (2, 0, [])  # the Panel's, and theirs
    (sent,) = to_cdr(relay)
    assert_told(sent, reference, "the rapid review of this death was sent to the Panel")

    walk(engine, reference, c, Stage.AWAITING_PUBLICATION)
    deliver(reference, engine=engine)
    assert answer(engine, reference, c.answer(Stage.AWAITING_PUBLICATION)).accepted  # publish the report
    assert deliver(reference, engine=engine).failed == []
    assert deliver(reference, engine=engine).delivered == 0  # each once
    sent_again, published = to_cdr(relay)
    assert sent_again is sent
    assert_told(published, reference, "the local review's report was published")
    assert len(relay.received) > 4  # the Panel's, Ofsted's, the DfE's and the Secretary of State's too
    assert_no_name(relay.received)


def test_a_deferral_and_a_decision_not_to_publish_the_report_reach_them_too(engine: Engine, relay: MailRelay) -> None:
    c = Death(today=TODAY, deferrals=1, improvements_only=True)
    reference = record(engine, c)
    walk(engine, reference, c, Stage.AWAITING_PUBLICATION)
    deliver(reference, engine=engine)
    assert answer(engine, reference, c.answer(Stage.AWAITING_PUBLICATION)).accepted  # deferred, looked at today
    walk(engine, reference, c, Stage.AWAITING_PUBLICATION)  # the deferral's date has come
    assert answer(engine, reference, c.answer(Stage.AWAITING_PUBLICATION)).accepted  # improvements only
    assert deliver(reference, engine=engine).failed == []
    # both are delivered by the same call, in no set order
    _, *told = to_cdr(relay)
    (deferred,) = [r for r in told if "deferred" in str(r.message["Subject"])]
    (improvements,) = [r for r in told if "deferred" not in str(r.message["Subject"])]
    assert_told(deferred, reference, f"publication of the local review deferred until at least {TODAY:%d %B %Y}")
    assert_told(
        improvements,
        reference,
        "it was decided not to publish the local review's report: information about the improvements to be made "
        "was published instead",
    )
    assert "police asked" not in deferred.message.get_content()  # the deferral's reasons are free text: not sent
    assert_no_name(relay.received)


def test_without_their_mailbox_their_message_waits_in_the_outbox_folder(engine: Engine, relay: MailRelay) -> None:
    c = Death(today=TODAY, pseudonym="Child M")
    reference = record(engine, c)
    with transaction(engine) as session:
        set_mailbox(session, "northshire", None, by=OPERATOR)
    walk(engine, reference, c, Stage.AWAITING_PANEL)
    folder_file = outbox_folder() / f"{reference}--rapid_review--child_death_review.txt"
    folder_file.unlink(missing_ok=True)  # the folder is the session's: one left by the other database's run
    result = deliver(reference, engine=engine)
    assert (result.sent, result.to_folder) == (1, 1)
    assert [r.envelope_to for r in relay.received] == [[PANEL]]
    written_out = folder_file.read_text()
    assert written_out.startswith("To: the child death review partners\n")
    assert f"Child death review reference: {CDR}" in written_out and PLANTED_NAME not in written_out


def test_a_child_who_did_not_die_is_no_business_of_the_child_death_review(engine: Engine) -> None:
    c = Case(today=TODAY)  # seriously harmed
    reference = record(engine, c)
    walk(engine, reference, c, Stage.AWAITING_PANEL)
    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        recipients = session.exec(select(Outbox.recipient).where(Outbox.review_id == review.id)).all()
        plan = documents.plan(session, review, today=TODAY)
        (summary,) = [d for d in plan if d.kind is documents.DocumentKind.NOTIFICATION_SUMMARY]
    assert recipients == ["panel"]
    assert "Child death review" not in render_html(summary.template, summary.context)


# --- the reference ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "Give the child death review reference: a child has died"),
        ("CDOP#42", "letters, numbers, spaces, hyphens and slashes, with at least one number"),
        ("Quillfeather", "letters, numbers, spaces, hyphens and slashes, with at least one number"),
        ("CDOP Quillfeather 42", "holds a name recorded for this case"),
        ("x" * 41, "at most 40 characters"),
    ],
    ids=["missing", "other-characters", "a-name-alone", "a-name-in-it", "too-long"],
)
def test_a_childs_death_needs_a_reference_that_is_no_name(engine: Engine, given: str, message: str) -> None:
    c = Death(today=TODAY, cdr=given)
    reference = record(engine, c)
    before, counts = state(engine, reference), written(engine)
    outcome = answer(engine, reference, c.answer(Stage.INCIDENT_RECORDED))
    assert not outcome.accepted and message in outcome.message, outcome.message
    assert "Quillfeather" not in outcome.message  # what was typed is never repeated
    after = state(engine, reference)
    assert (after.stage, after.version, after.child_death_review_reference) == (before.stage, before.version, None)
    assert written(engine) == counts


def test_the_reference_is_recorded_and_shown_on_the_notification_summary(engine: Engine) -> None:
    c = Death(today=TODAY, cdr=f"  {CDR} ")
    reference = record(engine, c)
    assert answer(engine, reference, c.answer(Stage.INCIDENT_RECORDED)).accepted
    with Session(engine) as session:
        review = lookup.review_by_reference(session, reference)
        (summary,) = documents.plan(session, review, today=TODAY)
    assert review.child_death_review_reference == CDR
    html = render_html(summary.template, summary.context)
    assert "Child death review reference" in html and CDR in html


def test_a_care_leavers_death_may_go_without_one_and_a_serious_harm_has_none(engine: Engine) -> None:
    born = dt.date(TODAY.year - 24, 1, 1)  # 22 or 23 when the local authority became aware
    leaver = Death(today=TODAY, kind=Kind.care_leaver_death, cdr="", pseudonym="Young Person C", child_dob=born)
    reference = record(engine, leaver)
    assert answer(engine, reference, leaver.answer(Stage.INCIDENT_RECORDED)).accepted
    closed = state(engine, reference)
    assert closed.stage is Stage.CLOSED and closed.child_death_review_reference is None

    harmed = Case(today=TODAY, pseudonym="Child H")
    other = record(engine, harmed)
    outcome = answer(engine, other, {**harmed.answer(Stage.INCIDENT_RECORDED), "child_death_review_reference": CDR})
    assert not outcome.accepted and "no one has died in this notification" in outcome.message


# --- the command ------------------------------------------------------------------------------------------------


def test_the_command_sets_their_mailbox_in_the_registers_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        with transaction() as session:
            make_partnership(session, "northshire")
        command = ["partnerships", "child-death-review", "northshire"]

        def said(args: list[str]) -> str:
            got = runner.invoke(app, args)
            assert got.exit_code == 0, got.output
            return " ".join(got.output.split())

        assert "is not set: their messages wait in the outbox folder" in said(command)
        assert "is now cdop@northshire.example (was not set)" in said(
            [*command, "--email", " CDOP@Northshire.example "]
        )
        assert "is cdop@northshire.example." in said([*command, "--email", "cdop@northshire.example"])  # as it was
        assert "is now not set: their messages wait in the outbox folder (was cdop@northshire.example)" in said(
            [*command, "--none"]
        )
        for refused, why in [
            ([*command, "--email", "not an address"], "that is not an email address"),
            ([*command, "--email", "a@b.example", "--none"], "give --email or --none, not both"),
            (["partnerships", "child-death-review", "westmarch", "--none"], "no safeguarding partnership 'westmarch'"),
        ]:
            got = runner.invoke(app, refused)
            assert got.exit_code == 2 and why in " ".join(got.output.split()), got.output
        with transaction() as session:
            assert session.exec(select(Partnership)).one().child_death_review_email is None
            events = session.exec(
                select(RegisterEvent)
                .where(RegisterEvent.action == RegisterAction.CHILD_DEATH_REVIEW)
                .order_by(col(RegisterEvent.seq))
            ).all()
            assert [(e.details["mailbox"], e.details["was"]) for e in events] == [
                ("cdop@northshire.example", None),
                (None, "cdop@northshire.example"),
            ]  # the unchanged setting and the refusals recorded nothing
            assert {e.details["partnership"] for e in events} == {"northshire"}
            assert all(e.actor_role == Role.OPERATOR and "(command line)" in e.actor_name for e in events)
            assert verify(session).findings == []
        assert "the trail is intact" in runner.invoke(app, ["audit", "verify"]).output
    finally:
        get_settings.cache_clear()
