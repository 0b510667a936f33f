"""The register and its accounts: `cspr people add/disable/list`, each change in the register's hash-chained history
with who made it, on SQLite and PostgreSQL. Every person here is invented."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from models import signin
from models.audit import verify
from models.db import transaction
from models.people import NotMatched, RegisterRefusal, add_person, disable_person, match_oidc, people
from models.review.transitions import Actor
from models.roles import Role
from models.settings import get_settings
from models.tables import Account, RegisterEvent, Representative
from tests.utils.factories import make_partnership

OPERATOR = Actor("an operator (command line)", Role.OPERATOR)
AT = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
DANA = "dana.okafor@northshire-police.example"


def add(engine: Engine, **kw: object) -> signin.Credentials:
    args: dict[str, object] = {
        "name": "Dana Okafor",
        "email": "Dana.Okafor@Northshire-Police.example",
        "role": Role.POLICE,
        "partnership_code": "northshire",
        "organisation": "Northshire Police",
        "by": OPERATOR,
        "at": AT,
        **kw,
    }
    with transaction(engine) as session:
        enrolment = add_person(session, **args)  # type: ignore[arg-type]
        account = session.exec(select(Account).where(Account.email == enrolment.email)).one()
        assert enrolment.password is not None
        credentials = signin.Credentials(account.password_hash or "", account.totp_secret)
        assert signin.sign_in(credentials, enrolment.password, _code(enrolment.totp_uri), AT).accepted
        return credentials


def _code(uri: str | None) -> str:
    return "" if uri is None else pyotp.parse_uri(uri).at(AT)


@pytest.fixture
def register(engine: Engine) -> Engine:
    with transaction(engine) as session:
        make_partnership(session, "northshire")
        make_partnership(session, "southmoor")
    return engine


def test_a_person_is_registered_with_an_account_they_can_sign_in_to(register: Engine) -> None:
    credentials = add(register)
    assert credentials.password_hash.startswith("$argon2id$") and credentials.totp_secret
    with Session(register) as session:
        row = next(p for p in people(session) if p.email == "dana.okafor@northshire-police.example")
        assert (row.role, row.partnership, row.active, row.sign_in) == ("police", "northshire", True, "password+totp")
        event = session.exec(select(RegisterEvent)).one()
        assert (event.action, event.actor_name, event.actor_role) == ("added", OPERATOR.name, "operator")
        assert event.details == {"role": "police", "partnership": "northshire", "demo": False}
        # the TOTP secret is encrypted at rest, and no secret is in the register's history
        raw = session.execute(sa.text("SELECT totp_secret FROM account")).scalar_one()
        assert raw != credentials.totp_secret
        assert credentials.totp_secret not in json.dumps(event.details)


def test_one_address_is_one_account_however_many_registrations(register: Engine) -> None:
    add(register)
    with transaction(register) as session:
        again = add_person(
            session,
            name="Dana Okafor",
            email="dana.okafor@northshire-police.example",
            role=Role.POLICE,
            partnership_code="southmoor",
            organisation="",
            by=OPERATOR,
        )
        assert again.password is None and again.totp_uri is None  # the account's password and factor stand
        assert len(session.exec(select(Account)).all()) == 1
        assert len(session.exec(select(Representative)).all()) == 2 + 2 * 5  # and the factories' five each


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"email": "not-an-address"}, "not an email address"),
        ({"email": "x" * 250 + "@a.example"}, "not an email address"),
        ({"name": "  "}, "give the person's name"),
        (
            {"partnership_code": "westmarch"},
            "no safeguarding partnership 'westmarch'; known partnerships: northshire, southmoor",
        ),
        ({"role": Role.OPERATOR}, "registered in no partnership"),
        ({"agency": "Northshire Primary School"}, "only an agency contact answers for an agency"),
        ({"role": Role.AGENCY_CONTACT}, "an agency contact answers for an agency: give its name"),
    ],
)
def test_a_bad_registration_is_refused_and_changes_nothing(
    register: Engine, change: dict[str, object], complaint: str
) -> None:
    with pytest.raises(RegisterRefusal, match=complaint):
        add(register, **change)
    with Session(register) as session:
        assert session.exec(select(Account)).all() == [] and session.exec(select(RegisterEvent)).all() == []


def test_the_same_registration_twice_is_refused(register: Engine) -> None:
    add(register)
    with pytest.raises(RegisterRefusal, match="already registered in Northshire"):
        add(register)


def test_an_operator_is_registered_in_no_partnership_and_a_demo_person_has_a_password_alone(register: Engine) -> None:
    add(register, email="ops@cspr.example", role=Role.OPERATOR, partnership_code=None, name="Ola Operator")
    demo = add(register, email="demo@northshire.example", demo=True, name="Demo Person")
    assert demo.totp_secret is None
    with Session(register) as session:
        rows = {p.email: p for p in people(session)}
    assert rows["ops@cspr.example"].partnership == "" and rows["ops@cspr.example"].role == "operator"
    assert rows["demo@northshire.example"].demo and rows["demo@northshire.example"].sign_in == "password"


def test_a_disabled_person_is_inactive_everywhere_and_the_change_is_recorded(register: Engine) -> None:
    add(register)
    with transaction(register) as session:
        disable_person(session, "DANA.OKAFOR@northshire-police.example", by=OPERATOR, at=AT)
    with Session(register) as session:
        row = next(p for p in people(session) if p.email == "dana.okafor@northshire-police.example")
        assert not row.active
        actions = [e.action for e in session.exec(select(RegisterEvent).order_by(col(RegisterEvent.seq)))]
        assert actions == ["added", "disabled"]
    for email, complaint in [
        ("dana.okafor@northshire-police.example", "disabled already"),
        ("no@x.example", "no account"),
    ]:
        with pytest.raises(RegisterRefusal, match=complaint), transaction(register) as session:
            disable_person(session, email, by=OPERATOR)
    with pytest.raises(RegisterRefusal, match="is disabled; it is not registered again"):
        add(register, partnership_code="southmoor")


def test_the_registers_history_is_verified_like_a_reviews(register: Engine) -> None:
    add(register)
    add(register, email="jo@northshire-icb.example", role=Role.HEALTH, name="Jo Evans-Ward")
    with Session(register) as session:
        assert verify(session).findings == [] and verify(session).register_events == 2
    with register.begin() as connection:  # someone makes themselves an operator behind the register's back
        connection.execute(sa.text('UPDATE register_event SET details = \'{"role": "operator"}\' WHERE seq = 1'))
    with Session(register) as session:
        assert [str(f) for f in verify(session).findings] == [
            "the register: register entry 1 was changed after it was written"
        ]


def test_the_people_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        with transaction() as session:
            make_partnership(session, "northshire")
        args = [
            "people",
            "add",
            "--name",
            "Dana Okafor",
            "--email",
            "dana@northshire-police.example",
            "--role",
            "police",
            "--partnership",
            "northshire",
            "--organisation",
            "Northshire Police",
        ]
        added = runner.invoke(app, args)
        assert added.exit_code == 0, added.output
        assert "first password:" in added.output and "otpauth://totp/cspr:" in added.output
        assert runner.invoke(app, args).exit_code == 2  # registered already: refused, in words
        listed = json.loads(runner.invoke(app, ["people", "list", "--partnership", "northshire", "--json"]).stdout)
        dana = next(p for p in listed if p["email"] == "dana@northshire-police.example")
        assert dana["role"] == "police" and dana["sign_in"] == "password+totp"
        assert runner.invoke(app, ["people", "disable", "dana@northshire-police.example"]).exit_code == 0
        assert "change(s) to the register: the trail is intact" in runner.invoke(app, ["audit", "verify"]).output
        bad = runner.invoke(app, ["people", "add", "--name", "X", "--email", "x@x.example", "--role", "mayor"])
        assert bad.exit_code == 2  # not a role: typer lists the roles
    finally:
        get_settings.cache_clear()


def _register_then(register: Engine, setup: str) -> None:
    """Dana registered with an account; then, as ``setup`` says, linked, disabled, or joined by a demo person."""
    add(register)
    if setup == "demo":
        add(register, email="demo@northshire-police.example", demo=True, name="Demo Person")
    with transaction(register) as session:
        if setup == "linked elsewhere":
            match_oidc(session, subject="subject-of-someone-else", email=DANA, email_verified=True, at=AT)
        elif setup == "disabled":
            disable_person(session, DANA, by=OPERATOR, at=AT)


def test_an_oidc_sign_in_is_matched_by_verified_email_once_then_by_subject(register: Engine) -> None:
    add(register)
    with transaction(register) as session:
        account = match_oidc(
            session, subject="entra-oid-dana", email="Dana.Okafor@Northshire-Police.example", email_verified=True, at=AT
        )
        assert (account.email, account.oidc_subject) == (DANA, "entra-oid-dana")
    with transaction(register) as session:  # from now on her subject finds her, whatever address the token carries
        assert (
            match_oidc(session, subject="entra-oid-dana", email="d.o@elsewhere.example", email_verified=False).email
            == DANA
        )
    with Session(register) as session:
        events = session.exec(select(RegisterEvent).order_by(col(RegisterEvent.seq))).all()
        assert [e.action for e in events] == ["added", "linked"]  # linked once, recorded once
        assert (events[1].actor_role, events[1].details) == (
            "system",
            {"subject": "entra-oid-dana", "matched_by": "verified email"},
        )
        assert verify(session).findings == []


@pytest.mark.parametrize(
    ("setup", "email", "verified", "complaint"),
    [
        (
            "",
            "robin.ashdown@northshire-police.example",
            True,
            "You signed in as robin.ashdown@northshire-police.example at your organisation, but you are not "
            "registered in cspr; ask an operator to add you.",
        ),
        ("", "<b>x</b>@x.example", True, "You signed in at your organisation, but you are not registered in cspr"),
        ("", None, False, "You signed in at your organisation, but you are not registered in cspr"),
        ("", DANA, False, "it did not confirm your email address"),  # anyone can type an unverified address
        ("demo", "demo@northshire-police.example", True, "A demo account cannot sign in"),
        ("disabled", DANA, True, "Your cspr account is disabled"),
        ("linked elsewhere", DANA, True, "linked to another account at your organisation"),
    ],
)
def test_an_oidc_sign_in_that_matches_no_one_who_may_act_is_refused_and_links_nothing(
    register: Engine, setup: str, email: str | None, verified: bool, complaint: str
) -> None:
    _register_then(register, setup)
    with Session(register) as session:
        before = len(session.exec(select(RegisterEvent)).all())
    with pytest.raises(NotMatched) as refused, transaction(register) as session:
        match_oidc(session, subject="entra-oid-newcomer", email=email, email_verified=verified, at=AT)
    assert complaint in str(refused.value) and "<" not in str(refused.value)
    with Session(register) as session:
        assert len(session.exec(select(RegisterEvent)).all()) == before
        assert session.exec(select(Account).where(Account.oidc_subject == "entra-oid-newcomer")).first() is None
