"""The actions on a review's recommendations, followed to their close. Each recommendation the partnership adopts
(``Recommendation``) has its actions, each owned by an agency and a named person there, with a due date and what
will show it is done. The owner's agency updates its progress on its tasks page; the coordinator or a partner
accepts it as done (or as not possible) or sends it back with a reason, or closes it with a reason. The review stays
open until every action is closed (models/process/steps/actions.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from models.dates import long_date, weekday_date
from models.process.step import Refusal
from models.recipients import AgencyContacts, Group, Recipient
from models.review import outbox, transitions
from models.review.transitions import Actor, Noted
from models.roles import PARTNERS, Role
from models.tables import (
    OPEN_ACTION,
    Action,
    ActionStatus,
    Agency,
    Partnership,
    Recommendation,
    RecommendationSource,
    Review,
    action_is_open,
)
from models.work import evidence
from models.work.forms import ActionAnswer, ActionChoice, Progress, Verdict
from models.work.items import ItemKind, ItemRef, Work, agency_given, item_path

AGENCY = frozenset({Role.AGENCY_CONTACT})
PARTNERSHIP = frozenset({Role.COORDINATOR, *PARTNERS})  # who accepts, sends back or closes an action
AWAITING = frozenset({ActionStatus.DONE, ActionStatus.CANNOT})  # the owner has answered: for the partnership


@dataclass(frozen=True)
class NewAction:
    """One action as the coordinator records it, under the recommendation it serves."""

    recommendation: str
    action: str
    agency: str  # one of the partnership's agencies, by name
    owner: str
    due_on: dt.date
    done_when: str


def record_actions(
    session: Session,
    review: Review,
    given: Sequence[NewAction],
    source: RecommendationSource,
    *,
    actor: Actor,
    at: dt.datetime,
    today: dt.date,
) -> list[Action]:
    """Record the recommendations (one per distinct text, in the order given) and their actions, and tell each owner
    agency's contacts. Refused whole if an agency is unknown or a due date has passed."""
    partnership = session.get_one(Partnership, review.partnership_id)
    agencies = {
        name: agency_given(session, partnership.id, name, today) for name in dict.fromkeys(a.agency for a in given)
    }
    late = [a for a in given if a.due_on < today]
    if late:
        raise Refusal(f"an action's due date has passed ({long_date(late[0].due_on)}): give a date from today on")
    recommendations: dict[str, Recommendation] = {}
    last_rec = _last(session, review, Recommendation)
    last_action = _last(session, review, Action)
    made = []
    for new in given:
        rec = recommendations.get(new.recommendation)
        if rec is None:
            last_rec += 1
            rec = Recommendation(review_id=review.id, number=last_rec, source=source, text=new.recommendation)
            session.add(rec)
            session.flush()
            recommendations[new.recommendation] = rec
        last_action += 1
        agency = agencies[new.agency]
        row = Action(
            review_id=review.id,
            recommendation_id=rec.id,
            number=last_action,
            agency_id=agency.id,
            owner=new.owner,
            text=new.action,
            done_when=new.done_when,
            due_on=new.due_on,
        )
        session.add(row)
        session.flush()
        _note(
            session, review, row, agency, "given", actor, at, recommendation=rec.number, due_on=new.due_on.isoformat()
        )
        said = f"{review.reference}: action {row.number} for {agency.name}, due by {weekday_date(new.due_on)}"
        _tell(session, review, row, "given", (AgencyContacts(agency.id),), said)
        made.append(row)
    return made


def _last(session: Session, review: Review, table: Any) -> int:
    return int(session.exec(select(sa.func.max(table.number)).where(table.review_id == review.id)).one() or 0)


def open_actions(session: Session, review: Review) -> int:
    """How many of the review's actions are not yet closed."""
    return int(
        session.exec(
            select(sa.func.count()).select_from(Action).where(Action.review_id == review.id, action_is_open())
        ).one()
    )


def handle(
    session: Session, review: Review, row: Action, answer: ActionAnswer, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    agency = session.get_one(Agency, row.agency_id)
    if row.status not in OPEN_ACTION:
        raise Refusal(f"action {row.number} is closed ({row.status.value}): nothing more can be done with it")
    to_owner: tuple[Recipient, ...] = (AgencyContacts(agency.id),)
    reason: str | None = None
    noted: dict[str, Any] = {}
    if answer.what is ActionChoice.PROGRESS:
        status = answer.status
        assert status is not None  # the form's own rule
        row.status = {
            Progress.IN_PROGRESS: ActionStatus.IN_PROGRESS,
            Progress.DONE: ActionStatus.DONE,
            Progress.CANNOT: ActionStatus.CANNOT,
        }[status]
        if status is Progress.DONE:
            row.evidence, row.evidence_key = answer.evidence, None  # the latest evidence: a document only if given now
            if answer.evidence_document:
                document = evidence.attach(session, review, row, answer.evidence_document, at)
                noted = {
                    "evidence_document": str(document.id),
                    "size_bytes": document.size_bytes,
                    "media_type": document.media_type,
                }
        if status is Progress.CANNOT:
            row.reason = reason = answer.reason
        event = status.value
        if row.status in AWAITING:
            said = f"{review.reference}: action {row.number} ({agency.name}): {status.value}, for you to accept"
            _tell(session, review, row, event, (Group.COORDINATOR,), said)
    else:
        verdict = answer.verdict
        assert verdict is not None  # the form's own rule
        if verdict is not Verdict.CLOSE and row.status not in AWAITING:
            raise Refusal(
                f"action {row.number} is {row.status.value}: its owner has not said it is done or cannot be done, so "
                "there is nothing to accept or send back yet (you may close it with a reason)"
            )
        if verdict is Verdict.ACCEPT:
            row.status = ActionStatus.ACCEPTED if row.status is ActionStatus.DONE else ActionStatus.CLOSED
            row.closed_on = today
            said = f"{review.reference}: action {row.number} ({agency.name}) accepted and closed"
        elif verdict is Verdict.SEND_BACK:
            row.status, row.reason = ActionStatus.IN_PROGRESS, answer.reason
            reason = answer.reason
            said = f"{review.reference}: action {row.number} ({agency.name}) sent back: see the reason in cspr"
        else:
            row.status, row.reason, row.closed_on = ActionStatus.CLOSED, answer.reason, today
            reason = answer.reason
            said = f"{review.reference}: action {row.number} ({agency.name}) closed by the partnership"
        event = verdict.value.replace(" ", "-")
        _tell(session, review, row, event, to_owner, said)
    session.add(row)
    session.flush()
    _note(session, review, row, agency, event, actor, at, reason=reason, status=row.status.value, **noted)
    return f"action {row.number} ({agency.name}): {row.status.value}"


def describe(session: Session, review: Review, row: Action) -> list[str]:
    """Markdown above the action's form in its run: no free text (that is sealed, and Prefect is not the place for
    it); the person's page shows it (``show``)."""
    agency = session.get_one(Agency, row.agency_id)
    rec = session.get_one(Recommendation, row.recommendation_id)
    return [
        f"## {review.reference}: action {row.number}, {agency.name}",
        "",
        f"On recommendation {rec.number}. **Owner:** {row.owner}, {agency.name}.",
        "",
        f"**Due by {weekday_date(row.due_on)}.**",
        "",
        f"**Where it stands:** {row.status.value}.",
        "",
    ]


def show(session: Session, review: Review, row: Action) -> list[str]:
    """Markdown for the person's own page: the action whole, with the free text its run never holds."""
    agency = session.get_one(Agency, row.agency_id)
    rec = session.get_one(Recommendation, row.recommendation_id)
    lines = [
        f"**Recommendation {rec.number}:** {rec.text}",
        "",
        f"**The action:** {row.text}",
        "",
        f"**Owner:** {row.owner}, {agency.name}. **Due by {weekday_date(row.due_on)}.**",
        "",
        f"**What will show it is done:** {row.done_when}",
        "",
        f"**Where it stands:** {row.status.value}.",
    ]
    if row.evidence:
        lines.append(f"**Evidence given:** {row.evidence}")
    document = evidence.evidence_of(session, row)
    if document is not None:
        kind = evidence.Kind(document.media_type)
        name = document.name or "(its name was erased with the review)"
        lines.append(f"**Evidence document:** {name} ({kind.label}, {evidence.shown_size(document.size_bytes)})")
    if row.reason:
        lines.append(f"**Reason given:** {row.reason}")
    return [*lines, ""]


def _note(
    session: Session,
    review: Review,
    row: Action,
    agency: Agency,
    event: str,
    actor: Actor,
    at: dt.datetime,
    *,
    reason: str | None = None,
    **details: Any,
) -> None:
    transitions.note(
        session,
        review,
        Noted.ACTION,
        actor=actor,
        reason=reason,
        details={"action": row.number, "agency": agency.name, "happened": event, **details},
        at=at,
    )


def _tell(session: Session, review: Review, row: Action, event: str, to: tuple[Recipient, ...], subject: str) -> None:
    ref = ItemRef(ItemKind.ACTION, row.number)
    for message in outbox.enqueue(session, review, outbox.Occasion.item(str(ref), event, row.answer_seq), to, subject):
        message.link = item_path(review.reference, ref)
        session.add(message)
    session.flush()


def _roles(answer: ActionAnswer) -> frozenset[Role]:
    return AGENCY if answer.what is ActionChoice.PROGRESS else PARTNERSHIP


WORK: Work[ActionAnswer] = Work(
    kind=ItemKind.ACTION,
    table=Action,
    form=ActionAnswer,
    title="Action on a recommendation",
    roles=_roles,
    from_its_agency=lambda answer: answer.what is ActionChoice.PROGRESS,
    handler=handle,
    is_open=lambda row: row.status in OPEN_ACTION,
    describe=describe,
    show=show,
)
