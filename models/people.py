"""The register of people who may act, and their accounts: adding, disabling and listing them, each change written
to the register's own hash-chained history with who made it.

A person is one account (one email address); each registration (a ``Representative`` row) gives them one role in one
partnership, or the operator's role in none. Roles come from here, never from a sign-in token. Every function works
inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from models import chain, signin
from models.audit import register_event_hash
from models.calendar import london_day
from models.refusals import Refused
from models.review.lookup import UnknownPartnership, partnership_by_code
from models.review.transitions import Actor
from models.roles import Role
from models.settings import get_settings
from models.tables import Account, Agency, Partnership, RegisterAction, RegisterEvent, Representative, utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RegisterRefusal(Refused):
    """A change to the register that cannot be made; ``str()`` says why, for the operator."""


def register_partnership(session: Session, code: str | None) -> Partnership:
    """The partnership a change to the register is for, or RegisterRefusal saying there is none by that code."""
    try:
        return partnership_by_code(session, code)
    except UnknownPartnership as exc:
        raise RegisterRefusal(str(exc)) from None


class NotMatched(signin.SignInRefused):
    """An OpenID Connect sign-in that matches no one who may act in cspr; ``str()`` is the message for the person."""


# The identity provider vouched for the person; the sign-in, not an operator, makes the link it leads to.
OIDC_SIGN_IN = Actor("cspr (sign-in with the organisation's account)", "system")
# An address plain enough to show back on the refusal page as it is: anything else is left out, not escaped here.
SHOWN_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,190}$")


@dataclass(frozen=True)
class Enrolment:
    """What a new local account needs to sign in the first time: shown once, stored only as hashes and ciphertext."""

    email: str
    password: str | None  # None: the address had an account already, whose password stands
    totp_uri: str | None  # None for a demo account (password alone) or an existing account


@dataclass(frozen=True)
class PersonRow:
    name: str
    email: str
    role: str
    partnership: str  # the partnership's code, "" for an operator
    organisation: str
    active: bool
    demo: bool
    sign_in: str  # "password+totp", "password", "oidc" or "not enrolled"


def normalise_email(email: str) -> str:
    address = email.strip().casefold()
    if len(address) > 254 or not EMAIL.match(address):
        raise RegisterRefusal("that is not an email address; give the person's work address, e.g. name@council.gov.uk")
    return address


def record_change(
    session: Session, action: RegisterAction, account: Account | None, by: Actor, at: dt.datetime, **details: Any
) -> None:
    """Append a change to the register's history, chained to the entry before it (one chain for the register)."""
    event = RegisterEvent(
        action=action,
        account_id=None if account is None else account.id,
        details=details,
        actor_name=by.name,
        actor_role=by.role,
        at=at,
    )
    chain.append(session, event, hashed=register_event_hash)


def add_person(
    session: Session,
    *,
    name: str,
    email: str,
    role: Role,
    partnership_code: str | None,
    organisation: str,
    by: Actor,
    demo: bool = False,
    at: dt.datetime | None = None,
    agency: str | None = None,
) -> Enrolment:
    """Register a person in a role (for a partnership, unless an operator), making their account if the address has
    none. A new local account gets a one-time password and, unless a demo account, a TOTP enrolment. An agency's
    contact names the ``agency`` they answer for (one of the partnership's that day), and only they name one."""
    at = at or utcnow()
    if demo and not get_settings().demo_accounts:
        raise RegisterRefusal("demo accounts sign in with a password alone: this system does not allow them")
    name = " ".join(name.split())
    if not 0 < len(name) <= 200:
        raise RegisterRefusal("give the person's name (at most 200 characters)")
    address = normalise_email(email)
    if agency is not None and role is not Role.AGENCY_CONTACT:
        raise RegisterRefusal(
            f"only an agency contact answers for an agency; leave it out for someone registered as {role.label}"
        )
    partnership = None
    if role is Role.OPERATOR:
        if partnership_code:
            raise RegisterRefusal("an operator runs the whole system and is registered in no partnership")
    else:
        partnership = register_partnership(session, partnership_code)
    answers_for = None
    if partnership is not None and role is Role.AGENCY_CONTACT:
        answers_for = _agency(session, partnership, agency, london_day(at))
    account = session.exec(select(Account).where(Account.email == address)).first()
    enrolment = Enrolment(address, None, None)
    if account is None:
        password = secrets.token_urlsafe(12)  # 16 characters, to be changed at the first sign-in
        secret = None if demo else signin.new_totp_secret()
        account = Account(
            email=address,
            name=name,
            password_hash=signin.hash_password(password),
            totp_secret=secret,
            demo=demo,
            created_at=at,
            updated_at=at,
        )
        session.add(account)
        session.flush()
        enrolment = Enrolment(address, password, None if secret is None else signin.enrolment_uri(secret, address))
    elif not account.active:
        raise RegisterRefusal(f"the account of {address} is disabled; it is not registered again")
    partnership_id = None if partnership is None else partnership.id
    where_registered = (
        col(Representative.partnership_id).is_(None)
        if partnership_id is None
        else col(Representative.partnership_id) == partnership_id
    )
    registered = session.exec(select(Representative).where(Representative.email == address, where_registered)).first()
    if registered is not None:
        where = f"in {partnership.name}" if partnership else "as an operator"
        raise RegisterRefusal(f"{address} is already registered {where} (as {registered.role.label})")
    session.add(
        Representative(
            partnership_id=partnership_id,
            name=name,
            email=address,
            role=role,
            organisation=organisation or (answers_for.name if answers_for else ""),
            agency_id=answers_for.id if answers_for else None,
            created_at=at,
        )
    )
    code = partnership.code if partnership else ""
    which = {} if answers_for is None else {"agency": answers_for.name}
    record_change(
        session, RegisterAction.ADDED, account, by, at, role=role.value, partnership=code, demo=account.demo, **which
    )
    return enrolment


def _agency(session: Session, partnership: Partnership, name: str | None, day: dt.date) -> Agency:
    """The agency an agency's contact answers for: one of the partnership's on the day."""
    # models.agencies builds on this module (its refusals, the register's history): imported here, when needed
    from models.agencies import agencies_on, agency_named

    if not name or not name.strip():
        known = ", ".join(a.name for a in agencies_on(session, partnership.id, day)) or "none yet"
        raise RegisterRefusal(
            f"an agency contact answers for an agency: give its name (--agency); {partnership.name}'s agencies: {known}"
        )
    return agency_named(session, partnership.id, name, day)


def reset_credentials(session: Session, email: str, *, by: Actor, at: dt.datetime | None = None) -> Enrolment:
    """A new first password and (unless a demo account) a new TOTP secret, to be enrolled at the next sign-in. The
    old password and authenticator app stop working at once."""
    at = at or utcnow()
    address = normalise_email(email)
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None or not account.active:
        raise RegisterRefusal(f"there is no active account for {address}")
    if account.password_hash is None:
        raise RegisterRefusal(f"{address} signs in with the organisation's account; its password is kept there")
    password = secrets.token_urlsafe(12)
    account.password_hash = signin.hash_password(password)
    account.totp_secret = None if account.demo else signin.new_totp_secret()
    account.totp_last_step, account.failures, account.locked_until, account.updated_at = -1, 0, None, at
    session.add(account)
    session.flush()
    record_change(session, RegisterAction.RESET, account, by, at)
    uri = None if account.totp_secret is None else signin.enrolment_uri(account.totp_secret, address)
    return Enrolment(address, password, uri)


def disable_person(session: Session, email: str, *, by: Actor, at: dt.datetime | None = None) -> Account:
    """Disable a person's account and every registration of it: they can no longer sign in or answer any step."""
    at = at or utcnow()
    address = normalise_email(email)
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None:
        raise RegisterRefusal(f"there is no account for {address}")
    if not account.active:
        raise RegisterRefusal(f"the account of {address} is disabled already")
    account.active, account.updated_at = False, at
    session.add(account)
    for registration in session.exec(select(Representative).where(Representative.email == address)):
        registration.active = False
        session.add(registration)
    record_change(session, RegisterAction.DISABLED, account, by, at)
    return account


def set_digest(session: Session, email: str, *, daily: bool, by: Actor, at: dt.datetime | None = None) -> Account:
    """A person's choice: their email once a day, together (``daily``), or each message as it comes."""
    at = at or utcnow()
    address = normalise_email(email)
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None or not account.active:
        raise RegisterRefusal(f"there is no active account for {address}")
    account.digest, account.updated_at = daily, at
    session.add(account)
    session.flush()
    record_change(session, RegisterAction.DIGEST, account, by, at, daily=daily)
    return account


def people(session: Session, partnership_code: str | None = None) -> list[PersonRow]:
    """Every registration, with its account's state, by partnership then name; one partnership's alone if given."""
    codes = {p.id: p.code for p in session.exec(select(Partnership))}
    accounts = {a.email: a for a in session.exec(select(Account))}
    agencies = {a.id: a.name for a in session.exec(select(Agency))}  # an agency's contact is shown with their agency
    rows = []
    for r in session.exec(select(Representative)):
        code = codes.get(r.partnership_id, "") if r.partnership_id else ""
        if partnership_code is not None and code != partnership_code:
            continue
        account = accounts.get(r.email)
        if account is None:  # registered before accounts existed: can be named on a form, cannot sign in
            sign_in = "not enrolled"
        elif account.password_hash is None:
            sign_in = "oidc"
        else:
            sign_in = signin.Factor.PASSWORD if account.totp_secret is None else signin.Factor.PASSWORD_AND_TOTP
        active = r.active and (account is None or account.active)
        demo = account is not None and account.demo
        organisation = agencies.get(r.agency_id, r.organisation) if r.agency_id else r.organisation
        rows.append(PersonRow(r.name, r.email, r.role, code, organisation, active, demo, str(sign_in)))
    return sorted(rows, key=lambda p: (p.partnership, p.name.casefold(), p.role))


def match_oidc(
    session: Session, *, subject: str, email: str | None, email_verified: bool, at: dt.datetime | None = None
) -> Account:
    """The register's account for a person the identity provider signed in: by the provider's subject; else, the
    first time, by the verified email address of an account not yet linked to a subject, which is then linked (and
    the link recorded in the register's history). The person's roles are their registrations, never the token's.
    Refuses (NotMatched) a demo or disabled account, an account linked to another subject, and anyone unregistered."""
    at = at or utcnow()
    if not 0 < len(subject) <= 255:  # the register keeps a subject in 255 characters; none is no one
        raise NotMatched(_not_registered(email))
    account = session.exec(select(Account).where(Account.oidc_subject == subject)).first()
    if account is None:
        account = _account_by_verified_email(session, email, email_verified)
    if account.demo:
        raise NotMatched("A demo account cannot sign in with an organisation's account. Ask an operator.")
    if not account.active:
        raise NotMatched("Your cspr account is disabled. Ask an operator if you should still have access.")
    if not _registered(session, account):
        raise NotMatched(_not_registered(email))
    if account.oidc_subject is None:
        account.oidc_subject, account.updated_at = subject, at
        session.add(account)
        session.flush()
        record_change(
            session, RegisterAction.LINKED, account, OIDC_SIGN_IN, at, subject=subject, matched_by="verified email"
        )
    return account


def _account_by_verified_email(session: Session, email: str | None, email_verified: bool) -> Account:
    """The account of an address the provider has confirmed, not yet linked to a subject; else NotMatched."""
    if email and not email_verified:
        raise NotMatched(
            "You signed in at your organisation, but it did not confirm your email address, so cspr cannot tell "
            "who you are. Ask an operator."
        )
    try:
        address = normalise_email(email or "")
    except RegisterRefusal:
        raise NotMatched(_not_registered(email)) from None
    account = session.exec(select(Account).where(Account.email == address)).first()
    if account is None:
        raise NotMatched(_not_registered(email))
    if account.oidc_subject is not None:  # its subject did not match: someone else at the provider has this address
        raise NotMatched(
            "Your cspr account is linked to another account at your organisation, so it cannot be used from this "
            "one. Ask an operator."
        )
    return account


def _registered(session: Session, account: Account) -> bool:
    """Whether the account holds any active registration, so any role at all."""
    where = (Representative.email == account.email, col(Representative.active).is_(True))
    return session.exec(select(Representative.id).where(*where).limit(1)).first() is not None


def _not_registered(email: str | None) -> str:
    who = f" as {email}" if email and SHOWN_EMAIL.match(email) else ""
    return f"You signed in{who} at your organisation, but you are not registered in cspr; ask an operator to add you."
