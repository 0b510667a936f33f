"""The publication timer: a scheduled run of the lifecycle at 07:00 London time on the 7th working day after
the final report went to the Panel and the Secretary of State, on a real Prefect server."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cli.demo import Case, review_state
from cli.system import LocalSystem
from flows.deadline_sweep import deadline_sweep
from models.calendar import calendar_for, today_in_england
from models.stages import Stage
from tests.utils import inprocess
from tests.utils.api import service_api


def test_publication_is_scheduled_on_the_seventh_working_day(deployed: LocalSystem) -> None:
    sent = today_in_england()
    case = Case(pseudonym="Child Timer", report_sent_on=sent)
    reference, _ = inprocess.notify(case)
    inprocess.answer_until(reference, case, Stage.AWAITING_PUBLICATION)
    inprocess.advance(reference)
    timers = [r for r in inprocess.runs_for(reference) if "timer" in r.tags]
    assert len(timers) == 1
    timer = timers[0]
    assert timer.state is not None and timer.state.is_scheduled()
    due = calendar_for().add(sent, 7)
    expected = dt.datetime.combine(due, dt.time(7), tzinfo=ZoneInfo("Europe/London"))
    assert timer.expected_start_time == expected
    assert timer.parameters == {"reference": reference}
    assert timer.name.startswith(reference)
    # the key carries the answer counter the wait began at: a later wait at the same stage gets a timer of its own
    counter = review_state(reference).step_seq
    assert counter > 0
    key = f"{reference}:timer:{Stage.AWAITING_PUBLICATION}:{counter}:{due.isoformat()}"
    assert timer.idempotency_key == key
    # the run that set the timer has ended; nothing is waiting on a person
    assert [r for r in inprocess.runs_for(reference) if r.state is not None and r.state.is_paused()] == []

    # a lost timer (someone deleted the scheduled run): the next sweep notices and schedules it again
    service_api(deployed).delete(f"/flow_runs/{timer.id}").raise_for_status()
    deadline_sweep()
    again = [r for r in inprocess.runs_for(reference) if "timer" in r.tags]
    assert len(again) == 1 and again[0].id != timer.id
    assert again[0].expected_start_time == expected and again[0].state is not None and again[0].state.is_scheduled()
    assert again[0].idempotency_key == key  # restored as the lifecycle would have set it
    deadline_sweep()  # and only once
    assert len([r for r in inprocess.runs_for(reference) if "timer" in r.tags]) == 1
