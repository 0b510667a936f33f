"""Signing in against the register's accounts (models/signin.py decides; this reads and writes the account), and
what a signed-in person may answer. Used by the gate; every function works inside the caller's transaction.

A new local account is enrolled at its first sign-in: the password is checked alone, then the authenticator app's
first code confirms the TOTP secret shown on the enrolment page. From then on every sign-in needs both.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import signin
from models.calendar import today_in_england
from models.identity import Identity
from models.people import RegisterRefusal, normalise_email
from models.roles import Role
from models.tables import Account, PartnerBody, Partnership, Representative, in_force


@dataclass(frozen=True)
class SignedIn:
    """A password (and code) accepted: the person, or, at a first sign-in, the account still to be enrolled."""

    account: Account
    enrolling: bool  # True: show the enrolment page and ask for the authenticator app's first code


def _credentials(account: Account) -> signin.Credentials:
    assert account.password_hash is not None
    return signin.Credentials(account.password_hash, account.totp_secret, account.totp_last_step)


def _store(account: Account, credentials: signin.Credentials, at: dt.datetime, *, code_spent: bool = True) -> None:
    """An accepted sign-in written back: the code it spent (unless ``code_spent`` is False, a first sign-in)."""
    if code_spent:
        account.totp_last_step = credentials.totp_last_step
    account.failures, account.locked_until = 0, None  # the lock's columns from before the gate's throttle: never set
    account.updated_at = at


def enrolled(account: Account) -> bool:
    """A demo account has no second factor; any other has confirmed its first code once."""
    return account.totp_secret is None or account.totp_last_step >= 0


def _local_account(session: Session, email: str, *, demo_allowed: bool) -> Account | None:
    try:
        address = normalise_email(email)
    except RegisterRefusal:
        return None
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None or not account.active or account.password_hash is None or (account.demo and not demo_allowed):
        return None
    return account


def sign_in(
    session: Session, email: str, password: str, code: str, at: dt.datetime, *, demo_allowed: bool
) -> SignedIn | str:
    """The person if the password (and, once enrolled, the code) is right; else the one refusal for everything."""
    account = _local_account(session, email, demo_allowed=demo_allowed)
    if account is None:
        signin.sign_in(None, password, code, at)  # the same work as a known account, so timing tells nothing
        return signin.REFUSED
    credentials = _credentials(account)
    first_time = not enrolled(account)
    if first_time:  # the password alone, then the enrolment page
        credentials = replace(credentials, totp_secret=None)
    attempt = signin.sign_in(credentials, password, code, at)
    if not attempt.accepted:  # nothing written: the gate counts failures (gate/throttle.py), the account does not
        return attempt.message
    assert attempt.credentials is not None
    _store(account, attempt.credentials, at, code_spent=not first_time)  # a first sign-in leaves the TOTP step alone
    session.add(account)
    return SignedIn(account, enrolling=first_time)


def confirm_enrolment(session: Session, account_id: uuid.UUID, code: str, at: dt.datetime) -> Account | str:
    """The authenticator app's first code, which completes a first sign-in."""
    account = session.get(Account, account_id)
    if account is None or not account.active or enrolled(account):
        return signin.REFUSED
    attempt = signin.confirm_code(_credentials(account), code, at)
    if not attempt.accepted:
        return attempt.message
    assert attempt.credentials is not None
    _store(account, attempt.credentials, at)
    session.add(account)
    return account


def roles_of(session: Session, account: Account) -> frozenset[Role]:
    """Every role the person holds in any partnership (operator included), from the register."""
    rows = session.exec(
        select(Representative.role).where(Representative.email == account.email, col(Representative.active).is_(True))
    ).all()
    return frozenset(Role(role) for role in rows)


def identity_of(account: Account, signed_in_with: str) -> Identity:
    return Identity(person_id=str(account.id), name=account.name, role="", signed_in_with=signed_in_with)


def roles_in(
    session: Session, person_id: str, partnership: Partnership, on: dt.date | None = None, *, any_day: bool = False
) -> frozenset[Role]:
    """The roles an active person holds in one partnership on a day (default today in England), from the register:
    their registration, and the partner body they act for, must both be in force that day. ``any_day``: on any day
    (to tell someone whose registration has ended, or not begun, why they are refused)."""
    account = session.get(Account, uuid.UUID(person_id))
    if account is None or not account.active:
        return frozenset()
    query = (
        select(Representative.role)
        .outerjoin(PartnerBody, col(PartnerBody.id) == col(Representative.body_id))
        .where(
            Representative.email == account.email,
            Representative.partnership_id == partnership.id,
            col(Representative.active).is_(True),
        )
    )
    if not any_day:
        day = on or today_in_england()
        query = query.where(
            in_force(col(Representative.from_on), col(Representative.to_on), day),
            sa.or_(
                col(Representative.body_id).is_(None), in_force(col(PartnerBody.from_on), col(PartnerBody.to_on), day)
            ),
        )
    return frozenset(Role(role) for role in session.exec(query).all())


def partnerships_of(session: Session, account: Account) -> frozenset[str]:
    """The codes of the partnerships the person is registered in (an operator is in none): whose reviews' runs they
    may read through the gate."""
    rows = session.exec(
        select(Partnership.code)
        .join(Representative, col(Representative.partnership_id) == col(Partnership.id))
        .where(Representative.email == account.email, col(Representative.active).is_(True))
    ).all()
    return frozenset(rows)
