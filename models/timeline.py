"""A review's timeline and deadlines as markdown, for the operators' artifact. Reference and roles only:
no child's or family member's name, and no professional's name either."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from models import rulebook
from models.calendar import PROVISIONAL_NOTE
from models.review.transitions import Noted, history
from models.roles import Role
from models.stages import HUMAN_LABELS, Transition, transition
from models.tables import Deadline, DeadlineStatus, Partnership, Review, StageEvent


def deadline_state(deadline: Deadline, today: dt.date) -> str:
    if deadline.status == DeadlineStatus.MET:
        return f"met {deadline.met_on:%d %b %Y}"
    if deadline.status == DeadlineStatus.MISSED:
        return f"missed (done {deadline.met_on:%d %b %Y})"
    if deadline.meaning != "due by":
        return "waiting" if today < deadline.due_on else "reached"
    if today > deadline.due_on:
        return "overdue"
    return "due today" if today == deadline.due_on else "due"


def timeline_markdown(session: Session, review: Review, today: dt.date) -> str:
    partnership = session.get_one(Partnership, review.partnership_id)
    lines = [
        f"# {review.reference}",
        "",
        f"**Stage:** {HUMAN_LABELS[review.stage]}  ",
        f"**Partnership:** {partnership.name}  ",
        f"**Guidance:** {review.edition}  ",
        f"**Aware on:** {review.aware_on:%d %b %Y}",
        "",
        "## Deadlines",
        "",
        "| deadline | date | state | kind and source |",
        "|---|---|---|---|",
    ]
    deadlines = session.exec(
        select(Deadline).where(Deadline.review_id == review.id).order_by(col(Deadline.due_on))
    ).all()
    book = rulebook.edition(review.edition)
    for d in deadlines:
        state = deadline_state(d, today)
        if state.startswith(("missed", "overdue")):
            state = f"**{state}**"  # what an operator must see first
        when = f"{d.meaning} {d.due_on:%a %d %b %Y}" + (" (provisional)" if d.provisional else "")
        if d.alternative_basis and d.alternative_on:  # the other count, shown beside, never chased
            when += f"; {book.alternative_words(d.rule_id, d.alternative_basis, f'{d.alternative_on:%a %d %b %Y}')}"
        lines.append(f"| {d.title} | {when} | {state} | {book.kind_words(d.kind)}: {d.source} |")
    if any(d.provisional for d in deadlines):
        lines += ["", f"A provisional date is {PROVISIONAL_NOTE}."]
    lines += ["", "## Timeline", "", "| # | when | step | by (role) |", "|---|---|---|---|"]
    for e in history(session, review.id):
        label = event_label(e)
        lines.append(f"| {e.seq} | {e.at:%d %b %Y %H:%M} | {label} | {acted_as(e)} |")
    return "\n".join(lines)


NOTED: dict[str, str] = {
    Noted.LEGAL_HOLD: "legal hold placed",
    Noted.HOLD_LIFTED: "legal hold lifted",
    Noted.ERASED: "personal data erased",
    Noted.DOCUMENT_DELETED: "a restricted document deleted",
    Noted.PERSON_CORRECTED: "a person's recorded details corrected",
}


def event_label(event: StageEvent) -> str:
    """What the history says of an entry: a move's label, or what a note records (a request's or an action's, with
    its number, agency and what happened; never its free text)."""
    if event.transition == Transition.RECORD_INCIDENT:
        return "incident recorded"
    if event.transition in (Noted.INFORMATION_REQUEST, Noted.ACTION):
        kind = "request" if event.transition == Noted.INFORMATION_REQUEST else "action"
        number = event.details.get(kind)
        return f"{kind} {number} ({event.details.get('agency', '')}): {event.details.get('happened', '')}"
    if event.transition in NOTED:
        return NOTED[event.transition]
    return transition(event.transition).label


def acted_as(event: StageEvent) -> str:
    """The role that made the move, and whose decision it entered when it acted for someone else (the Panel)."""
    role = event.actor_role.replace("_", " ")
    for_whom = event.details.get("on_behalf_of")
    return f"{role}, on behalf of the {Role(for_whom).label}" if for_whom else role
