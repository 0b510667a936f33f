"""Checking an answer before it is sent: the lifecycle's own checks, by the lifecycle's own code, then undone.

The tasks page checks a person's answer on Submit, so that a refusal is shown at once beside the form rather than
after the run has resumed, recorded the refusal and asked again. To agree with the lifecycle on every answer, the check
is not a copy of its rules: it is ``apply_answer`` itself (models/answers.py: the form's rules, who may answer, the
step's rules that read the record), run in a transaction that is always rolled back. Nothing is written: not the
decision, not the move, not the refusal, not even the answer counter, so the form's key stays the one Prefect waits
on.

The step handlers sign the review's audit head and seal free text under the review's data key, so a check needs the
keys a worker holds. It runs in the checker's process (cli/checker_commands.py), never in the gate's, which holds no
such key (cli/system.py ``SERVER_NEVER_HOLDS``). Checks that are made outside the database (the redaction gate, which
renders the report) live in ``tasks/``, which this layer cannot import: the checker makes them and passes what they
say as ``refusal``, as the lifecycle does.

While a check runs it holds what the handler would lock (on SQLite the database's write lock, on PostgreSQL the
review's rows) until the rollback: a few milliseconds, as for any answer recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from models import review_keys
from models.answers import Outcome, apply_answer
from models.identity import Identity
from models.process import STEPS, step_key
from models.review.lookup import UnknownReview, review_by_reference
from models.review.transitions import StaleStage
from models.stages import Stage

# The run a check's token names (models/identity.py ``sign``): no lifecycle run has it (theirs are UUIDs), so a token
# the gate signs for a check can never carry an answer into a run.
CHECK_RUN_ID = "check"

MOVED_ON = (
    "this step has been answered already, or the review has moved on since the form was opened, so your answer was "
    "not sent. Open your tasks page again to see what is waiting for you now"
)
NOT_WAITING = "this review is not waiting for an answer from anyone just now, so your answer was not sent"


def check_answer(
    session: Session,
    reference: str,
    key: str,
    data: dict[str, Any],
    signer: Identity,
    *,
    today: dt.date | None = None,
    at: dt.datetime | None = None,
    refusal: str | None = None,
) -> Outcome:
    """What the lifecycle would say to ``data``, given by ``signer`` to the form ``key`` of review ``reference``,
    if it were recorded now; nothing is written. ``refusal`` is what a check made outside the database says (the
    redaction gate), as the lifecycle passes it to ``apply_answer``.

    The session's work is rolled back on the way out: if it was in a transaction already, only what the check did
    (to a savepoint); otherwise the whole transaction the check began. A key the review has moved past is refused
    (the lifecycle would ignore the answer as applied already, which the person must not read as accepted)."""
    began = None if session.in_transaction() else session.begin()
    undo = session.begin_nested()
    try:
        return _check(session, reference, key, data, signer, today=today, at=at, refusal=refusal)
    finally:
        if undo.is_active:
            undo.rollback()
        if began is not None and began.is_active:
            began.rollback()
        review_keys.forget(session)  # a data key made for writing, and rolled back, must not be remembered


def _check(
    session: Session,
    reference: str,
    key: str,
    data: dict[str, Any],
    signer: Identity,
    *,
    today: dt.date | None,
    at: dt.datetime | None,
    refusal: str | None,
) -> Outcome:
    try:
        review = review_by_reference(session, reference)
    except UnknownReview as exc:
        return Outcome(False, str(exc))
    if key != step_key(review):
        return Outcome(False, MOVED_ON)
    if Stage(review.stage) not in STEPS:  # a key made up for a stage nobody answers: the lifecycle never asks it
        return Outcome(False, NOT_WAITING)
    try:
        outcome = apply_answer(session, review, key, data, signer=signer, at=at, today=today, refusal=refusal)
    except StaleStage:  # another answer moved the review on while this one was being checked
        return Outcome(False, MOVED_ON)
    if outcome.already_applied:
        return Outcome(False, MOVED_ON)
    return outcome
