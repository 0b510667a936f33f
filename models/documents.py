"""Which documents a review should have, and what goes in each: pure data from the project database.

Each stage that produces a document adds one here; ``tasks/documents.py`` renders them and ``tasks/storage.py``
keeps them. Contexts name children by pseudonym only (the real names never enter a template), so a name can
only reach a document through free text someone typed, which is what the redaction gate looks for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from models import rulebook
from models.calendar import today_in_england
from models.records import deadline_on, history, latest_decision, milestones_of
from models.rulebook import Event
from models.tables import CasePerson, Commission, Deadline, Decision, Partnership, PersonKind, Review, Reviewer
from models.timeline import deadline_state

CRITERIA = [
    ("criterion_a_improvements", "(a) It highlights, or may highlight, improvements needed"),
    ("criterion_b_recurrent_themes", "(b) It highlights, or may highlight, recurrent themes"),
    ("criterion_c_agencies_working_together", "(c) Concerns about two or more agencies working together"),
    ("criterion_d_panel_suggested_local", "(d) The Panel concluded a local review may be more appropriate"),
]
FINAL_SECTIONS = [
    ("summary", "Summary"),
    ("recommendations", "Summary of recommendations"),
    ("child", "The child's experience and family context"),
    ("timeline", "Timeline of key events"),
    ("analysis", "Systemic analysis"),
    ("involvement", "How practitioners and the family were involved"),
]


@dataclass(frozen=True)
class DocumentSpec:
    kind: str  # notification-summary, rapid-review, decision-letter, terms-of-reference, final-report, ...
    version: int  # a new version when the content it records changes (a returned rapid review, a QA round)
    template: str
    context: dict[str, Any]
    publishable: bool = False  # the final report or the statement of improvements

    @property
    def title(self) -> str:
        return str(self.context["title"])


def _d(day: dt.date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def _base(session: Session, review: Review, title: str) -> dict[str, Any]:
    partnership = session.get_one(Partnership, review.partnership_id)
    children = session.exec(
        select(CasePerson).where(CasePerson.review_id == review.id, CasePerson.kind == PersonKind.CHILD)
    ).all()
    return {
        "title": title,
        "reference": review.reference,
        "partnership": partnership.name,
        "edition_title": rulebook.edition(review.edition).title,
        "children": [c.pseudonym for c in children],
    }


def retention_until(session: Session, review: Review) -> dt.date | None:
    """The date a published report must stay available until (the rulebook's retention entry)."""
    return deadline_on(session, review, "keep_published_until")


def plan(session: Session, review: Review, today: dt.date | None = None) -> list[DocumentSpec]:
    """Every document the review's history calls for so far, newest version of each."""
    today = today or today_in_england()
    done = {e.transition for e in history(session, review.id)}
    events = milestones_of(session, review.id)
    docs: list[DocumentSpec] = []
    if "submit_notification" in done:
        docs.append(_notification(session, review, events, today))
    if "send_rapid_review" in done:
        docs.append(_rapid_review(session, review))
    if done & {"decide_local_review", "decide_no_review", "decide_national_review"}:
        docs.append(_decision_letter(session, review))
    if "commission_reviewer" in done:
        docs.append(_terms(session, review))
    if "submit_draft" in done:
        docs.append(draft_report(session, review))
    if "approve_report" in done:
        docs.append(final_report(session, review))
    if "publish_improvements" in done:
        docs.append(improvements_statement(session, review))
    return docs


def _notification(session: Session, review: Review, events: dict[Event, dt.date], today: dt.date) -> DocumentSpec:
    ctx = _base(session, review, f"Serious incident notification: {review.reference}")
    children = session.exec(
        select(CasePerson).where(CasePerson.review_id == review.id, CasePerson.kind == PersonKind.CHILD)
    ).all()
    deadlines = session.exec(
        select(Deadline).where(Deadline.review_id == review.id).order_by(col(Deadline.due_on))
    ).all()
    ctx.update(
        national_reference=review.national_reference,
        incident_on=_d(review.incident_on),
        aware_on=_d(review.aware_on),
        notified_on=_d(events.get(Event.NOTIFIED_ON)),
        partners_told_on=_d(events.get(Event.PARTNERS_TOLD_ON)),
        harm=review.harm,
        abuse_or_neglect=review.abuse_or_neglect,
        looked_after=review.looked_after,
        children=[{"pseudonym": c.pseudonym, "age_band": c.age_band or ""} for c in children],
        deadlines=[
            {
                "title": d.title,
                "meaning": d.meaning,
                "due_on": f"{d.due_on:%a} {_d(d.due_on)}",
                "state": deadline_state(d, today),
                "state_class": d.status,
                "source": d.source,
            }
            for d in deadlines
            if d.rule_id in {"notify_panel", "notify_partners", "rapid_review"}
        ],
    )
    return DocumentSpec("notification-summary", 1, "notification_summary.html", ctx)


def _rapid_review(session: Session, review: Review) -> DocumentSpec:
    rounds, rapid = latest_decision(session, review, "rapid_review")
    assert rapid is not None
    ctx = _base(session, review, f"Rapid review: {review.reference}")
    details = dict(rapid.details)
    details["completed_on"] = _d(dt.date.fromisoformat(details["completed_on"]))
    details["recommendation"] = str(details["recommendation"]).capitalize()
    sign_offs = session.exec(
        select(Decision).where(
            Decision.review_id == review.id, Decision.kind == "sign_off", Decision.round == rapid.round
        )
    ).all()
    edition = rulebook.edition(review.edition)
    labels = {"local_authority": "Local authority", "police": "Police", "health": edition.health_partner.capitalize()}
    ctx.update(
        rapid=details,
        criteria=[(label, bool(details.get(key))) for key, label in CRITERIA],
        sign_offs=[
            {
                "partner": labels.get(s.actor_role, s.actor_role),
                "outcome": "signed off" if s.outcome == "signed" else "sent back",
                "on": _d(dt.date.fromisoformat(s.details["on"])) if "on" in s.details else "",
                "name": s.actor_name,
                "reason": s.reasons or "",
            }
            for s in sign_offs
        ],
    )
    return DocumentSpec("rapid-review", rounds, "rapid_review.html", ctx)


def _decision_letter(session: Session, review: Review) -> DocumentSpec:
    _, decision = latest_decision(session, review, "lcspr_decision")
    _, panel = latest_decision(session, review, "panel_response")
    assert decision is not None
    ctx = _base(session, review, f"Decision on a local review: {review.reference}")
    lcspr_due = deadline_on(session, review, "lcspr_publication")
    ctx.update(
        date=_d(decision.at.date()),
        national_reference=review.national_reference,
        panel_national=bool(panel and panel.outcome == "national_review"),
        decision=str(decision.details.get("decision", decision.outcome)).capitalize(),
        decided_on=_d(dt.date.fromisoformat(decision.details["decided_on"])),
        reasons=decision.reasons or "",
        immediate_learning=decision.details.get("immediate_learning", ""),
        lcspr_due=_d(lcspr_due),
        signed_by=decision.actor_name,
    )
    return DocumentSpec("decision-letter", 1, "decision_letter.html", ctx)


def _terms(session: Session, review: Review) -> DocumentSpec:
    commission = session.exec(select(Commission).where(Commission.review_id == review.id)).first()
    assert commission is not None
    reviewer = session.get_one(Reviewer, commission.reviewer_id)
    ctx = _base(session, review, f"Terms of reference: {review.reference}")
    ctx.update(
        reviewer=reviewer.name,
        expertise=reviewer.expertise,
        commissioned_on=_d(commission.commissioned_on),
        lcspr_due=_d(deadline_on(session, review, "lcspr_publication")),
        terms=commission.terms_of_reference,
    )
    return DocumentSpec("terms-of-reference", 1, "terms_of_reference.html", ctx)


def _draft(session: Session, review: Review) -> tuple[int, dict[str, Any]]:
    rounds, draft = latest_decision(session, review, "draft")
    assert draft is not None, "a report needs a draft"
    details = dict(draft.details)
    details["timeline"] = [
        {"on": _d(dt.date.fromisoformat(e["on"])), "iso": e["on"], "event": e["event"]}
        for e in details.get("timeline", [])
    ]
    return rounds, details


def final_report(session: Session, review: Review, *, marking: str = "OFFICIAL-SENSITIVE") -> DocumentSpec:
    rounds, draft = _draft(session, review)
    commission = session.exec(select(Commission).where(Commission.review_id == review.id)).first()
    reviewer = session.get_one(Reviewer, commission.reviewer_id).name if commission else ""
    _, qa = latest_decision(session, review, "quality_assurance")
    ctx = _base(session, review, "")
    ctx.update(
        title=f"Local child safeguarding practice review: {', '.join(ctx['children'])}",
        reviewer=reviewer,
        approved_on=_d(qa.at.date()) if qa else "",
        sections=FINAL_SECTIONS,
        draft=draft,
        charts=[],
        marking=marking,
        description=f"Local child safeguarding practice review {review.reference}",
    )
    return DocumentSpec("final-report", rounds, "final_report.html", ctx, publishable=True)


def draft_report(session: Session, review: Review) -> DocumentSpec:
    """The reviewer's latest draft, laid out as the final report will be, for quality assurance."""
    spec = final_report(session, review, marking="DRAFT for quality assurance: not for circulation")
    spec.context["title"] = f"DRAFT {spec.context['title']}"
    spec.context["approved_on"] = "not yet: in quality assurance"
    return DocumentSpec("draft-report", spec.version, spec.template, spec.context)


def improvements_statement(session: Session, review: Review, *, marking: str = "OFFICIAL-SENSITIVE") -> DocumentSpec:
    rounds, draft = _draft(session, review)
    _, publication = latest_decision(session, review, "publication")
    ctx = _base(session, review, f"Improvements following the local review {review.reference}")
    ctx.update(
        draft=draft,
        reasons=(publication.reasons if publication else "") or "",
        decided_on=_d(publication.at.date()) if publication else "",
        marking=marking,
    )
    return DocumentSpec("improvements-statement", rounds, "improvements_statement.html", ctx, publishable=True)


@dataclass(frozen=True)
class KnownPerson:
    """Someone the redaction gate must not find in a published document."""

    label: str  # how a finding refers to them: "Child Q", "Child Q's mother"
    name: str | None
    date_of_birth: dt.date | None = None


def known_people(session: Session, review: Review) -> list[KnownPerson]:
    """Every child and family member of the case, with their (decrypted) names and dates of birth."""
    people = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).all()
    children = [p.pseudonym for p in people if p.kind == PersonKind.CHILD]
    first = children[0] if children else "the child"
    return [
        KnownPerson(
            label=p.pseudonym if p.kind == PersonKind.CHILD else f"{first}'s {p.relationship or 'family member'}",
            name=p.name,
            date_of_birth=dt.date.fromisoformat(p.date_of_birth) if p.date_of_birth else None,
        )
        for p in people
    ]
