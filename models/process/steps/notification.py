"""The notification: the coordinator records the notification made through the national route. Who is told and
which deadline applies depend on the kind of notification; where nothing more follows, the case closes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, WithJsonSchema, model_validator
from sqlmodel import Session

from models import child_death_review, rulebook
from models.documents import DocumentKind
from models.forms import CleanText, Line, not_in_future
from models.process.checks import not_before
from models.process.step import COORDINATOR, Refusal, Step
from models.recipients import recipient_label
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition
from models.tables import Review
from models.work.requests import agency_lines, ask_agencies

if TYPE_CHECKING:
    from models.process.demo_case import Case


MAX_AGENCIES = 50


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class NotificationSubmitted(CleanText):
    panel_reference: Line = Field(
        title="Reference from the national notification system",
        description="Given when the notification is submitted through the national notification route.",
    )
    notified_on: dt.date = Field(title="Date the notification was submitted")
    # drawn as a plain date that may be left empty: the UI draws "date or None" as a switch between a date and
    # "Property is type None", and would send a default of None, which the plain date's schema refuses
    partners_told_on: Annotated[dt.date | None, WithJsonSchema({"type": "string", "format": "date"})] = Field(
        default=None,
        json_schema_extra=_no_default,
        title="Date the local safeguarding partners were told",
        description="Needed for a serious incident; leave empty for a death notified where nothing more follows.",
    )

    child_death_review_reference: child_death_review.Reference = Field(
        default="",
        title="Child death review reference",
        description="Needed when a child has died: the reference the child death review team (for the child death "
        "overview panel) gave this death, e.g. CDOP/2026/0042. Letters, numbers, spaces, hyphens and slashes only, "
        "never a name. Optional for a care leaver's death; leave it empty when no one has died.",
    )

    agencies: list[Line] = Field(
        default_factory=list,
        max_length=MAX_AGENCIES,
        title="Agencies to ask for information for the rapid review",
        description="Each by its name in the partnership's register; each is asked for its information at once.",
    )

    @model_validator(mode="after")
    def _dates(self) -> NotificationSubmitted:
        not_in_future(self.notified_on, "the notification date")
        not_in_future(self.partners_told_on, "the date the partners were told")
        return self


def handle(
    session: Session, review: Review, answer: NotificationSubmitted, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    """Record the notification made through the national route, tell whoever the rulebook says is told of this kind,
    and move on: to the rapid review for a serious incident, or to closed where nothing more follows."""
    not_before(
        answer.notified_on, review.aware_on, "The notification date", "the date the local authority became aware"
    )
    milestones = {Event.NOTIFIED_ON: answer.notified_on}
    if review.rapid_review_follows and answer.partners_told_on is None:
        raise Refusal(
            "Give the date the local safeguarding partners were told: this is a serious incident, and they carry "
            "out the rapid review"
        )
    if answer.partners_told_on is not None:
        not_before(answer.partners_told_on, review.aware_on, "The date the partners were told", "the date of awareness")
        milestones[Event.PARTNERS_TOLD_ON] = answer.partners_told_on
    if answer.agencies and not review.rapid_review_follows:
        raise Refusal(
            "no rapid review follows this notification, so no agency is asked for information: leave them out"
        )
    death = death_reference(session, review, answer.child_death_review_reference)
    review.child_death_review_reference = death
    review.national_reference = answer.panel_reference
    session.add(review)
    # The national notification route is what tells them (the coordinator submits through it; the Panel shares it
    # with Ofsted and the DfE): no email of ours repeats it. Who was told, by the rulebook, goes into the history.
    told = sorted({recipient for notice in told_of(review) for recipient in notice.tell})
    move = Transition.SUBMIT_NOTIFICATION if review.rapid_review_follows else Transition.CLOSE_AFTER_NOTIFICATION
    transitions.apply_transition(
        session,
        review,
        move,
        actor=actor,
        facts=Facts(rapid_review_follows=review.rapid_review_follows),
        details={
            "panel_reference": answer.panel_reference,
            "kind": review.notification_kind,
            "told": told,
            **({"child_death_review_reference": death} if death else {}),
        },
        milestones=milestones,
        at=at,
    )
    if review.rapid_review_follows:
        asked = ask_agencies(session, review, answer.agencies, actor=actor, at=at, today=today)
        return (
            f"notification recorded; {len(asked)} agencies asked for information" if asked else "notification recorded"
        )
    return "notification recorded; nothing more follows, so the case is closed"


def death_reference(session: Session, review: Review, given: str) -> str | None:
    """The child death review reference to record: needed for a child's death, optional for a care leaver's, and
    refused where no one has died or where it holds a name of the case. Refusals repeat nothing typed."""
    if not given:
        if child_death_review.reference_needed(review):
            raise Refusal(
                "Give the child death review reference: a child has died, and every child's death is also reviewed "
                "by the child death review partners. Ask the child death review team for the reference they gave "
                "this death"
            )
        return None
    if not child_death_review.is_death(review):
        raise Refusal(
            "no one has died in this notification, so there is no child death review: leave its reference empty"
        )
    if child_death_review.holds_a_name(session, review, given):
        raise Refusal(
            "the child death review reference holds a name recorded for this case: give the child death review "
            "team's identifier for the death, never a name"
        )
    return given


def told_of(review: Review) -> list[rulebook.NotificationRule]:
    """The notifications a review's kind calls for: its own, and the serious incident's when a rapid review follows
    (a looked-after child's death with abuse suspected is both)."""
    notices = rulebook.edition(review.edition).notifications
    kind = rulebook.NotificationKind(review.notification_kind)
    found = [notices[kind]]
    if review.rapid_review_follows and notices[kind].follows is not rulebook.Follows.RAPID_REVIEW:
        found.append(notices[rulebook.NotificationKind.SERIOUS_INCIDENT])
    return found


def deadline_of(review: Review) -> str:
    """The notification's deadline is its kind's (a looked-after child's death has no "notify the Panel" deadline of
    its own)."""
    return told_of(review)[0].deadline


def describe(session: Session, review: Review) -> list[str]:
    """Each kind of notification: who is told, by which rule, and what follows."""
    lines: list[str] = []
    for notice in told_of(review):
        told = ", ".join(recipient_label(r) for r in notice.tell)
        lines += [f"**{notice.title}**: tell {told} ({notice.source}).", ""]
    if child_death_review.is_death(review):
        needed = "give" if child_death_review.reference_needed(review) else "if there is one, give"
        said = f"**The child death review**: {needed} the reference the child death review partners gave this death"
        if review.rapid_review_follows:
            said += (
                ". They are told when the rapid review goes to the Panel, and when the local review is published or "
                "it is decided not to publish it"
            )
        lines += [f"{said} ({child_death_review.SOURCE}).", ""]
    if not review.rapid_review_follows:
        lines += ["Nothing more follows this notification: once it is recorded, the case closes.", ""]
    else:
        lines += agency_lines(session, review)
    return lines


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    return {
        "panel_reference": "SIN-2026-10-1234",
        "notified_on": c.day(3),
        "partners_told_on": c.day(3),
        **({"agencies": list(c.agencies)} if c.agencies else {}),
    }


STEP = Step(
    stage=Stage.INCIDENT_RECORDED,
    form=NotificationSubmitted,
    handler=handle,
    slug="notification",
    title="Record the notification",
    roles=COORDINATOR,
    guidance="Submit the notification in the national notification system (it reaches the Panel, Ofsted and the "
    "DfE). For a serious incident, tell the local safeguarding partners too. Then record the reference and dates here.",
    deadline=Entry.NOTIFY_PANEL,
    documents=(DocumentKind.NOTIFICATION_SUMMARY,),
    demo=demo_answer,
    deadline_of=deadline_of,
    describe_case=describe,
)
