"""The process table: every step of a review declares each of its parts in its one place (its own module), and
whatever is derived from the table (the Prefect forms, the demo's answers, the documents) covers every step."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy

from flows.inputs import FORMS
from models.documents import CALLED_FOR_BY, DocumentKind
from models.forms import FormModel
from models.process import AUTOMATIC, STEPS, AutomaticStage, ProcessError, Step, check_process
from models.process.demo_case import Case
from models.process.steps.publication import AFTER_PUBLICATION
from models.roles import Role
from models.rulebook import Entry, editions
from models.stages import Stage, Transition

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", list(STEPS), ids=str)
def test_every_step_declares_each_of_its_parts(stage: Stage) -> None:
    step = STEPS[stage]
    assert issubclass(step.form, FormModel)
    # its form, its handler and its demo answer live in its own module
    assert step.form.__module__.startswith("models.process.steps.")
    assert step.handler.__module__ == step.demo.__module__ == step.form.__module__
    assert step.roles and step.roles <= set(Role)
    assert step.title.strip() and step.guidance.strip() and step.slug.strip()
    assert step.deadline is None or step.deadline in set(Entry)
    # a deadline shown above the form is given by some edition (one that does not give it shows none)
    assert step.deadline is None or any(edition.defines(step.deadline) for edition in editions())
    assert all(isinstance(kind, DocumentKind) for kind in step.documents)
    # what is derived from the table covers the step
    assert FORMS[stage].model_json_schema()["properties"].keys() == step.form.model_json_schema()["properties"].keys()
    step.form.model_validate(step.demo(Case(), 1 if stage is Stage.REVIEW_UNDER_WAY else 0))


def test_every_document_is_produced_by_a_step() -> None:
    declared = {kind for step in STEPS.values() for kind in step.documents}
    assert declared == set(DocumentKind) == set(CALLED_FOR_BY)


def test_what_is_published_is_read_from_the_state_machine() -> None:
    """The stages whose documents are kept as published (tasks/archive.py): every stage a publication leads to."""
    assert {Stage.PUBLISHED, Stage.IMPROVEMENTS_PUBLISHED, Stage.ACTIONS_UNDER_WAY, Stage.CLOSED} == AFTER_PUBLICATION


def test_run_names_are_unique_per_step() -> None:
    slugs = {step.slug: step.stage for step in STEPS.values()}
    assert set(slugs) == {s.slug for s in STEPS.values()}
    assert len(slugs) == len(STEPS) - 1  # the two "actions" stages share their step


def _without(stage: Stage, **change: object) -> dict[Stage, Step[Any]]:
    return {**STEPS, stage: dataclasses.replace(STEPS[stage], **change)}


@pytest.mark.parametrize(
    ("table", "automatic", "complaint"),
    [
        ({s: step for s, step in STEPS.items() if s is not Stage.COMMISSIONING}, AUTOMATIC, "without exactly one way"),
        (
            STEPS,
            {**AUTOMATIC, Stage.RAPID_REVIEW: AutomaticStage(Stage.RAPID_REVIEW, Transition.RECORD_RAPID_REVIEW)},
            "without exactly one way",
        ),
        (_without(Stage.AWAITING_PANEL, roles=frozenset()), AUTOMATIC, "has no roles"),
        (_without(Stage.AWAITING_PANEL, guidance=" "), AUTOMATIC, "has no guidance"),
        (_without(Stage.QUALITY_ASSURANCE, documents=()), AUTOMATIC, "its moves call for"),
        (_without(Stage.RAPID_REVIEW, documents=(DocumentKind.RAPID_REVIEW,)), AUTOMATIC, "its moves call for"),
        (STEPS, {**AUTOMATIC, Stage.NO_REVIEW: AutomaticStage(Stage.NO_REVIEW, Transition.PUBLISH)}, "not a move out"),
    ],
    ids=["stage-missing", "two-ways", "roles", "guidance", "documents-missing", "documents-extra", "auto"],
)
def test_a_step_lacking_a_part_is_refused(
    table: dict[Stage, Step[Any]], automatic: dict[Stage, AutomaticStage], complaint: str
) -> None:
    with pytest.raises(ProcessError, match=complaint):
        check_process(table, automatic)


def test_a_step_whose_handler_does_not_take_its_form_is_refused_by_mypy(tmp_path: Path) -> None:
    """The rapid review's form with the sign-off's handler is refused where the step is built, by the type checker
    (``make test`` runs it); the same step with its own handler passes."""
    built = tmp_path / "built.py"
    built.write_text(
        textwrap.dedent(
            """
            from models.process.step import Step
            from models.process.steps import rapid_review, sign_off

            PARTS = rapid_review.STEP
            MATCHED = Step(
                stage=PARTS.stage, form=rapid_review.RapidReview, slug=PARTS.slug, title=PARTS.title,
                roles=PARTS.roles, guidance=PARTS.guidance, deadline=PARTS.deadline, documents=PARTS.documents,
                demo=PARTS.demo,
                handler=rapid_review.handle,
            )
            MISMATCHED = Step(
                stage=PARTS.stage, form=rapid_review.RapidReview, slug=PARTS.slug, title=PARTS.title,
                roles=PARTS.roles, guidance=PARTS.guidance, deadline=PARTS.deadline, documents=PARTS.documents,
                demo=PARTS.demo,
                handler=sign_off.handle,
            )
            """
        )
    )
    out, _, status = mypy.run(["--config-file", str(PROJECT_ROOT / "pyproject.toml"), "--no-error-summary", str(built)])
    refused = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1 and len(refused) == 1, out
    assert built.read_text().splitlines()[int(refused[0].split(":")[1]) - 1].strip() == "handler=sign_off.handle,"
    assert 'Argument "handler" to "Step" has incompatible type' in refused[0], out
