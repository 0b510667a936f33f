"""The notification's identity step as a task: a coordinator gives the children's real names (for an unborn child, the
mother's and the expected date of delivery) on their tasks page, for a notification run that waits for them
(flows/notify_incident.py). There is no review yet, so the task is the run itself, found in Prefect's record by the
gate; the person must be a coordinator of the partnership the notification is for (gate/who_may_answer.py), as for an
answer through Prefect's UI.

No draft is kept of it: it holds children's names, which are kept nowhere but the partnership's database, sealed under
the review's own key, once the run has read them.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

import httpx

from gate import register
from gate.prefect_client import PrefectClient
from gate.who_may_answer import AnswerRefused, Waiting, waiting
from models import forms
from models.forms import FormModel
from models.identity import Identity
from models.notification_identity import NotificationRefused, guidance, identity_form, title
from models.notification_identity import check as check_identity
from models.roles import Role

NOTIFY_FLOW = "notify-incident"
PATH = "/tasks/notification"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_WAITING = "this notification is not waiting for the children's identities: it has been answered, or has ended"


@dataclass(frozen=True)
class IdentityTask:
    """A notification run waiting for the children's identities, as its coordinator answers it."""

    run: Waiting
    partnership: str  # its code
    pseudonyms: tuple[str, ...]
    identity_known: bool  # False: the notification was made before the names were known; the coordinator confirms
    partnership_name: str = ""  # as people know it (the register's), once looked up
    unborn: bool = False  # the children notified are unborn: the mother's details and the expected date are asked
    incident_on: dt.date | None = None  # the notification's date of the incident, which an expected date is checked by

    @property
    def form(self) -> type[FormModel]:
        return identity_form(self.identity_known, self.unborn)

    @property
    def title(self) -> str:
        return title(self.identity_known, self.unborn)

    @property
    def guidance(self) -> str:
        return "\n\n".join(guidance(self.identity_known, self.pseudonyms, self.unborn))

    @property
    def path(self) -> str:
        return f"{PATH}/{self.run.run_id}"

    def about(self) -> dict[str, Any]:
        """What the pages say of it: there is no reference yet, only the partnership and the pseudonyms."""
        where = self.partnership_name or self.partnership
        return {"reference": "New notification", "pseudonyms": list(self.pseudonyms), "partnership": where}

    def check(self, answer: dict[str, Any]) -> str:
        """The step's rules beyond the form's own, as the run makes them: "" or what to change."""
        given = self.form.model_validate(answer)
        if not isinstance(given, forms.Identity | forms.UnbornIdentity):  # a confirmation: nothing more to check
            return ""
        try:
            check_identity(given, self.pseudonyms, self.incident_on)
        except NotificationRefused as refused:
            return str(refused)
        return ""


def _task(run: dict[str, Any]) -> IdentityTask | None:
    notification = (run.get("parameters") or {}).get("notification")
    if not isinstance(notification, dict) or "reference" in (run.get("parameters") or {}):
        return None
    try:
        waits = waiting(run)
    except AnswerRefused:
        return None
    if not waits.form_key.startswith("identity-"):
        return None
    children = notification.get("children") or []
    pseudonyms = tuple(str(c.get("pseudonym", "")) for c in children if isinstance(c, dict))
    known = notification.get("identity_known", True) is not False
    unborn = notification.get("unborn") is True
    incident_on = None
    with suppress(TypeError, ValueError):  # the run validated it; a record the page cannot read leaves it to the run
        incident_on = dt.date.fromisoformat(str(notification.get("incident_date")))
    return IdentityTask(
        waits, str(notification.get("partnership", "")), pseudonyms, known, unborn=unborn, incident_on=incident_on
    )


async def identity_task(prefect: PrefectClient, run_id: str, person: Identity) -> IdentityTask:
    """The waiting identity step of run ``run_id``, if the person may answer it; AnswerRefused otherwise."""
    if not _UUID.match(run_id):
        raise AnswerRefused(NOT_WAITING)
    async with prefect.client() as client:
        found = await client.get(f"/api/flow_runs/{run_id}")
    task = _task(found.json()) if found.status_code == 200 else None
    if task is None:
        raise AnswerRefused(NOT_WAITING)
    await register.answering(task.run, person)  # a coordinator of the partnership notified, today
    return replace(task, partnership_name=await register.partnership_name(task.partnership))


async def waiting_for(prefect: PrefectClient, partnerships: frozenset[str]) -> list[IdentityTask]:
    """The notifications of ``partnerships`` (codes) waiting for the children's identities, oldest first."""
    if not partnerships:
        return []
    body = {
        "flows": {"name": {"any_": [NOTIFY_FLOW]}},
        "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
        "sort": "EXPECTED_START_TIME_ASC",
        "limit": 200,
    }
    async with prefect.client() as client:
        found = await client.post("/api/flow_runs/filter", json=body)
    runs: list[dict[str, Any]] = found.json() if found.status_code == 200 else []
    tasks = [task for run in runs if (task := _task(run)) is not None]
    return [
        replace(task, partnership_name=await register.partnership_name(task.partnership))
        for task in tasks
        if task.partnership in partnerships
    ]


def coordinator_identity(person: Identity) -> Identity:
    """The person as the run checks them: a coordinator (the only role that answers this step)."""
    return Identity(person.person_id, person.name, Role.COORDINATOR.value, person.signed_in_with)


async def still_waiting(client: httpx.AsyncClient, run: Waiting) -> bool:
    """Whether the run still waits for this very form (read again under the run's lock, before handing over)."""
    again = await client.get(f"/api/flow_runs/{run.run_id}")
    try:
        return again.status_code == 200 and waiting(again.json()).form_key == run.form_key
    except AnswerRefused:
        return False
