"""A demo partnership and reviewer pool, so a fresh system has someone to act and someone to commission.

All names are invented. Only written into an empty database.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.tables import Partnership, Representative, Reviewer, Role

DEMO_PARTNERSHIP = "northshire"

_REPRESENTATIVES = [
    (Role.LOCAL_AUTHORITY, "Alex Morgan", "alex.morgan@northshire-council.example", "Northshire County Council"),
    (Role.POLICE, "Sam Patel", "sam.patel@northshire-police.example", "Northshire Police"),
    (Role.HEALTH, "Jo Evans", "jo.evans@northshire-icb.example", "Northshire Integrated Care Board"),
    (Role.COORDINATOR, "Chris Lee", "chris.lee@northshire-scp.example", "Northshire Safeguarding Children Partnership"),
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
        return False
    partnership = Partnership(code=DEMO_PARTNERSHIP, name="Northshire Safeguarding Children Partnership")
    session.add(partnership)
    session.flush()
    for role, name, email, organisation in _REPRESENTATIVES:
        session.add(
            Representative(partnership_id=partnership.id, role=role, name=name, email=email, organisation=organisation)
        )
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
