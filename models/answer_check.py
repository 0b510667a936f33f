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

An answer to an item of the work around a review (an agency's return, an action's progress: models/work/) is checked
the same way, by ``apply_item_answer`` undone (``check_item_answer``). And since the gate holds no key, an item's page
gets the item whole, its sealed words included, from here too (``show_item``): to the coordinator and partners of the
review's partnership and to a contact of the item's own agency, and to nobody else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session

from models import review_keys
from models.answers import Outcome, apply_answer
from models.calendar import today_in_england
from models.identity import Identity
from models.process import STEPS, step_key
from models.review.lookup import UnknownReview, review_by_reference
from models.review.transitions import StaleStage
from models.stages import Stage
from models.tables import Action, EvidenceDocument, Partnership, Review
from models.work import evidence
from models.work.answering import apply_item_answer
from models.work.items import ItemRef, Row, Work, item_key, row_of
from models.work.kinds import WORK
from models.your_tasks import item_roles

# The run a check's token names (models/identity.py ``sign``): no lifecycle run has it (theirs are UUIDs), so a token
# the gate signs for a check can never carry an answer into a run.
CHECK_RUN_ID = "check"
# The run a token asking to show an item names: a purpose of its own, so that neither a check's token nor a run's
# answers this, and a token given to show an item checks no answer.
SHOW_RUN_ID = "show"
# The runs the tokens name that store an evidence document with an action's answer, and that open one for its page
# (models/work/evidence.py): purposes of their own, so that no other token stores or opens a document, and neither of
# these checks an answer, shows an item or opens the other's door.
EVIDENCE_RUN_ID = "evidence"
EVIDENCE_OPEN_RUN_ID = "evidence-open"

T = TypeVar("T")

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
    return _undone(session, lambda: _check(session, reference, key, data, signer, today=today, at=at, refusal=refusal))


def _undone(session: Session, check: Callable[[], T]) -> T:
    """``check()``, with everything it wrote rolled back: if the session was in a transaction already, only what the
    check did (to a savepoint); otherwise the whole transaction begun here."""
    began = None if session.in_transaction() else session.begin()
    undo = session.begin_nested()
    try:
        return check()
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


# --- the work around a review ---------------------------------------------------------------------------------------

NO_SUCH_ITEM = "there is no such request or action, or it is not yours to see"
ITEM_MOVED_ON = (
    "this was answered, or changed, since the page was opened, so your answer was not sent. Open the page again to "
    "see where it stands now"
)


def check_item_answer(
    session: Session,
    reference: str,
    item: str,
    key: str,
    data: dict[str, Any],
    signer: Identity,
    *,
    today: dt.date | None = None,
    at: dt.datetime | None = None,
    evidence: EvidenceDocument | None = None,
) -> Outcome:
    """What the item's run would say to ``data``, given by ``signer`` to the form ``key`` of ``item`` ("request-2")
    of review ``reference``, if it were recorded now (``apply_item_answer``); nothing is written. A key the item has
    moved past is refused, as for a step. ``evidence``: the row of an evidence document not stored yet, which ``data``
    names: the check sees it as if it were (it is undone with the rest), so that a document is stored only for an
    answer that would be recorded."""

    def check() -> Outcome:
        if evidence is not None:
            session.add(evidence)
            session.flush()
        return _check_item(session, reference, item, key, data, signer, today=today, at=at)

    return _undone(session, check)


def _check_item(
    session: Session,
    reference: str,
    item: str,
    key: str,
    data: dict[str, Any],
    signer: Identity,
    *,
    today: dt.date | None,
    at: dt.datetime | None,
) -> Outcome:
    try:
        review = review_by_reference(session, reference)
        ref = ItemRef.parse(item)
        row = row_of(session, review, WORK[ref.kind], ref.number)
    except (UnknownReview, ValueError, LookupError):
        return Outcome(False, NO_SUCH_ITEM)
    if key != item_key(ref, row.answer_seq):
        return Outcome(False, ITEM_MOVED_ON)
    outcome = apply_item_answer(
        session, review, WORK[ref.kind], ref.number, key, data, signer=signer, at=at, today=today
    )
    return Outcome(False, ITEM_MOVED_ON) if outcome.already_applied else outcome


def show_item(
    session: Session, reference: str, item: str, person: Identity, *, today: dt.date | None = None
) -> list[str] | None:
    """The item ``item`` ("action-3") of review ``reference`` whole, as markdown lines for its page (``Work.show``:
    its sealed words opened, and the last answer's refusal, as its run shows it), if ``person`` may see it today;
    None when there is no such item or it is not theirs to see (the two are not told apart). Reads only."""
    seen = _seen(session, reference, item, person, today)
    if seen is None:
        return None
    review, work, row = seen
    lines = work.show(session, review, row)
    if row.refusal:
        lines += [f"> **The last answer was not accepted:** {row.refusal}", "> Nothing was changed.", ""]
    return lines


def _seen(
    session: Session, reference: str, item: str, person: Identity, today: dt.date | None
) -> tuple[Review, Work[Any], Row] | None:
    """The review, the item's kind and its row, if ``person`` may see the item today; else None (no such item, or
    not theirs to see: the two are not told apart)."""
    try:
        review = review_by_reference(session, reference)
        ref = ItemRef.parse(item)
        work = WORK[ref.kind]
        row = row_of(session, review, work, ref.number)
    except (UnknownReview, ValueError, LookupError):
        return None
    partnership = session.get_one(Partnership, review.partnership_id)
    if not item_roles(session, person.person_id, partnership, row.agency_id, today or today_in_england()):
        return None
    return review, work, row


def item_evidence(
    session: Session, reference: str, item: str, person: Identity, *, today: dt.date | None = None
) -> EvidenceDocument | None:
    """The evidence document of action ``item`` ("action-3"), for its page's download, if ``person`` may see the
    action (exactly who may see its page: ``show_item``); None when it has none, there is no such action, or it is
    not theirs to see, or the review is erased (its key destroyed, the document cannot be opened: to a person, it is
    gone). Reads only."""
    seen = _seen(session, reference, item, person, today)
    if seen is None or not isinstance(seen[2], Action) or seen[0].erased_on is not None:
        return None
    return evidence.evidence_of(session, seen[2])
