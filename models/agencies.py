"""A partnership's register of agencies, and the people who answer for each.

The agencies a partnership asks for information on a review and gives actions to: relevant agencies (of the kinds in
the Schedule to SI 2018/789: schools, GP practices, hospital trusts, probation...) and others its arrangements name
(housing, say). Each holds its place from one date to another, as partner bodies do (models/partners.py), so a review
that runs across a change still reads which agencies were asked. An agency's contacts are registered people
(``Representative`` rows in the agency contact's role, naming the agency): they sign in as everyone does, work on
their tasks page only, and sign nothing off. Every change is recorded in the register's hash-chained history, with
who made it. Every function works inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.people import RegisterRefusal, record_change
from models.review.lookup import UnknownPartnership, partnership_by_code
from models.review.transitions import Actor
from models.roles import PARTNERS, Role
from models.tables import Account, Agency, AgencyKind, Partnership, RegisterAction, Representative, utcnow

INFORMATION_DAYS = range(1, 31)  # what a partnership may set: from one working day to six weeks' worth


class AgencyRefusal(RegisterRefusal):
    """A change to a partnership's agencies that cannot be made; ``str()`` says why, for the coordinator or operator.
    Nothing was changed."""


class UnknownAgency(AgencyRefusal):
    """An agency that is not one of the partnership's on the day; ``str()`` names the ones that are."""


@dataclass(frozen=True)
class AgencyRow:
    partnership: str  # the partnership's code
    name: str
    kind: str  # an AgencyKind's value: "relevant agency" or "named by the partnership"
    from_on: dt.date
    to_on: dt.date | None
    contacts: tuple[str, ...]  # "name <email> (from - to)"


def _partnership(session: Session, code: str | None) -> Partnership:
    try:
        return partnership_by_code(session, code)
    except UnknownPartnership as exc:
        raise AgencyRefusal(str(exc)) from None


def _same(name: str) -> str:
    """How two names are compared: spacing and case do not make another agency."""
    return " ".join(name.split()).casefold()


def _in_force(first: Any, last: Any, day: dt.date) -> Any:
    """SQL: ``day`` falls between two optional dates (an open end is no limit)."""
    return sa.and_(sa.or_(first.is_(None), first <= day), sa.or_(last.is_(None), last >= day))


def _held(agency: Agency, day: dt.date) -> bool:
    return agency.from_on <= day and (agency.to_on is None or agency.to_on >= day)


def _every(session: Session, partnership_id: uuid.UUID) -> list[Agency]:
    """The partnership's agencies, ended ones too, by name."""
    query = select(Agency).where(Agency.partnership_id == partnership_id).order_by(col(Agency.name))
    return list(session.exec(query).all())


def _named(session: Session, partnership: Partnership, name: str) -> Agency:
    """The partnership's agency of that name, whatever its dates; else a refusal naming them all."""
    every = _every(session, partnership.id)
    found = next((a for a in every if _same(a.name) == _same(name)), None)
    if found is None:
        known = ", ".join(a.name for a in every) or "none yet (add them with cspr agencies add)"
        raise UnknownAgency(f"{partnership.name} has no agency called {name!r}; its agencies: {known}")
    return found


def add_agency(
    session: Session,
    partnership_code: str,
    name: str,
    kind: AgencyKind,
    from_on: dt.date,
    *,
    by: Actor,
    at: dt.datetime | None = None,
    partner: Role | None = None,
) -> Agency:
    """An agency takes its place in a partnership's register from a date (the first day it is asked or given actions).
    Refuses an unknown partnership, an empty name, and a name the partnership has already (ended agencies
    included: their history keeps the name)."""
    partnership = _partnership(session, partnership_code)
    name = " ".join(name.split())
    if not 0 < len(name) <= 200:
        raise AgencyRefusal("give the agency's name (at most 200 characters)")
    twin = next((a for a in _every(session, partnership.id) if _same(a.name) == _same(name)), None)
    if twin is not None:
        ended = f" (its last day was {twin.to_on:%d %B %Y})" if twin.to_on else ""
        raise AgencyRefusal(f"{partnership.name} already has an agency called {twin.name!r}{ended}")
    if partner is not None and partner not in PARTNERS:
        raise AgencyRefusal("an agency answers to one of the safeguarding partners: local authority, police or health")
    agency = Agency(partnership_id=partnership.id, name=name, kind=kind, from_on=from_on, partner=partner)
    session.add(agency)
    session.flush()
    record_change(
        session,
        RegisterAction.AGENCY_ADDED,
        None,
        by,
        at or utcnow(),
        partnership=partnership.code,
        agency=name,
        kind=kind.value,
        from_on=from_on.isoformat(),
        **({"partner": partner.value} if partner else {}),
    )
    return agency


def end_agency(
    session: Session, code: str, name: str, last_day: dt.date, *, by: Actor, at: dt.datetime | None = None
) -> Agency:
    """An agency stops being one of the partnership's after ``last_day`` (included): it is asked nothing and given no
    action after it, and its contacts answer for it no more. Requests and actions already made stay as they are."""
    partnership = _partnership(session, code)
    agency = _named(session, partnership, name)
    if agency.to_on is not None:
        raise AgencyRefusal(f"{agency.name}'s last day is recorded already: {agency.to_on:%d %B %Y}")
    if last_day < agency.from_on:
        raise AgencyRefusal(f"the last day cannot be before {agency.name}'s first ({agency.from_on:%d %B %Y})")
    agency.to_on = last_day
    session.add(agency)
    session.flush()
    record_change(
        session,
        RegisterAction.AGENCY_ENDED,
        None,
        by,
        at or utcnow(),
        partnership=partnership.code,
        agency=agency.name,
        last_day=last_day.isoformat(),
    )
    return agency


def set_information_days(
    session: Session, code: str, days: int, *, by: Actor, at: dt.datetime | None = None
) -> Partnership:
    """How many working days an agency is given to return its information, for this partnership: its own
    expectation (statute and guidance set none; 5 unless changed), from 1 to 30."""
    partnership = _partnership(session, code)
    if days not in INFORMATION_DAYS:
        raise AgencyRefusal(
            f"give the working days agencies have to return their information as a number from "
            f"{INFORMATION_DAYS.start} to {INFORMATION_DAYS.stop - 1} (not {days})"
        )
    partnership.information_days = days
    session.add(partnership)
    session.flush()
    return partnership


def agencies(session: Session, code: str | None = None) -> list[AgencyRow]:
    """Every agency (of one partnership, or of all), by partnership then name, with its dates and its contacts'."""
    query = select(Agency, Partnership.code).join(Partnership, col(Partnership.id) == col(Agency.partnership_id))
    if code:
        query = query.where(Partnership.code == _partnership(session, code).code)
    rows: list[AgencyRow] = []
    for agency, partnership in session.exec(query.order_by(col(Partnership.code), col(Agency.name))):
        people = session.exec(
            select(Representative)
            .where(Representative.agency_id == agency.id, col(Representative.active).is_(True))
            .order_by(col(Representative.name))
        ).all()
        rows.append(
            AgencyRow(
                partnership,
                agency.name,
                agency.kind.value,
                agency.from_on,
                agency.to_on,
                tuple(f"{p.name} <{p.email}> ({_span(p.from_on, p.to_on)})" for p in people),
            )
        )
    return rows


def agencies_on(session: Session, partnership_id: uuid.UUID, on: dt.date) -> list[Agency]:
    """The partnership's agencies on a day (from their first day to their last, both included), by name."""
    return [a for a in _every(session, partnership_id) if _held(a, on)]


def agency_named(session: Session, partnership_id: uuid.UUID, name: str, on: dt.date) -> Agency:
    """The partnership's agency of that name (spacing and case aside) on a day; else ``UnknownAgency``, whose message
    names the agencies it has that day (and says so when the name is of an agency outside its dates)."""
    partnership = session.get(Partnership, partnership_id)
    if partnership is None:
        raise AgencyRefusal("there is no such safeguarding partnership")
    every = _every(session, partnership_id)
    found = next((a for a in every if _same(a.name) == _same(name)), None)
    if found is not None and _held(found, on):
        return found
    that_day = ", ".join(a.name for a in every if _held(a, on)) or "none"
    if found is None:
        # never the name as typed: a form's refusal is shown with the form, and may not repeat what was typed
        said = f"an agency given is not one of {partnership.name}'s (check its spelling against the register)"
    elif found.from_on > on:
        said = f"{found.name} is one of {partnership.name}'s agencies only from {found.from_on:%d %B %Y}"
    else:
        assert found.to_on is not None
        said = f"{found.name} was one of {partnership.name}'s agencies until {found.to_on:%d %B %Y}"
    raise UnknownAgency(f"{said}; its agencies on {on:%d %B %Y}: {that_day}")


def contacts(session: Session, agency_id: uuid.UUID, on: dt.date) -> list[Representative]:
    """The people who answer for an agency on a day, by name: active registrations in the agency contact's role,
    within their own dates, while the agency is one of the partnership's."""
    agency = session.get(Agency, agency_id)
    if agency is None or not _held(agency, on):
        return []
    query = (
        select(Representative)
        .where(
            Representative.agency_id == agency_id,
            Representative.role == Role.AGENCY_CONTACT,
            col(Representative.active).is_(True),
            _in_force(col(Representative.from_on), col(Representative.to_on), on),
        )
        .order_by(col(Representative.name))
    )
    return list(session.exec(query).all())


def agency_ids_of(
    session: Session, account_id: uuid.UUID | str, partnership_id: uuid.UUID, on: dt.date
) -> frozenset[uuid.UUID]:
    """The agencies a signed-in person answers for in a partnership on a day (none for anyone but an agency's
    contact, or a disabled account): what scopes their tasks page to their own agency's requests and actions."""
    account = session.get(Account, uuid.UUID(str(account_id)))
    if account is None or not account.active:
        return frozenset()
    query = (
        select(Agency.id)
        .join(Representative, col(Representative.agency_id) == col(Agency.id))
        .where(
            Representative.email == account.email,
            Representative.partnership_id == partnership_id,
            Representative.role == Role.AGENCY_CONTACT,
            col(Representative.active).is_(True),
            _in_force(col(Representative.from_on), col(Representative.to_on), on),
            _in_force(col(Agency.from_on), col(Agency.to_on), on),
        )
    )
    return frozenset(session.exec(query).all())


def _span(first: dt.date | None, last: dt.date | None) -> str:
    return f"{first.isoformat() if first else 'registration'} to {last.isoformat() if last else 'now'}"
