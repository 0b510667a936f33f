"""Replay safety: a lifecycle run that dies mid-stage, run again (and again), repeats nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.deployments import run_deployment
from sqlmodel import Session, select

import flows.review_lifecycle as lifecycle
from cli.demo import Case, review_state
from cli.system import LocalSystem
from models.calendar import today_in_england
from models.db import get_engine
from models.review.lookup import review_by_reference
from models.review.transitions import history
from models.roles import Role
from models.stages import Stage
from models.tables import Outbox
from tasks.notices import outbox_folder
from tasks.runs import LIFECYCLE_DEPLOYMENT
from tests.utils import inprocess
from tests.utils.answering import submit


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the flow can catch it."""


def test_a_run_killed_after_recording_an_answer_repeats_nothing_when_run_again(
    deployed: LocalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = Case(pseudonym="Child Replay", report_sent_on=today_in_england())
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.REPORT_APPROVED)

    # The answer is recorded, then the process dies before the outbox is delivered or the form forgotten.
    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    run = inprocess.suspended_run(reference)
    submit(run, case.answer(Stage.REPORT_APPROVED), Role.COORDINATOR)
    monkeypatch.setattr(lifecycle, "forget", die)
    with pytest.raises(Killed):
        inprocess.execute(run.id)
    monkeypatch.undo()
    assert review_state(reference).stage is Stage.AWAITING_PUBLICATION

    # An operator (or a retry) runs the lifecycle again, twice.
    for _ in range(2):
        again = run_deployment(LIFECYCLE_DEPLOYMENT, parameters={"reference": reference}, timeout=0)
        state = inprocess.execute(again.id)
        assert state.is_completed(), state  # it scheduled the publication timer and ended

    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        moves = [e.transition for e in history(session, review.id)]
        messages = session.exec(select(Outbox).where(Outbox.review_id == review.id)).all()
    assert len(moves) == len(set(moves)), f"a stage event was repeated: {moves}"
    assert moves.count("send_final_report") == 1
    keys = [(m.purpose, m.recipient) for m in messages]
    assert len(keys) == len(set(keys))
    assert sorted(r for p, r in keys if p == "final_report") == ["panel", "secretary_of_state"]
    assert all(m.sent_at is not None for m in messages)
    files = sorted(p.name for p in Path(outbox_folder()).glob(f"{reference}--final_report--*.txt"))
    assert files == [f"{reference}--final_report--panel.txt", f"{reference}--final_report--secretary_of_state.txt"]
    timers = [r for r in inprocess.runs_for(reference) if "timer" in r.tags]
    assert len(timers) == 1, "one publication timer, however often the lifecycle runs"
    assert timers[0].state is not None and timers[0].state.is_scheduled()


def test_a_second_live_run_of_the_same_review_stops_without_acting(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Twin")
    reference, _ = inprocess.notify(case)
    waiting = inprocess.suspended_run(reference)
    before = review_state(reference)
    second = run_deployment(LIFECYCLE_DEPLOYMENT, parameters={"reference": reference}, timeout=0)
    state = inprocess.execute(second.id)
    assert state.is_completed()
    assert review_state(reference) == before
    assert inprocess.read(waiting.id).state.is_paused()  # type: ignore[union-attr]
