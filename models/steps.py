"""The process: every step a person answers, in one table, and what a review waits for at each stage.

Each ``Step`` declares everything about one human step: its form, the handler that acts on the answer
(``models/handlers.py``, applied by ``models/answers.py``), the roles that may answer it, its guidance, the
deadline it shows and the documents its answer produces. The forms the Prefect UI shows (``flows/inputs.py``) are
derived from this table; the demo's scripted answers (``cli/demo.py``) and the documents (``models/documents.py``)
are checked against it.

``next_action`` reads the database and says what the lifecycle must do next. It is the only place that
decides this, so a run that crashes, is retried or replays after a suspend asks again and gets the same
answer from the recorded state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import get_type_hints

from sqlmodel import Session, col, select

from models import forms, handlers, progress, rulebook
from models.calendar import PROVISIONAL_NOTE, today_in_england
from models.documents import CALLED_FOR_BY, DocumentKind
from models.forms import FormModel
from models.handlers import Handler
from models.recipients import recipient_label
from models.records import deadline_on
from models.roles import PARTNERS, Role
from models.rulebook import Entry
from models.stages import HUMAN_LABELS, Stage, Transition, allowed_from
from models.tables import Deadline, DeadlineStatus, Review, Reviewer

D = DocumentKind


@dataclass(frozen=True)
class Step:
    stage: Stage
    form: type[FormModel]
    handler: Handler  # acts on an accepted answer (models/handlers.py)
    slug: str  # for run names: "CSPR-2026-0042 · rapid-review-sign-off"
    title: str
    roles: frozenset[Role]  # who may answer it
    guidance: str
    deadline: Entry | None  # the timetable entry this step works towards, shown above the form
    documents: tuple[DocumentKind, ...]  # the documents its answers call for


COORDINATOR = frozenset({Role.COORDINATOR})
# The Panel's steps: its contact answers them, or a coordinator records what the Panel decided (its response then
# only with the reference of the Panel's letter, and recorded as entered on the Panel's behalf: models/handlers.py)
PANEL = frozenset({Role.PANEL, Role.COORDINATOR})

_ACTIONS = Step(
    Stage.PUBLISHED,
    forms.ActionsRecorded,
    handlers.actions,
    "actions",
    "Record the actions on the recommendations",
    COORDINATOR,
    "Record the actions agreed on the recommendations; progress goes in the partnership's yearly report.",
    None,
    (),
)

STEPS: dict[Stage, Step] = {
    s.stage: s
    for s in (
        Step(
            Stage.INCIDENT_RECORDED,
            forms.NotificationSubmitted,
            handlers.notification,
            "notification",
            "Record the notification",
            COORDINATOR,
            "Submit the notification in the national notification system (it reaches the Panel, Ofsted and the "
            "DfE). For a serious incident, tell the local safeguarding partners too. Then record the reference and "
            "dates here.",
            Entry.NOTIFY_PANEL,
            (D.NOTIFICATION_SUMMARY,),
        ),
        Step(
            Stage.RAPID_REVIEW,
            forms.RapidReview,
            handlers.rapid_review,
            "rapid-review",
            "Record the rapid review",
            COORDINATOR,
            "Record what the rapid review found, answer each local review criterion (regulation 11) and give the "
            "partners' recommendation. The three partners then sign it off separately.",
            Entry.RAPID_REVIEW,
            (),
        ),
        Step(
            Stage.RAPID_REVIEW_SIGN_OFF,
            forms.SignOff,
            handlers.sign_off,
            "rapid-review-sign-off",
            "Sign off the rapid review",
            PARTNERS,
            "Each safeguarding partner (local authority, police, health) signs off separately, in any order. "
            "Any one of them may send it back with a reason. It goes to the Panel when all three have signed.",
            Entry.RAPID_REVIEW,
            (D.RAPID_REVIEW,),
        ),
        Step(
            Stage.AWAITING_PANEL,
            forms.PanelResponse,
            handlers.panel_response,
            "panel-response",
            "Record the Panel's response",
            PANEL,
            "Record whether the Panel will carry out a national review and whether it agrees with the local "
            "recommendation. The Panel has no fixed time; about 10 working days is usual. A coordinator entering "
            "it on the Panel's behalf gives the reference of the Panel's letter.",
            Entry.PANEL_RESPONSE,
            (),
        ),
        Step(
            Stage.AWAITING_DECISION,
            forms.FinalDecision,
            handlers.final_decision,
            "local-review-decision",
            "Decide on a local child safeguarding practice review",
            PARTNERS | COORDINATOR,
            "Record the partners' final decision with reasons. The Panel, Ofsted and DfE are told.",
            None,
            (D.DECISION_LETTER,),
        ),
        Step(
            Stage.COMMISSIONING,
            forms.Commissioning,
            handlers.commissioning,
            "commissioning",
            "Commission the reviewer",
            COORDINATOR,
            "Choose a reviewer from the pool who is independent of the case, and agree the terms of reference. "
            "The Panel, Ofsted and DfE are told the reviewer's name.",
            Entry.LCSPR_PUBLICATION,
            (D.TERMS_OF_REFERENCE,),
        ),
        Step(
            Stage.REVIEW_UNDER_WAY,
            forms.ReviewProgress,
            handlers.progress_update,
            "review-under-way",
            "Review under way",
            COORDINATOR,
            "Record each written request to the reviewer (for information or a draft) as it is made, and the "
            "draft report when it arrives.",
            Entry.LCSPR_PUBLICATION,
            (D.DRAFT_REPORT,),
        ),
        Step(
            Stage.QUALITY_ASSURANCE,
            forms.QualityAssurance,
            handlers.quality,
            "quality-assurance",
            "Quality assurance of the draft report",
            PARTNERS | COORDINATOR,
            "Check the report against each point. Approve it, or return it to the reviewer with reasons.",
            Entry.LCSPR_PUBLICATION,
            (D.FINAL_REPORT,),
        ),
        Step(
            Stage.REPORT_APPROVED,
            forms.FinalReportSent,
            handlers.final_report_sent,
            "final-report-sent",
            "Send the final report to the Panel and the Secretary of State",
            COORDINATOR,
            "Send the final report at least 7 working days before it is published, then record the date here. "
            "The publication decision is asked for when the 7 working days have passed.",
            Entry.LCSPR_PUBLICATION,
            (),
        ),
        Step(
            Stage.AWAITING_PUBLICATION,
            forms.Publication,
            handlers.publication,
            "publication-decision",
            "Decide on publication",
            PARTNERS | COORDINATOR,
            "Publish the report; or publish information about the improvements to be made (with reasons); or "
            "defer (e.g. criminal proceedings or an inquest pending), giving a date to look again. The Panel and "
            "the Secretary of State are told of a deferral.",
            Entry.LCSPR_PUBLICATION,
            (D.IMPROVEMENTS_STATEMENT,),
        ),
        _ACTIONS,
        replace(_ACTIONS, stage=Stage.IMPROVEMENTS_PUBLISHED),
        Step(
            Stage.NATIONAL_REVIEW,
            forms.NationalCommissioning,
            handlers.national_commissioning,
            "national-commissioning",
            "National review: the Panel's reviewer",
            PANEL,
            "The Panel chooses a reviewer from its pool and the Secretary of State confirms the appointment. "
            "Record it here with what the partnership will supply.",
            None,
            (),
        ),
        Step(
            Stage.NATIONAL_REVIEW_UNDER_WAY,
            forms.NationalReportPublished,
            handlers.national_report,
            "national-review",
            "National review under way",
            PANEL,
            "The partnership co-operates and supplies information. Record the Panel's publication of the "
            "national review and any local actions when it happens.",
            None,
            (),
        ),
    )
}

# Stages no person answers: the lifecycle moves on by itself, or waits for a date, or the review is over.
AUTOMATIC: dict[Stage, Transition] = {
    Stage.NO_REVIEW: Transition.CLOSE_NO_REVIEW,
    Stage.PUBLICATION_DEFERRED: Transition.RECONSIDER_PUBLICATION,
}


def documents_called_for(stage: Stage) -> frozenset[DocumentKind]:
    """The documents that a move out of ``stage`` calls for (models/documents.py)."""
    moves = {move.name for move in allowed_from(stage)}
    return frozenset(kind for kind, by in CALLED_FOR_BY.items() if by & moves)


class ProcessError(ValueError):
    """The process table is incomplete or contradicts the state machine or the documents."""


def check_process(steps: Mapping[Stage, Step], automatic: Mapping[Stage, Transition]) -> None:
    """Every stage but the last is answered by a person or moves by itself, never both; every step declares
    each of its parts, its handler takes its form, and it declares exactly the documents its moves call for."""
    people, machine = set(steps), set(automatic)
    unowned = set(Stage) - people - machine - {Stage.CLOSED}
    if unowned or people & machine:
        raise ProcessError(f"stages without exactly one way on: {sorted(unowned | (people & machine))}")
    for stage, step in steps.items():
        if step.stage is not stage:
            raise ProcessError(f"{stage}: the step is filed under another stage ({step.stage})")
        missing = [part for part in ("slug", "title", "guidance") if not getattr(step, part).strip()]
        missing += ["roles"] if not step.roles else []
        if missing:
            raise ProcessError(f"{stage}: the step has no {', '.join(missing)}")
        if get_type_hints(step.handler).get("a") is not step.form:
            raise ProcessError(f"{stage}: its handler does not take its form {step.form.__name__}")
        declared, called = frozenset(step.documents), documents_called_for(stage)
        if declared != called:
            raise ProcessError(f"{stage}: declares documents {sorted(declared)}, its moves call for {sorted(called)}")
    for stage, move in automatic.items():
        if move not in {m.name for m in allowed_from(stage)}:
            raise ProcessError(f"{stage}: {move} is not a move out of it")


check_process(STEPS, AUTOMATIC)


@dataclass(frozen=True)
class WaitForForm:
    step: Step
    counter: int  # the review's answer counter: every answer expected has its own
    description: str  # markdown shown above the form

    @property
    def key(self) -> str:
        """The form's key in Prefect: the stage and the answer counter."""
        return form_key(self.step.stage, self.counter)


@dataclass(frozen=True)
class WaitUntil:
    on: dt.date  # the lifecycle is scheduled to run again on this date
    why: str
    counter: int  # the review's answer counter when the wait began: part of the timer's idempotency key


@dataclass(frozen=True)
class Automatic:
    transition: Transition


@dataclass(frozen=True)
class Finished:
    pass


Action = WaitForForm | WaitUntil | Automatic | Finished


def form_key(stage: Stage, counter: int) -> str:
    return f"{stage.replace('_', '-')}-{counter}"


def step_key(review: Review) -> str:
    return form_key(Stage(review.stage), review.step_seq)


def next_action(session: Session, review: Review, today: dt.date | None = None) -> Action:
    today = today or today_in_england()
    stage = Stage(review.stage)
    if stage is Stage.CLOSED:
        return Finished()
    if stage is Stage.PUBLICATION_DEFERRED:
        look_again = progress.deferred_until(session, review)
        if look_again is not None and today < look_again:
            return WaitUntil(look_again, "publication deferred: look again then", review.step_seq)
    if stage in AUTOMATIC:
        return Automatic(AUTOMATIC[stage])
    if stage is Stage.AWAITING_PUBLICATION:
        not_before = deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE)
        if not_before is not None and today < not_before:
            why = "publication may not come sooner than 7 working days after the report went"
            return WaitUntil(not_before, why, review.step_seq)
    step = STEPS[stage]
    return WaitForForm(step, review.step_seq, describe(session, review, step))


def deadline_for(review: Review, step: Step) -> str | None:
    """The timetable entry a review's step works towards: the step's own, but for the notification, whose deadline is
    its kind's (a looked-after child's death has no "notify the Panel" deadline of its own)."""
    if step.stage is Stage.INCIDENT_RECORDED:
        return handlers.told_of(review)[0].deadline
    return step.deadline


def describe(session: Session, review: Review, step: Step) -> str:
    """The markdown shown above a form: what the step is, its deadline, and why a last answer was refused."""
    lines = [f"## {review.reference}: {step.title}", "", step.guidance, ""]
    deadline = deadline_for(review, step)
    if step.stage is Stage.INCIDENT_RECORDED:  # each kind of notification: who is told, by which rule, what follows
        for notice in handlers.told_of(review):
            told = ", ".join(recipient_label(r) for r in notice.tell)
            lines += [f"**{notice.title}**: tell {told} ({notice.source}).", ""]
        if not review.rapid_review_follows:
            lines += ["Nothing more follows this notification: once it is recorded, the case closes.", ""]
    if deadline:
        due = session.exec(select(Deadline).where(Deadline.review_id == review.id, Deadline.name == deadline)).first()
        if due is not None and due.status == DeadlineStatus.OPEN:
            lines.append(f"**{due.title}: {due.meaning} {due.due_on:%A %d %B %Y}** ({due.source}).")
            if due.provisional:
                lines.append(f"This date is *provisional*: {PROVISIONAL_NOTE}.")
            lines.append("")
    if step.stage is Stage.RAPID_REVIEW_SIGN_OFF:
        signed = progress.signed_by(session, review)
        edition = rulebook.edition(review.edition)
        for role in (r for r in Role if r in PARTNERS):
            label = edition.health_partner if role is Role.HEALTH else role.label
            lines.append(f"- {label}: {'signed off' if role.value in signed else 'waiting'}")
        lines.append("")
    if step.stage in (Stage.COMMISSIONING, Stage.NATIONAL_REVIEW):
        national = step.stage is Stage.NATIONAL_REVIEW
        pool = session.exec(select(Reviewer).where(col(Reviewer.active)).order_by(col(Reviewer.name))).all()
        lines.append("Reviewers in the pool" + (" (the Panel's pool)" if national else "") + ":")
        for r in pool:
            if national and not r.national_pool:
                continue
            conflicts = f"; declared conflicts: {', '.join(r.conflicts)}" if r.conflicts else ""
            lines.append(f"- {r.name} ({r.expertise}){conflicts}")
        lines.append("")
    if review.step_refusal:
        lines.append(f"> **Your last answer was not accepted:** {review.step_refusal}")
        lines.append("> Nothing was changed. Please correct it and submit again.")
    lines.append(f"_Stage: {HUMAN_LABELS[Stage(review.stage)]}. Guidance: {rulebook.edition(review.edition).title}._")
    return "\n".join(lines)
