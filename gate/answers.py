"""Before a form's answer reaches Prefect: may this person answer the step the run waits for, and in which role?

The gate asks the project's register (never the run's tags, which the run itself writes): a lifecycle run waits for
its review's current step, whose roles are in the process table; the notification's identity step waits for a
coordinator of the partnership notified. The lifecycle checks the signed answer again when it records it, on the day
it records it, so this is the early, clear refusal rather than the only one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from models import steps
from models.accounts import roles_in
from models.identity import SUSPENDED
from models.records import UnknownPartnership, UnknownReview, partnership_by_code, review_by_reference
from models.roles import Role
from models.stages import Stage
from models.tables import Partnership


@dataclass(frozen=True)
class Waiting:
    """What a suspended run waits for, as its Prefect record says."""

    run_id: str
    form_key: str
    parameters: dict[str, Any]


class AnswerRefused(ValueError):
    """The person may not answer this run's form; ``str()`` says why and what to do."""


def waiting(flow_run: dict[str, Any]) -> Waiting:
    """The form a flow run (as Prefect's API returns it) waits for; AnswerRefused if it waits for none."""
    state = flow_run.get("state") or {}
    keyset = (state.get("state_details") or {}).get("run_input_keyset") or {}
    response = str(keyset.get("response", ""))
    if state.get("type") != "PAUSED" or not response.startswith(SUSPENDED):
        raise AnswerRefused("this run is not waiting for an answer any more; reload the page to see where it stands")
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
    step = steps.STEPS.get(Stage(review.stage))
    if step is None:
        raise AnswerRefused(NOT_A_STEP)
    if steps.step_key(review) != run.form_key:
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
