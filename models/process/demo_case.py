"""The demo's invented case: the answers people give at each step, for one branch of the process, with dates that
have all passed. ``cspr demo`` (cli/demo.py) and the tests give these answers; each step's own answer is in its module
(``demo_answer``).

All people, places and children here are invented.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from models.calendar import calendar_for, today_in_england
from models.process.table import STEPS
from models.roles import Role
from models.stages import Stage


@dataclass
class Case:
    """The answers people give, for one branch of the process, with dates that have all passed."""

    path: str = "local"  # local | national | no-review
    child_name: str = "Rowan Ashcombe"
    child_dob: dt.date = dt.date(2019, 5, 17)
    partnership: str = "northshire"
    pseudonym: str = "Child Q"
    qa_returns: int = 0
    deferrals: int = 0
    improvements_only: bool = False
    send_back_first: bool = False
    sign_off_order: tuple[str, ...] = (Role.LOCAL_AUTHORITY, Role.POLICE, Role.HEALTH)  # roles, in their order
    report_sent_on: dt.date | None = None  # default: long enough ago that publication need not wait
    # the partnership's agencies asked for information when the rapid review starts, and given the actions (the
    # first three); none: nobody is asked and no action is recorded
    agencies: tuple[str, ...] = ()
    # with agencies: the partners also adopt an action on the rapid review's recommendations with their decision, and
    # on the national path one on the national review's (cspr demo's case)
    adopted_actions: bool = False
    today: dt.date = field(default_factory=today_in_england)
    asked: Counter[Stage] = field(default_factory=Counter)

    def day(self, working_days_after_awareness: int) -> str:
        return calendar_for().add(self.aware_on, working_days_after_awareness).isoformat()

    @property
    def aware_on(self) -> dt.date:
        return calendar_for().add(self.today, -100)

    def notification(self) -> dict[str, Any]:
        return {
            "partnership": self.partnership,
            "incident_date": (self.aware_on - dt.timedelta(days=1)).isoformat(),
            "aware_date": self.aware_on.isoformat(),
            "harm": "seriously harmed",
            "abuse_or_neglect": "suspected",
            "looked_after": False,
            "children": [{"pseudonym": self.pseudonym, "age_band": "6 to 10"}],
            "national_reference": "",
        }

    family_name: str = "Morwenna Ashcombe"

    def identity(self) -> dict[str, Any]:
        return {
            "children": [
                {"pseudonym": self.pseudonym, "full_name": self.child_name, "date_of_birth": self.child_dob.isoformat()}
            ],
            "family_members": [{"relationship": "mother", "full_name": self.family_name, "date_of_birth": None}],
        }

    def answer(self, stage: Stage) -> dict[str, Any]:
        """What the person at ``stage`` submits next."""
        n = self.asked[stage]
        self.asked[stage] += 1
        return STEPS[stage].demo(self, n)


def answerer(stage: Stage | None, answer: Mapping[str, Any]) -> Role:
    """Who answers a form in the demo (``None``: the notification's identity form): the person the answer says, where
    it says (a partner's sign-off), else the Panel's contact on the Panel's steps and the coordinator on every other."""
    if stage is None:
        return Role.COORDINATOR
    step = STEPS[stage]
    if step.demo_answered_by is not None:
        return step.demo_answered_by(answer)
    return Role.PANEL if Role.PANEL in step.roles else Role.COORDINATOR
