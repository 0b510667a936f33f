"""What the tasks pages show, read from the project database with no key: a task as one person opens it, and the
values the templates (gate/templates/tasks/) draw. The routes are in gate/tasks_app.py.

Dates are shown as people write them ("12 March 2027"); a child is named by pseudonym only; nothing sealed is read.
An item of the work around a review (an agency's information request, an action: models/work/) is opened here the
same way, and what its page answers is one part of the item's form (``Part``); its own words are sealed, and come
from the checker (gate/checker_client.py ``show``) as markdown lines, drawn here as plain blocks (``blocks``).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models import claims, drafts, rulebook, task_ref
from models.accounts import roles_in, roles_of
from models.agencies import agencies_on
from models.forms import FormModel
from models.process import STEPS, Step
from models.refusals import Refused
from models.review.lookup import UnknownReview, review_by_reference
from models.roles import Role
from models.stages import Stage
from models.tables import Account, Action, Partnership, Review
from models.task_ref import TASKS, task_path
from models.work import evidence
from models.work.actions import PARTNERSHIP as CLOSES_ACTIONS
from models.work.forms import (
    ActionChoice,
    ActionProgress,
    ActionReview,
    AgencyReturn,
    ChangeChoice,
    RequestChange,
    RequestChoice,
    Verdict,
)
from models.work.items import ItemKind, ItemRef, item_key, item_path
from models.work.requests import EXPECTATION
from models.worklist import ITEM_TITLES, ItemWaiting, Waiting, work_items, worklist
from models.your_tasks import SEES_ITEMS, ItemTask, Task, YourTasks, item_roles

MOVED_ON = "this step is not waiting any more: the review has moved on. Your tasks page shows what waits now"
ENGLAND = ZoneInfo("Europe/London")
NOT_OPEN = "there is no such review, or it is not one of your partnerships'"


class NotOpen(Refused):
    """The task is none of this person's, or there is no such task."""


@dataclass(frozen=True)
class Opened:
    """A task as one person opens it: the review, the step, and the roles in which they may answer it."""

    review: Review
    partnership: Partnership
    step: Step[Any]
    task: task_ref.TaskRef
    roles: frozenset[Role]  # none: they may read the page (a coordinator, an operator) but not answer
    coordinator: bool  # they coordinate the review's partnership: they may release a task someone took
    offered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the page's own choices, by field


# A step's form field of this name, a list of texts, is the agencies to ask: drawn as a box to tick for each of the
# partnership's agencies in force today (the notification's, the local review's progress), rather than typed.
AGENCIES_FIELD = "agencies"


def open_task(db: Session, reference: str, stage: Stage | None, account_id: uuid.UUID, today: dt.date) -> Opened:
    """The task ``reference`` waits at, as the person may see it; NotOpen when it is not waiting at ``stage`` or is
    none of theirs. A registration not in force today still opens the page: Submit is refused in the lifecycle's
    own words. A partner who has signed already still sees the form: signing twice is refused on Submit, by the
    same check."""
    try:
        review = review_by_reference(db, reference)
    except UnknownReview:
        raise NotOpen(NOT_OPEN) from None
    step = STEPS.get(Stage(review.stage))
    if stage is None or step is None or Stage(review.stage) is not stage:
        raise NotOpen(
            "this step is not waiting any more: the review has moved on. Your tasks page shows what waits now"
        )
    partnership = db.get_one(Partnership, review.partnership_id)
    today_roles = roles_in(db, str(account_id), partnership, today)
    held = today_roles or roles_in(db, str(account_id), partnership, any_day=True)
    if not held and Role.OPERATOR not in roles_of(db, db.get_one(Account, account_id)):
        raise NotOpen(NOT_OPEN)
    if held and held <= {Role.AGENCY_CONTACT}:  # an agency's contact sees their agency's work, never a review's steps
        raise NotOpen(NOT_OPEN)
    return Opened(
        review,
        partnership,
        step,
        task_ref.current_task(db, review),
        held & step.roles,
        Role.COORDINATOR in today_roles,
        step_offers(db, step, partnership, today),
    )


def step_offers(db: Session, step: Step[Any], partnership: Partnership, today: dt.date) -> dict[str, tuple[str, ...]]:
    """The choices a step's page offers of its own: the partnership's agencies in force today, to tick."""
    if AGENCIES_FIELD not in step.form.model_fields:
        return {}
    return {AGENCIES_FIELD: tuple(agency.name for agency in agencies_on(db, partnership.id, today))}


def not_yours(opened: Opened) -> str:
    who = " or ".join(sorted(role.label for role in opened.step.roles))
    return (
        f"This step is answered by the {who} representative of {opened.partnership.name}. You can see it, but not "
        "answer it. If you should, ask the partnership's cspr operator to register you."
    )


def shown(day: dt.date | dt.datetime | None) -> str | None:
    """A date as people write it: 12 March 2027."""
    return None if day is None else f"{day.day} {day:%B %Y}"


def shown_at(at: dt.datetime) -> str:
    """A moment as people write it, in England: 3 March 2027 at 4:12pm."""
    here = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(ENGLAND)
    return f"{shown(here)} at {here.hour % 12 or 12}:{here:%M}{'am' if here.hour < 12 else 'pm'}"


def who_acts(role: Role, edition: str) -> str:
    """A role as the page names it: the health partner by the name the review's edition gives it."""
    if role is Role.HEALTH and edition:
        return rulebook.edition(edition).health_partner
    return role.label


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _overdue(waiting: Waiting, today: dt.date) -> bool:
    return waiting.deadline is not None and waiting.deadline < today


# --- the list --------------------------------------------------------------------------------------------------


def list_page(
    db: Session, found: YourTasks, person: uuid.UUID, query: Mapping[str, str], today: dt.date
) -> dict[str, Any]:
    """The values of tasks/list.html, cut to the filters in ``query`` (partnership, step, due)."""
    every = [*found.yours, *found.others]
    now = task_ref.current_tasks(db, [t.waiting.review_id for t in every if t.waiting.review_id is not None])
    refs = list(now.values())
    holders = claims.holders(db, refs) if refs else {}
    follow_ups = claims.follow_ups(db, person, refs) if refs else {}
    names = {p.code: p.name for p in db.exec(select(Partnership)).all()}

    def card(task: Task) -> dict[str, Any]:
        w = task.waiting
        ref = now.get(w.review_id) if w.review_id else None
        holder = holders.get(ref) if ref else None
        mine = bool(holder and holder.account_id == person)
        coordinator = Role.COORDINATOR in found.roles.get(w.partnership, frozenset())
        return {
            "reference": w.reference,
            "pseudonyms": list(w.pseudonyms),
            "partnership": names.get(w.partnership, w.partnership),
            "partnership_code": w.partnership,
            "step": w.step,
            "href": task_path(w.reference, w.stage),
            "deadline": shown(w.deadline),
            "due_on": w.deadline,
            "working_days_left": w.working_days_left,
            "provisional": w.provisional,
            "overdue": _overdue(w, today),
            "others": [who_acts(role, w.edition) for role in w.who if role not in task.yours],
            "claimed_by": holder.name if holder else None,
            "claimed_by_me": mine,
            "claim_href": task_path(w.reference, w.stage) + "/claim",
            "may_take": bool(task.yours) and holder is None,
            "may_release": holder is not None and (mine or coordinator),
            "follow_up": shown(follow_ups.get(ref)) if ref else None,
        }

    tasks = [card(t) for t in found.yours]
    others = [card(t) for t in found.others]
    partnership, step, due = query.get("partnership", ""), query.get("step", ""), query.get("due", "all")

    def keep(row: dict[str, Any]) -> bool:
        due_on: dt.date | None = row["due_on"]
        if partnership and row["partnership_code"] != partnership:
            return False
        if step and row["step"] != step:
            return False
        if due == "overdue":
            return due_on is not None and due_on < today
        if due == "week":
            return due_on is not None and due_on <= today + dt.timedelta(days=7)
        return True

    work = [(t, item_card(t, names, today)) for t in found.work]
    agency_items = [c for t, c in work if t.for_your_agency]
    to_accept = [c for t, c in work if t.to_accept]
    coordinated = [c for t, c in work if Role.COORDINATOR in found.roles.get(t.item.partnership, frozenset())]
    rows = [*tasks, *others, *(c for _, c in work)]
    codes = sorted({r["partnership_code"] for r in rows})
    return {
        "agency_only": bool(found.roles) and all(r <= {Role.AGENCY_CONTACT} for r in found.roles.values()),
        "agency_items": [c for c in agency_items if keep(c)],
        "to_accept": [c for c in to_accept if keep(c)],
        "reviews_work": by_review([c for c in coordinated if keep(c)]),
        "tasks": [r for r in tasks if keep(r)],
        "others": [r for r in others if keep(r)],
        "done": [
            {
                "reference": d.reference,
                "pseudonyms": [],
                "step": f"{d.what}: {d.outcome.replace('_', ' ')}",
                "answered_on": shown_at(d.at),
                "href": None,
            }
            for d in found.done
        ],
        "read_only": found.operator and not found.yours,
        "coordinates": sorted(code for code, roles in found.roles.items() if Role.COORDINATOR in roles),
        "filters": {
            "action": "/",
            "partnership": partnership,
            "step": step,
            "due": due,
            "partnerships": [{"value": code, "label": names.get(code, code)} for code in codes],
            "steps": [{"value": s, "label": s} for s in sorted({r["step"] for r in rows})],
        },
    }


def item_card(task: ItemTask, names: Mapping[str, str], today: dt.date) -> dict[str, Any]:
    """An item of a review's work as the list draws it (tasks/list.html): what is asked, of which agency, where it
    stands and by when. Its ``step`` is its kind's title, which the list's step filter offers."""
    w = task.item
    return {
        "reference": w.reference,
        "pseudonyms": list(w.pseudonyms),
        "partnership": names.get(w.partnership, w.partnership),
        "partnership_code": w.partnership,
        "step": ITEM_TITLES[w.item.kind],
        "title": w.title,
        "what": w.what,
        "agency": w.agency,
        "owner": w.owner,
        "status": w.status,
        "is_open": w.is_open,
        "awaiting": w.awaiting,
        "href": item_path(w.reference, w.item),
        "deadline": shown(w.due_on),
        "due_on": w.due_on if w.is_open else None,
        "working_days_left": w.working_days_left if w.is_open else None,
        "overdue": w.is_open and w.due_on < today,
        "provisional": False,
        "yours": bool(task.yours),
    }


def by_review(cards: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The coordinator's view of the agencies' work, review by review: its requests and its open actions."""
    reviews: dict[str, dict[str, Any]] = {}
    for card in cards:
        review = reviews.setdefault(
            card["reference"],
            {
                "reference": card["reference"],
                "pseudonyms": card["pseudonyms"],
                "partnership": card["partnership"],
                "requests": [],
                "actions": [],
            },
        )
        review["requests" if card["step"] == ITEM_TITLES[ItemKind.REQUEST] else "actions"].append(card)
    return sorted(reviews.values(), key=lambda r: str(r["reference"]))


# --- one task --------------------------------------------------------------------------------------------------


def task_page(db: Session, opened: Opened, person: uuid.UUID, today: dt.date) -> dict[str, Any]:
    """The values of tasks/form.html above the fields: the review, the step's guidance and deadline, who may answer
    it, who has said they are on it, and the person's own date to look again."""
    review, step = opened.review, opened.step
    row = next(
        (w for w in worklist(db, today, partnership=opened.partnership.code) if w.reference == review.reference), None
    )
    holder = claims.holders(db, [opened.task]).get(opened.task)
    notes = [
        *(step.describe_case(db, review) if step.describe_case is not None else []),
        *(step.describe_extra(db, review) if step.describe_extra is not None else []),
    ]
    path = task_path(review.reference, opened.task.stage)
    mine = bool(holder and holder.account_id == person)
    return {
        "review": {
            "reference": review.reference,
            "pseudonyms": list(row.pseudonyms) if row else [],
            "partnership": opened.partnership.name,
        },
        "guidance": step.guidance,
        "notes": [_plain(line) for line in notes if line.strip()],
        "deadline": {
            "date": shown(row.deadline),
            "working_days_left": row.working_days_left,
            "provisional": row.provisional,
        }
        if row and row.deadline
        else None,
        "who": _sentence(", ".join(who_acts(role, row.edition) for role in row.who)) if row else "",
        "claim": {
            "by": holder.name if holder else None,
            "by_me": mine,
            "href": path + "/claim",
            "may_take": bool(opened.roles) and holder is None,
            "may_release": holder is not None and (mine or opened.coordinator),
        },
        "follow_up": shown(claims.follow_ups(db, person, [opened.task]).get(opened.task)),
        "follow_up_href": path + "/follow-up" if opened.roles else "",
        "back_href": "/",
    }


Fields = dict[str, list[str]]  # a page's fields as posted: each name with its values


def draft_of(db: Session, gate_key: str, person: uuid.UUID, opened: Opened) -> tuple[Fields | None, dt.datetime | None]:
    """The person's draft of the task, and when it was saved; (None, None) when there is none (or it does not open)."""
    if not opened.roles:
        return None, None
    draft = drafts.load(db, gate_key, person, opened.task)
    return draft, drafts.saved_at(db, person, opened.task) if draft is not None else None


def _plain(line: str) -> str:
    """A line of the step's markdown notes as plain text (the page draws no markdown): bold marks dropped."""
    return line.replace("**", "").rstrip()


# --- an item of the work around a review -----------------------------------------------------------------------

NO_SUCH_ITEM = "there is no such request or action, or it is not yours to see"


@dataclass(frozen=True)
class Part:
    """What one person answers on an item's page: one part of the item's form, and the ``what`` the gate puts in (the
    item's run waits on the whole form, whose ``what`` says which answer it is)."""

    form: type[FormModel]
    what: str | None  # put in by the gate; None: the part's own field says it (the coordinator's choice)
    role: Role | None  # the role the answer is given in (None: the person's one role of ``roles``)
    heading: str  # above the fields
    guidance: str
    submit: str  # the button's words
    closes: Callable[[Mapping[str, Any]], bool]  # an accepted answer closes the item: everyone's drafts go
    offered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    needed: tuple[str, ...] = ()  # fields the form defaults, but this answer needs (gate/form_fields.py ``describe``)
    no_involvement: bool = False  # a separate button answers "no involvement" in one click


RETURN = Part(
    AgencyReturn,
    RequestChoice.RETURN.value,
    Role.AGENCY_CONTACT,
    "Your agency's return",
    "Give your agency's information for the review. Write about the child and family by the pseudonyms above: "
    "what you write is sealed, and only the partnership's coordinator and partners read it.",
    "Send the return",
    closes=lambda answer: True,
    needed=("involvement", "analysis", "learning"),  # the return's own rule: "no involvement" answers without them
    no_involvement=True,
)
CHANGE = Part(
    RequestChange,
    None,
    Role.COORDINATOR,
    "Remind, give more time or close",
    "Remind the agency now, give it more time with a reason, or close the request as not needed with a reason.",
    "Submit",
    closes=lambda answer: answer.get("what") == ChangeChoice.NOT_NEEDED.value,
)
PROGRESS = Part(
    ActionProgress,
    ActionChoice.PROGRESS.value,
    Role.AGENCY_CONTACT,
    "Where the action stands",
    "Say where your agency's action stands. When it is done, give the evidence: what changed, and where it is "
    "written down, typed or as a document (or both). The coordinator or a partner then accepts it or sends it back.",
    "Send the update",
    closes=lambda answer: False,
)
_REVIEW = Part(
    ActionReview,
    ActionChoice.REVIEW.value,
    None,
    "The partnership's decision",
    "Accept the action as done (or as not possible), or send it back to its owner with a reason. You may also close "
    "it with a reason, whatever its owner says.",
    "Submit",
    closes=lambda answer: answer.get("verdict") in (Verdict.ACCEPT.value, Verdict.CLOSE.value),
)
REVIEW = {  # by whether the owner says it is done (or cannot be): then it is for the partnership to accept
    True: _REVIEW,
    False: Part(
        ActionReview,
        ActionChoice.REVIEW.value,
        None,
        "Close the action",
        "Its owner has not said it is done, so there is nothing to accept yet. You may close it with a reason.",
        "Close the action",
        closes=lambda answer: True,
        offered={"verdict": (Verdict.CLOSE.value,)},
    ),
}


def part_for(item: ItemWaiting, roles: frozenset[Role]) -> Part | None:
    """What the person may answer on the item's page now; None: they may see it, not answer it (a partner seeing a
    request, anyone seeing a closed item)."""
    if not item.is_open:
        return None
    if item.item.kind is ItemKind.REQUEST:
        return RETURN if Role.AGENCY_CONTACT in roles else CHANGE if Role.COORDINATOR in roles else None
    if Role.AGENCY_CONTACT in roles:
        return PROGRESS
    return REVIEW[item.awaiting] if roles & SEES_ITEMS else None


@dataclass(frozen=True)
class OpenedItem:
    """An item as one person opens it: where it stands (nothing sealed), the roles in which they see it, and what
    they may answer."""

    review: Review
    partnership: Partnership
    item: ItemWaiting
    roles: frozenset[Role]
    part: Part | None

    @property
    def ref(self) -> ItemRef:
        return self.item.item

    @property
    def key(self) -> str:
        """The key of the form the item's run waits on now."""
        return item_key(self.ref, self.item.answer_seq)

    @property
    def path(self) -> str:
        return item_path(self.review.reference, self.ref)

    @property
    def draft(self) -> drafts.ItemDraft:
        return drafts.ItemDraft(self.review.id, str(self.ref))

    @property
    def role(self) -> Role | None:
        """The role the person answers in: the part's, or their one role among the partnership's."""
        if self.part is None:
            return None
        return self.part.role or min(self.roles & SEES_ITEMS, default=None)


def open_item(
    db: Session, reference: str, kind: ItemKind, number: int, account_id: uuid.UUID, today: dt.date
) -> OpenedItem:
    """The item as the person may see it; NotOpen, saying nothing of whether it exists, when there is no such review
    or item, or it is none of theirs (an agency's contact and another agency's item, an operator, the Panel)."""
    try:
        review = review_by_reference(db, reference)
    except UnknownReview:
        raise NotOpen(NO_SUCH_ITEM) from None
    found = work_items(db, today, review_id=review.id, item=ItemRef(kind, number))
    if not found:
        raise NotOpen(NO_SUCH_ITEM)
    (item,) = found
    partnership = db.get_one(Partnership, review.partnership_id)
    roles = item_roles(db, account_id, partnership, item.agency_id, today)
    if not roles:
        raise NotOpen(NO_SUCH_ITEM)
    return OpenedItem(review, partnership, item, roles, part_for(item, roles))


@dataclass(frozen=True)
class OpenActions:
    """A review's actions still open, as a coordinator or partner of its partnership sees them to close together."""

    review: Review
    partnership: Partnership
    actions: list[ItemWaiting]  # in number order
    role: Role  # the role they close them in

    @property
    def key(self) -> str:
        """The actions and their answer counters as the page drew them: an answer to any since changes it."""
        return ",".join(item_key(a.item, a.answer_seq) for a in self.actions)

    @property
    def path(self) -> str:
        return closing_path(self.review.reference)


NOTHING_TO_CLOSE = "No action of this review is open just now: there is nothing to close."
RUN_NOT_WAITING = (
    "its run is not waiting for an answer just now (it is moving on, or starting again): try again in a minute"
)


def closing_path(reference: str) -> str:
    """The review's page of its open actions, to close them together: /tasks/CSPR-2026-0042/actions/close."""
    return f"{TASKS}/{urllib.parse.quote(reference, safe='')}/{ItemKind.ACTION.value}s/close"


def open_actions_of(db: Session, reference: str, account_id: uuid.UUID, today: dt.date) -> OpenActions:
    """The review's open actions, for its partnership's coordinator or a partner; NotOpen, as for a page that does
    not exist, for anyone else (an agency's contact, the Panel, an operator) or a review there is not."""
    try:
        review = review_by_reference(db, reference)
    except UnknownReview:
        raise NotOpen(NO_SUCH_ITEM) from None
    partnership = db.get_one(Partnership, review.partnership_id)
    roles = roles_in(db, str(account_id), partnership, today) & CLOSES_ACTIONS
    if not roles:
        raise NotOpen(NO_SUCH_ITEM)
    found = work_items(db, today, review_id=review.id, open_only=True)
    actions = sorted((w for w in found if w.item.kind is ItemKind.ACTION), key=lambda w: w.item.number)
    role = Role.COORDINATOR if Role.COORDINATOR in roles else min(roles)
    return OpenActions(review, partnership, actions, role)


def closing_page(opened: OpenActions) -> dict[str, Any]:
    """The values of tasks/form.html for the page closing a review's open actions together: each action as lists
    show it (nothing sealed: each one's own words are on its page), and the one reason for them all."""
    count = len(opened.actions)
    lines = [
        f"- **{a.title}** ({a.agency}, {a.owner}): {a.status}, due by {shown(a.due_on)}"
        + (" (overdue)" if a.working_days_left < 0 else "")
        for a in opened.actions
    ]
    pseudonyms = opened.actions[0].pseudonyms if opened.actions else ()
    return {
        "review": {
            "reference": opened.review.reference,
            "pseudonyms": list(pseudonyms),
            "partnership": opened.partnership.name,
        },
        "guidance": "The partnership may close every action of this review still open in one go, with one reason, "
        "whatever each owner says: each is closed as if on its own page, its owner agency told, and the review "
        "closes by itself once none is open. To accept one as done, or send one back, use its own page.",
        "notes": [],
        "shown_heading": "The actions still open",
        "shown": blocks(lines),
        "rows": [{"key": "Still open", "value": f"{count} action{'' if count == 1 else 's'}"}],
        "fields_heading": "Close them all",
        "submit_label": f"Close {count} action{'' if count == 1 else 's'}",
        "not_answerable": NOTHING_TO_CLOSE,
        "can_save": False,
        "back_href": "/",
    }


def closed_together(closed: Sequence[ItemWaiting], not_closed: Sequence[tuple[ItemWaiting, str]]) -> str:
    """What the person is told once the actions were handed on: which were, and why any were not."""
    said = [f"Closed: {', '.join(a.title.lower() for a in closed)}." if closed else "No action was closed."]
    said += [f"{a.title} was not closed: {_sentence(why)}" for a, why in not_closed]
    if closed:
        said.append("Each is recorded within a minute; the review closes by itself once no action is open.")
    return " ".join(said)


def not_answerable(opened: OpenedItem) -> str:
    """Why the page draws no form."""
    if not opened.item.is_open:
        return f"This is closed ({opened.item.status}): nothing more is asked."
    if opened.item.item.kind is ItemKind.REQUEST:
        return f"{opened.item.agency}'s contacts answer this request, and the coordinator may change it."
    return "You can see this action, but it is not yours to answer."


def item_page(opened: OpenedItem, lines: Sequence[str], today: dt.date) -> dict[str, Any]:
    """The values of tasks/form.html for an item's page, above its fields: the item whole (``lines``, from the
    checker), where it stands and by when, and who may answer it."""
    w, part = opened.item, opened.part
    rows = [{"key": "Agency", "value": w.agency}]
    if w.owner:
        rows.append({"key": "Named owner", "value": w.owner})
    rows.append({"key": "Where it stands", "value": _sentence(w.status)})
    if w.item.kind is ItemKind.REQUEST:
        who = f"{w.agency}'s contacts. The coordinator may remind them, give more time or close it"
    elif w.awaiting:
        who = "The coordinator or a partner, to accept it or send it back"
    else:
        who = f"{w.agency}'s contacts, with its progress. The coordinator or a partner may close it"
    return {
        "review": {"reference": w.reference, "pseudonyms": list(w.pseudonyms), "partnership": opened.partnership.name},
        "guidance": part.guidance if part else "",
        "notes": [],
        "shown": blocks(lines),
        "shown_heading": "The request" if w.item.kind is ItemKind.REQUEST else "The action",
        "rows": rows,
        "deadline": {
            "key": "Due by",
            "date": shown(w.due_on),
            "working_days_left": w.working_days_left,
            "note": f"{EXPECTATION[0].upper()}{EXPECTATION[1:]}." if w.item.kind is ItemKind.REQUEST else "",
        }
        if w.is_open
        else None,
        "who": who,
        "fields_heading": part.heading if part else "",
        "submit_label": part.submit if part else "Submit",
        "not_answerable": not_answerable(opened),
        "no_involvement": bool(part and part.no_involvement),
        "back_href": "/",
        # the partnership may close every open action of the review together (``closing_page``)
        "closing_href": closing_path(w.reference)
        if w.item.kind is ItemKind.ACTION and w.is_open and opened.roles & CLOSES_ACTIONS
        else "",
    }


def blocks(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Markdown lines (an item's ``show``) as the page draws them, with no markdown drawn as HTML: a paragraph per
    line, lines beginning "- " a list (its items), "> " a warning; "**" marks strong words, as runs of text. A heading
    is left out: the page's title says it."""
    found: list[dict[str, Any]] = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind = "item" if text.startswith("- ") else "warning" if text.startswith("> ") else "paragraph"
        text = text[2:] if kind != "paragraph" else text
        parts = text.split("**")
        runs = [{"text": part, "strong": n % 2 == 1} for n, part in enumerate(parts) if part]
        if kind == "warning" and found and found[-1]["kind"] == "warning":
            found[-1]["runs"] += [{"text": " ", "strong": False}, *runs]  # one warning, however many lines
        elif kind == "item" and found and found[-1]["kind"] == "list":
            found[-1]["items"].append(runs)  # one list, however many items
        elif kind == "item":
            found.append({"kind": "list", "items": [runs]})
        else:
            found.append({"kind": kind, "runs": runs})
    return found


def item_draft_of(
    db: Session, gate_key: str, person: uuid.UUID, opened: OpenedItem
) -> tuple[Fields | None, dt.datetime | None]:
    """The person's draft of their answer to the item, and when it was saved; (None, None): none."""
    if opened.part is None:
        return None, None
    draft = drafts.load(db, gate_key, person, opened.draft)
    return draft, drafts.saved_at(db, person, opened.draft) if draft is not None else None


def evidence_input(error: str) -> dict[str, str]:
    """The file input beside an action's evidence (GOV.UK's file upload), as tasks/form.html draws it."""
    kinds = ", ".join(kind.label for kind in evidence.Kind)
    return {
        "name": evidence.FIELD,
        "label": "Evidence document (optional)",
        "hint": f"A document that shows the action is done, up to {evidence.MAX_BYTES // evidence.MB} MB: {kinds}. "
        "Only when the action is done. It is sealed like everything you write; choose it again if the page "
        "comes back, as a draft keeps only what you typed.",
        "error": error,
        # what the browser's file picker offers: every name and type an allowed document is known by
        "accept": ",".join([*(ext for kind in evidence.Kind for ext in evidence.EXTENSIONS[kind]), *evidence.Kind]),
    }


def evidence_href(db: Session, opened: OpenedItem) -> str:
    """Where the action's evidence document is downloaded; "" when it has none (or the item is a request). Nothing
    sealed is read: whether there is one, not its name, which the checker shows (``Work.show``). The one column
    alone: loading the whole row would open its sealed words, with a key the gate does not hold."""
    if opened.ref.kind is not ItemKind.ACTION:
        return ""
    key = db.exec(
        select(Action.evidence_key).where(Action.review_id == opened.review.id, Action.number == opened.ref.number)
    ).first()
    return f"{opened.path}/evidence" if key else ""
