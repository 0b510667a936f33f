"""Every field of a form where people may write at length is marked free text, and so is sealed at rest under its
review's key (models/sealing.py): a new long field left unmarked would be stored, and kept after erasure, as typed."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, StringConstraints

from models.forms import FREE_TEXT, FormModel
from models.sealing import _free_strings


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
