"""A demo partnership and reviewer pool, so a fresh system has someone to act and someone to commission.

All names are invented. Only written into an empty database.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.roles import Role
from models.tables import Partnership, Representative, Reviewer

DEMO_PARTNERSHIP = "northshire"

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


def seed_demo(session: Session) -> bool:
    """Add the demo partnership, its representatives and the reviewer pool if there are no partnerships yet.

    Returns whether anything was added.
    """
    if session.exec(select(Partnership)).first() is not None:
        return _add_missing_representatives(session)
    partnership = Partnership(code=DEMO_PARTNERSHIP, name="Northshire Safeguarding Children Partnership")
    session.add(partnership)
    session.flush()
    _add_missing_representatives(session)
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
    return True


def _add_missing_representatives(session: Session) -> bool:
    """The demo partnership's representatives, any that a database made by an earlier version lacks."""
    partnership = session.exec(select(Partnership).where(Partnership.code == DEMO_PARTNERSHIP)).first()
    if partnership is None:
        return False
    known = {
        (r.role, r.name)
        for r in session.exec(select(Representative).where(Representative.partnership_id == partnership.id))
    }
    missing = [r for r in DEMO_REPRESENTATIVES if (r[0].value, r[1]) not in known]
    for role, name, email, organisation in missing:
        session.add(
            Representative(partnership_id=partnership.id, role=role, name=name, email=email, organisation=organisation)
        )
    session.flush()
    return bool(missing)
