"""Bad input at every form, through Prefect: refused with a clear message, the review unchanged, the step still
waiting for a valid answer (and the reason shown above the form when it is asked again)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from prefect.exceptions import PrefectHTTPStatusError
from prefect.input.actions import read_flow_run_input

from cli.demo import Case, answerer, review_state
from cli.system import LocalSystem
from models.process import STEPS
from models.stages import Stage
from tests.utils import inprocess
from tests.utils.answering import submit
from tests.utils.bad_answers import BAD_ANSWERS

BAD: dict[Stage, list[tuple[dict[str, Any], str]]] = defaultdict(list)
for stage, change, message in BAD_ANSWERS:
    BAD[stage].append((change, message))


def description(run_id: Any, stage: Stage, seq: int) -> str:
    key = f"suspended-{stage.value.replace('_', '-')}-{seq}-description"
    value = read_flow_run_input(key, flow_run_id=run_id)
    return str(value)


@pytest.mark.parametrize("path", ["local", "national"])
def test_every_form_refuses_bad_input_and_keeps_waiting(deployed: LocalSystem, path: str) -> None:
    case = Case(path=path, pseudonym=f"Child F{path[0].upper()}")
    reference, _ = inprocess.notify(case)
    seen: set[Stage] = set()
    checked_server = checked_flow = 0
    for _ in range(40):
        inprocess.advance(reference)
        before = review_state(reference)
        if before.stage is Stage.CLOSED:
            break
        run = inprocess.suspended_run(reference)
        good = case.answer(before.stage)
        person = answerer(before.stage, good)
        # a required field left out: the server refuses it, naming the field; the run stays suspended
        fields = STEPS[before.stage].form.model_fields.items()
        required = next((name for name, field in fields if field.is_required()), None)
        if required is not None:  # (every field of the actions' form may be left out: its own rule says which)
            with pytest.raises(RuntimeError, match=required):
                submit(run, {k: v for k, v in good.items() if k != required}, person)
            assert inprocess.read(run.id).state.is_paused()  # type: ignore[union-attr]
        for change, message in [] if before.stage in seen else BAD[before.stage]:
            if all(good.get(k) == v for k, v in change.items()):
                continue  # on this path that answer is the right one (the Panel did choose a national review)
            run = inprocess.suspended_run(reference)
            state = review_state(reference)
            try:
                submit(run, {**good, **change}, person)
            except PrefectHTTPStatusError as refused:  # the gate: a body over 1 MB is not even read
                assert refused.response.status_code == 413
                assert inprocess.read(run.id).state.is_paused()  # type: ignore[union-attr]
                checked_server += 1
            except RuntimeError as refused:  # the form's schema (types, lengths, choices) said no
                assert "Validation failed" in str(refused) and "Failure reason" in str(refused)
                assert inprocess.read(run.id).state.is_paused()  # type: ignore[union-attr]
                checked_server += 1
            else:  # the schema allowed it; the lifecycle checked it against the case and said no
                inprocess.advance(reference)
                after = review_state(reference)
                assert after.refusal is not None and message in after.refusal
                assert after.stage is state.stage
                waiting = inprocess.suspended_run(reference)
                assert message in description(waiting.id, after.stage, after.step_seq)
                checked_flow += 1
            assert review_state(reference).stage is before.stage
        seen.add(before.stage)
        inprocess.give(reference, good)
        assert review_state(reference).refusal is None
    assert review_state(reference).stage is Stage.CLOSED
    assert checked_server > 0 and checked_flow > 0
