"""What a review waits for at each stage: a person's form, a date, or nothing (an automatic move).

``next_action`` reads the database and says what the lifecycle must do next. It is the only place that
decides this, so a run that crashes, is retried or replays after a suspend asks again and gets the same
answer from the recorded state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session, col, select

from models import forms, rulebook
from models.calendar import today_in_england
from models.forms import FormModel
from models.records import deadline_on, history, milestones_of
from models.stages import HUMAN_LABELS, PartnerRole, Stage
from models.tables import Deadline, Decision, Review, Reviewer, Role


@dataclass(frozen=True)
class Step:
    stage: Stage
    form: type[FormModel]
    slug: str  # for run names: "CSPR-2026-0042 · rapid-review-sign-off"
    title: str
    roles: frozenset[str]  # who answers it
    guidance: str
    deadline: str | None = None  # the timetable entry this step works towards


COORDINATOR = frozenset({Role.COORDINATOR.value})
PARTNERS = frozenset(r.value for r in PartnerRole)

_ACTIONS = Step(
    Stage.PUBLISHED,
    forms.ActionsRecorded,
    "actions",
    "Record the actions on the recommendations",
    COORDINATOR,
    "Record the actions agreed on the recommendations; progress goes in the partnership's yearly report.",
)

STEPS: dict[Stage, Step] = {
    s.stage: s
    for s in (
        Step(
            Stage.INCIDENT_RECORDED,
            forms.NotificationSubmitted,
            "notification",
            "Notify the Panel",
            COORDINATOR,
            "Submit the serious incident notification in the national notification system, tell the local "
            "safeguarding partners, then record the reference and dates here.",
            "notify_panel",
        ),
        Step(
            Stage.RAPID_REVIEW,
            forms.RapidReview,
            "rapid-review",
            "Record the rapid review",
            COORDINATOR,
            "Record what the rapid review found, answer each local review criterion (regulation 11) and give the "
            "partners' recommendation. The three partners then sign it off separately.",
            "rapid_review",
        ),
        Step(
            Stage.RAPID_REVIEW_SIGN_OFF,
            forms.SignOff,
            "rapid-review-sign-off",
            "Sign off the rapid review",
            PARTNERS,
            "Each safeguarding partner (local authority, police, health) signs off separately, in any order. "
            "Any one of them may send it back with a reason. It goes to the Panel when all three have signed.",
            "rapid_review",
        ),
        Step(
            Stage.AWAITING_PANEL,
            forms.PanelResponse,
            "panel-response",
            "Record the Panel's response",
            frozenset({Role.PANEL.value, Role.COORDINATOR.value}),
            "Record whether the Panel will carry out a national review and whether it agrees with the local "
            "recommendation. The Panel has no fixed time; about 10 working days is usual.",
            "panel_response",
        ),
        Step(
            Stage.AWAITING_DECISION,
            forms.FinalDecision,
            "local-review-decision",
            "Decide on a local child safeguarding practice review",
            PARTNERS | COORDINATOR,
            "Record the partners' final decision with reasons. The Panel, Ofsted and DfE are told.",
        ),
        Step(
            Stage.COMMISSIONING,
            forms.Commissioning,
            "commissioning",
            "Commission the reviewer",
            COORDINATOR,
            "Choose a reviewer from the pool who is independent of the case, and agree the terms of reference. "
            "The Panel, Ofsted and DfE are told the reviewer's name.",
            "lcspr_publication",
        ),
        Step(
            Stage.REVIEW_UNDER_WAY,
            forms.ReviewProgress,
            "review-under-way",
            "Review under way",
            COORDINATOR,
            "Record each written request to the reviewer (for information or a draft) as it is made, and the "
            "draft report when it arrives.",
            "lcspr_publication",
        ),
        Step(
            Stage.QUALITY_ASSURANCE,
            forms.QualityAssurance,
            "quality-assurance",
            "Quality assurance of the draft report",
            PARTNERS | COORDINATOR,
            "Check the report against each point. Approve it, or return it to the reviewer with reasons.",
            "lcspr_publication",
        ),
        Step(
            Stage.REPORT_APPROVED,
            forms.FinalReportSent,
            "final-report-sent",
            "Send the final report to the Panel and the Secretary of State",
            COORDINATOR,
            "Send the final report at least 7 working days before it is published, then record the date here. "
            "The publication decision is asked for when the 7 working days have passed.",
            "lcspr_publication",
        ),
        Step(
            Stage.AWAITING_PUBLICATION,
            forms.Publication,
            "publication-decision",
            "Decide on publication",
            PARTNERS | COORDINATOR,
            "Publish the report; or publish information about the improvements to be made (with reasons); or "
            "defer (e.g. criminal proceedings or an inquest pending), giving a date to look again. The Panel and "
            "the Secretary of State are told of a deferral.",
            "lcspr_publication",
        ),
        _ACTIONS,
        replace(_ACTIONS, stage=Stage.IMPROVEMENTS_PUBLISHED),
        Step(
            Stage.NATIONAL_REVIEW,
            forms.NationalCommissioning,
            "national-commissioning",
            "National review: the Panel's reviewer",
            frozenset({Role.PANEL.value, Role.COORDINATOR.value}),
            "The Panel chooses a reviewer from its pool and the Secretary of State confirms the appointment. "
            "Record it here with what the partnership will supply.",
        ),
        Step(
            Stage.NATIONAL_REVIEW_UNDER_WAY,
            forms.NationalReportPublished,
            "national-review",
            "National review under way",
            frozenset({Role.PANEL.value, Role.COORDINATOR.value}),
            "The partnership co-operates and supplies information. Record the Panel's publication of the "
            "national review and any local actions when it happens.",
        ),
    )
}


@dataclass(frozen=True)
class WaitForForm:
    step: Step
    key: str  # unique per answer expected: stage and the review's answer counter
    description: str  # markdown shown above the form


@dataclass(frozen=True)
class WaitUntil:
    on: dt.date  # the lifecycle is scheduled to run again on this date
    why: str


@dataclass(frozen=True)
class Automatic:
    transition: str


@dataclass(frozen=True)
class Finished:
    pass


Action = WaitForForm | WaitUntil | Automatic | Finished


def step_key(review: Review) -> str:
    return f"{review.stage.replace('_', '-')}-{review.step_seq}"


def next_action(session: Session, review: Review, today: dt.date | None = None) -> Action:
    today = today or today_in_england()
    stage = Stage(review.stage)
    if stage is Stage.CLOSED:
        return Finished()
    if stage is Stage.NO_REVIEW:
        return Automatic("close_no_review")
    if stage is Stage.PUBLICATION_DEFERRED:
        look_again = deferred_until(session, review)
        if look_again is not None and today < look_again:
            return WaitUntil(look_again, "publication deferred: look again then")
        return Automatic("reconsider_publication")
    if stage is Stage.AWAITING_PUBLICATION:
        not_before = deadline_on(session, review, "publish_not_before")
        if not_before is not None and today < not_before:
            return WaitUntil(not_before, "publication may not come sooner than 7 working days after the report went")
    step = STEPS[stage]
    return WaitForForm(step, step_key(review), describe(session, review, step))


def deferred_until(session: Session, review: Review) -> dt.date | None:
    events = [e for e in history(session, review.id) if e.transition == "defer_publication"]
    if not events:
        return None
    return dt.date.fromisoformat(events[-1].details["look_again_on"])


def sign_off_round(session: Session, review: Review) -> int:
    """Which rapid review is being signed: 1, or more after a partner sent it back."""
    return sum(1 for e in history(session, review.id) if e.transition == "record_rapid_review")


def _sign_offs(session: Session, review: Review) -> list[Decision]:
    """The sign-offs given so far to the rapid review now awaiting sign-off."""
    return list(
        session.exec(
            select(Decision).where(
                Decision.review_id == review.id,
                Decision.kind == "sign_off",
                Decision.round == sign_off_round(session, review),
            )
        )
    )


def signed_by(session: Session, review: Review) -> dict[str, str]:
    """Partner role -> outcome, for the rapid review now awaiting sign-off."""
    return {d.actor_role: d.outcome for d in _sign_offs(session, review)}


def sign_off_dates(session: Session, review: Review) -> list[dt.date]:
    return [dt.date.fromisoformat(d.details["on"]) for d in _sign_offs(session, review) if "on" in d.details]


def describe(session: Session, review: Review, step: Step) -> str:
    """The markdown shown above a form: what the step is, its deadline, and why a last answer was refused."""
    lines = [f"## {review.reference}: {step.title}", "", step.guidance, ""]
    if step.deadline:
        due = session.exec(
            select(Deadline).where(Deadline.review_id == review.id, Deadline.name == step.deadline)
        ).first()
        if due is not None and due.status == "open":
            lines.append(f"**{due.title}: {due.meaning} {due.due_on:%A %d %B %Y}** ({due.source}).")
            lines.append("")
    if step.stage is Stage.RAPID_REVIEW_SIGN_OFF:
        signed = signed_by(session, review)
        edition = rulebook.edition(review.edition)
        for role in PartnerRole:
            label = edition.health_partner if role is PartnerRole.HEALTH else role.value.replace("_", " ")
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


def milestone_on(session: Session, review: Review, event: rulebook.Event) -> dt.date | None:
    return milestones_of(session, review.id).get(event)


def summary_fields(form: FormModel) -> dict[str, Any]:
    """An answer as JSON-ready data, for the decision's details."""
    return form.model_dump(mode="json", exclude={"your_name"})
