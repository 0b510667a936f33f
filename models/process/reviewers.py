"""Choosing and commissioning a reviewer: shared by the local review's commissioning and the national review's."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from models.process.step import Refusal
from models.review import transitions
from models.review.transitions import Actor
from models.stages import Facts, Transition
from models.tables import Commission, Decision, DecisionKind, Partnership, Representative, Review, Reviewer


def pool(session: Session, *, national: bool) -> list[str]:
    """The reviewers to choose from, as lines of the description above the form (the Panel's pool for a national
    review), with the conflicts each has declared."""
    reviewers = session.exec(select(Reviewer).where(col(Reviewer.active)).order_by(col(Reviewer.name))).all()
    lines = ["Reviewers in the pool" + (" (the Panel's pool)" if national else "") + ":"]
    for r in reviewers:
        if national and not r.national_pool:
            continue
        conflicts = f"; declared conflicts: {', '.join(r.conflicts)}" if r.conflicts else ""
        lines.append(f"- {r.name} ({r.expertise}){conflicts}")
    lines.append("")
    return lines


def independent_reviewer(session: Session, review: Review, name: str, *, national: bool) -> Reviewer:
    """The active reviewer of that name (from the Panel's pool for a national review) with no declared conflict
    touching this case; otherwise a refusal saying which."""
    wanted = " ".join(name.split()).casefold()
    found = [
        r
        for r in session.exec(select(Reviewer).where(col(Reviewer.active)))
        if " ".join(r.name.split()).casefold() == wanted
    ]
    if not found:
        raise Refusal("there is no active reviewer of that name in the pool; choose one listed above")
    reviewer = found[0]
    if national and not reviewer.national_pool:
        raise Refusal("that reviewer is not in the Panel's pool; choose one listed above")
    conflicts = _conflicts(session, review, reviewer)
    if conflicts:
        raise Refusal(
            f"{reviewer.name} has declared a conflict of interest with {', '.join(conflicts)}, "
            "who are involved in this case; choose another reviewer"
        )
    return reviewer


def _conflicts(session: Session, review: Review, reviewer: Reviewer) -> tuple[str, ...]:
    """Declared conflicts that touch this case: the partnership, its agencies, or agencies in the rapid review."""
    partnership = session.get_one(Partnership, review.partnership_id)
    agencies = session.exec(select(Representative).where(Representative.partnership_id == review.partnership_id))
    rapid = session.exec(
        select(Decision).where(Decision.review_id == review.id, Decision.kind == DecisionKind.RAPID_REVIEW)
    )
    involved = [partnership.name, partnership.code, *(r.organisation for r in agencies)]
    involved += [str(d.details.get("agencies_involved", "")) for d in rapid]
    text = " | ".join(involved).casefold()
    return tuple(c for c in reviewer.conflicts if c.strip() and c.casefold() in text)


def commission(
    session: Session,
    review: Review,
    reviewer: Reviewer,
    actor: Actor,
    move: Transition,
    facts: Facts,
    terms: str,
    on: dt.date,
    *,
    confirmed: bool = False,
    at: dt.datetime,
) -> None:
    """Record the reviewer commissioned on these terms, and move the review on naming them."""
    session.add(
        Commission(
            review_id=review.id,
            reviewer_id=reviewer.id,
            terms_of_reference=terms,
            commissioned_on=on,
            confirmed_by_secretary_of_state=confirmed,
        )
    )
    details = {"reviewer": reviewer.name}
    transitions.apply_transition(session, review, move, actor=actor, facts=facts, details=details, at=at)
