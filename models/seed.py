"""A demo partnership, its people and a reviewer pool, so a fresh system has someone to act and someone to commission.

All names are invented. Only written into an empty database (or added to the demo partnership of an earlier version).
Where demo accounts are allowed (`make up`), the demo people have them: a password alone, marked as demo everywhere.
The team set-up allows none, so there they get ordinary accounts (password and authenticator app), enrolled like
anyone added with `cspr people add`.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.identity import Identity
from models.people import Enrolment, add_person
from models.review.transitions import Actor
from models.roles import Role
from models.settings import get_settings
from models.signin import Factor
from models.tables import Account, Partnership, Representative, Reviewer

DEMO_PARTNERSHIP = "northshire"
SEEDER = Actor("cspr (demo set-up)", "system")  # who registers the demo people, in the register's history

DEMO_REPRESENTATIVES = [
    (Role.LOCAL_AUTHORITY, "Alex Morgan", "alex.morgan@northshire-council.example", "Northshire County Council"),
    (Role.POLICE, "Sam Patel", "sam.patel@northshire-police.example", "Northshire Police"),
    (Role.HEALTH, "Jo Evans", "jo.evans@northshire-icb.example", "Northshire Integrated Care Board"),
    (Role.COORDINATOR, "Chris Lee", "chris.lee@northshire-scp.example", "Northshire Safeguarding Children Partnership"),
    (Role.PANEL, "Panel secretariat", "secretariat@panel.example", "Child Safeguarding Practice Review Panel"),
]

_REVIEWERS = [
    ("Dr Morgan Ellery", "Independent", "Child protection social work; neglect", False, []),
    ("Priya Castellano", "Independent", "Health visiting; infant injury", True, []),
    ("Tomasz Whitfield", "Independent", "Policing; child exploitation", True, ["Northshire Police"]),
    ("Helen Ashdown", "Independent", "Education; children with disabilities", False, ["Northshire County Council"]),
]


def seed_demo(session: Session) -> list[Enrolment]:
    """Add the demo partnership, its people (demo accounts where they are allowed) and the reviewer pool if
    there are no partnerships yet; to a demo partnership made by an earlier version, the people it lacks.

    Returns the new accounts' enrolments (each first password, to be shown once); empty when nothing was added.
    """
    if session.exec(select(Partnership)).first() is not None:
        return _add_missing_people(session)
    partnership = Partnership(code=DEMO_PARTNERSHIP, name="Northshire Safeguarding Children Partnership")
    session.add(partnership)
    session.flush()
    enrolments = _add_missing_people(session)
    for name, organisation, expertise, national_pool, conflicts in _REVIEWERS:
        session.add(
            Reviewer(
                name=name,
                organisation=organisation,
                expertise=expertise,
                national_pool=national_pool,
                conflicts=conflicts,
            )
        )
    session.flush()
    return enrolments


def _add_missing_people(session: Session) -> list[Enrolment]:
    """The demo partnership's people that have no account yet, registered through the register (so its history says
    so). A registration made before accounts existed could not sign in: it is replaced by one with an account."""
    partnership = session.exec(select(Partnership).where(Partnership.code == DEMO_PARTNERSHIP)).first()
    if partnership is None:
        return []
    enrolments = []
    for role, name, email, organisation in DEMO_REPRESENTATIVES:
        if session.exec(select(Account).where(Account.email == email)).first() is not None:
            continue
        for old in session.exec(select(Representative).where(Representative.email == email)):
            session.delete(old)
        session.flush()
        enrolments.append(
            add_person(
                session,
                name=name,
                email=email,
                role=role,
                partnership_code=DEMO_PARTNERSHIP,
                organisation=organisation,
                by=SEEDER,
                demo=get_settings().demo_accounts,
            )
        )
    return enrolments


def demo_identity(session: Session, role: Role) -> Identity:
    """The demo person who acts as ``role``, as the gate signs them in (a demo account: a password alone)."""
    email = next(e for r, _, e, _ in DEMO_REPRESENTATIVES if r is role)
    account = session.exec(select(Account).where(Account.email == email)).one()
    return Identity(str(account.id), account.name, role.value, Factor.PASSWORD.value)
