"""What the tasks pages show, read from the project database with no key: a task as one person opens it, and the
values the templates (gate/templates/tasks/) draw. The routes are in gate/tasks_app.py.

Dates are shown as people write them ("12 March 2027"); a child is named by pseudonym only; nothing sealed is read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models import claims, drafts, rulebook, task_ref
from models.accounts import roles_in, roles_of
from models.process import STEPS, Step
from models.refusals import Refused
from models.review.lookup import UnknownReview, review_by_reference
from models.roles import Role
from models.stages import Stage
from models.tables import Account, Partnership, Review
from models.task_ref import task_path
from models.worklist import Waiting, worklist
from models.your_tasks import Task, YourTasks

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
    return Opened(
        review,
        partnership,
        step,
        task_ref.current_task(db, review),
        held & step.roles,
        Role.COORDINATOR in today_roles,
    )


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

    rows = [*tasks, *others]
    codes = sorted({r["partnership_code"] for r in rows})
    return {
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
