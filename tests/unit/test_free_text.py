"""Every field of a form where people may write at length is marked free text, and so is sealed at rest under its
review's key (models/sealing.py): a new long field left unmarked would be stored, and kept after erasure, as typed.
And every field marked free text, in every step's form, wherever the step's module is, is sealed."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, Field, StringConstraints

from models.forms import FREE, FormModel, OptionalText, free_text_of
from models.process import FREE_TEXT, STEPS
from models.sealing import _free_strings
from models.work.kinds import WORK


def _longest(annotation: Any, metadata: list[Any]) -> int:
    found = [m.max_length or 0 for m in metadata if isinstance(m, StringConstraints)]
    for arg in get_args(annotation):
        found.append(_longest(arg, list(getattr(arg, "__metadata__", ()))))
        found += [_longest(a, []) for a in get_args(arg)]
        found += [m.max_length or 0 for m in getattr(arg, "__metadata__", ()) if isinstance(m, StringConstraints)]
    return max(found, default=0)


def _forms() -> list[type[BaseModel]]:
    found, waiting = [], [FormModel]
    while waiting:
        form = waiting.pop()
        found.append(form)
        waiting += form.__subclasses__()
    return found


def test_every_field_longer_than_a_line_is_free_text() -> None:
    unmarked = [
        f"{form.__name__}.{name}"
        for form in _forms()
        for name, field in form.model_fields.items()
        if _longest(field.annotation, list(field.metadata)) > 200 and name not in FREE_TEXT
    ]
    assert unmarked == []
    assert {"facts", "family_context", "event", "recommendations", "reasons"} <= FREE_TEXT


def test_every_string_under_a_free_text_field_is_sealed_lists_and_nesting_included() -> None:
    details = {
        "recommendations": ["one", "two"],
        "timeline": [{"on": "2026-12-01", "event": "seen at school"}],
        "completed_on": "2026-12-20",
        "themes": ["neglect"],
    }
    sealed = _free_strings(details, "", lambda value, path: f"<{path}>")
    assert sealed == {
        "recommendations": ["</recommendations/0>", "</recommendations/1>"],
        "timeline": [{"on": "2026-12-01", "event": "</timeline/0/event>"}],
        "completed_on": "2026-12-20",
        "themes": ["neglect"],
    }


def _marked(form: type[BaseModel]) -> set[str]:
    return {name for name, field in form.model_fields.items() if FREE in field.metadata}


def test_every_field_marked_free_text_of_every_form_is_sealed() -> None:
    """Found without the process table: every form there is (every step's module is imported with it), nested ones
    included. A step's free-text field missing from what is sealed fails here."""
    marked = {name for form in _forms() for name in _marked(form)}
    assert marked - FREE_TEXT == set()
    assert {step.form for step in STEPS.values()} <= set(_forms())


def test_a_new_steps_free_text_is_sealed_without_an_edit_elsewhere() -> None:
    """What is sealed is read from the steps' forms, nested forms included: a new step's form brings its own. (Plain
    models here, not forms: a form made in a test would stay among every form's subclasses for the other tests.)"""

    class Sighting(BaseModel):
        where: OptionalText = Field(default="")

    class FamilyTold(BaseModel):
        how_told: OptionalText = Field(default="")
        sightings: list[Sighting] = Field(default_factory=list)
        told_on: str = ""

    assert free_text_of([FamilyTold]) == {"how_told", "where"}
    every_form = [*(step.form for step in STEPS.values()), *(work.form for work in WORK.values())]
    assert free_text_of(every_form) == FREE_TEXT
