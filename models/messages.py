"""What an email from cspr says, and to whom it goes.

An email carries references, pseudonyms, stages, dates and a link, and nothing else: never a name or a date of
birth, never what someone typed into a form (an outbox message's free text stays in the project database and the
outbox folder), never an attached document. The link leads to the review in cspr, behind sign-in.

Who receives it: the national bodies at the mailboxes the deployment's settings give; the child death review
partners at the mailbox the register holds for the review's partnership; the coordinator and the local partners at the
addresses the register holds for the review's partnership, today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import child_death_review
from models.calendar import today_in_england
from models.dates import weekday_date
from models.process import STEPS, Step, deadline_for
from models.recipients import (
    AGENCY,
    OPERATORS,
    ROLE,
    Group,
    LocalBody,
    NationalBody,
    Recipient,
    agency_ids,
    for_role,
    recipient_label,
)
from models.review import outbox
from models.roles import PARTNERS, Role
from models.settings import Settings
from models.stages import HUMAN_LABELS
from models.tables import (
    Account,
    Agency,
    CasePerson,
    Deadline,
    DeadlineStatus,
    Outbox,
    Partnership,
    PersonKind,
    Representative,
    Review,
    StageEvent,
    in_force,
)
from models.task_ref import task_path

MAILBOXES: dict[str, str] = {  # the national bodies: their mailboxes are settings of the deployment
    NationalBody.PANEL: "panel_mailbox",
    NationalBody.OFSTED: "ofsted_mailbox",
    NationalBody.DFE: "dfe_mailbox",
    NationalBody.SECRETARY_OF_STATE: "secretary_of_state_mailbox",
}
PARTNERSHIP_MAILBOXES: dict[str, str] = {  # the bodies beside a partnership: their mailboxes are in its register
    LocalBody.CHILD_DEATH_REVIEW: "child_death_review_email",
}
REGISTERED: dict[str, frozenset[Role]] = {
    Group.COORDINATOR: frozenset({Role.COORDINATOR}),
    Group.LOCAL_PARTNERS: PARTNERS,
}


def addresses(session: Session, review: Review, recipient: str, settings: Settings) -> list[str]:
    """Where a message for ``recipient`` (an outbox row's) goes: none when no mailbox is set or nobody is
    registered, and the message then goes to the outbox folder instead. An agency past its last day has no
    contacts: they answer for it no more (models/agencies.py ``end_agency``), so they are told nothing of work it
    left open; the coordinator is, by the item's own escalations."""
    if recipient in MAILBOXES:
        mailbox = getattr(settings, MAILBOXES[recipient])
        return [mailbox] if mailbox else []
    if recipient in PARTNERSHIP_MAILBOXES:
        held = getattr(session.get_one(Partnership, review.partnership_id), PARTNERSHIP_MAILBOXES[recipient])
        return [held] if held else []
    if recipient == OPERATORS:
        registered = col(Representative.role) == Role.OPERATOR
    elif recipient.startswith(AGENCY):
        registered = sa.and_(
            col(Representative.partnership_id) == review.partnership_id,
            col(Representative.role) == Role.AGENCY_CONTACT,
            col(Representative.agency_id) == uuid.UUID(recipient.removeprefix(AGENCY)),
            sa.exists().where(
                col(Agency.id) == col(Representative.agency_id),
                in_force(col(Agency.from_on), col(Agency.to_on), today_in_england()),
            ),
        )
    elif recipient.startswith(ROLE):
        registered = sa.and_(
            col(Representative.partnership_id) == review.partnership_id,
            col(Representative.role) == Role(recipient.removeprefix(ROLE)),
        )
    else:
        registered = sa.and_(
            col(Representative.partnership_id) == review.partnership_id,
            col(Representative.role).in_(REGISTERED.get(recipient, frozenset())),
        )
    rows = session.exec(select(Representative.email).where(registered, col(Representative.active).is_(True))).all()
    return sorted({address for address in rows if address})


@dataclass(frozen=True)
class Letter:
    """Everything an email may say about a review."""

    reference: str
    partnership: str
    stage: str
    pseudonyms: tuple[str, ...]
    link: str
    child_death_review: tuple[str, ...] = ()  # what the child death review partners read besides
    agencies: Mapping[uuid.UUID, str] = field(default_factory=dict)  # the names of the agencies it may go to


def agency_names(session: Session, recipients: Iterable[str]) -> dict[uuid.UUID, str]:
    """The names of the agencies whose contacts are among ``recipients`` (as the outbox stores them), by id: what
    ``recipient_label`` names them by. No query when none is an agency's."""
    wanted = agency_ids(recipients)
    if not wanted:
        return {}
    return {i: n for i, n in session.exec(select(Agency.id, Agency.name).where(col(Agency.id).in_(wanted))).all()}


def letter(session: Session, review: Review, ui_url: str, recipients: Iterable[str] = ()) -> Letter:
    """What an email about ``review`` may say, to any of ``recipients`` (as the outbox stores them)."""
    partnership = session.get_one(Partnership, review.partnership_id)
    children = session.exec(
        select(CasePerson.pseudonym)
        .where(CasePerson.review_id == review.id, CasePerson.kind == PersonKind.CHILD)
        .order_by(col(CasePerson.pseudonym))
    ).all()
    # the step's task page while the review waits on a person (reminders and escalations are about it), else the
    # review's timeline artifact, keyed by its reference: the page a person lands on after signing in
    waits = STEPS.get(review.stage) is not None
    where = task_path(review.reference, review.stage) if waits else f"/artifacts/key/{review.reference.lower()}"
    link = f"{ui_url.rstrip('/')}{where}"
    cdr = child_death_review.about(review) if child_death_review.is_death(review) else ()
    names = agency_names(session, recipients)
    return Letter(review.reference, partnership.name, HUMAN_LABELS[review.stage], tuple(children), link, cdr, names)


def takes_digest(session: Session, recipient: str, addresses: list[str]) -> set[str]:
    """Which of a message's addresses belong to people who chose one daily digest (never a body's mailbox)."""
    if recipient in MAILBOXES or recipient in PARTNERSHIP_MAILBOXES or not addresses:
        return set()
    rows = session.exec(select(Account.email).where(col(Account.email).in_(addresses), col(Account.digest).is_(True)))
    return set(rows.all())


def digest_id(delivery_ids: list[uuid.UUID], sender: str) -> str:
    """Made from the deliveries a digest holds: the same for every try of the same digest, and another for a digest
    that holds other messages (a mail system drops a second message with an ID it has seen)."""
    held = hashlib.sha256(",".join(sorted(map(str, delivery_ids))).encode()).hexdigest()[:24]
    return f"<cspr.digest.{held}@{sender.rpartition('@')[2] or 'cspr.invalid'}>"


def still_reached(session: Session, recipient: str, address: str) -> bool:
    """Whether a message for ``recipient`` may still go to ``address``: a national body's mailbox always; a body's
    mailbox in the register while a partnership's register still holds it; a person only while the register has an
    active registration under that address."""
    if recipient in MAILBOXES:
        return True
    if recipient in PARTNERSHIP_MAILBOXES:
        column = getattr(Partnership, PARTNERSHIP_MAILBOXES[recipient])
        return session.exec(select(Partnership.id).where(column == address)).first() is not None
    registered = session.exec(
        select(Representative.id).where(Representative.email == address, col(Representative.active).is_(True))
    ).first()
    return registered is not None


def compose_digest(
    items: list[tuple[str, str]], *, to: str, sender: str, message_id: str, at: dt.datetime
) -> EmailMessage:
    """One person's messages of the day, each its subject and its link, as one email."""
    message = EmailMessage()
    message["Subject"] = f"cspr: your daily digest, {len(items)} message(s)"
    message["From"], message["To"], message["Date"] = sender, to, format_datetime(at)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    lines = [f"- {subject}\n  {link}" for subject, link in items]
    message.set_content(
        "Your cspr messages since the last digest (open each link; you will be asked to sign in):\n\n"
        + "\n".join(lines)
        + "\n\nThese messages hold no names and have nothing attached: the details are in cspr, behind sign-in.\n"
    )
    return message


def message_id(outbox_id: uuid.UUID, sender: str) -> str:
    """The same for every try of one outbox message, so a message sent again after a crash is seen to be the same."""
    domain = sender.rpartition("@")[2] or "cspr.invalid"
    return f"<cspr.{outbox_id}@{domain}>"


def compose(
    about: Letter,
    *,
    subject: str,
    recipient: str,
    to: str,
    sender: str,
    message_id: str,
    at: dt.datetime,
    link: str = "",
) -> EmailMessage:
    """One outbox message as an email to one address; ``link`` where it leads (the review's page if none)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies, please
    children = ", ".join(about.pseudonyms) or "not yet recorded"
    # the child death review partners read the references that tie the review to their own, and why they are told
    besides = about.child_death_review if recipient == LocalBody.CHILD_DEATH_REVIEW else ()
    besides_said = "".join(f"{line}\n" for line in (*besides, "")) if besides else ""
    message.set_content(
        f"{subject}\n\n"
        f"For: {recipient_label(recipient, about.agencies)}\n"
        f"Review: {about.reference}\n"
        f"Partnership: {about.partnership}\n"
        f"Children (by pseudonym): {children}\n"
        f"Where the review stands: {about.stage}\n\n"
        f"{besides_said}"
        f"Open {'the form' if link else 'the review'} in cspr (you will be asked to sign in):\n{link or about.link}\n\n"
        "This message holds no names and has nothing attached: the review's details and documents are in cspr, "
        "behind sign-in.\n"
    )
    return message


def failure_subject(
    reference: str, purpose: str, recipient: str, agencies: Mapping[uuid.UUID, str] | None = None
) -> str:
    """What the operators are told when a message could not be delivered (the relay's answer is in the sweep's
    summary and the delivery's record, not in an email); ``agencies`` names an agency's contacts."""
    to = recipient_label(recipient, agencies)
    return f"{reference}: the {purpose.replace('_', ' ')} message to {to} was not delivered"


# --- "waiting for you" ------------------------------------------------------------------------------------


def announce_waiting(session: Session, review: Review, link: str) -> list[Outbox]:
    """Tell the people who may answer the step the review now waits at that it waits on them: one message per
    role, to everyone registered in it in the review's partnership, with the step, its deadline and ``link`` (the
    step's task page). Once per visit of the stage, however often the run asks (a refused answer asks again; each
    partner's sign-off leaves the others waiting): a partner who has signed is not told again."""
    stage = review.stage
    step = STEPS.get(stage)
    if step is None:
        return []
    entered = session.exec(
        select(sa.func.max(StageEvent.seq)).where(StageEvent.review_id == review.id, StageEvent.to_stage == stage)
    ).one()
    roles = waiting_on(session, review, step)
    due = due_for(session, review, step)
    subject = f"{review.reference}: waiting for you: {step.title}" + (f", due by {weekday_date(due)}" if due else "")
    added = []
    for role in sorted(roles):
        added += outbox.enqueue(session, review, outbox.Occasion.waiting(stage, entered), (for_role(role),), subject)
    for message in added:
        message.link = link
        session.add(message)
    session.flush()
    return added


def waiting_on(session: Session, review: Review, step: Step[Any]) -> frozenset[Role]:
    """The roles whose answer the step still waits for: where each of its roles answers in its own right (a partner's
    sign-off), one that has answered is no longer waited on."""
    answered = step.answered(session, review) if step.answered is not None else frozenset()
    return step.roles - answered


def chased_for(session: Session, review: Review, deadline: str, *, overdue: bool) -> tuple[Recipient, ...]:
    """Who a deadline's reminder (``overdue``: its escalation) goes to. A reminder: the people whose answer the step
    now waiting works towards it, or the coordinator for a deadline no waiting step is for. An escalation: the
    coordinator, and each partner whose answer is still missing."""
    step = STEPS.get(review.stage)
    works_towards = deadline_for(review, step) if step is not None else None
    roles = waiting_on(session, review, step) if step is not None and works_towards == deadline else frozenset()
    if overdue:
        return (Group.COORDINATOR, *(for_role(role) for role in sorted(roles & PARTNERS)))
    return tuple(for_role(role) for role in sorted(roles)) or (Group.COORDINATOR,)


def due_for(session: Session, review: Review, step: Step[Any]) -> dt.date | None:
    """The open deadline the step works towards, if it has one."""
    name = deadline_for(review, step)
    if name is None:
        return None
    deadline = session.exec(
        select(Deadline).where(
            Deadline.review_id == review.id, Deadline.name == name, Deadline.status == DeadlineStatus.OPEN
        )
    ).first()
    return None if deadline is None else deadline.due_on
