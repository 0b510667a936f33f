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
from sqlmodel import col, select

from cli.gate_client import GateRefused, GateSession, Person, totp_secret_of
from gate import form_fields
from gate.notification_task import PATH as IDENTITY_TASKS
from gate.tasks_app import NO_INVOLVEMENT, NOTIFY_DEPLOYMENT
from models import forms
from models.db import transaction
from models.people import reset_credentials
from models.process import STEPS, WAITS_FOR_ACTIONS
from models.process.demo_case import Case, answerer
from models.review.lookup import review_by_reference
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, DEMO_REPRESENTATIVES
from models.stages import TERMINAL, Stage
from models.tables import (
    Action,
    Agency,
    InformationRequest,
    action_is_open,
    request_is_open,
)
from models.task_ref import task_path
from models.work.demo import DemoAnswer, action_answers, request_answer
from models.work.forms import RequestChoice
from models.work.items import ItemKind, ItemRef, item_path


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
    """Waiting at a form a person can answer: paused, and the form saved. Prefect marks a run paused a moment before
    it saves the form's schema, and an answer given in between is refused with "Run input schema not found"; a person
    never sees the form before it is saved, and the demo must not answer it either. Still needed on 3.9.1 because its
    ``suspend_flow_run`` (prefect/flow_runs.py) still proposes the Suspended state first and saves the form after,
    and its resume route still refuses an answer while the schema is missing (tests/flows/test_prefect_races.py)."""
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
        self.sessions: dict[Role | str, GateSession] = {}

    def signed_in(self, role: Role | str) -> GateSession:
        """The demo person acting as ``role``, or the contact of the agency named ``role``, signed in."""
        if role not in self.sessions:
            if isinstance(role, Role):
                email = next(e for r, _, e, _ in DEMO_REPRESENTATIVES if r is role)
                label = role.label
            else:
                email = next(e for agency, _, e in DEMO_AGENCY_CONTACTS if agency == role)
                label = f"{role}'s contact"
            with transaction() as session:
                enrolment = reset_credentials(session, email, by=self.ACTOR)
            assert enrolment.password is not None
            person = Person(email, enrolment.password, totp_secret_of(enrolment.totp_uri))
            try:
                self.sessions[role] = GateSession(self.ui_url, person).sign_in()
            except GateRefused as exc:
                raise DemoError(str(exc)) from None
            new = f": {enrolment.password}" if person.totp_secret is None else ""
            self.say(f"signed in as {email} ({label}), with a new password{new}")
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

    def answer_item(self, reference: str, ref: ItemRef, given: DemoAnswer) -> None:
        """Answer an item on its page as the person ``given`` says, as the browser does ("no involvement" is its
        own button)."""
        path = item_path(reference, ref)
        posted = form_fields.as_posted(given.form, given.posted) if given.posted else {}
        button = NO_INVOLVEMENT if given.answer.get("what") == RequestChoice.NO_INVOLVEMENT else "submit"
        try:
            self.signed_in(given.by).answer_task(path, posted, action=button)
        except GateRefused as exc:
            raise DemoError(f"{reference} {ref.label}: the answer was refused on its page: {exc}") from None

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
    """Answer each form the lifecycle asks for, each as the person whose step it is, until the review is closed; and
    each agency's request and each action as the demo's people do, beside the review's own steps."""
    for _ in range(max_steps):
        stage = review_state(reference).stage
        if stage in TERMINAL:
            say(f"{reference}: {stage.value}")
            return stage
        answer_items(reference, people, say)
        if stage in WAITS_FOR_ACTIONS:  # every action closed: the review closes by itself
            wait_for_stage(reference, TERMINAL)
            continue
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


# --- the work around the review -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenItem:
    ref: ItemRef
    agency: str
    at_rapid_review: bool
    seq: int


def open_items(reference: str) -> list[OpenItem]:
    """The review's requests and actions still open, with the agency of each and its answer counter."""
    with transaction() as session:
        review = review_by_reference(session, reference)
        requests = session.exec(
            select(
                InformationRequest.number, Agency.name, InformationRequest.asked_at_stage, InformationRequest.answer_seq
            )
            .join(Agency, col(Agency.id) == col(InformationRequest.agency_id))
            .where(InformationRequest.review_id == review.id, request_is_open())
        ).all()
        actions = session.exec(
            select(Action.number, Agency.name, Action.answer_seq)
            .join(Agency, col(Agency.id) == col(Action.agency_id))
            .where(Action.review_id == review.id, action_is_open())
        ).all()
    found = [OpenItem(ItemRef(ItemKind.REQUEST, n), a, s == Stage.RAPID_REVIEW, q) for n, a, s, q in requests]
    return found + [OpenItem(ItemRef(ItemKind.ACTION, n), a, False, q) for n, a, q in actions]


def answer_items(reference: str, people: AtTheGate, say: Callable[[str], None]) -> None:
    """Answer each open request and action as the demo's people do (models/work/demo.py), each once its run waits,
    each answer seen recorded before the next."""
    for item in sorted(open_items(reference), key=lambda i: i.ref):
        if item.ref.kind is ItemKind.REQUEST:
            answer = request_answer(item.ref.number, item.agency, item.at_rapid_review)
            answers = [answer] if answer is not None else []
        else:
            answers = action_answers(item.ref.number, item.agency)
        seq = item.seq
        for given in answers:
            suspended_item_run(reference, item.ref)
            people.answer_item(reference, item.ref, given)
            seq = wait_for_item_answer(reference, item.ref, seq)
            said = given.answer.get("status") or given.answer.get("verdict") or given.answer["what"]
            say(f"{reference}: {item.ref.label} ({item.agency}): {said}, by {_who(given.by)}")


def _who(by: Role | str) -> str:
    return by.label if isinstance(by, Role) else f"{by}'s contact"


def suspended_item_run(reference: str, ref: ItemRef, timeout: float = 180) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["work", f"item:{reference}:{ref}"]))
            )
        for run in runs:
            if is_suspended(run):
                return run
        time.sleep(0.5)
    raise DemoError(f"no run of {reference} {ref.label} was waiting for an answer within {timeout:.0f}s")


def wait_for_item_answer(reference: str, ref: ItemRef, seq: int, timeout: float = 180) -> int:
    """Wait until the item's run has dealt with the answer given at ``seq``; its counter now."""
    table: Any = InformationRequest if ref.kind is ItemKind.REQUEST else Action
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction() as session:
            review = review_by_reference(session, reference)
            now = session.exec(
                select(table.answer_seq).where(table.review_id == review.id, table.number == ref.number)
            ).one()
        if now > seq:
            return int(now)
        time.sleep(0.3)
    raise DemoError(f"{reference} {ref.label}: the answer was not recorded within {timeout:.0f}s")


def wait_for_stage(reference: str, stages: frozenset[Stage], timeout: float = 180) -> Stage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stage = review_state(reference).stage
        if stage in stages:
            return stage
        time.sleep(0.5)
    raise DemoError(f"{reference} did not reach {', '.join(sorted(stages))} within {timeout:.0f}s")
