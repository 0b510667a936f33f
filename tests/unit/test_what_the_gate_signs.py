"""What the gate signs with the person: the digest of the answer as Prefect will store it (gate/who_may_answer.py's
``as_stored``), from the body of the resume request it passes on. Prefect hydrates the answer before storing it (a
field the UI sends as JSON text is stored as the value it spells) and stores it with orjson; the gate signs that, not
the body's text. That Prefect's server stores exactly this is tested on a real server in
tests/flows/test_signed_answers.py."""

from __future__ import annotations

import json

import pytest

from gate.who_may_answer import AnswerRefused, answer_to_sign, as_stored
from models.identity import answer_digest

NOTIFIED = {"panel_reference": "SIN-2026-10-1234", "notified_on": "2026-07-21", "partners_told_on": "2026-07-21"}


def body(run_input: object) -> bytes:
    return json.dumps({"run_input": run_input}).encode()


def test_an_answer_is_signed_as_sent_when_prefect_stores_it_as_sent() -> None:
    assert as_stored(body(NOTIFIED)) == NOTIFIED
    assert answer_to_sign(body(NOTIFIED)) == answer_digest(NOTIFIED)
    spelled_otherwise = b'{"run_input": {"partners_told_on":"2026-07-21","notified_on":"2026-07-21",\n'
    spelled_otherwise += b'"panel_reference":"SIN-2026-10-1234"}, "other": 1}'
    assert answer_to_sign(spelled_otherwise) == answer_digest(NOTIFIED)


def test_a_field_the_ui_sends_as_json_text_is_signed_as_the_value_prefect_stores() -> None:
    sent = {**NOTIFIED, "panel_reference": {"__prefect_kind": "json", "value": '"SIN-2026-10-1234"'}}
    sent["notified_on"] = {"__prefect_kind": "none", "value": "2026-07-21"}
    sent["empty"] = {"__prefect_kind": "json"}  # a JSON field left empty: dropped
    assert as_stored(body(sent)) == NOTIFIED
    assert answer_to_sign(body(sent)) == answer_digest(NOTIFIED) != answer_digest(sent)


@pytest.mark.parametrize(
    "field",
    [
        {"__prefect_kind": "jinja", "template": "{{ 'SIN' }}-2026-10-1234"},
        {"__prefect_kind": "workspace_variable", "variable_name": "panel_reference"},
        {"__prefect_kind": "json", "value": {"__prefect_kind": "workspace_variable", "variable_name": "x"}},
    ],
)
def test_an_answer_the_server_would_fill_in_from_a_template_or_a_variable_is_refused(field: object) -> None:
    with pytest.raises(AnswerRefused, match="not from a template or a workspace variable"):
        as_stored(body({**NOTIFIED, "panel_reference": field}))


@pytest.mark.parametrize(
    "sent",
    [b"", b"not json", b"[1]", b'{"run_input": null}', b"{}", b'{"run_input": []}', b'{"run_input": {}}'],
)
def test_nothing_is_signed_for_what_prefect_stores_nothing_of(sent: bytes) -> None:
    assert as_stored(sent) is None


def test_numbers_are_signed_as_prefect_stores_them() -> None:
    assert as_stored(b'{"run_input": {"a": NaN, "b": 1e400, "c": 1E2, "d": -0.0}}') == {
        "a": None,
        "b": None,
        "c": 100.0,
        "d": -0.0,
    }
    assert as_stored(b'{"run_input": {"a": 123456789012345678901234567890}}') is None  # Prefect fails to store it
    assert as_stored(b'{"run_input": {"a": "\\ud800"}}') is None
    assert as_stored(b'{"run_input": {"a": {"__prefect_kind": "json", "value": "{not json"}}}') is None
