"""The actions on the recommendations, recorded once the report (or the information about improvements) is
published: each recommendation and its actions, each owned by an agency and a named person there, with a due date and
what will show it is done. The review then follows them through (``Stage.ACTIONS_UNDER_WAY``): each action has its
own run (models/work/actions.py), and the review closes by itself once every one is closed. With no actions (the
reason recorded), and none left open from the rapid review, it closes at once.

The rows of actions (``ActionEntry``, ``adopt``) are also what the partners' decision takes for the rapid review's
recommendations (local_review_decision.py) and what the national review's publication takes for the national
review's (national_review.py): every recommendation the partnership adopts becomes a record, whatever review made it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, model_validator
from sqlmodel import Session

from models.forms import FREE, CleanText, Line, OptionalText
from models.process.step import COORDINATOR, AutomaticStage, Step
from models.review import transitions
from models.review.transitions import Actor
from models.rulebook import Event
from models.stages import TERMINAL, Facts, Stage, Transition
from models.tables import Action, DecisionKind, RecommendationSource, Review
from models.work.actions import NewAction, open_actions, record_actions
from models.work.requests import agency_lines

if TYPE_CHECKING:
    from models.process.demo_case import Case

MAX_ACTIONS = 200
Sentence = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), FREE]


class ActionEntry(CleanText):
    recommendation: Sentence = Field(
        title="Recommendation", description="The same words for each action on the same recommendation."
    )
    action: Sentence = Field(title="The action")
    agency: Line = Field(title="Owner agency", description="One of the partnership's agencies, by its name.")
    owner: Line = Field(title="Named owner", description="The person at the agency who answers for it.")
    due_on: dt.date = Field(title="Due date")
    done_when: Sentence = Field(title="What will show it is done")


def action_rows(title: str, description: str) -> Any:
    """A form's field of action rows (none by default)."""
    return Field(default_factory=list, max_length=MAX_ACTIONS, title=title, description=description)


def adopt(
    session: Session,
    review: Review,
    rows: list[ActionEntry],
    source: RecommendationSource,
    *,
    actor: Actor,
    at: dt.datetime,
    today: dt.date,
) -> list[Action]:
    """Record the rows' recommendations and actions, each action followed through by its own run."""
    given = [NewAction(**row.model_dump()) for row in rows]
    return record_actions(session, review, given, source, actor=actor, at=at, today=today)


class ActionsRecorded(CleanText):
    actions: list[ActionEntry] = action_rows("Actions on the recommendations", "One per row.")
    no_actions_reason: OptionalText = Field(
        default="", title="If there are no actions: why", description="Only when no action is recorded."
    )

    @model_validator(mode="after")
    def _some_or_why(self) -> ActionsRecorded:
        if not self.actions and not self.no_actions_reason:
            raise ValueError("record at least one action, or say why there are none")
        if self.actions and self.no_actions_reason:
            raise ValueError("give the reason only when there are no actions")
        return self


def handle(
    session: Session, review: Review, answer: ActionsRecorded, actor: Actor, at: dt.datetime, today: dt.date
) -> str:
    made = adopt(session, review, answer.actions, RecommendationSource.LOCAL_REVIEW, actor=actor, at=at, today=today)
    transitions.record_decision(
        session,
        review,
        DecisionKind.ACTIONS,
        "recorded",
        actor,
        reasons=answer.no_actions_reason or None,
        details={"actions": len(made)},
        at=at,
    )
    published = review.stage == Stage.PUBLISHED
    still_open = open_actions(session, review)  # the rapid review's too, adopted at the partners' decision
    if still_open:
        move = Transition.FOLLOW_ACTIONS if published else Transition.FOLLOW_IMPROVEMENT_ACTIONS
        transitions.apply_transition(session, review, move, actor=actor, at=at)
        return f"{len(made)} action(s) recorded; {still_open} open, each followed through to its close"
    move = Transition.RECORD_ACTIONS if published else Transition.RECORD_IMPROVEMENT_ACTIONS
    milestones = {Event.ACTIONS_REPORTED_ON: today}
    facts = Facts(open_actions=still_open)  # none: the closing move's guard holds
    transitions.apply_transition(session, review, move, actor=actor, facts=facts, milestones=milestones, at=at)
    return "no actions recorded; review closed" if review.stage in TERMINAL else "no actions recorded"


DemoRow = tuple[str, str, str, str, str]  # recommendation, action, owner agency, named owner, what will show it done


def _demo_rows(c: Case, rows: list[DemoRow], due_in_days: int) -> list[dict[str, Any]]:
    due = (c.today + dt.timedelta(days=due_in_days)).isoformat()
    return [
        {"recommendation": r, "action": a, "agency": ag, "owner": o, "due_on": due, "done_when": d}
        for r, a, ag, o, d in rows
    ]


def demo_answer(c: Case, n: int) -> dict[str, Any]:
    if not c.agencies:
        return {"no_actions_reason": "The learning is being taken forward through the partnership's existing plan."}
    rows = [
        ("Health and schools share missed appointments weekly.", "Set up a weekly list of missed appointments "
         "shared with the school nurse.", c.agencies[1], "Dr Imogen Hale", "A list is shared each week for a term."),
        ("Health and schools share missed appointments weekly.", "Add missed health appointments to the school's "
         "welfare checks.", c.agencies[0], "Mr Owen Price", "The welfare check form asks about them."),
        ("Practitioners recognise neglect earlier.", "Train the trust's emergency department staff on neglect.",
         c.agencies[2], "Sister Ada Quinn", "Four in five of the department's staff trained."),
    ]  # fmt: skip
    return {"actions": _demo_rows(c, rows, 90)}


def rapid_review_actions(c: Case) -> list[dict[str, Any]]:
    """The demo partners' one action on the rapid review's recommendations, adopted with their decision."""
    return _adopted(c, lambda school, _: ("A concern about a child's weight is shared the same day.", "Add weight "
        "concerns to the school's same-day referrals to the designated safeguarding lead.", school, "Mr Owen Price",
        "The referral form lists weight concerns, and a term's referrals show them."), 60)  # fmt: skip


def national_actions(c: Case) -> list[dict[str, Any]]:
    """The demo partnership's one action on the national review's recommendations."""
    return _adopted(c, lambda _, practice: ("Adopt the national recommendations on information sharing.", "Bring "
        "the partnership's information sharing protocol into line with the national review.", practice,
        "Dr Imogen Hale", "The revised protocol is agreed by the three partners."), 120)  # fmt: skip


def _adopted(c: Case, row: Callable[[str, str], DemoRow], due_in_days: int) -> list[dict[str, Any]]:
    """One row (given the demo's first two agencies), when the case adopts actions beyond the local review's."""
    return _demo_rows(c, [row(*c.agencies[:2])], due_in_days) if c.agencies and c.adopted_actions else []


STEP = Step(
    stage=Stage.PUBLISHED,
    form=ActionsRecorded,
    handler=handle,
    slug="actions",
    title="Record the actions on the recommendations",
    roles=COORDINATOR,
    guidance="Record each recommendation's actions: the agency that owns each, the person there who answers for it, "
    "its due date and what will show it is done. Each owner's agency updates its progress on its tasks page; the "
    "review stays open until every action is closed.",
    deadline=None,
    documents=(),
    demo=demo_answer,
    describe_extra=agency_lines,
)
# the same step once only the information about improvements was published
AFTER_IMPROVEMENTS = replace(STEP, stage=Stage.IMPROVEMENTS_PUBLISHED)


def actions_open(session: Session, review: Review) -> Facts:
    """What a move that waits for the actions to close looks at."""
    return Facts(open_actions=open_actions(session, review))


FOLLOWED_THROUGH = AutomaticStage(
    stage=Stage.ACTIONS_UNDER_WAY,
    transition=Transition.CLOSE_AFTER_ACTIONS,
    facts=actions_open,
    marks=Event.ACTIONS_REPORTED_ON,
)
