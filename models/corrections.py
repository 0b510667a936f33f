"""Putting right a person's recorded name or date of birth (a typing mistake, or a name learnt after a notification
made before the child's identity was known). The new value is sealed like the old one, the change is recorded in the
review's history (what was corrected and by whom, never either value), and the redaction gate, which reads the
people of a case as they stand, checks the corrected name from then on, and the name it replaced as well."""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import Session, select

from models.calendar import today_in_england
from models.refusals import Refused
from models.review.transitions import Actor, Noted, note
from models.tables import CasePerson, Review

MAX_NAME = 200


class CorrectionRefused(Refused):
    """A correction that cannot be made; ``str()`` says why, for the coordinator or operator."""


def _person(session: Session, review: Review, pseudonym: str) -> CasePerson:
    people = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).all()
    wanted = " ".join(pseudonym.split()).casefold()
    for person in people:
        if person.pseudonym.casefold() == wanted:
            return person
    known = ", ".join(sorted(p.pseudonym for p in people)) or "nobody"
    raise CorrectionRefused(f"{review.reference} has no one recorded as {pseudonym!r} (recorded: {known})")


def correct_person(
    session: Session,
    review: Review,
    pseudonym: str,
    *,
    name: str | None = None,
    date_of_birth: dt.date | None = None,
    by: Actor,
) -> CasePerson:
    """Correct the person's name, date of birth or both; an unchanged value is refused, so the history says only
    what changed."""
    if review.erased_on is not None:
        raise CorrectionRefused(
            f"{review.reference} was erased on {review.erased_on:%d %B %Y}: nothing is left to correct"
        )
    person = _person(session, review, pseudonym)
    corrected: list[str] = []
    if name is not None:
        name = " ".join(name.split())
        if not 0 < len(name) <= MAX_NAME:
            raise CorrectionRefused(f"give the name in full (at most {MAX_NAME} characters)")
        if name != person.name:
            if person.name:  # kept, sealed: what was written before may still spell it so, and the gate checks it
                person.former_names = json.dumps([person.name, *json.loads(person.former_names or "[]")])
            person.name = name
            corrected.append("name")
    if date_of_birth is not None:
        if date_of_birth > today_in_england():
            raise CorrectionRefused("a date of birth cannot be in the future")
        if date_of_birth.isoformat() != person.date_of_birth:
            person.date_of_birth = date_of_birth.isoformat()
            corrected.append("date_of_birth")
    if not corrected:
        raise CorrectionRefused("that is what is recorded already: nothing was changed")
    session.add(person)
    session.flush()
    note(
        session, review, Noted.PERSON_CORRECTED, actor=by, details={"person": person.pseudonym, "corrected": corrected}
    )
    return person
