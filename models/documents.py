"""Which documents a review should have, and what goes in each: pure data from the project database.

Each stage that produces a document adds one here; ``tasks/pdf.py`` renders them and ``tasks/storage.py``
keeps them. Contexts name children by pseudonym only (the real names never enter a template), so a name can
only reach a document through free text someone typed, which is what the redaction gate looks for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from models import child_death_review, rulebook
from models.calendar import today_in_england
from models.dates import long_date, weekday_date
from models.review.timetable import deadline_on, milestones_of
from models.review.transitions import history, latest_decision
from models.roles import PARTNERS, Role
from models.rulebook import Entry, Event
from models.stages import Transition
from models.tables import (
    CasePerson,
    Commission,
    Deadline,
    Decision,
    DecisionKind,
    Partnership,
    PersonKind,
    Review,
    Reviewer,
)
from models.timeline import deadline_state
from models.work.returns import document_context, returns_for

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
    kind: DocumentKind
    version: int  # a new version when the content it records changes (a returned rapid review, a QA round)
    template: str
    context: dict[str, Any]
    publishable: bool = False  # the final report or the statement of improvements

    @property
    def title(self) -> str:
        return str(self.context["title"])


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
        "edition_rule": rulebook.EDITION_RULE,  # printed with the edition by _macros.html ``guidance``
        "children": [c.pseudonym for c in children],
    }


def retention_until(session: Session, review: Review) -> dt.date | None:
    """The date a published report must stay available until (the rulebook's retention entry); None before
    publication, or under an edition that sets no such period."""
    return deadline_on(session, review, Entry.KEEP_PUBLISHED_UNTIL)


class DocumentKind(StrEnum):
    """Every document a review can have, in the order a review produces them."""

    NOTIFICATION_SUMMARY = "notification-summary"
    RAPID_REVIEW = "rapid-review"
    DECISION_LETTER = "decision-letter"
    TERMS_OF_REFERENCE = "terms-of-reference"
    DRAFT_REPORT = "draft-report"
    FINAL_REPORT = "final-report"
    IMPROVEMENTS_STATEMENT = "improvements-statement"


T = Transition
# A document is called for once the review has taken any of these moves; the process table (models/process/table.py)
# checks that each step declares exactly the documents its moves call for.
CALLED_FOR_BY: dict[DocumentKind, frozenset[Transition]] = {
    DocumentKind.NOTIFICATION_SUMMARY: frozenset({T.SUBMIT_NOTIFICATION, T.CLOSE_AFTER_NOTIFICATION}),
    DocumentKind.RAPID_REVIEW: frozenset({T.SEND_RAPID_REVIEW}),
    DocumentKind.DECISION_LETTER: frozenset({T.DECIDE_LOCAL_REVIEW, T.DECIDE_NO_REVIEW, T.DECIDE_NATIONAL_REVIEW}),
    DocumentKind.TERMS_OF_REFERENCE: frozenset({T.COMMISSION_REVIEWER}),
    DocumentKind.DRAFT_REPORT: frozenset({T.SUBMIT_DRAFT}),
    DocumentKind.FINAL_REPORT: frozenset({T.APPROVE_REPORT}),
    DocumentKind.IMPROVEMENTS_STATEMENT: frozenset({T.PUBLISH_IMPROVEMENTS}),
}


def plan(session: Session, review: Review, today: dt.date | None = None) -> list[DocumentSpec]:
    """Every document the review's history calls for so far, newest version of each."""
    today = today or today_in_england()
    done = {e.transition for e in history(session, review.id)}
    events = milestones_of(session, review.id)
    build: dict[DocumentKind, Callable[[], DocumentSpec]] = {
        DocumentKind.NOTIFICATION_SUMMARY: lambda: _notification(session, review, events, today),
        DocumentKind.RAPID_REVIEW: lambda: _rapid_review(session, review),
        DocumentKind.DECISION_LETTER: lambda: _decision_letter(session, review),
        DocumentKind.TERMS_OF_REFERENCE: lambda: _terms(session, review),
        DocumentKind.DRAFT_REPORT: lambda: draft_report(session, review),
        DocumentKind.FINAL_REPORT: lambda: final_report(session, review),
        DocumentKind.IMPROVEMENTS_STATEMENT: lambda: improvements_statement(session, review),
    }
    return [build[kind]() for kind in DocumentKind if done & CALLED_FOR_BY[kind]]


def _notification(session: Session, review: Review, events: dict[Event, dt.date], today: dt.date) -> DocumentSpec:
    notice = rulebook.edition(review.edition).notifications[rulebook.NotificationKind(review.notification_kind)]
    ctx = _base(session, review, f"Notification: {review.reference}")
    children = session.exec(
        select(CasePerson).where(CasePerson.review_id == review.id, CasePerson.kind == PersonKind.CHILD)
    ).all()
    deadlines = session.exec(
        select(Deadline).where(Deadline.review_id == review.id).order_by(col(Deadline.due_on))
    ).all()
    edition = rulebook.edition(review.edition)
    ctx.update(
        national_reference=review.national_reference,
        child_death_review_reference=child_death_review.shown_reference(review),
        incident_on=long_date(review.incident_on),
        aware_on=long_date(review.aware_on),
        notified_on=long_date(events.get(Event.NOTIFIED_ON)),
        partners_told_on=long_date(events.get(Event.PARTNERS_TOLD_ON)),
        harm=review.harm,
        abuse_or_neglect=review.abuse_or_neglect,
        looked_after=review.looked_after,
        kind=notice.title,
        rapid_review_follows=review.rapid_review_follows,
        # an unborn child has no age, and is said to be unborn: never the expected date, which identifies as a date of
        # birth does, nor the mother's name
        children=[
            {"pseudonym": c.pseudonym, "age_band": "unborn" if review.unborn else c.age_band or ""} for c in children
        ],
        deadlines=[
            {
                "title": d.title,
                "meaning": d.meaning,
                "due_on": weekday_date(d.due_on, short=True),
                "state": deadline_state(d, today),
                "state_class": d.status,
                "source": d.source,
                "kind": edition.kind_words(d.kind),  # "statutory guidance (Working Together ... 2023)"
                "provisional": d.provisional,
                # the date counted from the rule's other start, shown beside, never chased
                "alternative": edition.alternative_words(
                    d.rule_id, d.alternative_basis, weekday_date(d.alternative_on, short=True)
                )
                if d.alternative_basis and d.alternative_on
                else None,
            }
            for d in deadlines
            if d.rule_id in {Entry.NOTIFY_PANEL, Entry.NOTIFY_PARTNERS, Entry.RAPID_REVIEW, notice.deadline}
        ],
    )
    return DocumentSpec(DocumentKind.NOTIFICATION_SUMMARY, 1, "notification_summary.html", ctx)


def _rapid_review(session: Session, review: Review) -> DocumentSpec:
    rounds, rapid = latest_decision(session, review, DecisionKind.RAPID_REVIEW)
    assert rapid is not None
    ctx = _base(session, review, f"Rapid review: {review.reference}")
    details = dict(rapid.details)
    details["completed_on"] = long_date(dt.date.fromisoformat(details["completed_on"]))
    details["recommendation"] = str(details["recommendation"]).capitalize()
    sign_offs = session.exec(
        select(Decision).where(
            Decision.review_id == review.id, Decision.kind == DecisionKind.SIGN_OFF, Decision.round == rapid.round
        )
    ).all()
    edition = rulebook.edition(review.edition)
    labels: dict[str, str] = {role: role.label.capitalize() for role in PARTNERS}
    labels[Role.HEALTH] = edition.health_partner.capitalize()
    ctx.update(
        rapid=details,
        criteria=[(label, bool(details.get(key))) for key, label in CRITERIA],
        sign_offs=[
            {
                "partner": labels.get(s.actor_role, s.actor_role),
                "outcome": "signed off" if s.outcome == "signed" else "sent back",
                "on": long_date(dt.date.fromisoformat(s.details["on"])) if "on" in s.details else "",
                "name": s.actor_name,
                "reason": s.reasons or "",
            }
            for s in sign_offs
        ],
        returns=document_context(returns_for(session, review)),  # the agencies' information, merged
    )
    return DocumentSpec(DocumentKind.RAPID_REVIEW, rounds, "rapid_review.html", ctx)


def _decision_letter(session: Session, review: Review) -> DocumentSpec:
    _, decision = latest_decision(session, review, DecisionKind.LCSPR_DECISION)
    _, panel = latest_decision(session, review, DecisionKind.PANEL_RESPONSE)
    assert decision is not None
    ctx = _base(session, review, f"Decision on a local review: {review.reference}")
    lcspr_due = deadline_on(session, review, Entry.LCSPR_PUBLICATION)
    ctx.update(
        date=long_date(decision.at.date()),
        national_reference=review.national_reference,
        panel_national=bool(panel and panel.outcome == "national_review"),
        decision=str(decision.details.get("decision", decision.outcome)).capitalize(),
        decided_on=long_date(dt.date.fromisoformat(decision.details["decided_on"])),
        reasons=decision.reasons or "",
        immediate_learning=decision.details.get("immediate_learning", ""),
        lcspr_due=long_date(lcspr_due),
        signed_by=decision.actor_name,
    )
    return DocumentSpec(DocumentKind.DECISION_LETTER, 1, "decision_letter.html", ctx)


def _terms(session: Session, review: Review) -> DocumentSpec:
    commission = session.exec(select(Commission).where(Commission.review_id == review.id)).first()
    assert commission is not None
    reviewer = session.get_one(Reviewer, commission.reviewer_id)
    ctx = _base(session, review, f"Terms of reference: {review.reference}")
    ctx.update(
        reviewer=reviewer.name,
        expertise=reviewer.expertise,
        commissioned_on=long_date(commission.commissioned_on),
        lcspr_due=long_date(deadline_on(session, review, Entry.LCSPR_PUBLICATION)),
        terms=commission.terms_of_reference,
    )
    return DocumentSpec(DocumentKind.TERMS_OF_REFERENCE, 1, "terms_of_reference.html", ctx)


def _draft(session: Session, review: Review) -> tuple[int, dict[str, Any]]:
    rounds, draft = latest_decision(session, review, DecisionKind.DRAFT)
    assert draft is not None, "a report needs a draft"
    details = dict(draft.details)
    details["timeline"] = [
        {"on": long_date(dt.date.fromisoformat(e["on"])), "iso": e["on"], "event": e["event"]}
        for e in details.get("timeline", [])
    ]
    return rounds, details


def final_report(session: Session, review: Review, *, marking: str = "OFFICIAL-SENSITIVE") -> DocumentSpec:
    rounds, draft = _draft(session, review)
    commission = session.exec(select(Commission).where(Commission.review_id == review.id)).first()
    reviewer = session.get_one(Reviewer, commission.reviewer_id).name if commission else ""
    _, qa = latest_decision(session, review, DecisionKind.QUALITY_ASSURANCE)
    ctx = _base(session, review, "")
    ctx.update(
        title=f"Local child safeguarding practice review: {', '.join(ctx['children'])}",
        reviewer=reviewer,
        approved_on=long_date(qa.at.date()) if qa else "",
        sections=FINAL_SECTIONS,
        draft=draft,
        charts=[],
        marking=marking,
        description=f"Local child safeguarding practice review {review.reference}",
    )
    return DocumentSpec(DocumentKind.FINAL_REPORT, rounds, "final_report.html", ctx, publishable=True)


def draft_report(session: Session, review: Review) -> DocumentSpec:
    """The reviewer's latest draft, laid out as the final report will be, for quality assurance."""
    spec = final_report(session, review, marking="DRAFT for quality assurance: not for circulation")
    spec.context["title"] = f"DRAFT {spec.context['title']}"
    spec.context["approved_on"] = "not yet: in quality assurance"
    return DocumentSpec(DocumentKind.DRAFT_REPORT, spec.version, spec.template, spec.context)


def improvements_statement(session: Session, review: Review, *, marking: str = "OFFICIAL-SENSITIVE") -> DocumentSpec:
    rounds, draft = _draft(session, review)
    _, publication = latest_decision(session, review, DecisionKind.PUBLICATION)
    ctx = _base(session, review, f"Improvements following the local review {review.reference}")
    ctx.update(
        draft=draft,
        reasons=(publication.reasons if publication else "") or "",
        decided_on=long_date(publication.at.date()) if publication else "",
        marking=marking,
    )
    kind = DocumentKind.IMPROVEMENTS_STATEMENT
    return DocumentSpec(kind, rounds, "improvements_statement.html", ctx, publishable=True)


@dataclass(frozen=True)
class KnownPerson:
    """Someone the redaction gate must not find in a published document."""

    label: str  # how a finding refers to them: "Child Q", "Child Q's mother"
    name: str | None
    date_of_birth: dt.date | None = None
    former_names: tuple[str, ...] = ()  # the names the record was corrected from: a draft may still spell one


def _born_on(person: CasePerson) -> dt.date | None:
    """A person's date of birth, or an unborn child's expected date of delivery: it identifies them as a date of birth
    would, so the redaction gate checks it as one."""
    day = person.date_of_birth or person.expected_on
    return dt.date.fromisoformat(day) if day else None


def known_people(session: Session, review: Review) -> list[KnownPerson]:
    """Every child and family member of the case, with their (decrypted) names and dates of birth."""
    people = session.exec(select(CasePerson).where(CasePerson.review_id == review.id)).all()
    children = [p.pseudonym for p in people if p.kind == PersonKind.CHILD]
    first = children[0] if children else "the child"
    return [
        KnownPerson(
            label=p.pseudonym if p.kind == PersonKind.CHILD else f"{first}'s {p.relationship or 'family member'}",
            name=p.name,
            date_of_birth=_born_on(p),
            former_names=tuple(json.loads(p.former_names or "[]")),
        )
        for p in people
    ]
