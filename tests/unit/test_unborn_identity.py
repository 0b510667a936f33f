"""An unborn child's identity step (models/forms.py UnbornIdentity, models/notification_identity.py): the mother's
details and an expected date of delivery instead of a name and date of birth, and the dates a mistake would give
refused in words that never repeat what was typed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
import pytest

from models.answers import explain
from models.calendar import today_in_england
from models.forms import Identity, IdentityToFollow, UnbornIdentity
from models.notification_identity import (
    NotificationRefused,
    check,
    guidance,
    identity_form,
    title,
)

TODAY = today_in_england()
INCIDENT = dt.date(2026, 3, 10)
MOTHER = "Ottilie Pennyworth-Garrow"  # invented


def answer(*expected: dt.date, **change: Any) -> dict[str, Any]:
    children = [
        {"pseudonym": f"Child {letter}", "expected_on": on.isoformat(), "ethnicity": "White"}
        for letter, on in zip("UVWX", expected or (TODAY + dt.timedelta(days=120),), strict=False)
    ]
    return {
        "children": children,
        "mother": {"full_name": MOTHER, "date_of_birth": "1998-06-30"},
        "family_members": [{"relationship": "father", "full_name": "Lucan Garrow", "date_of_birth": None}],
        **change,
    }


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(pydantic.ValidationError) as raised:
        UnbornIdentity.model_validate(data)
    return explain(raised.value, UnbornIdentity)


def test_the_form_asks_the_mother_and_an_expected_date_and_no_childs_name_or_date_of_birth() -> None:
    schema = UnbornIdentity.model_json_schema()
    child = schema["$defs"]["UnbornChildIdentity"]
    assert list(child["properties"])[:2] == ["pseudonym", "expected_on"]
    assert {"date_of_birth", "full_name", "age_band"}.isdisjoint(child["properties"])
    assert child["properties"]["expected_on"]["title"] == "Expected date of delivery"
    assert {"sex", "ethnicity", "child_protection_plan", "known_to_agency"} <= set(child["properties"])
    assert set(schema["$defs"]["Mother"]["properties"]) == {"full_name", "date_of_birth"}
    assert schema["required"] == ["children", "mother"]
    assert "date_of_birth" not in schema["$defs"]["Mother"]["required"]  # "if known"


def test_a_full_answer_is_accepted_with_an_expected_date_in_the_future_or_the_past() -> None:
    got = UnbornIdentity.model_validate(answer(TODAY + dt.timedelta(days=270), TODAY - dt.timedelta(days=30)))
    assert [c.pseudonym for c in got.children] == ["Child U", "Child V"]
    assert got.mother.full_name == MOTHER
    assert got.children[0].characteristics()["ethnicity"] == "White"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (answer(TODAY + dt.timedelta(days=320)), "more than 10 months from today"),
        (answer(mother={"full_name": MOTHER, "date_of_birth": "2099-01-01"}), "the mother's date of birth cannot be"),
        (
            answer(
                family_members=[{"relationship": "father", "full_name": "Lucan Garrow", "date_of_birth": "2099-01-01"}]
            ),
            "a family member's date of birth cannot be in the future",
        ),
        ({k: v for k, v in answer().items() if k != "mother"}, "The mother: Field required"),
        (answer(mother={"full_name": " ", "date_of_birth": None}), "String should have at least 1 character"),
        (answer(children=[]), "Unborn children: List should have at least 1 item"),
        (
            answer(children=[{"pseudonym": f"Child {n}", "expected_on": TODAY.isoformat()} for n in range(5)]),
            "List should have at most 4 items",
        ),
        (answer(mother={"full_name": "Ottilie\x07", "date_of_birth": None}), "contains control characters"),
    ],
    ids=[
        "too far ahead",
        "mother born in the future",
        "family born in the future",
        "no mother",
        "blank name",
        "no child",
        "five children",
        "control character",
    ],
)
def test_a_mistake_is_refused_in_words_without_what_was_typed(data: dict[str, Any], said: str) -> None:
    message = refusal(data)
    assert said in message
    assert "Ottilie" not in message and "2099" not in message and "Garrow" not in message


def test_an_unborn_child_has_no_name_or_date_of_birth_to_give() -> None:
    child = {"pseudonym": "Child U", "expected_on": TODAY.isoformat(), "date_of_birth": "2020-01-01"}
    assert "Extra inputs are not permitted" in refusal(answer(children=[child]))
    child = {"pseudonym": "Child U", "expected_on": TODAY.isoformat(), "full_name": "Pip Garrow"}
    assert "Extra inputs are not permitted" in refusal(answer(children=[child]))


@pytest.mark.parametrize(
    ("expected", "accepted"),
    [
        (INCIDENT - dt.timedelta(weeks=6), True),  # overdue at the incident
        (INCIDENT - dt.timedelta(weeks=6, days=1), False),  # long past: born well before the incident
        (dt.date(2027, 1, 10), True),  # ten months after
        (dt.date(2027, 1, 11), False),  # not yet conceived at the incident
        (dt.date(2016, 3, 10), False),  # a wrong year
    ],
)
def test_the_expected_date_is_near_the_incident_when_the_child_was_unborn(expected: dt.date, accepted: bool) -> None:
    identity = UnbornIdentity.model_validate(answer(expected))
    if accepted:
        check(identity, ["Child U"], INCIDENT)
        return
    with pytest.raises(NotificationRefused) as refused:
        check(identity, ["Child U"], INCIDENT)
    assert str(refused.value).startswith("Child U: the expected date of delivery must be between 6 weeks before")
    assert expected.isoformat() not in str(refused.value) and str(expected.year) not in str(refused.value)


def test_each_child_notified_under_the_same_pseudonym() -> None:
    identity = UnbornIdentity.model_validate(answer(INCIDENT, INCIDENT))
    check(identity, ["child v", "Child U"], INCIDENT)
    with pytest.raises(NotificationRefused, match="same pseudonyms: Child U"):
        check(identity, ["Child U"], INCIDENT)


def test_the_step_asks_the_unborn_form_only_for_an_unborn_child_whose_identity_is_known() -> None:
    assert identity_form(identity_known=True, unborn=True) is UnbornIdentity
    assert identity_form(identity_known=True, unborn=False) is Identity
    assert identity_form(identity_known=False, unborn=True) is IdentityToFollow
    assert title(True, True) == "The mother and the expected date of delivery"
    words = " ".join(guidance(True, ["Child U"], True))
    assert "Child U" in words and "expected date of delivery" in words and "mother's full name" in words
    assert "no name or date of birth is asked for the child" in words
