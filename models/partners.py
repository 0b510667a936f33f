"""A partnership's partner bodies, and who represents each of them, with dates.

Partner bodies change while reviews run: integrated care boards merged in April 2026 and more merge by April 2027,
and police forces may follow. A body holds its place from one date to another; a representative acts for one body,
from and to dates of their own. A sign-off is accepted only from someone who represents that partner on the day it
is given (models/accounts.py ``roles_in``), and each decision keeps the body they signed for, so a review that runs
across a merger stays valid and its history still says who signed for whom. Every change is recorded in the
register's hash-chained history, with who made it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.calendar import today_in_england
from models.people import RegisterRefusal, normalise_email, record_change, register_partnership
from models.review.transitions import Actor
from models.roles import PARTNERS, Role
from models.tables import Account, PartnerBody, Partnership, RegisterAction, Representative, utcnow


@dataclass(frozen=True)
class BodyRow:
    partnership: str
    role: str
    name: str
    from_on: dt.date
    to_on: dt.date | None
    representatives: tuple[str, ...]  # "name <email> (from - to)"


def _partner_role(role: Role) -> Role:
    if role not in PARTNERS:
        raise RegisterRefusal(f"{role.label} is not a safeguarding partner: give local_authority, police or health")
    return role


def _body(session: Session, partnership: Partnership, name: str) -> PartnerBody:
    found = session.exec(
        select(PartnerBody).where(PartnerBody.partnership_id == partnership.id, PartnerBody.name == name)
    ).first()
    if found is None:
        known = session.exec(select(PartnerBody.name).where(PartnerBody.partnership_id == partnership.id)).all()
        raise RegisterRefusal(
            f"{partnership.name} has no partner body {name!r}; its bodies: {', '.join(sorted(known)) or 'none yet'}"
        )
    return found


def add_body(
    session: Session, code: str, role: Role, name: str, from_on: dt.date, *, by: Actor, at: dt.datetime | None = None
) -> PartnerBody:
    """A partner body takes its place in a partnership from a date."""
    partnership = register_partnership(session, code)
    name = " ".join(name.split())
    if not 0 < len(name) <= 200:
        raise RegisterRefusal("give the body's name (at most 200 characters)")
    if session.exec(
        select(PartnerBody).where(PartnerBody.partnership_id == partnership.id, PartnerBody.name == name)
    ).first():
        raise RegisterRefusal(f"{partnership.name} already has a partner body called {name!r}")
    body = PartnerBody(partnership_id=partnership.id, role=_partner_role(role), name=name, from_on=from_on)
    session.add(body)
    session.flush()
    record_change(
        session,
        RegisterAction.BODY_ADDED,
        None,
        by,
        at or utcnow(),
        partnership=code,
        role=role.value,
        body=name,
        from_on=from_on.isoformat(),
    )
    return body


def merge_bodies(
    session: Session,
    code: str,
    names: list[str],
    into: str,
    on: dt.date,
    *,
    by: Actor,
    at: dt.datetime | None = None,
) -> PartnerBody:
    """Partner bodies of one partner become one from ``on``: each ends the day before, the new body begins that day,
    and their representatives act for it from then (their own dates unchanged). Decisions already given keep the
    body they were given for."""
    partnership = register_partnership(session, code)
    if on > today_in_england():
        # its representatives act for the merged body from the moment it is recorded: record it on the day or after
        raise RegisterRefusal(f"record the merger on or after the day it takes effect ({on:%d %B %Y})")
    old = [_body(session, partnership, name) for name in names]
    roles = {body.role for body in old}
    if len(roles) != 1:
        raise RegisterRefusal("only bodies that are the same partner (all health, say) can merge")
    for body in old:
        if body.from_on >= on or (body.to_on is not None and body.to_on < on - dt.timedelta(days=1)):
            raise RegisterRefusal(f"{body.name} does not hold its place on the day before the merger ({on:%d %B %Y})")
    new = add_body(session, code, roles.pop(), into, on, by=by, at=at)
    for body in old:
        body.to_on = on - dt.timedelta(days=1)
        session.add(body)
        for representative in session.exec(select(Representative).where(Representative.body_id == body.id)):
            representative.body_id = new.id
            representative.organisation = new.name
            session.add(representative)
    session.flush()
    record_change(
        session,
        RegisterAction.BODIES_MERGED,
        None,
        by,
        at or utcnow(),
        partnership=code,
        merged=[body.name for body in old],
        into=new.name,
        on=on.isoformat(),
    )
    return new


def represent(
    session: Session,
    code: str,
    email: str,
    *,
    body: str | None = None,
    from_on: dt.date | None = None,
    to_on: dt.date | None = None,
    by: Actor,
    at: dt.datetime | None = None,
) -> Representative:
    """Set which partner body a registered person represents, and from and to which dates (the last day included)."""
    partnership = register_partnership(session, code)
    address = normalise_email(email)
    row = session.exec(
        select(Representative).where(Representative.partnership_id == partnership.id, Representative.email == address)
    ).first()
    if row is None:
        raise RegisterRefusal(f"{address} is not registered in {partnership.name}: add them with cspr people add")
    if body is not None:
        found = _body(session, partnership, body)
        if found.role != row.role:
            raise RegisterRefusal(f"{found.name} is the {found.role.label} partner, not {row.role.label}")
        row.body_id, row.organisation = found.id, found.name
    if from_on is not None:
        row.from_on = from_on
    if to_on is not None:
        row.to_on = to_on
    if row.from_on and row.to_on and row.to_on < row.from_on:
        raise RegisterRefusal("the last day cannot be before the first")
    session.add(row)
    session.flush()
    account = session.exec(select(Account).where(Account.email == address)).first()
    record_change(
        session,
        RegisterAction.REPRESENTATION,
        account,
        by,
        at or utcnow(),
        partnership=code,
        role=row.role,
        body=row.organisation,
        from_on=row.from_on.isoformat() if row.from_on else None,
        to_on=row.to_on.isoformat() if row.to_on else None,
    )
    return row


def organisation_on(session: Session, partnership_id: object, person_id: str | None) -> str | None:
    """The body a person acts for in a partnership (recorded with each decision they give)."""
    if person_id is None:
        return None
    account = session.get(Account, uuid.UUID(person_id))
    if account is None:
        return None
    row = session.exec(
        select(Representative.organisation).where(
            Representative.partnership_id == partnership_id, Representative.email == account.email
        )
    ).first()
    return row or None


def bodies(session: Session, code: str | None = None) -> list[BodyRow]:
    """Every partner body (of one partnership, or all), with its representatives and their dates."""
    query = select(PartnerBody, Partnership.code).join(
        Partnership, col(Partnership.id) == col(PartnerBody.partnership_id)
    )
    if code:
        query = query.where(Partnership.code == register_partnership(session, code).code)
    rows: list[BodyRow] = []
    for body, partnership in session.exec(
        query.order_by(col(Partnership.code), col(PartnerBody.role), col(PartnerBody.from_on))
    ):
        people = session.exec(select(Representative).where(Representative.body_id == body.id)).all()
        rows.append(
            BodyRow(
                partnership,
                body.role,
                body.name,
                body.from_on,
                body.to_on,
                tuple(f"{p.name} <{p.email}> ({_span(p.from_on, p.to_on)})" for p in people),
            )
        )
    return rows


def _span(first: dt.date | None, last: dt.date | None) -> str:
    return f"{first.isoformat() if first else 'registration'} to {last.isoformat() if last else 'now'}"
