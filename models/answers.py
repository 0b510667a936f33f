"""Acting on a person's answer to a step's form: validate it against the case, then record it and move on.

``apply_answer`` is one transaction. An accepted answer writes the decision, the transition, the deadlines and
any outbox messages together; a refused one writes only the refusal (shown with the form when it is asked
again) and changes nothing else. Either way the review's answer counter moves on, so the next form has a new
key. An answer whose key no longer matches the review has been applied already: it is ignored, which is what
makes a replayed run safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import forms, records, steps
from models.calendar import today_in_england
from models.records import Actor
from models.rulebook import Event
from models.stages import ALL_PARTNERS, Facts, IllegalTransition, PartnerRole, Stage
from models.tables import Commission, Decision, Partnership, Representative, Review, Reviewer, Role, utcnow

PANEL_OFSTED_DFE = ("panel", "ofsted", "dfe")
PANEL_AND_SOS = ("panel", "secretary_of_state")


class Refusal(ValueError):
    """An answer that cannot be accepted; ``str()`` is the message for the person who gave it."""


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    message: str
    already_applied: bool = False


def apply_answer(
    session: Session,
    review: Review,
    key: str,
    data: dict[str, Any],
    *,
    at: dt.datetime | None = None,
    today: dt.date | None = None,
    refusal: str | None = None,
) -> Outcome:
    """Apply an answer; ``refusal`` is a check made outside the database (the redaction gate) saying no."""
    at = at or utcnow()
    today = today or today_in_england()
    if key != steps.step_key(review):
        return Outcome(True, "this answer was recorded already", already_applied=True)
    step = steps.STEPS[Stage(review.stage)]
    try:
        answer = step.form.model_validate(data)
    except pydantic.ValidationError as exc:
        return _refuse(session, review, explain(exc, step.form))
    if refusal:
        return _refuse(session, review, refusal)
    if (unregistered := not_registered(session, review, step, answer)) is not None:
        return _refuse(session, review, unregistered)
    try:
        with session.begin_nested():  # a refusal part-way through undoes whatever the handler wrote
            message = HANDLERS[Stage(review.stage)](session, review, answer, at, today)
    except (Refusal, IllegalTransition) as exc:
        session.refresh(review)
        return _refuse(session, review, str(exc))
    _advance_counter(session, review, refusal=None)
    return Outcome(True, message)


def explain(exc: pydantic.ValidationError, form: type[pydantic.BaseModel]) -> str:
    """Pydantic's errors in the coordinator's words: the field's title and what is wrong, never the value."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [p for p in error["loc"] if isinstance(p, str)]
        field = form.model_fields.get(loc[0]) if loc else None
        title = (field.title if field and field.title else loc[0].replace("_", " ")) if loc else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{title}: {message}" if title else message)
    return "; ".join(parts)


def _refuse(session: Session, review: Review, message: str) -> Outcome:
    _advance_counter(session, review, refusal=message[:2000])
    return Outcome(False, message)


def _advance_counter(session: Session, review: Review, *, refusal: str | None) -> None:
    session.execute(
        sa.update(Review)
        .where(col(Review.id) == review.id)
        .values(step_seq=Review.step_seq + 1, step_refusal=refusal)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(review)


# --- checks shared by several steps -----------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def not_registered(session: Session, review: Review, step: steps.Step, answer: forms.FormModel) -> str | None:
    """Why the person named on the form may not answer this step, or None if they may: only an active
    representative registered in the review's partnership for one of the step's roles (for a sign-off, for the
    very partner signed for). The message never repeats the name typed: it could be anyone's."""
    roles = {answer.partner.role.value} if isinstance(answer, forms.SignOff) else set(step.roles)
    people = session.exec(
        select(Representative).where(
            Representative.partnership_id == review.partnership_id,
            col(Representative.active).is_(True),
            col(Representative.role).in_(roles),
        )
    ).all()
    if any(_same_name(person.name, str(getattr(answer, "your_name", ""))) for person in people):
        return None
    partnership = session.get_one(Partnership, review.partnership_id)
    who = " or ".join(sorted(role.replace("_", " ") for role in roles))
    return (
        f'the name given under "Your name" is not registered as a {who} representative of {partnership.name}, '
        "so this answer cannot be accepted and nothing was recorded. Check the spelling of your name, or ask the "
        "partnership's coordinator to register you"
    )


def _not_before(day: dt.date, earliest: dt.date | None, what: str, than: str) -> None:
    if earliest is not None and day < earliest:
        raise Refusal(f"{what} ({day:%d %B %Y}) cannot be before {than} ({earliest:%d %B %Y})")


def _decision(
    session: Session, review: Review, kind: str, outcome: str, actor: Actor, *, round: int = 1, **kw: Any
) -> Decision:
    return records.record_decision(session, review, kind, outcome, actor, round=round, **kw)


def _count(session: Session, review: Review, kind: str) -> int:
    return records.latest_decision(session, review, kind)[0]


def _independent_reviewer(session: Session, review: Review, name: str, *, national: bool) -> Reviewer:
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
        raise Refusal(f"{reviewer.name} has declared a conflict of interest with {', '.join(conflicts)}, "
                      "who are involved in this case; choose another reviewer")  # fmt: skip
    return reviewer


def _conflicts(session: Session, review: Review, reviewer: Reviewer) -> tuple[str, ...]:
    """Declared conflicts that touch this case: the partnership, its agencies, or agencies in the rapid review."""
    partnership = session.get_one(Partnership, review.partnership_id)
    involved = [partnership.name, partnership.code]
    involved += [r.organisation for r in session.exec(select(Representative).where(
        Representative.partnership_id == review.partnership_id))]  # fmt: skip
    rapid = session.exec(select(Decision).where(Decision.review_id == review.id, Decision.kind == "rapid_review")).all()
    involved += [str(d.details.get("agencies_involved", "")) for d in rapid]
    text = " | ".join(involved).casefold()
    return tuple(c for c in reviewer.conflicts if c.strip() and c.casefold() in text)


# --- one handler per stage --------------------------------------------------------------------------------

Handler = Callable[[Session, Review, Any, dt.datetime, dt.date], str]


def _notification(
    session: Session, review: Review, a: forms.NotificationSubmitted, at: dt.datetime, today: dt.date
) -> str:
    _not_before(a.notified_on, review.aware_on, "The notification date", "the date the local authority became aware")
    _not_before(a.partners_told_on, review.aware_on, "The date the partners were told", "the date of awareness")
    review.national_reference = a.panel_reference
    session.add(review)
    records.apply_transition(
        session,
        review,
        "submit_notification",
        actor=Actor(a.your_name, Role.COORDINATOR),
        details={"panel_reference": a.panel_reference},
        milestones={Event.NOTIFIED_ON: a.notified_on, Event.PARTNERS_TOLD_ON: a.partners_told_on},
        at=at,
    )
    return "notification recorded"


def _rapid_review(session: Session, review: Review, a: forms.RapidReview, at: dt.datetime, today: dt.date) -> str:
    _not_before(a.completed_on, steps.milestone_on(session, review, Event.NOTIFIED_ON), "The completion date",
                "the notification")  # fmt: skip
    actor = Actor(a.your_name, Role.COORDINATOR)
    round_ = steps.sign_off_round(session, review) + 1
    _decision(session, review, "rapid_review", a.recommendation.name, actor, round=round_,
              details=steps.summary_fields(a), at=at)  # fmt: skip
    records.apply_transition(session, review, "record_rapid_review", actor=actor, details={"round": round_}, at=at)
    return "rapid review recorded; awaiting the three partners' sign-off"


def _sign_off(session: Session, review: Review, a: forms.SignOff, at: dt.datetime, today: dt.date) -> str:
    signed = steps.signed_by(session, review)
    _, rapid = records.latest_decision(session, review, "rapid_review")
    completed = dt.date.fromisoformat(rapid.details["completed_on"]) if rapid else None
    _not_before(a.signed_on, completed, "The date of your decision", "the rapid review's completion")
    if a.partner.role.value in signed:
        raise Refusal(f"the {a.partner.role.value.replace('_', ' ')} partner has already signed off this rapid review")
    actor = Actor(a.your_name, a.partner.role.value)
    round_ = steps.sign_off_round(session, review)
    if a.decision is forms.SignOffDecision.send_back:
        _decision(session, review, "sign_off", "sent_back", actor, round=round_, reasons=a.reason, at=at)
        records.apply_transition(session, review, "return_rapid_review", actor=actor, facts=Facts(reason=a.reason),
                                 reason=a.reason, at=at)  # fmt: skip
        return "rapid review sent back"
    _decision(
        session, review, "sign_off", "signed", actor, round=round_, details={"on": a.signed_on.isoformat()}, at=at
    )
    now_signed = {
        PartnerRole(r) for r, outcome in {**signed, a.partner.role.value: "signed"}.items() if outcome == "signed"
    }
    if now_signed >= ALL_PARTNERS:
        sent_on = max(a.signed_on, *steps.sign_off_dates(session, review))
        records.apply_transition(
            session,
            review,
            "send_rapid_review",
            actor=actor,
            facts=Facts(signed_off_by=frozenset(now_signed)),
            milestones={Event.RAPID_REVIEW_SENT_ON: sent_on},
            at=at,
        )
        records.enqueue(session, review, "rapid_review", ("panel",), f"{review.reference}: rapid review")
        return "signed off by all three partners; sent to the Panel"
    return f"signed off by the {a.partner.role.value.replace('_', ' ')} partner"


def _panel_response(session: Session, review: Review, a: forms.PanelResponse, at: dt.datetime, today: dt.date) -> str:
    _not_before(a.responded_on, steps.milestone_on(session, review, Event.RAPID_REVIEW_SENT_ON), "The response date",
                "the date the rapid review was sent")  # fmt: skip
    actor = Actor(a.your_name, Role.PANEL)
    outcome = "national_review" if a.national_review else "no_national_review"
    _decision(session, review, "panel_response", outcome, actor, details=steps.summary_fields(a), at=at)
    records.apply_transition(session, review, "record_panel_response", actor=actor,
                             milestones={Event.PANEL_RESPONDED_ON: a.responded_on}, at=at)  # fmt: skip
    return "the Panel's response recorded"


def _panel_chose_national(session: Session, review: Review) -> bool | None:
    row = session.exec(
        select(Decision).where(Decision.review_id == review.id, Decision.kind == "panel_response")
    ).first()
    return None if row is None else row.outcome == "national_review"


def _final_decision(session: Session, review: Review, a: forms.FinalDecision, at: dt.datetime, today: dt.date) -> str:
    _not_before(a.decided_on, steps.milestone_on(session, review, Event.PANEL_RESPONDED_ON), "The decision date",
                "the Panel's response")  # fmt: skip
    actor = Actor(a.your_name, Role.COORDINATOR)
    facts = Facts(panel_national_review=_panel_chose_national(session, review), reason=a.reasons)
    name, milestones = {
        forms.LocalDecision.local_review: ("decide_local_review", {Event.LCSPR_DECIDED_ON: a.decided_on}),
        forms.LocalDecision.no_review: ("decide_no_review", {}),
        forms.LocalDecision.national_review: ("decide_national_review", {}),
    }[a.decision]
    _decision(session, review, "lcspr_decision", a.decision.name, actor, reasons=a.reasons,
              details=steps.summary_fields(a), at=at)  # fmt: skip
    records.apply_transition(session, review, name, actor=actor, facts=facts, reason=a.reasons,
                             milestones=milestones, at=at)  # fmt: skip
    records.enqueue(session, review, "lcspr_decision", PANEL_OFSTED_DFE,
                    f"{review.reference}: decision on a local review: {a.decision.value}")  # fmt: skip
    return f"decision recorded: {a.decision.value}"


def _commissioning(session: Session, review: Review, a: forms.Commissioning, at: dt.datetime, today: dt.date) -> str:
    _not_before(a.commissioned_on, steps.milestone_on(session, review, Event.LCSPR_DECIDED_ON),
                "The commissioning date", "the decision to start the review")  # fmt: skip
    reviewer = _independent_reviewer(session, review, a.reviewer, national=False)
    actor = Actor(a.your_name, Role.COORDINATOR)
    session.add(Commission(review_id=review.id, reviewer_id=reviewer.id, terms_of_reference=a.terms_of_reference,
                           commissioned_on=a.commissioned_on))  # fmt: skip
    facts = Facts(reviewer_chosen=True, terms_of_reference=True)
    records.apply_transition(session, review, "commission_reviewer", actor=actor, facts=facts,
                             details={"reviewer": reviewer.name}, at=at)  # fmt: skip
    records.enqueue(session, review, "reviewer_named", PANEL_OFSTED_DFE,
                    f"{review.reference}: local review commissioned", f"Reviewer: {reviewer.name}")  # fmt: skip
    return f"{reviewer.name} commissioned"


def _progress(session: Session, review: Review, a: forms.ReviewProgress, at: dt.datetime, today: dt.date) -> str:
    actor = Actor(a.your_name, Role.COORDINATOR)
    if a.update is forms.ProgressUpdate.monitoring_request:
        _decision(session, review, "monitoring_request", "requested", actor,
                  round=_count(session, review, "monitoring_request") + 1, reasons=a.request,
                  details={"on": a.on.isoformat()}, at=at)  # fmt: skip
        return "written request to the reviewer recorded"
    _decision(session, review, "draft", "submitted", actor, round=_count(session, review, "draft") + 1,
              details=a.draft(), at=at)  # fmt: skip
    records.apply_transition(session, review, "submit_draft", actor=actor, details={"on": a.on.isoformat()}, at=at)
    return "draft received; quality assurance next"


def _quality(session: Session, review: Review, a: forms.QualityAssurance, at: dt.datetime, today: dt.date) -> str:
    actor = Actor(a.your_name, Role.COORDINATOR)
    checklist = a.checklist()
    round_ = _count(session, review, "quality_assurance") + 1
    if a.outcome is forms.QaOutcome.return_to_reviewer:
        _decision(session, review, "quality_assurance", "returned", actor, round=round_, reasons=a.reasons,
                  details=checklist, at=at)  # fmt: skip
        records.apply_transition(session, review, "return_to_reviewer", actor=actor, facts=Facts(reason=a.reasons),
                                 reason=a.reasons, details={"round": round_}, at=at)  # fmt: skip
        return f"returned to the reviewer (round {round_})"
    missing = [forms.QualityAssurance.model_fields[k].title or k for k, ok in checklist.items() if not ok]
    if missing:
        raise Refusal("the report cannot be approved until every check is met; not yet met: " + "; ".join(missing))
    _decision(session, review, "quality_assurance", "approved", actor, round=round_, details=checklist, at=at)
    records.apply_transition(session, review, "approve_report", actor=actor, facts=Facts(qa_checklist_complete=True),
                             at=at)  # fmt: skip
    return "final report approved"


def _final_report_sent(
    session: Session, review: Review, a: forms.FinalReportSent, at: dt.datetime, today: dt.date
) -> str:
    _not_before(a.sent_on, steps.milestone_on(session, review, Event.LCSPR_DECIDED_ON), "The date sent",
                "the decision to start the review")  # fmt: skip
    actor = Actor(a.your_name, Role.COORDINATOR)
    sends = sum(1 for e in records.history(session, review.id) if e.transition == "send_final_report")
    # a corrected report is sent again, and its own 7 working days run from the new date
    records.apply_transition(session, review, "send_final_report", actor=actor, at=at)
    records.set_milestones(session, review, {Event.FINAL_REPORT_SENT_ON: a.sent_on}, replace=sends > 0)
    records.refresh_deadlines(session, review)
    purpose = "final_report" if sends == 0 else f"final_report_{sends + 1}"
    records.enqueue(session, review, purpose, PANEL_AND_SOS, f"{review.reference}: final report")
    not_before = records.deadline_on(session, review, "publish_not_before")
    return f"final report sent; publication not before {not_before:%d %B %Y}"


def _publication(session: Session, review: Review, a: forms.Publication, at: dt.datetime, today: dt.date) -> str:
    actor = Actor(a.your_name, Role.COORDINATOR)
    not_before = records.deadline_on(session, review, "publish_not_before")
    facts = Facts(today=today, publish_not_before=not_before, reason=a.reasons)
    round_ = _count(session, review, "publication") + 1
    _decision(session, review, "publication", a.decision.name, actor, round=round_, reasons=a.reasons or None,
              details=steps.summary_fields(a), at=at)  # fmt: skip
    if a.decision is forms.PublicationChoice.defer:
        assert a.look_again_on is not None
        records.apply_transition(session, review, "defer_publication", actor=actor, facts=facts, reason=a.reasons,
                                 details={"look_again_on": a.look_again_on.isoformat()}, at=at)  # fmt: skip
        records.enqueue(session, review, f"publication_deferred_{round_}", PANEL_AND_SOS,
                        f"{review.reference}: publication deferred until at least {a.look_again_on:%d %B %Y}",
                        a.reasons)  # fmt: skip
        return f"publication deferred; looked at again on {a.look_again_on:%d %B %Y}"
    if a.decision is forms.PublicationChoice.correct:
        records.apply_transition(session, review, "return_for_correction", actor=actor, facts=facts, reason=a.reasons,
                                 at=at)  # fmt: skip
        return "returned to the reviewer for correction; the corrected report goes through quality assurance again"
    name = "publish" if a.decision is forms.PublicationChoice.publish else "publish_improvements"
    records.apply_transition(session, review, name, actor=actor, facts=facts, reason=a.reasons or None,
                             milestones={Event.PUBLISHED_ON: today}, at=at)  # fmt: skip
    records.enqueue(session, review, "published", PANEL_OFSTED_DFE, f"{review.reference}: {a.decision.value}")
    return "published" if name == "publish" else "information about improvements published"


def _actions(session: Session, review: Review, a: forms.ActionsRecorded, at: dt.datetime, today: dt.date) -> str:
    actor = Actor(a.your_name, Role.COORDINATOR)
    _decision(session, review, "actions", "recorded", actor, reasons=a.actions, at=at)
    name = "record_actions" if review.stage == Stage.PUBLISHED else "record_improvement_actions"
    records.apply_transition(session, review, name, actor=actor, milestones={Event.ACTIONS_REPORTED_ON: today}, at=at)
    return "actions recorded; review closed"


def _national_commissioning(
    session: Session, review: Review, a: forms.NationalCommissioning, at: dt.datetime, today: dt.date
) -> str:
    reviewer = _independent_reviewer(session, review, a.reviewer, national=True)
    actor = Actor(a.your_name, Role.PANEL)
    session.add(Commission(review_id=review.id, reviewer_id=reviewer.id,
                           terms_of_reference=a.local_contribution or "National review led by the Panel",
                           commissioned_on=a.confirmed_by_secretary_of_state_on,
                           confirmed_by_secretary_of_state=True))  # fmt: skip
    facts = Facts(reviewer_chosen=True, secretary_of_state_confirmed=True)
    records.apply_transition(session, review, "confirm_national_reviewer", actor=actor, facts=facts,
                             details={"reviewer": reviewer.name}, at=at)  # fmt: skip
    return f"national review: {reviewer.name} appointed"


def _national_report(
    session: Session, review: Review, a: forms.NationalReportPublished, at: dt.datetime, today: dt.date
) -> str:
    actor = Actor(a.your_name, Role.PANEL)
    _decision(session, review, "national_report", "published", actor, reasons=a.local_actions or None, at=at)
    records.apply_transition(session, review, "national_report_published", actor=actor,
                             milestones={Event.PUBLISHED_ON: a.published_on}, at=at)  # fmt: skip
    return "national review published; review closed"


HANDLERS: dict[Stage, Handler] = {
    Stage.INCIDENT_RECORDED: _notification,
    Stage.RAPID_REVIEW: _rapid_review,
    Stage.RAPID_REVIEW_SIGN_OFF: _sign_off,
    Stage.AWAITING_PANEL: _panel_response,
    Stage.AWAITING_DECISION: _final_decision,
    Stage.COMMISSIONING: _commissioning,
    Stage.REVIEW_UNDER_WAY: _progress,
    Stage.QUALITY_ASSURANCE: _quality,
    Stage.REPORT_APPROVED: _final_report_sent,
    Stage.AWAITING_PUBLICATION: _publication,
    Stage.PUBLISHED: _actions,
    Stage.IMPROVEMENTS_PUBLISHED: _actions,
    Stage.NATIONAL_REVIEW: _national_commissioning,
    Stage.NATIONAL_REVIEW_UNDER_WAY: _national_report,
}
assert set(HANDLERS) == set(steps.STEPS), "every step needs a handler"


def apply_automatic(session: Session, review: Review, transition: str, *, at: dt.datetime | None = None) -> None:
    """Moves that need no person: closing a no-review case once others are told; reconsidering a deferral."""
    records.apply_transition(session, review, transition, actor=Actor("cspr", "system"), at=at)
