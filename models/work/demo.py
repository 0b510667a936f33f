"""What the demo's people answer about the work around a review (``cspr demo`` and the tests drive it): each agency's
return or "no involvement", one request left to go missing, and each action's owner and the partnership taking it to
its close (one sent back first). All invented.

An answer is (who gives it: a role, or the agency whose contact it is; the part of the item's page it is given on;
the answer as that part's form takes it, with ``what``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.forms import FormModel
from models.roles import Role
from models.work.forms import ActionProgress, ActionReview, AgencyReturn


@dataclass(frozen=True)
class DemoAnswer:
    by: Role | str  # a role, or the name of the agency whose contact answers
    form: type[FormModel]  # the part of the page: the form drawn there
    answer: dict[str, Any]  # with "what" (the run's form's), which the page itself adds

    @property
    def posted(self) -> dict[str, Any]:
        """The fields the person fills in on the page (``what`` is the page's own)."""
        return {k: v for k, v in self.answer.items() if k != "what"}


def request_answer(number: int, agency: str, at_rapid_review: bool) -> DemoAnswer | None:
    """The answer to the ``number``-th request of the review, to ``agency``; None: left to go missing (the fourth
    agency asked for the rapid review never answers)."""
    if at_rapid_review and number == 3:
        return DemoAnswer(agency, AgencyReturn, {"what": "no involvement"})
    if at_rapid_review and number >= 4:
        return None
    return DemoAnswer(agency, AgencyReturn, {"what": "return", **RETURNS[(number - 1) % len(RETURNS)]})


RETURNS: list[dict[str, Any]] = [
    {
        "involvement": "Child Q joined the school in September after a house move; attendance fell in the spring term.",
        "chronology": [
            {"on": "2025-09-03", "contact": "Child Q starts at the school."},
            {"on": "2026-01-20", "contact": "Teacher raises a concern about Child Q's weight with the school nurse."},
        ],
        "analysis": "The concern was shared with the school nurse but not with the GP or children's social care.",
        "actions_taken": "Weight and attendance concerns now go to the designated safeguarding lead the same day.",
        "learning": "A concern about a child's weight is a safeguarding concern, not only a health one.",
    },
    {
        "involvement": "Child Q was registered with the practice; two appointments were attended and two missed.",
        "chronology": [
            {"on": "2025-11-12", "contact": "Second missed appointment; a letter sent to the old address."},
            {"on": "2025-10-01", "contact": "Routine review; weight on the low side, to be seen again."},
        ],
        "analysis": "Missed appointments for a child were treated as for an adult: a letter, and no follow-up.",
        "actions_taken": "Children's missed appointments are now reviewed weekly by the safeguarding lead GP.",
        "learning": "Was not brought is not the same as did not attend.",
    },
]


def action_answers(number: int, agency: str) -> list[DemoAnswer]:
    """The answers that take the ``number``-th action, owned by ``agency``, to its close: its owner's progress and
    the partnership accepting it; the second is sent back once first, and accepted by the local authority."""
    done = DemoAnswer(agency, ActionProgress, {"what": "progress", "status": "done", "evidence": EVIDENCE[number % 3]})
    accept = DemoAnswer(Role.COORDINATOR, ActionReview, {"what": "review", "verdict": "accept"})
    if number != 2:
        started = DemoAnswer(agency, ActionProgress, {"what": "progress", "status": "in progress"})
        return [started, done, accept]
    back = DemoAnswer(
        Role.COORDINATOR, ActionReview, {"what": "review", "verdict": "send back", "reason": "Show it in use."}
    )
    again = DemoAnswer(agency, ActionProgress, {"what": "progress", "status": "done", "evidence": "Used at 40 checks."})
    by_partner = DemoAnswer(Role.LOCAL_AUTHORITY, ActionReview, {"what": "review", "verdict": "accept"})
    return [done, back, again, by_partner]


EVIDENCE = [
    "The training ran in March: 41 of the department's 48 staff attended (85%).",
    "The list of missed appointments goes to the school nurse every Monday; a term's lists are kept.",
    "The welfare check form asks about missed health appointments; used at every check since April.",
]
