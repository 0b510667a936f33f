"""Invented test data. No real child's details, ever."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from models.forms import AbuseOrNeglect, Harm
from models.review.creation import ChildRecord, IncidentRecord
from models.roles import Role
from models.rulebook import Event
from models.tables import Partnership, Representative

# A name and birth date that occur nowhere else, so a search for them is meaningful.
PLANTED_NAME = "Zephyrine Quillfeather-Okonkwo"
PLANTED_DOB = dt.date(2015, 2, 27)


def make_partnership(session: Session, code: str = "northshire", **kw: Any) -> Partnership:
    # counts its rapid reviews from awareness, so that a review recorded without its notification still has a rapid
    # review date to sweep, chase and report; a test of the edition's own count (from the notification since 2023)
    # passes rapid_review_count=None (tests/integration/test_rapid_review_count.py)
    kw.setdefault("rapid_review_count", Event.AWARE_ON)
    partnership = Partnership(code=code, name=f"{code.title()} Safeguarding Children Partnership", **kw)
    session.add(partnership)
    session.flush()
    for role, name, org in [
        (Role.LOCAL_AUTHORITY, "Alex Morgan", f"{code.title()} County Council"),
        (Role.POLICE, "Sam Patel", f"{code.title()} Police"),
        (Role.HEALTH, "Jo Evans", f"{code.title()} Integrated Care Board"),
        (Role.COORDINATOR, "Chris Lee", f"{code.title()} Safeguarding Children Partnership"),
        (Role.PANEL, "Panel secretariat", "Child Safeguarding Practice Review Panel"),
    ]:
        session.add(
            Representative(
                partnership_id=partnership.id,
                name=name,
                email=f"{role.value}@{code}.example.org",
                role=role,
                organisation=org,
            )
        )
    session.flush()
    return partnership


def incident(
    partnership_code: str = "northshire",
    *,
    aware_on: dt.date = dt.date(2026, 12, 18),
    incident_on: dt.date = dt.date(2026, 12, 16),
    pseudonyms: tuple[str, ...] = ("Child Q",),
    name: str | None = PLANTED_NAME,
) -> IncidentRecord:
    return IncidentRecord(
        partnership_code=partnership_code,
        incident_on=incident_on,
        aware_on=aware_on,
        harm=Harm.seriously_harmed,
        abuse_or_neglect=AbuseOrNeglect.suspected,
        looked_after=False,
        children=[
            ChildRecord(pseudonym=p, age_band="6 to 10", name=name, date_of_birth=PLANTED_DOB) for p in pseudonyms
        ],
    )
