"""The review state machine: stages, the transitions allowed between them, and the guards on each.

Pure: no database, no Prefect. A transition is declared as data (name, from, to, guards); a guard is a
named condition on the facts of the review, and an illegal move raises ``IllegalTransition`` with a
message a coordinator can act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from models.refusals import Refused
from models.roles import PARTNERS, Role


class Stage(StrEnum):
    INCIDENT_RECORDED = "incident_recorded"  # awaiting the notification through the national route
    RAPID_REVIEW = "rapid_review"  # notified; the rapid review is being done
    RAPID_REVIEW_SIGN_OFF = "rapid_review_sign_off"  # recorded; awaiting the three partners
    AWAITING_PANEL = "awaiting_panel"  # sent to the Panel; awaiting its response
    AWAITING_DECISION = "awaiting_decision"  # the Panel responded; partners' final decision due
    NO_REVIEW = "no_review"  # no LCSPR: reasons and immediate learning recorded; others being told
    COMMISSIONING = "commissioning"  # LCSPR decided: choose reviewer(s), agree terms of reference
    REVIEW_UNDER_WAY = "review_under_way"  # the reviewer is working; partners monitor
    QUALITY_ASSURANCE = "quality_assurance"  # draft submitted; partners check it
    REPORT_APPROVED = "report_approved"  # QA passed; final report to go to the Panel and Secretary of State
    AWAITING_PUBLICATION = "awaiting_publication"  # report sent; publication decision due (not before 7 wd)
    PUBLICATION_DEFERRED = "publication_deferred"  # e.g. criminal proceedings: a date to look again
    PUBLISHED = "published"  # full report published
    IMPROVEMENTS_PUBLISHED = "improvements_published"  # only information about improvements published
    ACTIONS_UNDER_WAY = "actions_under_way"  # the actions on the recommendations followed through to their close
    NATIONAL_REVIEW = "national_review"  # the Panel leads: reviewer from its pool, confirmed by the SoS
    NATIONAL_REVIEW_UNDER_WAY = "national_review_under_way"  # the partnership co-operates, supplies information
    CLOSED = "closed"


TERMINAL: frozenset[Stage] = frozenset({Stage.CLOSED})
START = Stage.INCIDENT_RECORDED

HUMAN_LABELS: dict[Stage, str] = {
    Stage.INCIDENT_RECORDED: "Incident recorded: notification due",
    Stage.RAPID_REVIEW: "Rapid review in progress",
    Stage.RAPID_REVIEW_SIGN_OFF: "Rapid review awaiting the partners' sign-off",
    Stage.AWAITING_PANEL: "Rapid review with the Panel",
    Stage.AWAITING_DECISION: "Partners' decision on a local review due",
    Stage.NO_REVIEW: "No local review: the Panel, Ofsted and DfE told; any actions followed through",
    Stage.COMMISSIONING: "Commissioning the reviewer",
    Stage.REVIEW_UNDER_WAY: "Local review under way",
    Stage.QUALITY_ASSURANCE: "Draft report in quality assurance",
    Stage.REPORT_APPROVED: "Final report approved: to be sent to the Panel and Secretary of State",
    Stage.AWAITING_PUBLICATION: "Awaiting the publication decision",
    Stage.PUBLICATION_DEFERRED: "Publication deferred",
    Stage.PUBLISHED: "Report published: actions on the recommendations to record",
    Stage.IMPROVEMENTS_PUBLISHED: "Improvements published: actions on the recommendations to record",
    Stage.ACTIONS_UNDER_WAY: "Actions on the recommendations being followed through",
    Stage.NATIONAL_REVIEW: "National review: the Panel is commissioning",
    Stage.NATIONAL_REVIEW_UNDER_WAY: "National review under way",
    Stage.CLOSED: "Closed",
}


@dataclass(frozen=True)
class Facts:
    """What the guards may look at. Built by the caller from the database for the move being made."""

    today: dt.date | None = None
    reason: str | None = None
    signed_off_by: frozenset[Role] = frozenset()
    panel_national_review: bool | None = None  # the Panel's response, once recorded
    reviewer_conflicts: tuple[str, ...] = ()  # declared conflicts of the chosen reviewer with this case
    reviewer_chosen: bool = False
    terms_of_reference: bool = False
    qa_checklist_complete: bool = False
    publish_not_before: dt.date | None = None
    secretary_of_state_confirmed: bool = False
    rapid_review_follows: bool = True  # what follows the notification: the review's kind and its facts
    open_actions: int = 0  # the actions on the recommendations not yet closed


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[Facts], bool]
    message: str  # what a coordinator is told when the guard fails


def _has_reason(f: Facts) -> bool:
    return bool(f.reason and f.reason.strip())


HAS_REASON = Guard("has_reason", _has_reason, "a reason must be recorded")
ALL_SIGNED = Guard(
    "all_partners_signed",
    lambda f: f.signed_off_by >= PARTNERS,
    "all three safeguarding partners (local authority, police and health) must sign off first",
)
PANEL_RESPONDED = Guard(
    "panel_responded", lambda f: f.panel_national_review is not None, "the Panel's response must be recorded first"
)
PANEL_CHOSE_NATIONAL = Guard(
    "panel_chose_national",
    lambda f: f.panel_national_review is True,
    "only the Panel can start a national review, and it has not decided to",
)
PANEL_DID_NOT_CHOOSE_NATIONAL = Guard(
    "panel_did_not_choose_national",
    lambda f: f.panel_national_review is False,
    "the Panel is carrying out a national review of this case, so no local review is commissioned",
)
REVIEWER_CHOSEN = Guard("reviewer_chosen", lambda f: f.reviewer_chosen, "a reviewer must be chosen")
REVIEWER_INDEPENDENT = Guard(
    "reviewer_independent",
    lambda f: not f.reviewer_conflicts,
    "the chosen reviewer has declared a conflict of interest with this case",
)
TERMS_AGREED = Guard("terms_agreed", lambda f: f.terms_of_reference, "terms of reference must be agreed")
QA_COMPLETE = Guard(
    "qa_checklist_complete", lambda f: f.qa_checklist_complete, "every quality assurance check must be met"
)
NOTICE_PERIOD_PASSED = Guard(
    "notice_period_passed",
    lambda f: f.publish_not_before is not None and f.today is not None and f.today >= f.publish_not_before,
    "publication must wait at least 7 working days after the final report went to the Panel and the Secretary of State",
)
RAPID_REVIEW_FOLLOWS = Guard(
    "rapid_review_follows",
    lambda f: f.rapid_review_follows,
    "no rapid review follows this notification: it is not a serious incident (abuse or neglect is not known or "
    "suspected, or the person was not a child)",
)
NOTHING_FOLLOWS = Guard(
    "nothing_follows",
    lambda f: not f.rapid_review_follows,
    "a rapid review follows this notification: it is a serious incident",
)
ALL_ACTIONS_CLOSED = Guard(
    "all_actions_closed",
    lambda f: f.open_actions == 0,
    "every action on the recommendations must be closed first: accepted as done, or closed by the partnership with a "
    "reason",
)
SOS_CONFIRMED = Guard(
    "secretary_of_state_confirmed",
    lambda f: f.secretary_of_state_confirmed,
    "the Secretary of State must confirm the national reviewer's appointment",
)


class Transition(StrEnum):
    """The name of every move between stages, as the review's history records it."""

    RECORD_INCIDENT = "record_incident"  # the review's first event: it starts at START, so it is no move
    SUBMIT_NOTIFICATION = "submit_notification"
    CLOSE_AFTER_NOTIFICATION = "close_after_notification"  # a death notified; nothing more follows
    RECORD_RAPID_REVIEW = "record_rapid_review"
    RETURN_RAPID_REVIEW = "return_rapid_review"
    SEND_RAPID_REVIEW = "send_rapid_review"
    RECORD_PANEL_RESPONSE = "record_panel_response"
    DECIDE_NO_REVIEW = "decide_no_review"
    DECIDE_LOCAL_REVIEW = "decide_local_review"
    DECIDE_NATIONAL_REVIEW = "decide_national_review"
    CLOSE_NO_REVIEW = "close_no_review"
    COMMISSION_REVIEWER = "commission_reviewer"
    SUBMIT_DRAFT = "submit_draft"
    RETURN_TO_REVIEWER = "return_to_reviewer"
    APPROVE_REPORT = "approve_report"
    SEND_FINAL_REPORT = "send_final_report"
    PUBLISH = "publish"
    PUBLISH_IMPROVEMENTS = "publish_improvements"
    DEFER_PUBLICATION = "defer_publication"
    RETURN_FOR_CORRECTION = "return_for_correction"
    RECONSIDER_PUBLICATION = "reconsider_publication"
    RECORD_ACTIONS = "record_actions"
    RECORD_IMPROVEMENT_ACTIONS = "record_improvement_actions"
    FOLLOW_ACTIONS = "follow_actions"  # actions recorded on a published report's recommendations, to follow through
    FOLLOW_IMPROVEMENT_ACTIONS = "follow_improvement_actions"
    CLOSE_AFTER_ACTIONS = "close_after_actions"  # every action closed
    FOLLOW_NATIONAL_ACTIONS = "follow_national_actions"  # national review published; actions still open
    CONFIRM_NATIONAL_REVIEWER = "confirm_national_reviewer"
    NATIONAL_REPORT_PUBLISHED = "national_report_published"


@dataclass(frozen=True)
class Move:
    """A transition as the state machine allows it: from which stage, to which, and its guards."""

    name: Transition
    source: Stage
    target: Stage
    guards: tuple[Guard, ...] = ()
    label: str = ""

    def failed_guards(self, facts: Facts) -> list[Guard]:
        return [g for g in self.guards if not g.check(facts)]


def _t(name: Transition, source: Stage, target: Stage, *guards: Guard, label: str = "") -> Move:
    return Move(name, source, target, guards, label or name.replace("_", " "))


S = Stage
T = Transition
# Kept out of the formatter (fmt: skip below): one move a line reads as the state machine's table.
TRANSITIONS: tuple[Move, ...] = (
    _t(T.SUBMIT_NOTIFICATION, S.INCIDENT_RECORDED, S.RAPID_REVIEW, RAPID_REVIEW_FOLLOWS,
       label="notification submitted to the Panel"),
    _t(T.CLOSE_AFTER_NOTIFICATION, S.INCIDENT_RECORDED, S.CLOSED, NOTHING_FOLLOWS,
       label="notified through the national route; nothing more follows"),
    _t(T.RECORD_RAPID_REVIEW, S.RAPID_REVIEW, S.RAPID_REVIEW_SIGN_OFF, label="rapid review recorded"),
    _t(T.RETURN_RAPID_REVIEW, S.RAPID_REVIEW_SIGN_OFF, S.RAPID_REVIEW, HAS_REASON, label="sent back by a partner"),
    _t(T.SEND_RAPID_REVIEW, S.RAPID_REVIEW_SIGN_OFF, S.AWAITING_PANEL, ALL_SIGNED, label="sent to the Panel"),
    _t(T.RECORD_PANEL_RESPONSE, S.AWAITING_PANEL, S.AWAITING_DECISION, label="Panel responded"),
    _t(T.DECIDE_NO_REVIEW, S.AWAITING_DECISION, S.NO_REVIEW, PANEL_DID_NOT_CHOOSE_NATIONAL, HAS_REASON,
       label="partners decided: no local review"),
    _t(T.DECIDE_LOCAL_REVIEW, S.AWAITING_DECISION, S.COMMISSIONING, PANEL_DID_NOT_CHOOSE_NATIONAL,
       label="partners decided: local review"),
    _t(T.DECIDE_NATIONAL_REVIEW, S.AWAITING_DECISION, S.NATIONAL_REVIEW, PANEL_CHOSE_NATIONAL,
       label="national review led by the Panel"),
    _t(T.CLOSE_NO_REVIEW, S.NO_REVIEW, S.CLOSED, ALL_ACTIONS_CLOSED,
       label="closed after the Panel, Ofsted and DfE were told and every action was closed"),
    _t(T.COMMISSION_REVIEWER, S.COMMISSIONING, S.REVIEW_UNDER_WAY, REVIEWER_CHOSEN, REVIEWER_INDEPENDENT,
       TERMS_AGREED, label="reviewer commissioned"),
    _t(T.SUBMIT_DRAFT, S.REVIEW_UNDER_WAY, S.QUALITY_ASSURANCE, label="draft submitted for quality assurance"),
    _t(T.RETURN_TO_REVIEWER, S.QUALITY_ASSURANCE, S.REVIEW_UNDER_WAY, HAS_REASON, label="returned to the reviewer"),
    _t(T.APPROVE_REPORT, S.QUALITY_ASSURANCE, S.REPORT_APPROVED, QA_COMPLETE, label="quality assurance passed"),
    _t(T.SEND_FINAL_REPORT, S.REPORT_APPROVED, S.AWAITING_PUBLICATION,
       label="final report sent to the Panel and the Secretary of State"),
    _t(T.PUBLISH, S.AWAITING_PUBLICATION, S.PUBLISHED, NOTICE_PERIOD_PASSED, label="report published"),
    _t(T.PUBLISH_IMPROVEMENTS, S.AWAITING_PUBLICATION, S.IMPROVEMENTS_PUBLISHED, NOTICE_PERIOD_PASSED, HAS_REASON,
       label="information about improvements published"),
    _t(T.DEFER_PUBLICATION, S.AWAITING_PUBLICATION, S.PUBLICATION_DEFERRED, HAS_REASON, label="publication deferred"),
    _t(T.RETURN_FOR_CORRECTION, S.AWAITING_PUBLICATION, S.REVIEW_UNDER_WAY, HAS_REASON,
       label="returned to the reviewer for correction before publication"),
    _t(T.RECONSIDER_PUBLICATION, S.PUBLICATION_DEFERRED, S.AWAITING_PUBLICATION, label="publication reconsidered"),
    _t(T.RECORD_ACTIONS, S.PUBLISHED, S.CLOSED, ALL_ACTIONS_CLOSED, label="actions on the recommendations recorded"),
    _t(T.RECORD_IMPROVEMENT_ACTIONS, S.IMPROVEMENTS_PUBLISHED, S.CLOSED, ALL_ACTIONS_CLOSED,
       label="actions on the recommendations recorded"),
    _t(T.FOLLOW_ACTIONS, S.PUBLISHED, S.ACTIONS_UNDER_WAY, label="actions on the recommendations recorded"),
    _t(T.FOLLOW_IMPROVEMENT_ACTIONS, S.IMPROVEMENTS_PUBLISHED, S.ACTIONS_UNDER_WAY,
       label="actions on the recommendations recorded"),
    _t(T.CLOSE_AFTER_ACTIONS, S.ACTIONS_UNDER_WAY, S.CLOSED, ALL_ACTIONS_CLOSED, label="every action closed"),
    _t(T.CONFIRM_NATIONAL_REVIEWER, S.NATIONAL_REVIEW, S.NATIONAL_REVIEW_UNDER_WAY, REVIEWER_CHOSEN, SOS_CONFIRMED,
       label="national reviewer appointed"),
    _t(T.NATIONAL_REPORT_PUBLISHED, S.NATIONAL_REVIEW_UNDER_WAY, S.CLOSED, ALL_ACTIONS_CLOSED,
       label="national review published by the Panel"),
    _t(T.FOLLOW_NATIONAL_ACTIONS, S.NATIONAL_REVIEW_UNDER_WAY, S.ACTIONS_UNDER_WAY,
       label="national review published by the Panel; actions on the recommendations recorded"),
)  # fmt: skip

_BY_NAME: dict[str, Move] = {t.name: t for t in TRANSITIONS}
assert len(_BY_NAME) == len(TRANSITIONS), "transition names must be unique"
assert set(_BY_NAME) == set(Transition) - {Transition.RECORD_INCIDENT}, "every named transition is a move"


class IllegalTransition(Refused):
    """A move the state machine does not allow; ``str()`` is a message for the coordinator."""

    def __init__(self, message: str, *, transition: str, stage: Stage, failed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.transition = transition
        self.stage = stage
        self.failed = failed


def transition(name: str) -> Move:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise IllegalTransition(f"there is no step called {name!r}", transition=name, stage=START) from None


def allowed_from(stage: Stage) -> list[Move]:
    return [t for t in TRANSITIONS if t.source is stage]


def check(current: Stage, name: Transition, facts: Facts = Facts()) -> Move:
    """The transition ``name`` if it may be taken from ``current`` with these facts; else IllegalTransition."""
    move = transition(name)
    if move.source is not current:
        allowed = ", ".join(t.label for t in allowed_from(current)) or "nothing: the review is closed"
        raise IllegalTransition(
            f"cannot {move.label!r} while the review is at {HUMAN_LABELS[current]!r}; allowed now: {allowed}",
            transition=name,
            stage=current,
        )
    failed = move.failed_guards(facts)
    if failed:
        raise IllegalTransition(
            f"cannot {move.label!r} yet: " + "; ".join(g.message for g in failed),
            transition=name,
            stage=current,
            failed=tuple(g.name for g in failed),
        )
    return move


def reachable_from(stage: Stage) -> set[Stage]:
    seen = {stage}
    frontier = [stage]
    while frontier:
        here = frontier.pop()
        for move in allowed_from(here):
            if move.target not in seen:
                seen.add(move.target)
                frontier.append(move.target)
    return seen
