"""Agencies' information requests: the coordinator asks agencies for what they knew when the rapid review starts (the
reviewer asks again for the local review); each agency's contacts return it on their tasks page, or say their agency
had no involvement; the coordinator may chase, give more time with a reason, or close a request as not needed.

The time an agency is given is the partnership's own expectation (``Partnership.information_days`` working days after
the request, 5 unless the partnership sets another), not a statutory deadline: the rapid review's 15 working days
are the statutory clock, and a missing return never holds it up. It is recorded as missing, with the agency and the
date asked, when the rapid review is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.agencies import agencies_on
from models.calendar import calendar_for, today_in_england
from models.dates import long_date, weekday_date
from models.process.step import Refusal
from models.recipients import AgencyContacts, Group, Recipient
from models.review import outbox, transitions
from models.review.transitions import Actor, Noted
from models.roles import Role
from models.stages import Stage
from models.tables import Agency, InformationRequest, Partnership, RequestStatus, Review, request_is_open
from models.work.forms import RequestAnswer, RequestChoice
from models.work.items import ItemKind, ItemRef, Work, agency_given, item_path

EXPECTATION = "the partnership's own expectation, not a statutory deadline"
COORDINATOR = frozenset({Role.COORDINATOR})
AGENCY = frozenset({Role.AGENCY_CONTACT})
FOR_AGENCIES = frozenset({RequestChoice.RETURN, RequestChoice.NO_INVOLVEMENT})
CLOSED = {
    RequestStatus.RETURNED: "returned",
    RequestStatus.NO_INVOLVEMENT: "no involvement",
    RequestStatus.NOT_NEEDED: "closed as not needed",
    RequestStatus.MISSING: "missing when the rapid review was recorded",
}


def ask_agencies(
    session: Session, review: Review, names: Sequence[str], *, actor: Actor, at: dt.datetime, today: dt.date
) -> list[InformationRequest]:
    """Ask each named agency of the review's partnership for its information, due the partnership's number of working
    days from today; an agency already asked at this stage, and not yet answered, is not asked twice. Refused whole
    (nothing asked) if any name is not one of the partnership's agencies today."""
    partnership = session.get_one(Partnership, review.partnership_id)
    agencies = [agency_given(session, partnership.id, name, today) for name in dict.fromkeys(names)]
    stage = Stage(review.stage)
    outstanding = set(
        session.exec(
            select(InformationRequest.agency_id).where(
                InformationRequest.review_id == review.id,
                InformationRequest.asked_at_stage == stage,
                request_is_open(),
            )
        ).all()
    )
    closures = tuple(sorted(dt.date.fromisoformat(d) for d in partnership.closure_days or ()))
    due = calendar_for(closures).add(today, partnership.information_days)
    number = _last_number(session, review)
    made = []
    for agency in agencies:
        if agency.id in outstanding:
            continue
        number += 1
        row = InformationRequest(
            review_id=review.id, number=number, agency_id=agency.id, asked_at_stage=stage, asked_on=today, due_on=due
        )
        session.add(row)
        session.flush()
        _note(session, review, row, agency, "asked", actor, at, due_on=due.isoformat())
        said = f"{review.reference}: information requested from {agency.name}, due by {weekday_date(due)}"
        _tell(session, review, row, "asked", (AgencyContacts(agency.id),), said)
        made.append(row)
    return made


def _last_number(session: Session, review: Review) -> int:
    numbers = session.exec(select(InformationRequest.number).where(InformationRequest.review_id == review.id)).all()
    return max(numbers, default=0)


def handle(
    session: Session,
    review: Review,
    row: InformationRequest,
    answer: RequestAnswer,
    actor: Actor,
    at: dt.datetime,
    today: dt.date,
) -> str:
    agency = session.get_one(Agency, row.agency_id)
    if row.status is not RequestStatus.REQUESTED:
        raise Refusal(
            f"this request to {agency.name} is {CLOSED[row.status]} already: nothing more can be done with it"
        )
    what = RequestChoice(answer.what)
    to_agency: tuple[Recipient, ...] = (AgencyContacts(agency.id),)
    match what:
        case RequestChoice.RETURN | RequestChoice.NO_INVOLVEMENT:
            row.status = RequestStatus.RETURNED if what is RequestChoice.RETURN else RequestStatus.NO_INVOLVEMENT
            row.answered_on = today
            kept = answer.model_dump(mode="json", include=_RETURN_FIELDS) if what is RequestChoice.RETURN else {}
            row.answer = kept
            said = "returned its information" if what is RequestChoice.RETURN else "answered: no involvement"
            _tell(session, review, row, what.value, (Group.COORDINATOR,), f"{review.reference}: {agency.name} {said}")
        case RequestChoice.EXTEND:
            assert answer.due_on is not None  # the form's own rule
            if answer.due_on <= row.due_on:
                raise Refusal(
                    f"to give more time, the new date must be later than the date it is due now "
                    f"({long_date(row.due_on)})"
                )
            if answer.due_on < today:
                raise Refusal("the new date it is due has passed already: give a date from today")
            row.due_on, row.reason = answer.due_on, answer.reason
            row.reminder_level = row.escalation_level = 0
            said = (
                f"{review.reference}: more time for {agency.name}'s information: now due by {weekday_date(row.due_on)}"
            )
            _tell(session, review, row, "extended", to_agency, said)
        case RequestChoice.NOT_NEEDED:
            row.status, row.reason = RequestStatus.NOT_NEEDED, answer.reason
            _tell(
                session,
                review,
                row,
                "not-needed",
                to_agency,
                f"{review.reference}: {agency.name}'s information is no longer needed",
            )
        case RequestChoice.CHASE:
            due = weekday_date(row.due_on)
            said = f"{review.reference}: reminder: information requested from {agency.name}, due by {due}"
            _tell(session, review, row, "chased", to_agency, said)
    session.add(row)
    session.flush()
    reason = answer.reason if what in (RequestChoice.EXTEND, RequestChoice.NOT_NEEDED) else None
    _note(session, review, row, agency, what.value, actor, at, reason=reason, due_on=row.due_on.isoformat())
    return f"request {row.number} to {agency.name}: {_done[what]}"


_RETURN_FIELDS = {"involvement", "chronology", "analysis", "actions_taken", "learning"}
_done = {
    RequestChoice.RETURN: "information returned",
    RequestChoice.NO_INVOLVEMENT: "no involvement",
    RequestChoice.EXTEND: "more time given",
    RequestChoice.NOT_NEEDED: "closed as not needed",
    RequestChoice.CHASE: "chased",
}


def close_missing(
    session: Session, review: Review, stage: Stage, *, actor: Actor, at: dt.datetime
) -> list[dict[str, str]]:
    """Record every request asked at ``stage`` still unanswered as missing (the rapid review was recorded without
    it), closing it: the agency and the date asked, for the rapid review's record."""
    missing = []
    for row in requests_at(session, review, stage):
        if row.status is not RequestStatus.REQUESTED:
            continue
        agency = session.get_one(Agency, row.agency_id)
        row.status = RequestStatus.MISSING
        session.add(row)
        _note(session, review, row, agency, "missing", actor, at)
        missing.append({"agency": agency.name, "asked_on": row.asked_on.isoformat(), "due_on": row.due_on.isoformat()})
    session.flush()
    return missing


def requests_at(session: Session, review: Review, stage: Stage | None = None) -> list[InformationRequest]:
    query = select(InformationRequest).where(InformationRequest.review_id == review.id)
    if stage is not None:
        query = query.where(InformationRequest.asked_at_stage == stage)
    return list(session.exec(query.order_by(col(InformationRequest.number))).all())


def status_lines(session: Session, review: Review, stage: Stage, today: dt.date) -> list[str]:
    """Markdown: each agency asked at ``stage`` and where its return stands, for the form that uses them. Read as
    plain columns, never the sealed ones: the gate, which holds no review's key, shows it above the step's form."""
    rows = session.exec(
        select(
            col(Agency.name),
            col(InformationRequest.status),
            col(InformationRequest.asked_on),
            col(InformationRequest.due_on),
        )
        .join(Agency, col(Agency.id) == col(InformationRequest.agency_id))
        .where(InformationRequest.review_id == review.id, InformationRequest.asked_at_stage == stage)
        .order_by(col(InformationRequest.number))
    ).all()
    if not rows:
        return ["No agency has been asked for information.", ""]
    lines = ["**Agencies' information:**", ""]
    for name, status, asked_on, due_on in rows:
        if RequestStatus(status) is RequestStatus.REQUESTED:
            late = " (overdue)" if due_on < today else ""
            where = f"missing: asked {long_date(asked_on)}, due by {long_date(due_on)}{late}"
        else:
            where = CLOSED[RequestStatus(status)]
        lines.append(f"- {name}: {where}")
    held = "the rapid review" if stage is Stage.RAPID_REVIEW else "the draft report"
    lines += ["", f"A return still missing when you submit is recorded as missing; it does not hold {held} up.", ""]
    return lines


def describe(session: Session, review: Review, row: InformationRequest) -> list[str]:
    agency = session.get_one(Agency, row.agency_id)
    stage = "the rapid review" if row.asked_at_stage is Stage.RAPID_REVIEW else "the local review"
    lines = [
        f"## {review.reference}: information from {agency.name}",
        "",
        f"{agency.name} is asked for its information for {stage}: its involvement with the child and family, a "
        "chronology of its contacts, its analysis of its own practice, the immediate actions it has taken and what "
        "it has learnt. Or, in one step, that it had no involvement.",
        "",
        f"**Asked on {long_date(row.asked_on)}; due by {weekday_date(row.due_on)}** ({EXPECTATION}).",
    ]
    return [*lines, ""]


def show(session: Session, review: Review, row: InformationRequest) -> list[str]:
    """Markdown for the person's own page: the request as its run shows it, and the reason given for more time,
    free text its run never holds."""
    lines = describe(session, review, row)
    if row.reason and row.status is RequestStatus.REQUESTED:
        lines += [f"More time was given: {row.reason}", ""]
    return lines


def _note(
    session: Session,
    review: Review,
    row: InformationRequest,
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
        Noted.INFORMATION_REQUEST,
        actor=actor,
        reason=reason,
        details={"request": row.number, "agency": agency.name, "happened": event, **details},
        at=at,
    )


def _tell(
    session: Session, review: Review, row: InformationRequest, event: str, to: tuple[Recipient, ...], subject: str
) -> None:
    ref = ItemRef(ItemKind.REQUEST, row.number)
    for message in outbox.enqueue(session, review, outbox.Occasion.item(str(ref), event, row.answer_seq), to, subject):
        message.link = item_path(review.reference, ref)
        session.add(message)
    session.flush()


def _roles(answer: RequestAnswer) -> frozenset[Role]:
    return AGENCY if answer.what in FOR_AGENCIES else COORDINATOR


WORK: Work[RequestAnswer] = Work(
    kind=ItemKind.REQUEST,
    table=InformationRequest,
    form=RequestAnswer,
    title="Information request",
    roles=_roles,
    from_its_agency=lambda answer: answer.what in FOR_AGENCIES,
    handler=handle,
    is_open=lambda row: row.status is RequestStatus.REQUESTED,
    describe=describe,
    show=show,
)


def agency_lines(session: Session, review: Review) -> list[str]:
    """Markdown: the partnership's agencies today, by the names a form takes."""
    names = [agency.name for agency in agencies_on(session, review.partnership_id, today_in_england())]
    if not names:
        return ["The partnership has no agencies in its register yet: ask its cspr operator (cspr agencies add).", ""]
    return ["**The partnership's agencies:** " + "; ".join(names) + ".", ""]
