"""Driving reviews through the running system as people would: each demo person signs in at the gate when it is their
turn (``AtTheGate``), the coordinator runs the notification, each form is answered by the person whose step it is, as
the browser answers it, and the project database is watched as it moves. Used by ``cspr demo`` and by the end-to-end
tests. The scripted answers (``Case``, models/process/demo_case.py: each step's own is in its module) are what the other
tests give too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.input.actions import read_flow_run_input

from cli.gate_client import GateRefused, GateSession, Person, totp_secret_of
from gate import form_fields
from gate.notification_task import PATH as IDENTITY_TASKS
from gate.tasks_app import NOTIFY_DEPLOYMENT
from models import forms
from models.db import transaction
from models.people import reset_credentials
from models.process import STEPS
from models.process.demo_case import Case, answerer
from models.review.lookup import review_by_reference
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_REPRESENTATIVES
from models.stages import TERMINAL, Stage
from models.task_ref import task_path


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
        """Answer the form ``run`` waits for as the demo person acting as ``role``, on its task page as every person
        does: a review's step, or the notification's identity step (no review yet: the task is the run)."""
        reference = next((t.removeprefix("review:") for t in run.tags if t.startswith("review:")), None)
        if reference is not None:
            stage = review_state(reference).stage
            path, form = task_path(reference, stage), STEPS[stage].form
        else:
            notification = run.parameters.get("notification") or {}
            known = notification.get("identity_known", True) is not False
            path, form = f"{IDENTITY_TASKS}/{run.id}", forms.Identity if known else forms.IdentityToFollow
        try:
            self.signed_in(role).answer_task(path, form_fields.as_posted(form, answer))
        except GateRefused as exc:
            raise DemoError(f"{run.name}: the {role.label}'s answer was refused on the task page: {exc}") from None

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
        stage = review_state(reference).stage
        if stage in TERMINAL:
            say(f"{reference}: {stage.value}")
            return stage
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
