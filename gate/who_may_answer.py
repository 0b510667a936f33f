"""Before a form's answer reaches Prefect: may this person answer the step the run waits for, and in which role?

The gate asks the project's register (never the run's tags, which the run itself writes): a lifecycle run waits for
its review's current step, whose roles are in the process table; the notification's identity step waits for a
coordinator of the partnership notified. The lifecycle checks the signed answer again when it records it, on the day
it records it, so this is the early, clear refusal rather than the only one.

The gate signs who answered together with the answer's digest, of the answer as Prefect will store it (as_stored):
the lifecycle takes an answer only with a sign-in given for that very answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from prefect.utilities.schema_tools.hydration import HydrationContext, HydrationError, Placeholder, hydrate
from sqlmodel import Session

from models import identity
from models.accounts import roles_in
from models.identity import SUSPENDED
from models.process import STEPS, step_key
from models.refusals import Refused
from models.review.lookup import UnknownPartnership, UnknownReview, partnership_by_code, review_by_reference
from models.roles import Role
from models.stages import Stage
from models.tables import Partnership


@dataclass(frozen=True)
class Waiting:
    """What a suspended run waits for, as its Prefect record says."""

    run_id: str
    form_key: str
    parameters: dict[str, Any]

    @property
    def readable_keys(self) -> frozenset[str]:
        """The inputs a person who may answer reads: the form's schema and the text above it, never an answer."""
        return frozenset({f"{SUSPENDED}{self.form_key}-schema", f"{SUSPENDED}{self.form_key}-description"})


ANSWERED_ALREADY = (
    "this step has been answered already, or the review has moved on, so nothing of yours was recorded; reload the "
    "page to see where it stands"
)


class AnswerRefused(Refused):
    """The person may not answer this run's form; ``str()`` says why and what to do."""


def waiting(flow_run: dict[str, Any]) -> Waiting:
    """The form a flow run (as Prefect's API returns it) waits for; AnswerRefused if it waits for none."""
    state = flow_run.get("state") or {}
    keyset = (state.get("state_details") or {}).get("run_input_keyset") or {}
    response = str(keyset.get("response", ""))
    if state.get("type") != "PAUSED" or not response.startswith(SUSPENDED):
        raise AnswerRefused(ANSWERED_ALREADY)
    form_key = response.removeprefix(SUSPENDED).removesuffix("-response")
    return Waiting(str(flow_run["id"]), form_key, dict(flow_run.get("parameters") or {}))


NOT_A_STEP = "this run is not one of a review's steps; nobody answers it through a form"


def _step_roles(session: Session, run: Waiting) -> tuple[Partnership, frozenset[Role]]:
    if "reference" not in run.parameters:  # notify-incident: the children's identities, from a coordinator
        notification = run.parameters.get("notification") or {}
        try:
            partnership = partnership_by_code(session, str(notification.get("partnership", "")))
        except UnknownPartnership:
            raise AnswerRefused(NOT_A_STEP) from None
        return partnership, frozenset({Role.COORDINATOR})
    try:
        review = review_by_reference(session, str(run.parameters["reference"]))
    except UnknownReview:
        raise AnswerRefused(NOT_A_STEP) from None
    step = STEPS.get(Stage(review.stage))
    if step is None:
        raise AnswerRefused(NOT_A_STEP)
    if step_key(review) != run.form_key:
        raise AnswerRefused(
            "this form has been answered already, or the review has moved on; reload the page to see the form that "
            "waits now"
        )
    return session.get_one(Partnership, review.partnership_id), step.roles


def answering_roles(session: Session, run: Waiting, person_id: str, name: str) -> frozenset[Role]:
    """The roles in which the person may answer the run's step (a sign-off's form says which partner); refused if
    none."""
    partnership, wanted = _step_roles(session, run)
    held = roles_in(session, person_id, partnership) & wanted
    if not held:
        who = " or ".join(sorted(role.label for role in wanted))
        raise AnswerRefused(
            f"{name}, you are not registered as a {who} of {partnership.name}, so you cannot answer this step and "
            "nothing was recorded. If you should, ask the partnership's cspr operator to register you"
        )
    return held


# --- what the gate signs ----------------------------------------------------------------------------------------

TEMPLATED = (
    "a form's answer is taken only as given in the form's fields, not from a template or a workspace variable, and "
    "nothing was recorded. Give each field's value itself and submit the form again"
)


def as_stored(body: bytes) -> object:
    """The answer in the body of ``POST /api/flow_runs/{id}/resume`` (``{"run_input": {...}}``) as Prefect will store
    it, and the flow read it back (flows/inputs.py): the value whose digest the gate signs. None when Prefect will
    store nothing; AnswerRefused for an answer Prefect would fill in on the server.

    Prefect's resume route (prefect/server/api/flow_runs.py, and its hydration: unchanged from 3.8.4 to 3.9.1) takes
    ``run_input`` as parsed by ``json.loads`` (a JSON object, or nothing), hydrates it (a field the UI sends as
    ``{"__prefect_kind": "json", "value": "<JSON text>"}`` becomes the value parsed; ``"none"`` unwraps its value; a
    field hydrating to nothing is dropped), checks it against the form's schema without changing it (no defaults are
    filled in), and stores ``orjson.dumps`` of it, unless it is empty; the flow reads it back with ``orjson.loads``.
    The same steps here, with Prefect's own hydration, give the same value. Jinja templates and workspace variables,
    which the server would render from its own state, are refused: an answer is what the person gave."""
    try:
        sent = json.loads(body)
    except ValueError:
        return None  # Prefect refuses a body that is not JSON
    run_input = sent.get("run_input") if isinstance(sent, dict) else None
    if not isinstance(run_input, dict):
        return None  # refused by Prefect's API (not an object), or resumed with no answer: nothing stored
    try:
        hydrated = hydrate(run_input, HydrationContext(raise_on_error=True))
    except HydrationError:
        return None  # refused by Prefect (invalid JSON in a JSON field, an invalid template)
    if _templated(hydrated):
        raise AnswerRefused(TEMPLATED)
    if not hydrated:
        return None  # Prefect stores an empty answer not at all
    try:
        return orjson.loads(orjson.dumps(hydrated))  # NaN and infinity become null, as Prefect stores them
    except orjson.JSONEncodeError:
        return None  # Prefect fails to store it (an integer over 64 bits, a lone surrogate)


def answer_to_sign(body: bytes) -> str:
    """The digest of the answer in a resume request's ``body`` as Prefect will store it (as_stored), for
    models.identity.sign's ``answer``: the lifecycle takes the answer only if the one it reads back has this digest.
    AnswerRefused for an answer Prefect would fill in on the server (a template, a workspace variable)."""
    return identity.answer_digest(as_stored(body))


def _templated(value: object) -> bool:
    """Whether a hydrated answer still holds a Jinja template or a workspace variable (a hydration placeholder)."""
    if isinstance(value, Placeholder):
        return True
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False
