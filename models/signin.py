"""Local sign-in, the embedded default: a password hashed with Argon2id, and a TOTP second factor whose every code is
accepted once. Pure: the caller keeps each person's ``Credentials`` (issue 14 stores them with the person's account)
and writes back what ``sign_in`` returns, in one transaction.

No number of failures locks an account: a lock is one anyone could set off, again and again, by typing a person's
address with wrong passwords. Repeated failures are slowed down instead, per account and browser's address, by the
gate (gate/throttle.py), which holds the count in memory and refuses an attempt made too soon before any hashing.

Whoever asks learns nothing about who has an account: an unknown account, a wrong password and a wrong code get
the same refusal, and an unknown account costs the same Argon2id work as a known one.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.refusals import Refused

MAX_PASSWORD_LENGTH = 1024  # long passphrases are welcome; a megabyte is an attack on the hashing, refused unhashed
MIN_PASSWORD_LENGTH = 12
ISSUER = "cspr"  # how an authenticator app labels the account

# One refusal for every failure: a different word for an unknown address would tell whoever tries it who has an account
REFUSED = "That email address, password or code is not right. Check them and try again, or ask an operator."

_HASHER = PasswordHasher()  # Argon2id with argon2-cffi's current recommended cost (RFC 9106's low-memory choice)


class SignInRefused(Refused):
    """A sign-in that fails; ``str()`` is the message for the person, which never says which part was wrong."""


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password, after checking its length (never logging or echoing it)."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    return _HASHER.hash(password)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def enrolment_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app takes, as text or as the QR code of ``enrolment_qr_svg``."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def enrolment_qr_text(uri: str) -> str:
    """The enrolment URI as a QR code drawn in text, for a terminal."""
    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def enrolment_qr_svg(uri: str) -> str:
    """The enrolment URI as an SVG QR code, to show on the enrolment page."""
    return str(segno.make(uri, error="m").svg_inline(scale=4))


class Factor(StrEnum):
    PASSWORD = "password"  # demo accounts only (never in the team set-up)
    PASSWORD_AND_TOTP = "password+totp"


@dataclass(frozen=True)
class Credentials:
    """One person's local sign-in state, as stored with their account."""

    password_hash: str
    totp_secret: str | None  # None: a demo account, which signs in with a password alone
    totp_last_step: int = -1  # the time step of the last code accepted: that code, and any older, is spent

    @property
    def factor(self) -> Factor:
        return Factor.PASSWORD if self.totp_secret is None else Factor.PASSWORD_AND_TOTP


@dataclass(frozen=True)
class Attempt:
    """What a sign-in decided, and the credentials to store in place of the old ones (None: no account)."""

    accepted: bool
    message: str
    credentials: Credentials | None


@cache
def _no_account() -> str:
    """A hash to verify against when there is no account, so that costs what a wrong password does. Made on first
    use, not when the module is imported: hashing takes a noticeable part of a second."""
    return _HASHER.hash("no account has this password")


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _no_account(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _code_step(secret: str, code: str, at: dt.datetime, last_step: int) -> int | None:
    """The time step of ``code`` if it is the current code (or the one either side, for a clock a little off) and
    later than the last code accepted; else None."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(at.timestamp()) // totp.interval
    for step in (now - 1, now, now + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def sign_in(credentials: Credentials | None, password: str, code: str, at: dt.datetime) -> Attempt:
    """Check a password (and a TOTP code, unless a demo account) against the stored credentials at ``at``."""
    if len(password) > MAX_PASSWORD_LENGTH or len(code) > 16:
        return Attempt(False, REFUSED, credentials)  # refused before any hashing, whoever's account it names
    password_ok = _password_matches(credentials.password_hash if credentials else None, password)
    if credentials is None:
        return Attempt(False, REFUSED, None)
    step = None
    if credentials.totp_secret is not None:
        step = _code_step(credentials.totp_secret, code.strip(), at, credentials.totp_last_step)
    if password_ok and (credentials.totp_secret is None or step is not None):
        last = credentials.totp_last_step if step is None else step
        return Attempt(True, "", replace(credentials, totp_last_step=last))
    return Attempt(False, REFUSED, credentials)


def confirm_code(credentials: Credentials, code: str, at: dt.datetime) -> Attempt:
    """Check a TOTP code alone: the first code from a newly enrolled authenticator app, after the password was
    accepted. A wrong code leaves the credentials as they were."""
    step = None if credentials.totp_secret is None else _code_step(credentials.totp_secret, code.strip(), at, -1)
    if step is not None and step > credentials.totp_last_step:
        return Attempt(True, "", replace(credentials, totp_last_step=step))
    return Attempt(False, REFUSED, credentials)
