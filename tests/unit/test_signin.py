"""Local sign-in: Argon2id passwords, a TOTP code accepted once, no lock however many failures (the gate slows them
down instead: tests/unit/test_throttle.py), and one refusal for every failure so nobody learns who has an account."""

from __future__ import annotations

import datetime as dt
import statistics
import time
import urllib.parse

import pyotp
import pytest

from models import signin
from models.signin import REFUSED, Credentials, sign_in

PASSWORD = "correct horse battery staple"
AT = dt.datetime(2026, 12, 2, 9, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    return Credentials(password_hash=signin.hash_password(PASSWORD), totp_secret=signin.new_totp_secret())


def code_at(credentials: Credentials, at: dt.datetime) -> str:
    assert credentials.totp_secret is not None
    return pyotp.TOTP(credentials.totp_secret).at(at)


def test_the_password_is_stored_as_an_argon2id_hash_only(credentials: Credentials) -> None:
    assert credentials.password_hash.startswith("$argon2id$")
    assert PASSWORD not in credentials.password_hash


def test_the_right_password_and_code_sign_in(credentials: Credentials) -> None:
    attempt = sign_in(credentials, PASSWORD, code_at(credentials, AT), AT)
    assert attempt.accepted and attempt.credentials is not None
    assert attempt.credentials.totp_last_step >= 0


def test_a_code_from_a_clock_a_little_off_is_accepted_but_not_one_from_minutes_ago(credentials: Credentials) -> None:
    assert sign_in(credentials, PASSWORD, code_at(credentials, AT - dt.timedelta(seconds=30)), AT).accepted
    assert not sign_in(credentials, PASSWORD, code_at(credentials, AT - dt.timedelta(minutes=5)), AT).accepted


def test_each_code_is_accepted_once(credentials: Credentials) -> None:
    code = code_at(credentials, AT)
    first = sign_in(credentials, PASSWORD, code, AT)
    assert first.accepted and first.credentials is not None
    again = sign_in(first.credentials, PASSWORD, code, AT + dt.timedelta(seconds=10))
    assert not again.accepted and again.message == REFUSED
    earlier = code_at(credentials, AT - dt.timedelta(seconds=30))  # older than the one used: spent too
    assert not sign_in(first.credentials, PASSWORD, earlier, AT + dt.timedelta(seconds=10)).accepted
    later = AT + dt.timedelta(seconds=60)
    assert sign_in(first.credentials, PASSWORD, code_at(credentials, later), later).accepted


@pytest.mark.parametrize("wrong", ["password", "code"])
def test_a_wrong_password_or_code_is_refused_and_changes_nothing(credentials: Credentials, wrong: str) -> None:
    password = "not the password at all" if wrong == "password" else PASSWORD
    code = code_at(credentials, AT)
    code = code if wrong == "password" else f"{(int(code) + 1) % 1_000_000:06d}"
    attempt = sign_in(credentials, password, code, AT)
    assert not attempt.accepted and attempt.message == REFUSED
    assert attempt.credentials == credentials  # nothing to store: no count, no lock, the code not spent


def test_no_number_of_failures_locks_the_account(credentials: Credentials) -> None:
    # a lock is one anyone could set off by typing the address with wrong passwords; the gate slows them instead
    state: Credentials | None = credentials
    for _ in range(8):
        assert state is not None
        state = sign_in(state, "a wrong password here", code_at(credentials, AT), AT).credentials
    assert state == credentials
    assert sign_in(credentials, PASSWORD, code_at(credentials, AT), AT).accepted


def test_a_wrong_first_code_at_enrolment_changes_nothing_and_the_right_one_is_accepted_once(
    credentials: Credentials,
) -> None:
    taken = {code_at(credentials, AT + dt.timedelta(seconds=s)) for s in (-30, 0, 30)}  # the clock's leeway
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in taken)
    for _ in range(8):
        wrong = signin.confirm_code(credentials, wrong_code, AT)
        assert not wrong.accepted and wrong.message == REFUSED and wrong.credentials == credentials
    right = signin.confirm_code(credentials, code_at(credentials, AT), AT)
    assert right.accepted and right.credentials is not None
    assert not signin.confirm_code(right.credentials, code_at(credentials, AT), AT).accepted


def test_a_demo_account_signs_in_with_a_password_alone() -> None:
    demo = Credentials(password_hash=signin.hash_password(PASSWORD), totp_secret=None)
    assert demo.factor is signin.Factor.PASSWORD
    assert sign_in(demo, PASSWORD, "", AT).accepted
    assert not sign_in(demo, "a wrong password here", "", AT).accepted


def test_an_unknown_account_gets_the_same_refusal_in_about_the_same_time(credentials: Credentials) -> None:
    """Compared in one run, interleaved, medians of several tries: a shared machine's noise hits both alike."""
    unknown, wrong = [], []
    for _ in range(7):
        started = time.perf_counter()
        no_account = sign_in(None, "a wrong password here", "123456", AT)
        unknown.append(time.perf_counter() - started)
        started = time.perf_counter()
        wrong_password = sign_in(credentials, "a wrong password here", "123456", AT)
        wrong.append(time.perf_counter() - started)
        assert no_account.message == wrong_password.message == REFUSED and no_account.credentials is None
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2, ratio  # both pay one Argon2id verification (tens of milliseconds); no account is not free


@pytest.mark.parametrize(
    ("password", "code"),
    [("x" * 1_000_000, "123456"), ("<script>alert(1)</script>", "123456"), (PASSWORD, "1' OR '1'='1"), ("", "")],
    ids=["1MB-password", "markup", "sql-in-code", "empty"],
)
def test_hostile_input_is_refused_plainly(credentials: Credentials, password: str, code: str) -> None:
    started = time.perf_counter()
    attempt = sign_in(credentials, password, code, AT)
    assert not attempt.accepted and attempt.message == REFUSED
    assert password[:50] not in attempt.message or not password
    assert time.perf_counter() - started < 2  # a megabyte is refused before it is hashed


def test_a_new_password_must_be_of_a_sensible_length() -> None:
    for bad in ("short", "x" * (signin.MAX_PASSWORD_LENGTH + 1)):
        with pytest.raises(ValueError, match="12 to 1024 characters"):
            signin.hash_password(bad)


def test_enrolment_gives_an_otpauth_uri_and_its_qr_code() -> None:
    secret = signin.new_totp_secret()
    uri = signin.enrolment_uri(secret, "jo.evans@northshire-icb.example")
    parsed = urllib.parse.urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = urllib.parse.parse_qs(parsed.query)
    assert query["secret"] == [secret] and query["issuer"] == ["cspr"]
    svg = signin.enrolment_qr_svg(uri)
    assert svg.startswith("<svg") and "path" in svg
