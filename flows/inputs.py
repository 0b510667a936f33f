"""The forms people fill in the Prefect UI: each step's form (models/process/steps/) as a Prefect ``RunInput``.

``ask`` suspends the run on a form and returns the answer exactly as Prefect stored it, with who gave it. The server
checks the answer against the form's JSON schema when it is submitted (types, required fields, lengths, choices), so
those mistakes are refused in the UI and the run stays suspended; the rules that need the case (dates in order, who
has signed) are checked by the lifecycle, which asks again with the reason shown above the form.

Who gave an answer travels beside it: before passing an answer on, the gate stores the signed-in person, signed with
its key together with the digest of that very answer, as another input of the run (gate/app.py; models/identity.py);
``signed_by`` reads it and checks it against the answer Prefect stored, the one then recorded. A sign-in stored over
it for another answer (someone else sending an answer the form refused) fails that check: the answer is refused.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import pydantic
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import delete_flow_run_input, read_flow_run_input
from prefect.input.run_input import Keyset, keyset_from_base_key
from prefect.runtime import flow_run

from models import forms, identity
from models.forms import FormModel
from models.identity import SUSPENDED, Identity
from models.process import STEPS
from models.stages import Stage
from models.system_credentials import gate_key
from models.tables import utcnow
from models.work.items import ItemKind
from models.work.kinds import WORK
from tasks.runs import forget_inputs


def as_run_input(form: type[FormModel]) -> type[RunInput]:
    # a class made at run time from two bases, which mypy cannot follow: it is told what the class is
    model = cast(type[RunInput], pydantic.create_model(form.__name__, __base__=(RunInput, form)))
    model.__doc__ = form.__doc__
    return model


FORMS: dict[Stage, type[RunInput]] = {stage: as_run_input(step.form) for stage, step in STEPS.items()}
ITEM_FORMS: dict[ItemKind, type[RunInput]] = {kind: as_run_input(work.form) for kind, work in WORK.items()}
IDENTITY = as_run_input(forms.Identity)
IDENTITY_TO_FOLLOW = as_run_input(forms.IdentityToFollow)
IDENTITY_UNBORN = as_run_input(forms.UnbornIdentity)  # an unborn child's: the mother's, and the expected date


def _keyset(key: str) -> Keyset:
    return keyset_from_base_key(f"{SUSPENDED}{key}")


def _stored(key: str) -> set[str]:
    """Every input this run keeps for form ``key``: Prefect's own, and who answered it."""
    return {*_keyset(key).values(), identity.input_key(key)}


@dataclass(frozen=True)
class Answer:
    """An answer to a form, and who gave it."""

    data: dict[str, Any]  # exactly as Prefect stored it: the answer the gate signed, and the one to record
    signer: Identity | str  # who gave it, as the gate signed it; or why that cannot be trusted


def ask(form: type[RunInput], key: str, description: str) -> Answer | None:
    """Suspend until someone answers ``form`` (no timeout: a review waits as long as people need), then return the
    answer as Prefect stored it, never Prefect's model of it (which fills in defaults and converts values, so it is
    not what was signed), with who gave it. ``None`` when the answer was removed after being dealt with (a replay)."""
    with suppress(pydantic.ValidationError):  # it passed the schema but not a cross-field rule: refused on recording
        suspend_flow_run(wait_for_input=form.with_initial_data(description=description), key=key, timeout=None)
    stored = read_flow_run_input(_keyset(key)["response"])
    if not isinstance(stored, dict):
        return None
    return Answer(stored, signed_by(key, stored))


def signed_by(key: str, stored: object) -> Identity | str:
    """Who gave ``stored``, this run's answer to form ``key`` as Prefect stored it, as the gate signed it; or, when it
    cannot be trusted (no signature: the answer did not pass the gate; forged; expired; made for another run, form or
    answer), why not."""
    token = read_flow_run_input(identity.input_key(key))
    return identity.who_answered(
        gate_key(), token, run_id=str(flow_run.id), form_key=key, answer=identity.answer_digest(stored), now=utcnow()
    )


def forget(key: str) -> None:
    """Delete a form's answer, schema and description, and who gave it, from Prefect once the project database holds
    what matters: answers may carry personal data, and Prefect's database is not the place for it."""
    for stored in _stored(key):
        with suppress(ObjectNotFound, PrefectHTTPStatusError):  # absent already (a replay)
            delete_flow_run_input(stored)


def forget_all_but(key: str | None) -> None:
    """Delete every form this run stored except the one for ``key``."""
    forget_inputs(None, keep=_stored(key) if key else set())


def forget_runs(run_ids: list[UUID]) -> None:
    """Delete every form left by runs that ended: a run that died between saving an answer and forgetting it
    leaves nothing behind once its review runs again."""
    for run_id in run_ids:
        forget_inputs(run_id)
