"""The process table: every step, found in its own module under ``models/process/steps/``, and checked against the
state machine and the documents when it is imported.

Every stage but the last is either a person's step (``STEPS``) or moves on by itself (``AUTOMATIC``), never both. A
new step is a new module there; nothing here names one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from models.documents import CALLED_FOR_BY, DocumentKind
from models.forms import free_text_of
from models.process import steps as step_modules
from models.process.step import AutomaticStage, Step
from models.stages import ALL_ACTIONS_CLOSED, TERMINAL, Stage, allowed_from, transition
from models.work.forms import ActionAnswer, RequestAnswer


class ProcessError(ValueError):
    """The process table is incomplete or contradicts the state machine or the documents."""


def _discover() -> tuple[dict[Stage, Step[Any]], dict[Stage, AutomaticStage]]:
    """Every ``Step`` and ``AutomaticStage`` the step modules declare, in the order of the stages."""
    found: list[Step[Any] | AutomaticStage] = []
    for module in pkgutil.iter_modules(step_modules.__path__):
        declared = vars(importlib.import_module(f"{step_modules.__name__}.{module.name}")).values()
        found += [d for d in declared if isinstance(d, Step | AutomaticStage) and all(d is not f for f in found)]
    order = list(Stage)
    found.sort(key=lambda d: order.index(d.stage))
    twice = sorted({d.stage for d in found if sum(f.stage is d.stage for f in found) > 1})
    if twice:
        raise ProcessError(f"stages declared by more than one step: {twice}")
    people = {d.stage: d for d in found if isinstance(d, Step)}
    machine = {d.stage: d for d in found if isinstance(d, AutomaticStage)}
    return people, machine


def documents_called_for(stage: Stage) -> frozenset[DocumentKind]:
    """The documents that a move out of ``stage`` calls for (models/documents.py)."""
    moves = {move.name for move in allowed_from(stage)}
    return frozenset(kind for kind, by in CALLED_FOR_BY.items() if by & moves)


def check_process(steps: Mapping[Stage, Step[Any]], automatic: Mapping[Stage, AutomaticStage]) -> None:
    """Every stage but the last is answered by a person or moves by itself, never both; every step declares each of
    its parts, and exactly the documents its moves call for; every automatic move is a move out of its stage. (That
    a step's handler takes its form is mypy's to check, where the step is built.)"""
    people, machine = set(steps), set(automatic)
    unowned = set(Stage) - people - machine - TERMINAL
    if unowned or people & machine:
        raise ProcessError(f"stages without exactly one way on: {sorted(unowned | (people & machine))}")
    for stage, step in steps.items():
        if step.stage is not stage:
            raise ProcessError(f"{stage}: the step is filed under another stage ({step.stage})")
        missing = [part for part in ("slug", "title", "guidance") if not getattr(step, part).strip()]
        missing += ["roles"] if not step.roles else []
        if missing:
            raise ProcessError(f"{stage}: the step has no {', '.join(missing)}")
        declared, called = frozenset(step.documents), documents_called_for(stage)
        if declared != called:
            raise ProcessError(f"{stage}: declares documents {sorted(declared)}, its moves call for {sorted(called)}")
    for stage, auto in automatic.items():
        if auto.stage is not stage:
            raise ProcessError(f"{stage}: the automatic move is filed under another stage ({auto.stage})")
        if auto.transition not in {m.name for m in allowed_from(stage)}:
            raise ProcessError(f"{stage}: {auto.transition} is not a move out of it")


STEPS, AUTOMATIC = _discover()
check_process(STEPS, AUTOMATIC)

# The stages where the review waits for its actions to close before it moves on by itself: the run whose answer
# closes the last of them starts the lifecycle again (tasks/work_tasks.py).
WAITS_FOR_ACTIONS: frozenset[Stage] = frozenset(
    stage for stage, auto in AUTOMATIC.items() if ALL_ACTIONS_CLOSED in transition(auto.transition).guards
)

# What models/sealing.py seals inside a decision's details or a return: every free-text field of every step's form,
# and of the forms of the work around a review.
FREE_TEXT = free_text_of([*(step.form for step in STEPS.values()), RequestAnswer, ActionAnswer])
