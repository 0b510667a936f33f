"""The checker as `cspr up` starts it (LocalSystem.start_checker: the real `cspr checker` process, with this test
session's settings and keys), asked over its Unix socket as the gate asks it (gate/checker_client.py): it accepts a good
answer and writes nothing, refuses a bad one with the lifecycle's words, runs the redaction gate on an answer that
would publish, answers nobody but the gate, and listens in an owner-only folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from cli.seaweed import free_port
from cli.system import LocalSystem
from gate.checker_client import UNCHECKED, Checked, InProcessChecker, Shown, SocketChecker
from models import identity, signin
from models.answer_check import CHECK_RUN_ID, NO_SUCH_ITEM, SHOW_RUN_ID
from models.db import get_engine, migrate, transaction
from models.identity import Identity
from models.process.demo_case import Case
from models.process.steps.review_under_way import DRAFT
from models.review import lookup
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact, demo_identity, seed_demo
from models.stages import Stage
from models.system_credentials import gate_key
from models.tables import InformationRequest, RequestStatus, utcnow
from models.work.items import ItemKind, ItemRef, item_key
from models.work.requests import ask_agencies
from tests.integration.test_answers import TODAY, _at, answer, state, written


@pytest.fixture(scope="module")
def checker() -> Iterator[Path]:
    """The checker, started as `cspr up` starts it, on a socket in a folder of this module's own; its socket."""
    with pytest.MonkeyPatch.context() as patch:  # the demo people's passwords, hashed cheaply: nobody types them
        patch.setattr(signin, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        migrate(get_engine())
        with transaction() as session:
            seed_demo(session)
    home = Path(tempfile.mkdtemp(prefix="cspr-checker-"))  # short: a socket's path has at most 107 bytes
    system = LocalSystem(port=free_port(), home=home)
    assert not system.checker_socket.parent.exists()  # the checker makes its folder
    process = system.start_checker()
    try:
        system.wait_for_checker(process, timeout=180)
        yield system.checker_socket
    finally:
        system.stop()
        print((home / "logs" / "checker.log").read_text())  # shown when a test failed
        shutil.rmtree(home, ignore_errors=True)


def person(role: Role) -> Identity:
    with transaction() as session:
        return demo_identity(session, role)


def key_of(reference: str) -> str:
    from models import process

    with transaction() as session:
        return process.step_key(lookup.review_by_reference(session, reference))


def ask(
    checker: Path, reference: str, data: dict[str, Any], role: Role, *, signing_key: str = "", timeout: float = 10
) -> Checked:
    """What the gate is told, asking as ``role``'s demo person (signing with ``signing_key``, or the gate's key)."""
    socket_checker = SocketChecker(checker, signing_key or gate_key(), utcnow, timeout=timeout)
    return asyncio.run(socket_checker.check(reference, key_of(reference), data, person(role)))


def post(checker: Path, body: bytes | dict[str, Any]) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(checker)), timeout=30) as client:
        if isinstance(body, bytes):
            return client.post("http://checker/check", content=body)
        return client.post("http://checker/check", json=body)


def test_a_good_answer_is_accepted_and_nothing_is_written(checker: Path) -> None:
    c = Case(today=TODAY, pseudonym="Child Checked")
    reference, c = _at(get_engine(), Stage.RAPID_REVIEW_SIGN_OFF, c)
    sign_off = c.answer(Stage.RAPID_REVIEW_SIGN_OFF)
    before, counts = state(get_engine(), reference), written(get_engine())
    checked = ask(checker, reference, sign_off, Role.LOCAL_AUTHORITY)
    assert checked.accepted, checked.message
    after = state(get_engine(), reference)
    assert (after.stage, after.step_seq, after.step_refusal) == (before.stage, before.step_seq, before.step_refusal)
    assert written(get_engine()) == counts
    assert answer(get_engine(), reference, sign_off).accepted  # the form's key is still the one the run waits on


def test_a_bad_answer_is_refused_with_the_lifecycles_words(checker: Path) -> None:
    c = Case(today=TODAY, pseudonym="Child Refused")
    reference, c = _at(get_engine(), Stage.RAPID_REVIEW_SIGN_OFF, c)
    early = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), "signed_on": "2020-01-01"}
    before = state(get_engine(), reference)
    checked = ask(checker, reference, early, Role.LOCAL_AUTHORITY)
    assert not checked.accepted
    assert "cannot be before the rapid review's completion" in checked.message
    assert state(get_engine(), reference).step_seq == before.step_seq
    in_process = asyncio.run(
        InProcessChecker(get_engine()).check(reference, key_of(reference), early, person(Role.LOCAL_AUTHORITY))
    )
    assert in_process == checked
    recorded = answer(get_engine(), reference, early)  # and the lifecycle, recording it, says the same
    assert (recorded.accepted, recorded.message) == (checked.accepted, checked.message)


def test_an_answer_that_would_publish_a_name_is_refused_by_the_redaction_gate(checker: Path) -> None:
    c = Case(today=TODAY, pseudonym="Child Redacted")
    reference, c = _at(get_engine(), Stage.REVIEW_UNDER_WAY, c)
    leaky = {
        **c.answer(Stage.REVIEW_UNDER_WAY),
        "update": "draft report submitted",
        "request": "",
        **DRAFT,
        "summary": f"{c.child_name} was seen by the GP twice.",
    }
    assert answer(get_engine(), reference, leaky).accepted
    for stage in (Stage.QUALITY_ASSURANCE, Stage.REPORT_APPROVED):
        assert answer(get_engine(), reference, c.answer(stage)).accepted
    publish = c.answer(Stage.AWAITING_PUBLICATION)
    checked = ask(checker, reference, publish, Role.COORDINATOR, timeout=120)  # the first report drawn imports a lot
    assert not checked.accepted
    assert "the name of Child Redacted appears in page" in checked.message and c.child_name not in checked.message
    assert state(get_engine(), reference).step_refusal is None  # the refusal is shown on Submit, not recorded


def test_only_the_gate_may_ask(checker: Path, caplog: pytest.LogCaptureFixture) -> None:
    c = Case(today=TODAY, pseudonym="Child Forged")
    reference, c = _at(get_engine(), Stage.INCIDENT_RECORDED, c)
    data, key, coordinator = c.answer(Stage.INCIDENT_RECORDED), key_of(reference), person(Role.COORDINATOR)
    digest, now = identity.answer_digest(data), utcnow()
    forged = identity.sign(identity.new_key(), coordinator, run_id=CHECK_RUN_ID, form_key=key, at=now, answer=digest)
    refused = post(checker, {"reference": reference, "key": key, "data": data, "token": forged})
    assert refused.status_code == 403
    assert refused.json() == {"accepted": False, "message": refused.json()["message"]}
    assert "not the gate's" in refused.json()["message"]
    # a token the gate made for a real run, or for another answer, is no request to check this one
    for run_id, answer_digest in (("0b5e6a9c-0000-4000-8000-000000000001", digest), (CHECK_RUN_ID, "0" * 64)):
        token = identity.sign(gate_key(), coordinator, run_id=run_id, form_key=key, at=now, answer=answer_digest)
        assert post(checker, {"reference": reference, "key": key, "data": data, "token": token}).status_code == 403
    then = now - dt.timedelta(minutes=5)  # the gate signs as it asks: a token minutes old is a replay
    old = identity.sign(gate_key(), coordinator, run_id=CHECK_RUN_ID, form_key=key, at=then, answer=digest)
    stale = post(checker, {"reference": reference, "key": key, "data": data, "token": old})
    assert stale.status_code == 403 and "older than 2 minutes" in stale.json()["message"]
    assert post(checker, {"reference": reference, "key": key, "data": data}).status_code == 403  # no token
    bad = post(checker, b"{not json")
    assert bad.status_code == 400 and bad.json()["message"] == "the request is not JSON"
    assert post(checker, {"reference": reference, "key": key, "data": "text", "token": forged}).status_code == 400
    # the gate, holding a key that is not the checker's, is told nothing was sent, and says so in its log
    with caplog.at_level(logging.ERROR, logger="cspr.gate"):
        told = ask(checker, reference, data, Role.COORDINATOR, signing_key=identity.new_key())
    assert told == Checked(False, UNCHECKED)
    assert "the checker answered HTTP 403" in caplog.text
    assert state(get_engine(), reference).step_refusal is None


def test_a_checker_that_cannot_be_reached_holds_the_answer_back(
    checker: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = Case(today=TODAY, pseudonym="Child Unreached")
    reference, c = _at(get_engine(), Stage.INCIDENT_RECORDED, c)
    nowhere = SocketChecker(tmp_path / "nothing.sock", gate_key(), utcnow)
    with caplog.at_level(logging.ERROR, logger="cspr.gate"):
        checked = asyncio.run(
            nowhere.check(reference, key_of(reference), c.answer(Stage.INCIDENT_RECORDED), person(Role.COORDINATOR))
        )
    assert checked == Checked(False, UNCHECKED)
    assert "could not be reached" in caplog.text


def test_the_socket_is_in_an_owner_only_folder(checker: Path) -> None:
    assert stat.S_IMODE(checker.parent.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(checker.stat().st_mode) and stat.S_IMODE(checker.stat().st_mode) == 0o600


# --- the work around a review ---------------------------------------------------------------------------------------

SCHOOL, SURGERY = DEMO_AGENCY_CONTACTS[0][0], DEMO_AGENCY_CONTACTS[1][0]


def school_asked(pseudonym: str) -> tuple[str, str]:
    """A review whose school was asked for its information, with a reason given for more time (sealed): the reference
    and the key of the form request 1's run waits on."""
    c = Case(today=TODAY, pseudonym=pseudonym)
    reference, c = _at(get_engine(), Stage.RAPID_REVIEW, c)
    with transaction() as session:
        review = lookup.review_by_reference(session, reference)
        coordinator = Actor("Chris Lee", Role.COORDINATOR)
        (row,) = ask_agencies(session, review, [SCHOOL], actor=coordinator, at=utcnow(), today=TODAY)
        row.reason = "The school is closed for half term."
        session.add(row)
        session.flush()
        return reference, item_key(ItemRef(ItemKind.REQUEST, row.number), row.answer_seq)


def contact(agency: str) -> Identity:
    with transaction() as session:
        return demo_agency_contact(session, agency)


def test_an_items_answer_is_checked_and_the_item_shown_to_its_own_people_alone(checker: Path) -> None:
    reference, key = school_asked("Child Checked Item")
    socket_checker = SocketChecker(checker, gate_key(), utcnow)
    no_involvement = {"what": "no involvement"}
    checked = asyncio.run(socket_checker.check_item(reference, "request-1", key, no_involvement, contact(SCHOOL)))
    assert checked == Checked(True, f"request 1 to {SCHOOL}: no involvement")
    theirs = asyncio.run(socket_checker.check_item(reference, "request-1", key, no_involvement, contact(SURGERY)))
    assert not theirs.accepted and f"not registered as a contact of {SCHOOL}" in theirs.message
    with transaction() as session:  # nothing was written: the request still waits, on the same key
        review = lookup.review_by_reference(session, reference)
        row = session.exec(select(InformationRequest).where(InformationRequest.review_id == review.id)).one()
        assert (row.status, row.answer_seq) == (RequestStatus.REQUESTED, 0)

    shown = asyncio.run(socket_checker.show(reference, "request-1", contact(SCHOOL)))
    assert not shown.refused and any("The school is closed for half term." in line for line in shown.lines)
    assert asyncio.run(socket_checker.show(reference, "request-1", person(Role.COORDINATOR))).lines
    for nobody in (contact(SURGERY), person(Role.PANEL)):
        refused = asyncio.run(socket_checker.show(reference, "request-1", nobody))
        assert refused == Shown(refused=True, message=NO_SUCH_ITEM)
    assert asyncio.run(socket_checker.show(reference, "request-9", contact(SCHOOL))).refused

    # a token signed to check an answer shows nothing; nor does one for another item
    school, now, digest = contact(SCHOOL), utcnow(), identity.answer_digest(reference)
    for run_id, form_key in ((CHECK_RUN_ID, "request-1"), (SHOW_RUN_ID, "request-2")):
        token = identity.sign(gate_key(), school, run_id=run_id, form_key=form_key, at=now, answer=digest)
        asked = {"reference": reference, "item": "request-1", "token": token}
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(checker)), timeout=30) as client:
            answer = client.post("http://checker/show", json=asked)
        assert answer.status_code == 403 and "lines" not in answer.json()
