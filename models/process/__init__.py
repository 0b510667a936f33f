"""The process: every step a person answers and every stage that moves on by itself, one module each under
``models/process/steps/``, and what a review waits for at each stage.

- ``step.py``: what a step is (``Step``, typed to its form) and its hooks for what it alone does;
- ``table.py``: ``STEPS`` and ``AUTOMATIC``, found in the step modules and checked against the state machine
  (``models/stages.py``) and the documents; ``FREE_TEXT``, the free-text fields sealed at rest;
- ``next.py``: ``next_action``, what the lifecycle does next, and the description above each form;
- ``demo.py``: the demo's invented case, which answers each step with the step's own ``demo_answer``;
- ``checks.py`` and ``reviewers.py``: what several steps' handlers share.

The forms the Prefect UI shows (``flows/inputs.py``) are derived from ``STEPS``; an answer is applied by
``models/answers.py``.
"""

from models.process.next import (
    Action,
    Automatic,
    Finished,
    WaitForForm,
    WaitForWork,
    WaitUntil,
    deadline_for,
    describe,
    form_key,
    next_action,
    step_key,
)
from models.process.step import COORDINATOR, PANEL, AutomaticStage, Refusal, Step, Wait
from models.process.table import (
    AUTOMATIC,
    FREE_TEXT,
    STEPS,
    WAITS_FOR_ACTIONS,
    ProcessError,
    check_process,
    documents_called_for,
)

__all__ = [
    "AUTOMATIC",
    "COORDINATOR",
    "FREE_TEXT",
    "PANEL",
    "STEPS",
    "WAITS_FOR_ACTIONS",
    "Action",
    "Automatic",
    "AutomaticStage",
    "Finished",
    "ProcessError",
    "Refusal",
    "Step",
    "Wait",
    "WaitForForm",
    "WaitForWork",
    "WaitUntil",
    "check_process",
    "deadline_for",
    "describe",
    "documents_called_for",
    "form_key",
    "next_action",
    "step_key",
]
