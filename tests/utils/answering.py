"""Answering a waiting form in the tests that drive the lifecycle in-process: as the demo person whose step it is,
signed with the gate's key exactly as the gate signs a signed-in person's answer (gate/app.py), then passed to
Prefect. Those tests are about what the lifecycle does with a signed answer; the gate's own signing, from a real
sign-in, is tested through it (tests/flows/test_through_the_gate.py, the browser journey, `cspr demo`)."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any
from uuid import UUID

from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import create_flow_run_input, delete_flow_run_input

from gate.who_may_answer import answer_to_sign
from models import identity
from models.db import transaction
from models.identity import Identity
from models.roles import Role
from models.seed import demo_identity
from models.system_credentials import gate_key
from models.tables import utcnow


def sign_answer(run_id: UUID, key: str, person: Identity, answer: object) -> None:
    """Store ``person`` as the one giving ``answer`` (the run input sent to Prefect) to form ``key`` of run
    ``run_id``, signed, as the gate does: over the digest of the answer as Prefect will store it."""
    digest = answer_to_sign(json.dumps({"run_input": answer}).encode())
    token = identity.sign(gate_key(), person, run_id=str(run_id), form_key=key, at=utcnow(), answer=digest)
    stored = identity.input_key(key)
    with suppress(ObjectNotFound, PrefectHTTPStatusError):  # an earlier attempt's, whose answer the schema refused
        delete_flow_run_input(stored, flow_run_id=run_id)
    create_flow_run_input(stored, token, flow_run_id=run_id)


def submit(run: FlowRun, answer: dict[str, Any], role: Role) -> None:
    """Answer the form ``run`` waits for as the demo person acting as ``role``."""
    with transaction() as session:
        person = demo_identity(session, role)
    submit_as(run, answer, person)


def submit_as(run: FlowRun, answer: dict[str, Any], person: Identity) -> None:
    """Answer the form ``run`` waits for as ``person``."""
    assert run.state is not None and run.state.state_details.pause_key, f"{run.name} waits for no form"
    sign_answer(run.id, run.state.state_details.pause_key, person, answer)
    resume_flow_run(run.id, run_input=answer)
