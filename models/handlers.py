"""What each step's answer does, once it is known to be well formed and from someone who may give it.

One handler per step, named in the process table (``models/steps.py``). Each is given the answer and the person who
gave it (``actor``: who signed in at the gate, in the role the register gives them for this step). A handler works
inside the caller's transaction and either records the decision, the transition, the deadlines and any outbox
messages, or raises ``Refusal`` (or ``IllegalTransition``) with a message for the person, in which case the caller
undoes whatever it wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from models import forms, progress, records, rulebook
from models.partners import organisation_on
from models.records import Actor
from models.refusals import Refused
from models.roles import PARTNERS, Role
from models.rulebook import Entry, Event
from models.stages import Facts, Stage, Transition
from models.tables import Commission, Decision, DecisionKind, Partnership, Representative, Review, Reviewer

PANEL_OFSTED_DFE = ("panel", "ofsted", "dfe")
PANEL_AND_SOS = ("panel", "secretary_of_state")

Handler = Callable[[Session, Review, Any, Actor, dt.datetime, dt.date], str]


class Refusal(Refused):
    """An answer that cannot be accepted; ``str()`` is the message for the person who gave it."""


# --- checks shared by several steps -----------------------------------------------------------------------


def _not_before(day: dt.date, earliest: dt.date | None, what: str, than: str) -> None:
    if earliest is not None and day < earliest:
        raise Refusal(f"{what} ({day:%d %B %Y}) cannot be before {than} ({earliest:%d %B %Y})")


def _summary(form: forms.FormModel) -> dict[str, Any]:
    """An answer as JSON-ready data, for the decision's details."""
    return form.model_dump(mode="json")


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


def _send_back(
    session: Session,
    review: Review,
    move: Transition,
    actor: Actor,
    reason: str,
    *,
    details: dict[str, Any] | None = None,
    at: dt.datetime,
) -> None:
    """A move back a step, which the state machine allows only with a reason; the reason goes in the history."""
    facts = Facts(reason=reason)
    records.apply_transition(session, review, move, actor=actor, facts=facts, reason=reason, details=details, at=at)


def _commission(
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
    records.apply_transition(session, review, move, actor=actor, facts=facts, details=details, at=at)


# --- one handler per step ---------------------------------------------------------------------------------


def notification(
    session: Session, review: Review, a: forms.NotificationSubmitted, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    """Record the notification made through the national route, tell whoever the rulebook says is told of this kind,
    and move on: to the rapid review for a serious incident, or to closed where nothing more follows."""
    _not_before(a.notified_on, review.aware_on, "The notification date", "the date the local authority became aware")
    milestones = {Event.NOTIFIED_ON: a.notified_on}
    if review.rapid_review_follows and a.partners_told_on is None:
        raise Refusal(
            "Give the date the local safeguarding partners were told: this is a serious incident, and they carry "
            "out the rapid review"
        )
    if a.partners_told_on is not None:
        _not_before(a.partners_told_on, review.aware_on, "The date the partners were told", "the date of awareness")
        milestones[Event.PARTNERS_TOLD_ON] = a.partners_told_on
    review.national_reference = a.panel_reference
    session.add(review)
    # The national notification route is what tells them (the coordinator submits through it; the Panel shares it
    # with Ofsted and the DfE): no email of ours repeats it. Who was told, by the rulebook, goes into the history.
    told = sorted({recipient for notice in told_of(review) for recipient in notice.tell})
    move = Transition.SUBMIT_NOTIFICATION if review.rapid_review_follows else Transition.CLOSE_AFTER_NOTIFICATION
    records.apply_transition(
        session,
        review,
        move,
        actor=actor,
        facts=Facts(rapid_review_follows=review.rapid_review_follows),
        details={"panel_reference": a.panel_reference, "kind": review.notification_kind, "told": told},
        milestones=milestones,
        at=at,
    )
    if review.rapid_review_follows:
        return "notification recorded"
    return "notification recorded; nothing more follows, so the case is closed"


def told_of(review: Review) -> list[rulebook.NotificationRule]:
    """The notifications a review's kind calls for: its own, and the serious incident's when a rapid review follows
    (a looked-after child's death with abuse suspected is both)."""
    notices = rulebook.edition(review.edition).notifications
    kind = rulebook.NotificationKind(review.notification_kind)
    found = [notices[kind]]
    if review.rapid_review_follows and notices[kind].follows is not rulebook.Follows.RAPID_REVIEW:
        found.append(notices[rulebook.NotificationKind.SERIOUS_INCIDENT])
    return found


def rapid_review(
    session: Session, review: Review, a: forms.RapidReview, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    notified = progress.milestone_on(session, review, Event.NOTIFIED_ON)
    _not_before(a.completed_on, notified, "The completion date", "the notification")
    round_ = progress.sign_off_round(session, review) + 1
    records.record_decision(
        session,
        review,
        DecisionKind.RAPID_REVIEW,
        a.recommendation.name,
        actor,
        round=round_,
        details=_summary(a),
        at=at,
    )
    records.apply_transition(
        session, review, Transition.RECORD_RAPID_REVIEW, actor=actor, details={"round": round_}, at=at
    )
    return "rapid review recorded; awaiting the three partners' sign-off"


def sign_off(session: Session, review: Review, a: forms.SignOff, actor: Actor, at: dt.datetime, today: dt.date) -> str:
    signed = progress.signed_by(session, review)
    _, rapid = records.latest_decision(session, review, DecisionKind.RAPID_REVIEW)
    completed = dt.date.fromisoformat(rapid.details["completed_on"]) if rapid else None
    _not_before(a.signed_on, completed, "The date of your decision", "the rapid review's completion")
    if a.partner.value in signed:
        raise Refusal(f"the {a.partner.label} partner has already signed off this rapid review")
    if actor.person_id in progress.signers(session, review):  # three partners, so three different people
        raise Refusal(
            "you have already signed this rapid review for another partner, and each partner's sign-off must come "
            f"from a different person: ask the {a.partner.label} partner's representative to sign it"
        )
    round_ = progress.sign_off_round(session, review)
    if a.decision is forms.SignOffDecision.send_back:
        records.record_decision(
            session, review, DecisionKind.SIGN_OFF, "sent_back", actor, round=round_, reasons=a.reason, at=at
        )
        _send_back(session, review, Transition.RETURN_RAPID_REVIEW, actor, a.reason, at=at)
        return "rapid review sent back"
    # the body they signed for, as the register has it today: a merger later does not rewrite whom they signed for
    on = {"on": a.signed_on.isoformat(), "for": organisation_on(session, review.partnership_id, actor.person_id)}
    records.record_decision(session, review, DecisionKind.SIGN_OFF, "signed", actor, round=round_, details=on, at=at)
    now_signed = {Role(r) for r, outcome in {**signed, a.partner.value: "signed"}.items() if outcome == "signed"}
    if now_signed >= PARTNERS:
        sent_on = max(a.signed_on, *progress.sign_off_dates(session, review))
        records.apply_transition(
            session,
            review,
            Transition.SEND_RAPID_REVIEW,
            actor=actor,
            facts=Facts(signed_off_by=frozenset(now_signed)),
            milestones={Event.RAPID_REVIEW_SENT_ON: sent_on},
            at=at,
        )
        records.enqueue(session, review, "rapid_review", ("panel",), f"{review.reference}: rapid review")
        return "signed off by all three partners; sent to the Panel"
    return f"signed off by the {a.partner.label} partner"


def panel_response(
    session: Session, review: Review, a: forms.PanelResponse, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    sent = progress.milestone_on(session, review, Event.RAPID_REVIEW_SENT_ON)
    _not_before(a.responded_on, sent, "The response date", "the date the rapid review was sent")
    # The Panel's own contact records the Panel's response; anyone else (a coordinator) only enters it for the
    # Panel, from the Panel's letter, and the record says so.
    for_panel = (
        {} if actor.role == Role.PANEL else {"on_behalf_of": Role.PANEL.value, "letter_reference": a.letter_reference}
    )
    if for_panel and not a.letter_reference:
        raise Refusal(
            "you are entering the Panel's response on the Panel's behalf: give the reference of the Panel's letter "
            'under "Reference of the Panel\'s letter", so the record shows where the response came from'
        )
    outcome = "national_review" if a.national_review else "no_national_review"
    details = {**_summary(a), **for_panel}
    records.record_decision(session, review, DecisionKind.PANEL_RESPONSE, outcome, actor, details=details, at=at)
    records.apply_transition(
        session,
        review,
        Transition.RECORD_PANEL_RESPONSE,
        actor=actor,
        details=for_panel,
        milestones={Event.PANEL_RESPONDED_ON: a.responded_on},
        at=at,
    )
    return "the Panel's response recorded" + (" on the Panel's behalf" if for_panel else "")


_LOCAL_DECISIONS = {
    forms.LocalDecision.local_review: Transition.DECIDE_LOCAL_REVIEW,
    forms.LocalDecision.no_review: Transition.DECIDE_NO_REVIEW,
    forms.LocalDecision.national_review: Transition.DECIDE_NATIONAL_REVIEW,
}


def final_decision(
    session: Session, review: Review, a: forms.FinalDecision, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    responded = progress.milestone_on(session, review, Event.PANEL_RESPONDED_ON)
    _not_before(a.decided_on, responded, "The decision date", "the Panel's response")
    facts = Facts(panel_national_review=progress.panel_chose_national(session, review), reason=a.reasons)
    move = _LOCAL_DECISIONS[a.decision]
    milestones = {Event.LCSPR_DECIDED_ON: a.decided_on} if move is Transition.DECIDE_LOCAL_REVIEW else {}
    records.record_decision(
        session,
        review,
        DecisionKind.LCSPR_DECISION,
        a.decision.name,
        actor,
        reasons=a.reasons,
        details=_summary(a),
        at=at,
    )
    records.apply_transition(
        session, review, move, actor=actor, facts=facts, reason=a.reasons, milestones=milestones, at=at
    )
    subject = f"{review.reference}: decision on a local review: {a.decision.value}"
    records.enqueue(session, review, "lcspr_decision", PANEL_OFSTED_DFE, subject)
    return f"decision recorded: {a.decision.value}"


def commissioning(
    session: Session, review: Review, a: forms.Commissioning, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    decided = progress.milestone_on(session, review, Event.LCSPR_DECIDED_ON)
    _not_before(a.commissioned_on, decided, "The commissioning date", "the decision to start the review")
    reviewer = _independent_reviewer(session, review, a.reviewer, national=False)
    facts = Facts(reviewer_chosen=True, terms_of_reference=True)
    move = Transition.COMMISSION_REVIEWER
    _commission(session, review, reviewer, actor, move, facts, a.terms_of_reference, a.commissioned_on, at=at)
    subject, body = f"{review.reference}: local review commissioned", f"Reviewer: {reviewer.name}"
    records.enqueue(session, review, "reviewer_named", PANEL_OFSTED_DFE, subject, body)
    return f"{reviewer.name} commissioned"


def progress_update(
    session: Session, review: Review, a: forms.ReviewProgress, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    on = {"on": a.on.isoformat()}
    if a.update is forms.ProgressUpdate.monitoring_request:
        kind = DecisionKind.MONITORING_REQUEST
        round_ = progress.decisions_made(session, review, kind) + 1
        records.record_decision(
            session, review, kind, "requested", actor, round=round_, reasons=a.request, details=on, at=at
        )
        return "written request to the reviewer recorded"
    round_ = progress.decisions_made(session, review, DecisionKind.DRAFT) + 1
    records.record_decision(
        session, review, DecisionKind.DRAFT, "submitted", actor, round=round_, details=a.draft(), at=at
    )
    records.apply_transition(session, review, Transition.SUBMIT_DRAFT, actor=actor, details=on, at=at)
    return "draft received; quality assurance next"


def quality(
    session: Session, review: Review, a: forms.QualityAssurance, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    checklist = a.checklist()
    kind = DecisionKind.QUALITY_ASSURANCE
    round_ = progress.decisions_made(session, review, kind) + 1
    if a.outcome is forms.QaOutcome.return_to_reviewer:
        records.record_decision(
            session, review, kind, "returned", actor, round=round_, reasons=a.reasons, details=checklist, at=at
        )
        _send_back(session, review, Transition.RETURN_TO_REVIEWER, actor, a.reasons, details={"round": round_}, at=at)
        return f"returned to the reviewer (round {round_})"
    missing = [forms.QualityAssurance.model_fields[k].title or k for k, ok in checklist.items() if not ok]
    if missing:
        raise Refusal("the report cannot be approved until every check is met; not yet met: " + "; ".join(missing))
    records.record_decision(session, review, kind, "approved", actor, round=round_, details=checklist, at=at)
    facts = Facts(qa_checklist_complete=True)
    records.apply_transition(session, review, Transition.APPROVE_REPORT, actor=actor, facts=facts, at=at)
    return "final report approved"


def final_report_sent(
    session: Session, review: Review, a: forms.FinalReportSent, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    decided = progress.milestone_on(session, review, Event.LCSPR_DECIDED_ON)
    _not_before(a.sent_on, decided, "The date sent", "the decision to start the review")
    sends = progress.times_taken(session, review, Transition.SEND_FINAL_REPORT)
    # a corrected report is sent again, and its own 7 working days run from the new date
    records.apply_transition(session, review, Transition.SEND_FINAL_REPORT, actor=actor, at=at)
    records.set_milestones(session, review, {Event.FINAL_REPORT_SENT_ON: a.sent_on}, replace=sends > 0)
    records.refresh_deadlines(session, review)
    purpose = "final_report" if sends == 0 else f"final_report_{sends + 1}"
    records.enqueue(session, review, purpose, PANEL_AND_SOS, f"{review.reference}: final report")
    not_before = records.deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE)
    return f"final report sent; publication not before {not_before:%d %B %Y}"


def publication(
    session: Session, review: Review, a: forms.Publication, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    not_before = records.deadline_on(session, review, Entry.PUBLISH_NOT_BEFORE)
    facts = Facts(today=today, publish_not_before=not_before, reason=a.reasons)
    round_ = progress.decisions_made(session, review, DecisionKind.PUBLICATION) + 1
    records.record_decision(
        session,
        review,
        DecisionKind.PUBLICATION,
        a.decision.name,
        actor,
        round=round_,
        reasons=a.reasons or None,
        details=_summary(a),
        at=at,
    )
    if a.decision is forms.PublicationChoice.defer:
        assert a.look_again_on is not None
        records.apply_transition(
            session,
            review,
            Transition.DEFER_PUBLICATION,
            actor=actor,
            facts=facts,
            reason=a.reasons,
            details={"look_again_on": a.look_again_on.isoformat()},
            at=at,
        )
        subject = f"{review.reference}: publication deferred until at least {a.look_again_on:%d %B %Y}"
        records.enqueue(session, review, f"publication_deferred_{round_}", PANEL_AND_SOS, subject, a.reasons)
        return f"publication deferred; looked at again on {a.look_again_on:%d %B %Y}"
    if a.decision is forms.PublicationChoice.correct:
        records.apply_transition(
            session, review, Transition.RETURN_FOR_CORRECTION, actor=actor, facts=facts, reason=a.reasons, at=at
        )
        return "returned to the reviewer for correction; the corrected report goes through quality assurance again"
    full = a.decision is forms.PublicationChoice.publish
    records.apply_transition(
        session,
        review,
        Transition.PUBLISH if full else Transition.PUBLISH_IMPROVEMENTS,
        actor=actor,
        facts=facts,
        reason=a.reasons or None,
        milestones={Event.PUBLISHED_ON: today},
        at=at,
    )
    records.enqueue(session, review, "published", PANEL_OFSTED_DFE, f"{review.reference}: {a.decision.value}")
    return "published" if full else "information about improvements published"


def actions(
    session: Session, review: Review, a: forms.ActionsRecorded, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    records.record_decision(session, review, DecisionKind.ACTIONS, "recorded", actor, reasons=a.actions, at=at)
    move = Transition.RECORD_ACTIONS if review.stage == Stage.PUBLISHED else Transition.RECORD_IMPROVEMENT_ACTIONS
    milestones = {Event.ACTIONS_REPORTED_ON: today}
    records.apply_transition(session, review, move, actor=actor, milestones=milestones, at=at)
    return "actions recorded; review closed"


def national_commissioning(
    session: Session, review: Review, a: forms.NationalCommissioning, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    reviewer = _independent_reviewer(session, review, a.reviewer, national=True)
    facts = Facts(reviewer_chosen=True, secretary_of_state_confirmed=True)
    terms = a.local_contribution or "National review led by the Panel"
    move, on = Transition.CONFIRM_NATIONAL_REVIEWER, a.confirmed_by_secretary_of_state_on
    _commission(session, review, reviewer, actor, move, facts, terms, on, confirmed=True, at=at)
    return f"national review: {reviewer.name} appointed"


def national_report(
    session: Session, review: Review, a: forms.NationalReportPublished, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    local_actions = a.local_actions or None
    records.record_decision(
        session, review, DecisionKind.NATIONAL_REPORT, "published", actor, reasons=local_actions, at=at
    )
    milestones = {Event.PUBLISHED_ON: a.published_on}
    records.apply_transition(
        session, review, Transition.NATIONAL_REPORT_PUBLISHED, actor=actor, milestones=milestones, at=at
    )
    return "national review published; review closed"
