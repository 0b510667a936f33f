"""What the agencies asked for information on a review sent back, merged: one chronology across agencies in date
order, each agency's analysis, actions and learning, and who had no involvement, who is missing and whose request
was closed. The rapid review document shows it (models/documents.py); the local review reads the same requests.

Read through the ORM, so a return's free text arrives opened (models/sealing.py); a review since erased reads as
blanks. A request that is neither returned, answered "no involvement" nor closed as not needed is missing: a missing
return never blocks the rapid review, it is recorded as missing with the agency and the dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from models.dates import long_date
from models.stages import Stage
from models.tables import Agency, InformationRequest, RequestStatus, Review


class Standing(StrEnum):
    """Where an agency's request stands, as the document reports it."""

    RETURNED = "returned"
    NO_INVOLVEMENT = "no involvement"
    MISSING = "missing"
    NOT_NEEDED = "not needed"


# Every other status (requested, or one added later for a request still outstanding) counts as missing.
_ANSWERED: dict[str, Standing] = {
    RequestStatus.RETURNED: Standing.RETURNED,
    RequestStatus.NO_INVOLVEMENT: Standing.NO_INVOLVEMENT,
    RequestStatus.NOT_NEEDED: Standing.NOT_NEEDED,
}


@dataclass(frozen=True)
class Asked:
    """One request to one agency, and where it stands."""

    number: int  # "request 2" within the review
    agency: str
    standing: Standing
    asked_on: dt.date
    due_on: dt.date
    answered_on: dt.date | None
    reason: str  # why it was closed as not needed (or the last extension's reason); "" for none


@dataclass(frozen=True)
class ChronologyLine:
    on: dt.date
    agency: str
    contact: str  # what happened, as the agency wrote it


@dataclass(frozen=True)
class AgencyAccount:
    """A returned agency's own account of its practice."""

    number: int
    agency: str
    answered_on: dt.date | None
    involvement: str
    analysis: str
    actions_taken: str
    learning: str


@dataclass(frozen=True)
class Returns:
    stage: Stage
    asked: tuple[Asked, ...]  # every request at the stage, by agency then request number
    chronology: tuple[ChronologyLine, ...]  # every returned agency's entries, in date order
    accounts: tuple[AgencyAccount, ...]  # the returned agencies', in the order of ``asked``

    def _standing(self, standing: Standing) -> tuple[Asked, ...]:
        return tuple(a for a in self.asked if a.standing is standing)

    @property
    def returned(self) -> tuple[Asked, ...]:
        return self._standing(Standing.RETURNED)

    @property
    def no_involvement(self) -> tuple[Asked, ...]:
        return self._standing(Standing.NO_INVOLVEMENT)

    @property
    def missing(self) -> tuple[Asked, ...]:
        return self._standing(Standing.MISSING)

    @property
    def not_needed(self) -> tuple[Asked, ...]:
        return self._standing(Standing.NOT_NEEDED)


def _text(answer: dict[str, Any], field: str) -> str:
    # None where the review was erased since: its sealed text no longer opens
    value = answer.get(field)
    return value if isinstance(value, str) else ""


def returns_for(session: Session, review: Review, stage: Stage = Stage.RAPID_REVIEW) -> Returns:
    """The requests asked at ``stage`` of ``review`` (the rapid review's, or the local review's), merged."""
    rows = session.exec(
        select(InformationRequest, Agency)
        .join(Agency, col(Agency.id) == col(InformationRequest.agency_id))
        .where(InformationRequest.review_id == review.id, InformationRequest.asked_at_stage == stage)
    ).all()
    rows = sorted(rows, key=lambda row: (row[1].name.casefold(), row[0].number))
    asked: list[Asked] = []
    lines: list[tuple[dt.date, str, int, int, ChronologyLine]] = []
    accounts: list[AgencyAccount] = []
    for request, agency in rows:
        standing = _ANSWERED.get(request.status, Standing.MISSING)
        asked.append(
            Asked(
                number=request.number,
                agency=agency.name,
                standing=standing,
                asked_on=request.asked_on,
                due_on=request.due_on,
                answered_on=request.answered_on,
                reason=request.reason or "",
            )
        )
        if standing is not Standing.RETURNED:
            continue
        answer = request.answer or {}
        accounts.append(
            AgencyAccount(
                number=request.number,
                agency=agency.name,
                answered_on=request.answered_on,
                involvement=_text(answer, "involvement"),
                analysis=_text(answer, "analysis"),
                actions_taken=_text(answer, "actions_taken"),
                learning=_text(answer, "learning"),
            )
        )
        for place, entry in enumerate(answer.get("chronology") or []):
            on = dt.date.fromisoformat(entry["on"])
            line = ChronologyLine(on=on, agency=agency.name, contact=_text(entry, "contact"))
            # the same day: by agency, then as each agency entered them
            lines.append((on, agency.name.casefold(), request.number, place, line))
    lines.sort(key=lambda t: t[:4])
    return Returns(stage=stage, asked=tuple(asked), chronology=tuple(t[4] for t in lines), accounts=tuple(accounts))


def _status_line(a: Asked) -> str:
    """The status column of the document's table, in words a partner reads without a legend."""
    if a.standing is Standing.RETURNED:
        return f"Returned on {long_date(a.answered_on)}" if a.answered_on else "Returned"
    if a.standing is Standing.NO_INVOLVEMENT:
        when = f" (answered on {long_date(a.answered_on)})" if a.answered_on else ""
        return f"No involvement{when}"
    if a.standing is Standing.NOT_NEEDED:
        return f"Not needed: {a.reason}" if a.reason else "Not needed"
    return f"Missing: due on {long_date(a.due_on)}"


def document_context(returns: Returns) -> dict[str, Any]:
    """What the rapid review document's template is given about the agencies' information: plain strings, dates
    written as documents write them."""
    return {
        "asked": [
            {
                "number": a.number,
                "agency": a.agency,
                "asked_on": long_date(a.asked_on),
                "standing": a.standing.value,
                "status": _status_line(a),
            }
            for a in returns.asked
        ],
        "chronology": [{"on": long_date(c.on), "agency": c.agency, "contact": c.contact} for c in returns.chronology],
        "accounts": [
            {
                "agency": r.agency,
                "answered_on": long_date(r.answered_on),
                "involvement": r.involvement,
                "analysis": r.analysis,
                "actions_taken": r.actions_taken,
                "learning": r.learning,
            }
            for r in returns.accounts
        ],
        "no_involvement": [a.agency for a in returns.no_involvement],
        "missing": [
            {"agency": a.agency, "asked_on": long_date(a.asked_on), "due_on": long_date(a.due_on)}
            for a in returns.missing
        ],
        "not_needed": [{"agency": a.agency, "reason": a.reason} for a in returns.not_needed],
    }
