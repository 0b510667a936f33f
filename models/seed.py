"""A demo partnership, its people, its agencies with their contacts, and a reviewer pool, so a fresh system has
someone to act, agencies to ask and someone to commission.

All names are invented. Only written into an empty database (or added to the demo partnership of an earlier version).
Where demo accounts are allowed (`make up`), the demo people have them: a password alone, marked as demo everywhere.
The team set-up allows none, so there they get ordinary accounts (password and authenticator app), enrolled like
anyone added with `cspr people add`.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from models.agencies import add_agency, agencies_on
from models.calendar import today_in_england
from models.identity import Identity
from models.people import Enrolment, add_person
from models.review.transitions import Actor
from models.roles import Role
from models.settings import get_settings
from models.signin import Factor
from models.tables import Account, Agency, AgencyKind, Partnership, Representative, Reviewer

DEMO_PARTNERSHIP = "northshire"
DEMO_CHILD_DEATH_REVIEW = "cdop@northshire-council.example"  # the child death review partners' mailbox
SEEDER = Actor("cspr (demo set-up)", "system")  # who registers the demo people, in the register's history

DEMO_REPRESENTATIVES = [
    (Role.LOCAL_AUTHORITY, "Alex Morgan", "alex.morgan@northshire-council.example", "Northshire County Council"),
    (Role.POLICE, "Sam Patel", "sam.patel@northshire-police.example", "Northshire Police"),
    (Role.HEALTH, "Jo Evans", "jo.evans@northshire-icb.example", "Northshire Integrated Care Board"),
    (Role.COORDINATOR, "Chris Lee", "chris.lee@northshire-scp.example", "Northshire Safeguarding Children Partnership"),
    (Role.PANEL, "Panel secretariat", "secretariat@panel.example", "Child Safeguarding Practice Review Panel"),
]

# The demo partnership's agencies, asked for information and given actions (invented, like everything here).
DEMO_AGENCIES_FROM = dt.date(2019, 1, 1)
DEMO_AGENCIES: list[tuple[str, AgencyKind, Role | None]] = [  # each with the partner it answers to
    ("Northshire Primary School", AgencyKind.RELEVANT, Role.LOCAL_AUTHORITY),
    ("Riverside Medical Practice", AgencyKind.RELEVANT, Role.HEALTH),
    ("Northshire Hospitals NHS Foundation Trust", AgencyKind.RELEVANT, Role.HEALTH),
    ("Northshire Ambulance Service", AgencyKind.RELEVANT, Role.HEALTH),
    ("Northshire Children's Social Care", AgencyKind.RELEVANT, Role.LOCAL_AUTHORITY),
    ("Northshire Probation Service", AgencyKind.RELEVANT, None),
    ("Northshire Homes", AgencyKind.NAMED, Role.LOCAL_AUTHORITY),  # housing: named in the partnership's arrangements
]
# Who answers for the first four: (agency, name, email).
DEMO_AGENCY_CONTACTS = [
    ("Northshire Primary School", "Dana Brooks", "dana.brooks@northshire-primary.example"),
    ("Riverside Medical Practice", "Lee Harper", "lee.harper@riverside-medical.example"),
    ("Northshire Hospitals NHS Foundation Trust", "Ruth Okafor", "ruth.okafor@northshire-hospitals.example"),
    ("Northshire Ambulance Service", "Ian Dale", "ian.dale@northshire-ambulance.example"),
]

_REVIEWERS = [
    ("Dr Morgan Ellery", "Independent", "Child protection social work; neglect", False, []),
    ("Priya Castellano", "Independent", "Health visiting; infant injury", True, []),
    ("Tomasz Whitfield", "Independent", "Policing; child exploitation", True, ["Northshire Police"]),
    ("Helen Ashdown", "Independent", "Education; children with disabilities", False, ["Northshire County Council"]),
]


def seed_demo(session: Session) -> list[Enrolment]:
    """Add the demo partnership, its people (demo accounts where they are allowed) and the reviewer pool if
    there are no partnerships yet; to a demo partnership made by an earlier version, the agencies and people it lacks.

    Returns the new accounts' enrolments (each first password, to be shown once); empty when nothing was added.
    """
    if session.exec(select(Partnership)).first() is not None:
        return _add_missing_people(session)
    partnership = Partnership(
        code=DEMO_PARTNERSHIP,
        name="Northshire Safeguarding Children Partnership",
        child_death_review_email=DEMO_CHILD_DEATH_REVIEW,
    )
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
    """The demo partnership's people that have no account yet, and its agencies not yet recorded (before their
    contacts), registered through the register (so its history says so). A registration made before accounts existed
    could not sign in: it is replaced by one with an account."""
    partnership = session.exec(select(Partnership).where(Partnership.code == DEMO_PARTNERSHIP)).first()
    if partnership is None:
        return []
    names = session.exec(select(Agency.name).where(Agency.partnership_id == partnership.id)).all()
    recorded = {name.casefold() for name in names}  # an operator may have recorded one already, or ended it
    for agency_name, kind, partner in DEMO_AGENCIES:
        if agency_name.casefold() not in recorded:
            add_agency(session, DEMO_PARTNERSHIP, agency_name, kind, DEMO_AGENCIES_FROM, by=SEEDER, partner=partner)
    people: list[tuple[Role, str, str, str, str | None]]
    people = [(role, name, email, organisation, None) for role, name, email, organisation in DEMO_REPRESENTATIVES]
    open_today = {a.name for a in agencies_on(session, partnership.id, today_in_england())}  # not one an operator ended
    people += [
        (Role.AGENCY_CONTACT, name, email, agency, agency)
        for agency, name, email in DEMO_AGENCY_CONTACTS
        if agency in open_today
    ]
    enrolments = []
    for role, name, email, organisation, agency in people:
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
                agency=agency,
            )
        )
    return enrolments


def demo_identity(session: Session, role: Role) -> Identity:
    """The demo person who acts as ``role``, as the gate signs them in (a demo account: a password alone)."""
    email = next(e for r, _, e, _ in DEMO_REPRESENTATIVES if r is role)
    account = session.exec(select(Account).where(Account.email == email)).one()
    return Identity(str(account.id), account.name, role.value, Factor.PASSWORD.value)


def demo_agency_contact(session: Session, agency_name: str) -> Identity:
    """The demo person who answers for an agency of the demo partnership, as the gate signs them in."""
    email = next(e for a, _, e in DEMO_AGENCY_CONTACTS if a == agency_name)
    account = session.exec(select(Account).where(Account.email == email)).one()
    return Identity(str(account.id), account.name, Role.AGENCY_CONTACT.value, Factor.PASSWORD.value)
