"""The process table: every step of a review declares each of its parts in its one place, and whatever is derived
from the table (the Prefect forms, the demo's answers, the documents) covers every step."""

from __future__ import annotations

import dataclasses

import pytest

from cli.demo import ANSWERS, Case
from flows.inputs import FORMS
from models import handlers
from models.documents import CALLED_FOR_BY, DocumentKind
from models.forms import FormModel
from models.roles import Role
from models.rulebook import Entry, editions
from models.stages import Stage, Transition
from models.steps import AUTOMATIC, STEPS, ProcessError, Step, check_process


@pytest.mark.parametrize("stage", list(STEPS), ids=str)
def test_every_step_declares_each_of_its_parts(stage: Stage) -> None:
    step = STEPS[stage]
    assert issubclass(step.form, FormModel)
    assert getattr(handlers, step.handler.__name__) is step.handler
    assert step.roles and step.roles <= set(Role)
    assert step.title.strip() and step.guidance.strip() and step.slug.strip()
    assert step.deadline is None or step.deadline in set(Entry)
    for edition in editions():  # a deadline shown above the form exists in every edition
        assert step.deadline is None or step.deadline in edition.entry_names
    assert all(isinstance(kind, DocumentKind) for kind in step.documents)
    # what is derived from the table covers the step
    assert FORMS[stage].model_json_schema()["properties"].keys() == step.form.model_json_schema()["properties"].keys()
    step.form.model_validate(ANSWERS[stage](Case(), 1 if stage is Stage.REVIEW_UNDER_WAY else 0))


def test_every_document_is_produced_by_a_step() -> None:
    declared = {kind for step in STEPS.values() for kind in step.documents}
    assert declared == set(DocumentKind) == set(CALLED_FOR_BY)


def test_run_names_are_unique_per_step() -> None:
    slugs = {step.slug: step.stage for step in STEPS.values()}
    assert set(slugs) == {s.slug for s in STEPS.values()}
    assert len(slugs) == len(STEPS) - 1  # the two "actions" stages share their step


def _without(stage: Stage, **change: object) -> dict[Stage, Step]:
    return {**STEPS, stage: dataclasses.replace(STEPS[stage], **change)}


@pytest.mark.parametrize(
    ("table", "automatic", "complaint"),
    [
        ({s: step for s, step in STEPS.items() if s is not Stage.COMMISSIONING}, AUTOMATIC, "without exactly one way"),
        (STEPS, {**AUTOMATIC, Stage.RAPID_REVIEW: Transition.RECORD_RAPID_REVIEW}, "without exactly one way"),
        (_without(Stage.AWAITING_PANEL, roles=frozenset()), AUTOMATIC, "has no roles"),
        (_without(Stage.AWAITING_PANEL, guidance=" "), AUTOMATIC, "has no guidance"),
        (_without(Stage.RAPID_REVIEW, handler=handlers.sign_off), AUTOMATIC, "does not take its form"),
        (_without(Stage.QUALITY_ASSURANCE, documents=()), AUTOMATIC, "its moves call for"),
        (_without(Stage.RAPID_REVIEW, documents=(DocumentKind.RAPID_REVIEW,)), AUTOMATIC, "its moves call for"),
        (STEPS, {**AUTOMATIC, Stage.NO_REVIEW: Transition.PUBLISH}, "not a move out of it"),
    ],
    ids=["stage-missing", "two-ways", "roles", "guidance", "handler", "documents-missing", "documents-extra", "auto"],
)
def test_a_step_lacking_a_part_is_refused(
    table: dict[Stage, Step], automatic: dict[Stage, Transition], complaint: str
) -> None:
    with pytest.raises(ProcessError, match=complaint):
        check_process(table, automatic)
