"""Driving reviews through the running system as people would: each demo person signs in at the gate when it is their
turn (``AtTheGate``), the coordinator runs the notification, each form is answered by the person whose step it is, as
the browser answers it, and the project database is watched as it moves. Used by ``cspr demo`` and by the end-to-end
tests; the scripted answers (``Case``) are what the other tests give too.

All people, places and children here are invented.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.input.actions import read_flow_run_input

from cli.gate_client import GateRefused, GateSession, Person, totp_secret_of
from models.calendar import calendar_for, today_in_england
from models.db import transaction
from models.people import reset_credentials
from models.records import Actor, review_by_reference
from models.roles import Role
from models.seed import DEMO_REPRESENTATIVES
from models.stages import Stage
from models.steps import STEPS

NOTIFY_DEPLOYMENT = "notify-incident/notify-incident"


class DemoError(RuntimeError):
    pass


# --- talking to Prefect -----------------------------------------------------------------------------------


def read_run(run_id: UUID) -> FlowRun:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def wait_for_run(run_id: UUID, done: Callable[[FlowRun], bool], timeout: float = 120, what: str = "") -> FlowRun:
    deadline = time.monotonic() + timeout
    while True:
        run = read_run(run_id)
        if done(run):
            return run
        if run.state is not None and run.state.is_final() and not done(run):
            raise DemoError(f"run {run.name} ended {run.state.name}: {run.state.message}")
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what or 'run'} {run.name} (now {run.state_name})")
        time.sleep(0.5)


def is_suspended(run: FlowRun) -> bool:
    """Waiting at a form a person can answer: paused, and the form saved. Prefect (3.8) marks a run paused a moment
    before it saves the form's schema, and an answer given in between is refused with "Run input schema not found";
    a person never sees the form before it is saved, and the demo must not answer it either."""
    state = run.state
    if state is None or not state.is_paused():
        return False
    keyset = state.state_details.run_input_keyset
    return keyset is None or read_flow_run_input(keyset["schema"], flow_run_id=run.id) is not None


def lifecycle_runs(reference: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"review:{reference}", "lifecycle"]))
        )


def answerer(stage: Stage | None, answer: Mapping[str, Any]) -> Role:
    """Who answers a form in the demo (``None``: the notification's identity form): the partner a sign-off is for,
    the Panel's contact on the Panel's steps, the coordinator on every other."""
    if stage is Stage.RAPID_REVIEW_SIGN_OFF:
        return Role.from_label(str(answer["partner"]))
    return Role.PANEL if stage is not None and Role.PANEL in STEPS[stage].roles else Role.COORDINATOR


class AtTheGate:
    """The demo people, each signed in at the gate the first time it is their turn, acting as the browser does: the
    gate, not this process, signs each answer with who gave it.

    Their passwords were shown once when they were made, and kept nowhere: the demo gives each a new one
    (`cspr people reset`, recorded in the register as the demo's doing) and says so, with the new password of a demo
    account so that a person can go on signing in with it.
    """

    ACTOR = Actor("cspr demo", "system")

    def __init__(self, ui_url: str, say: Callable[[str], None] = print) -> None:
        self.ui_url, self.say = ui_url, say
        self.sessions: dict[Role, GateSession] = {}

    def signed_in(self, role: Role) -> GateSession:
        if role not in self.sessions:
            email = next(e for r, _, e, _ in DEMO_REPRESENTATIVES if r is role)
            with transaction() as session:
                enrolment = reset_credentials(session, email, by=self.ACTOR)
            assert enrolment.password is not None
            person = Person(email, enrolment.password, totp_secret_of(enrolment.totp_uri))
            try:
                self.sessions[role] = GateSession(self.ui_url, person).sign_in()
            except GateRefused as exc:
                raise DemoError(str(exc)) from None
            new = f": {enrolment.password}" if person.totp_secret is None else ""
            self.say(f"signed in as {email} ({role.label}), with a new password{new}")
        return self.sessions[role]

    def start(self, deployment: str, parameters: dict[str, Any]) -> UUID:
        """The coordinator starts a run of ``deployment`` (flow/deployment name), as from the UI's Run button."""
        with get_client(sync_client=True) as client:
            deployment_id = client.read_deployment_by_name(deployment).id
        try:
            return UUID(self.signed_in(Role.COORDINATOR).start_run(deployment_id, parameters))
        except GateRefused as exc:
            raise DemoError(f"the coordinator could not start {deployment}: {exc}") from None

    def answer(self, run: FlowRun, answer: dict[str, Any], role: Role) -> None:
        """Answer the form ``run`` waits for as the demo person acting as ``role``."""
        try:
            verdict = self.signed_in(role).resume(run.id, answer)
        except GateRefused as exc:
            raise DemoError(f"the gate refused the {role.label}'s answer to {run.name}: {exc}") from None
        if verdict.get("status") == "REJECT":  # the form itself refused it (Prefect checks it against its schema)
            raise DemoError(f"{run.name}: the form refused the answer: {verdict.get('details')}")

    def sign_out(self) -> None:
        for session in self.sessions.values():
            session.sign_out()
        self.sessions.clear()


def suspended_lifecycle_run(reference: str, timeout: float = 180) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in lifecycle_runs(reference):
            if is_suspended(run):
                return run
        time.sleep(0.5)
    raise DemoError(f"no lifecycle run of {reference} was waiting for a form within {timeout:.0f}s")


@dataclass(frozen=True)
class ReviewState:
    stage: Stage
    step_seq: int
    refusal: str | None


def review_state(reference: str) -> ReviewState:
    with transaction() as session:
        review = review_by_reference(session, reference)
        return ReviewState(Stage(review.stage), review.step_seq, review.step_refusal)


def wait_for_answer_processed(reference: str, seq: int, timeout: float = 180) -> ReviewState:
    """Wait until the lifecycle has dealt with the answer given at ``seq`` (accepted or refused)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = review_state(reference)
        if state.step_seq > seq:
            return state
        time.sleep(0.3)
    raise DemoError(f"{reference}: the answer was not processed within {timeout:.0f}s")


# --- an invented case --------------------------------------------------------------------------------------


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
            "children": [{"pseudonym": self.pseudonym, "age_band": "5-9"}],
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
        return ANSWERS[stage](self, n)


def _notification(c: Case, n: int) -> dict[str, Any]:
    return {
        "panel_reference": "SIN-2026-10-1234",
        "notified_on": c.day(3),
        "partners_told_on": c.day(3),
    }


def _rapid_review(c: Case, n: int) -> dict[str, Any]:
    recommendation = {
        "local": "local review",
        "national": "refer for a national review",
        "no-review": "no local review",
    }
    return {
        "facts": "Child Q was admitted to hospital with injuries consistent with neglect over several months.",
        "immediate_actions": "A strategy meeting was held; the sibling is subject to a child protection plan.",
        "agencies_involved": "Children's social care; police; health visiting; the GP practice; the primary school.",
        "key_practice_episodes": "Missed health appointments; a school referral not followed up; a home visit.",
        "family_context": "A single parent household under financial strain, recently moved into the area.",
        "learning_now": "Information about missed appointments was not shared between health and the school.",
        "criterion_a_improvements": True,
        "criterion_b_recurrent_themes": True,
        "criterion_c_agencies_working_together": True,
        "criterion_d_panel_suggested_local": False,
        "criteria_commentary": "Concerns about information sharing between agencies.",
        "themes": ["neglect", "information sharing between agencies"],
        "recommendation": recommendation[c.path],
        "national_review_view": "The partners do not consider a national review necessary."
        if c.path != "national"
        else "The case raises issues of national importance about information sharing.",
        "completed_on": c.day(12 + 3 * n),
    }


def _sign_off(c: Case, n: int) -> dict[str, Any]:
    order = c.sign_off_order
    send_back = c.send_back_first and n == 0
    partner = Role(order[0] if send_back else order[(n - (1 if c.send_back_first else 0)) % 3])
    return {
        "partner": partner.label,
        "decision": "send back" if send_back else "sign off",
        "signed_on": c.day(14 + (3 if c.send_back_first and not send_back else 0)),
        "reason": "The family context section needs the school's account." if send_back else "",
    }


def _panel(c: Case, n: int) -> dict[str, Any]:
    return {
        "responded_on": c.day(24),
        "national_review": c.path == "national",
        "agrees_with_local_recommendation": True,
        "comments": "",
    }


def _decision(c: Case, n: int) -> dict[str, Any]:
    decision = {"local": "local review", "national": "national review led by the Panel", "no-review": "no local review"}
    return {
        "decision": decision[c.path],
        "decided_on": c.day(26),
        "reasons": "Criteria (a) to (c) are met: the case may highlight improvements in information sharing.",
        "immediate_learning": "Share missed-appointment information with the school nurse."
        if c.path == "no-review"
        else "",
    }


def _commissioning(c: Case, n: int) -> dict[str, Any]:
    terms = "Review the multi-agency response to Child Q, from birth to the incident."
    return {
        "reviewer": "Dr Morgan Ellery",
        "commissioned_on": c.day(30),
        "terms_of_reference": terms,
    }


def _progress(c: Case, n: int) -> dict[str, Any]:
    if n == 0:
        return {
            "update": "written request to the reviewer",
            "on": c.day(50),
            "request": "Please share a first draft of the chronology by the end of the month.",
        }
    return {"update": "draft report submitted", "on": c.day(60 + n), "request": "", **DRAFT}


DRAFT: dict[str, Any] = {
    "summary": "Child Q, aged seven, was seriously harmed through neglect over several months. Agencies each held "
    "part of the picture: missed health appointments, a school's concerns about weight loss, and a housing move.",
    "recommendations": [
        "The ICB and schools agree a weekly exchange of missed-appointment information for children on plans.",
        "Children's social care checks school attendance and health contacts at every strategy discussion.",
        "The partnership runs multi-agency training on recognising neglect in primary-age children.",
    ],
    "child_experience": "Child Q told a teacher they were often hungry and that home was cold.",
    "family_context": "A single parent under financial strain, recently moved into the area, with little support.",
    "systemic_analysis": "Information was held in separate systems with no routine for sharing it; thresholds for "
    "neglect were applied differently by each agency; a house move interrupted the health visiting service.",
    "practitioner_involvement": "Twelve practitioners took part in a learning event; the parent was invited to "
    "contribute and met the reviewer.",
    "timeline": [
        {"on": "2025-09-03", "event": "Child Q starts at a new primary school after a house move."},
        {"on": "2025-11-12", "event": "Second missed health appointment; letter sent to the old address."},
        {"on": "2026-01-20", "event": "School raises a concern about Child Q's weight with the school nurse."},
        {"on": "2026-03-02", "event": "Child Q is admitted to hospital."},
    ],
}


def _qa(c: Case, n: int) -> dict[str, Any]:
    returning = n < c.qa_returns
    return {
        "summary_of_recommendations": True,
        "systemic_analysis": not returning,
        "child_perspective_and_family_context": True,
        "practitioners_and_family_involved": True,
        "plain_english": True,
        "anonymised": True,
        "outcome": "return to the reviewer" if returning else "approve the final report",
        "reasons": "The systemic analysis needs to go beyond the sequence of events." if returning else "",
    }


def _final_report(c: Case, n: int) -> dict[str, Any]:
    return {"sent_on": (c.report_sent_on or dt.date.fromisoformat(c.day(85))).isoformat()}


def _publication(c: Case, n: int) -> dict[str, Any]:
    if n < c.deferrals:
        return {
            "decision": "defer publication",
            "look_again_on": c.today.isoformat(),
            "reasons": "Criminal proceedings are pending; the police asked for publication to wait.",
        }
    if c.improvements_only:
        return {
            "decision": "publish information about improvements only",
            "reasons": "Publishing the full report would harm the welfare of the child's sibling.",
        }
    return {"decision": "publish the report", "reasons": ""}


def _actions(c: Case, n: int) -> dict[str, Any]:
    return {
        "actions": "1. Health and schools share missed appointments weekly (ICB, by March).\n"
        "2. Multi-agency training on neglect (partnership, by June).",
    }


def _national_commissioning(c: Case, n: int) -> dict[str, Any]:
    return {
        "reviewer": "Priya Castellano",
        "confirmed_by_secretary_of_state_on": c.day(40),
        "local_contribution": "Chronologies from every agency; access to practitioners.",
    }


def _national_report(c: Case, n: int) -> dict[str, Any]:
    return {
        "published_on": c.day(95),
        "local_actions": "Adopt the national recommendations on information sharing.",
    }


ANSWERS: dict[Stage, Callable[[Case, int], dict[str, Any]]] = {
    Stage.INCIDENT_RECORDED: _notification,
    Stage.RAPID_REVIEW: _rapid_review,
    Stage.RAPID_REVIEW_SIGN_OFF: _sign_off,
    Stage.AWAITING_PANEL: _panel,
    Stage.AWAITING_DECISION: _decision,
    Stage.COMMISSIONING: _commissioning,
    Stage.REVIEW_UNDER_WAY: _progress,
    Stage.QUALITY_ASSURANCE: _qa,
    Stage.REPORT_APPROVED: _final_report,
    Stage.AWAITING_PUBLICATION: _publication,
    Stage.PUBLISHED: _actions,
    Stage.IMPROVEMENTS_PUBLISHED: _actions,
    Stage.NATIONAL_REVIEW: _national_commissioning,
    Stage.NATIONAL_REVIEW_UNDER_WAY: _national_report,
}
# the demo answers every step of the process, and only those
assert set(ANSWERS) == set(STEPS), f"demo answers missing for {sorted(set(STEPS) - set(ANSWERS))}"


# --- the drive --------------------------------------------------------------------------------------------


def notify(case: Case, people: AtTheGate, say: Callable[[str], None] = print) -> str:
    """The coordinator runs notify-incident with the case's form and answers its identity step; the new reference."""
    run_id = people.start(NOTIFY_DEPLOYMENT, {"notification": case.notification()})
    waiting = wait_for_run(run_id, is_suspended, what="the identity step of")
    say("notify-incident is waiting for the children's identities; answering")
    people.answer(waiting, case.identity(), answerer(None, {}))
    done = wait_for_run(run_id, lambda r: r.state is not None and r.state.is_completed(), what="notification")
    reference = next(t.removeprefix("review:") for t in done.tags if t.startswith("review:"))
    say(f"{reference} recorded; its review-lifecycle run is starting")
    return reference


def drive(
    reference: str, case: Case, people: AtTheGate, say: Callable[[str], None] = print, max_steps: int = 60
) -> Stage:
    """Answer each form the lifecycle asks for, each as the person whose step it is, until the review is closed."""
    for _ in range(max_steps):
        if review_state(reference).stage is Stage.CLOSED:
            say(f"{reference}: closed")
            return Stage.CLOSED
        run = suspended_lifecycle_run(reference)
        before = review_state(reference)
        answer = case.answer(before.stage)
        people.answer(run, answer, answerer(before.stage, answer))
        after = wait_for_answer_processed(reference, before.step_seq)
        if after.refusal:
            say(f"{reference}: {before.stage.value}: answer refused: {after.refusal}")
        else:
            say(f"{reference}: {before.stage.value} -> {after.stage.value}")
    raise DemoError(f"{reference} did not close within {max_steps} steps")
