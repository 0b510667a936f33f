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

from sqlmodel import Session, col, select

from models.people import RegisterRefusal, record_change
from models.review.lookup import UnknownPartnership, partnership_by_code
from models.review.transitions import Actor
from models.roles import PARTNERS, Role
from models.tables import (
    Account,
    Action,
    Agency,
    AgencyKind,
    InformationRequest,
    Partnership,
    RegisterAction,
    RegisterEvent,
    Representative,
    Review,
    action_is_open,
    in_force,
    request_is_open,
    utcnow,
)

INFORMATION_DAYS = range(1, 31)  # what a partnership may set: from one working day to six weeks' worth
OPEN_WORK_OPTION = "--with-open-work"  # the command line's way to end an agency with its open work left open


class AgencyRefusal(RegisterRefusal):
    """A change to a partnership's agencies that cannot be made; ``str()`` says why, for the coordinator or operator.
    Nothing was changed."""


class UnknownAgency(AgencyRefusal):
    """An agency that is not one of the partnership's on the day; ``str()`` names the ones that are."""


class OpenWork(AgencyRefusal):
    """An agency that cannot be ended as asked: requests or actions of it are still open; ``str()`` lists them (the
    review's reference and the item's number, never what anyone wrote) and says what to do."""

    def __init__(self, agency: str, items: tuple[str, ...]) -> None:
        self.items = items
        super().__init__(
            f"{agency} still has work open: {', '.join(items)}. After its last day its contacts answer for it no "
            "more, so close each on its page first (the coordinator closes a request as not needed, the partnership "
            f"closes an action, each with a reason), or end it anyway with {OPEN_WORK_OPTION}: the items left open "
            "are then recorded with its ending, for the coordinator to deal with. Nothing was changed."
        )


@dataclass(frozen=True)
class Ended:
    """An agency ended, and its work still open when it was (as ``open_work`` names it; empty when there was none)."""

    agency: Agency
    left_open: tuple[str, ...]


@dataclass(frozen=True)
class InformationDays:
    """A partnership's working days for agencies' information: as they were, and as they are now."""

    partnership: str  # its name
    days: int
    was: int

    @property
    def changed(self) -> bool:
        return self.days != self.was


@dataclass(frozen=True)
class AgencyChange:
    """One entry of the register's history about a partnership's agencies, as an operator reads it."""

    at: dt.datetime
    partnership: str  # its code
    change: str  # the RegisterAction's value
    what: str  # in words: names of agencies, dates, numbers and references, never free text
    by: str  # who made it, as recorded ("olu (command line)")


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
    session: Session,
    code: str,
    name: str,
    last_day: dt.date,
    *,
    by: Actor,
    at: dt.datetime | None = None,
    with_open_work: bool = False,
) -> Ended:
    """An agency stops being one of the partnership's after ``last_day`` (included): it is asked nothing and given no
    action after it, and its contacts answer for it no more. Refused (``OpenWork``) while a request to it still waits
    for its return or an action of it is not closed, since nobody could then answer them, unless ``with_open_work``:
    then it ends all the same, and the items left open are recorded with its ending in the register's history."""
    partnership = _partnership(session, code)
    agency = _named(session, partnership, name)
    if agency.to_on is not None:
        raise AgencyRefusal(f"{agency.name}'s last day is recorded already: {agency.to_on:%d %B %Y}")
    if last_day < agency.from_on:
        raise AgencyRefusal(f"the last day cannot be before {agency.name}'s first ({agency.from_on:%d %B %Y})")
    left_open = open_work(session, agency.id)
    if left_open and not with_open_work:
        raise OpenWork(agency.name, left_open)
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
        **({"left_open": list(left_open)} if left_open else {}),
    )
    return Ended(agency, left_open)


def open_work(session: Session, agency_id: uuid.UUID) -> tuple[str, ...]:
    """The agency's requests still waiting for its return and its actions not yet closed, by review then number, as
    people read them: "CSPR-2026-0042 request 2", "CSPR-2026-0042 action 5" (models/work/items.py's labels)."""
    requests = (
        select(Review.reference, InformationRequest.number)
        .join(Review, col(Review.id) == col(InformationRequest.review_id))
        .where(InformationRequest.agency_id == agency_id, request_is_open())
    )
    actions = (
        select(Review.reference, Action.number)
        .join(Review, col(Review.id) == col(Action.review_id))
        .where(Action.agency_id == agency_id, action_is_open())
    )
    items = [(ref, 0, n, "request") for ref, n in session.exec(requests)]
    items += [(ref, 1, n, "action") for ref, n in session.exec(actions)]
    return tuple(f"{ref} {kind} {n}" for ref, _, n, kind in sorted(items))


def set_information_days(
    session: Session, code: str, days: int, *, by: Actor, at: dt.datetime | None = None
) -> InformationDays:
    """How many working days an agency is given to return its information, for this partnership: its own
    expectation (statute and guidance set none; 5 unless changed), from 1 to 30. A change is recorded in the
    register's history, with what it was; the same number again changes nothing and records nothing."""
    partnership = _partnership(session, code)
    if days not in INFORMATION_DAYS:
        raise AgencyRefusal(
            f"give the working days agencies have to return their information as a number from "
            f"{INFORMATION_DAYS.start} to {INFORMATION_DAYS.stop - 1} (not {days})"
        )
    set_days = InformationDays(partnership.name, days, partnership.information_days)
    if not set_days.changed:
        return set_days
    partnership.information_days = days
    session.add(partnership)
    session.flush()
    record_change(
        session,
        RegisterAction.INFORMATION_DAYS,
        None,
        by,
        at or utcnow(),
        partnership=partnership.code,
        information_days=days,
        was=set_days.was,
    )
    return set_days


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


_AGENCY_CHANGES = (RegisterAction.AGENCY_ADDED, RegisterAction.AGENCY_ENDED, RegisterAction.INFORMATION_DAYS)


def agency_history(session: Session, code: str | None = None) -> list[AgencyChange]:
    """The register's history of agencies (of one partnership, or of all), oldest first: each agency added and
    ended (with the work it left open), and each change of the working days agencies have to return information."""
    wanted = _partnership(session, code).code if code else None
    query = (
        select(RegisterEvent)
        .where(col(RegisterEvent.action).in_([str(a) for a in _AGENCY_CHANGES]))
        .order_by(col(RegisterEvent.seq))
    )
    return [
        AgencyChange(e.at, str(e.details.get("partnership", "")), str(e.action), _said(e), e.actor_name)
        for e in session.exec(query)
        if wanted is None or e.details.get("partnership") == wanted
    ]


def _said(event: RegisterEvent) -> str:
    """An entry of the agencies' history in words, from what it recorded."""
    d = event.details
    if event.action == RegisterAction.AGENCY_ADDED:
        answers_to = f", answers to {Role(d['partner']).label}" if d.get("partner") else ""
        return f"{d['agency']} added ({d['kind']}{answers_to}) from {d['from_on']}"
    if event.action == RegisterAction.AGENCY_ENDED:
        left = f"; left open: {', '.join(d['left_open'])}" if d.get("left_open") else ""
        return f"{d['agency']} ended, its last day {d['last_day']}{left}"
    return f"working days for agencies' information: {d['was']} -> {d['information_days']}"


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
            in_force(col(Representative.from_on), col(Representative.to_on), on),
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
            in_force(col(Representative.from_on), col(Representative.to_on), on),
            in_force(col(Agency.from_on), col(Agency.to_on), on),
        )
    )
    return frozenset(session.exec(query).all())


def _span(first: dt.date | None, last: dt.date | None) -> str:
    return f"{first.isoformat() if first else 'registration'} to {last.isoformat() if last else 'now'}"
