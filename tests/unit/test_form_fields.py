"""Every step's form drawn as a page and read back (gate/form_fields.py): each demo answer goes through the fields a
browser posts and comes back as the answer the step's model validates, and what a person gets wrong is said in
GOV.UK's words, beside the field, without repeating what they typed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from gate.form_fields import (
    FORM_ERROR,
    FieldKind,
    adds_row,
    as_posted,
    describe,
    error_summary,
    fields_for,
    read_date,
    read_form,
)
from gate.form_fields import Field as PageField
from models.forms import Identity, IdentityToFollow, IncidentNotification, UnbornIdentity
from models.process import STEPS
from models.process.demo_case import Case, answerer
from models.process.steps.notification import NotificationSubmitted
from models.process.steps.rapid_review import RapidReview
from models.process.steps.review_under_way import ReviewProgress
from models.process.steps.sign_off import SignOff
from models.roles import PARTNERS, Role
from models.stages import Stage

COORDINATOR = frozenset({Role.COORDINATOR})
SECRET = "Rowan Ashcombe"  # a name typed where it does not belong: never to be repeated in an error


def _cases() -> list[Case]:
    return [
        Case(path="local"),
        Case(path="national"),
        Case(path="no-review"),
        Case(path="local", send_back_first=True, qa_returns=1, deferrals=1),
        Case(path="local", improvements_only=True, sign_off_order=(Role.HEALTH, Role.POLICE, Role.LOCAL_AUTHORITY)),
    ]


def _demo_answers() -> Iterator[tuple[str, type[BaseModel], dict[str, Any], frozenset[Role]]]:
    """Every step's demo answers, each with the role of the demo person who gives it, and the notification's forms."""
    for number, case in enumerate(_cases()):
        for stage, step in STEPS.items():
            for n in range(3):
                answer = step.demo(case, n)
                yield f"{step.slug}-{number}-{n}", step.form, answer, frozenset({answerer(stage, answer)})
        yield f"identity-{number}", Identity, case.identity(), COORDINATOR
        yield f"notification-{number}", IncidentNotification, case.notification(), COORDINATOR
    yield "identity-to-follow", IdentityToFollow, {"confirmed": True}, COORDINATOR
    family = {"relationship": "stepfather", "full_name": "Idris Vale", "date_of_birth": "1990-02-28"}
    two_children = Case().identity()
    two_children["children"].append(
        {
            "pseudonym": "Child R",
            "full_name": "Ash Vale",
            "date_of_birth": "2021-12-01",
            "sex": "female",
            "ethnicity": "Mixed or multiple ethnic groups",
            "disability": "not disabled",
            "child_protection_plan": "yes",
        }
    )
    two_children["family_members"].append(family)
    yield "identity-two-children", Identity, two_children, COORDINATOR
    unborn = {
        "children": [
            {"pseudonym": "Child U", "expected_on": "2026-04-30", "sex": "female"},
            {"pseudonym": "Child W", "expected_on": "2026-04-30", "known_to_agency": "yes"},
        ],
        "mother": {"full_name": "Ottilie Garrow", "date_of_birth": None},
        "family_members": [family],
    }
    yield "identity-unborn", UnbornIdentity, unborn, COORDINATOR


DEMO = list(_demo_answers())


def test_every_step_is_covered() -> None:
    forms = {form for _, form, _, _ in DEMO}
    assert {step.form for step in STEPS.values()} <= forms
    assert {Identity, IdentityToFollow, UnbornIdentity, IncidentNotification} <= forms


@pytest.mark.parametrize(("form", "answer", "roles"), [case[1:] for case in DEMO], ids=[case[0] for case in DEMO])
def test_every_demo_answer_goes_through_the_page_and_back(
    form: type[BaseModel], answer: dict[str, Any], roles: frozenset[Role]
) -> None:
    posted = as_posted(form, answer)
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in posted.values())
    got, errors = read_form(form, posted, roles)
    assert errors == {}
    assert got == form.model_validate(answer).model_dump(mode="json", exclude_none=True)
    assert form.model_validate(got) == form.model_validate(answer)  # what comes back, the model accepts as it is
    jsonschema.validate(got, form.model_json_schema())  # and so does Prefect's server, which checks its schema
    # and the page drawn from what was posted holds it all: drawn again from the fields, the same is posted
    assert describe(form, posted, roles) == describe(form, as_posted(form, got), roles)


def test_every_form_is_drawn_new() -> None:
    for form in [
        *(step.form for step in STEPS.values()),
        Identity,
        IdentityToFollow,
        UnbornIdentity,
        IncidentNotification,
    ]:
        fields = describe(form, None, frozenset(PARTNERS))
        assert [f.name for f in fields] == list(form.model_fields)
        assert all(f.label for f in fields)


# --- what each field is drawn as ----------------------------------------------------------------------------------


def _by_name(fields: list[PageField]) -> dict[str, PageField]:
    return {f.name: f for f in fields}


def test_kinds_labels_hints_and_limits() -> None:
    fields = _by_name(describe(RapidReview, None, COORDINATOR))
    facts = fields["facts"]
    assert (facts.kind, facts.label, facts.hint, facts.required, facts.max_length) == (
        FieldKind.TEXTAREA,
        "The facts",
        "As far as they can readily be established.",
        True,
        20_000,
    )
    assert fields["family_context"].label == "Family context (optional)"
    assert fields["criterion_a_improvements"].kind is FieldKind.CHECKBOX
    assert fields["completed_on"].kind is FieldKind.DATE
    assert fields["completed_on"].id == "completed_on-day"
    assert "For example" in fields["completed_on"].hint
    recommendation = fields["recommendation"]
    assert recommendation.kind is FieldKind.RADIOS
    assert [(o.id, o.value, o.label) for o in recommendation.options][:2] == [
        ("recommendation", "local review", "Local review"),
        ("recommendation-2", "no local review", "No local review"),
    ]
    assert fields["themes"].kind is FieldKind.CHECKBOXES
    assert len(fields["themes"].options) == 16

    progress = _by_name(describe(ReviewProgress, None, COORDINATOR))
    assert progress["recommendations"].kind is FieldKind.LINES
    timeline = progress["timeline"]
    assert timeline.kind is FieldKind.ROWS
    assert (timeline.rows_name, timeline.add_name, timeline.can_add) == ("timeline-rows", "timeline-add", True)
    assert [f.name for f in timeline.rows[0].fields] == ["timeline-0-on", "timeline-0-event"]
    assert timeline.id == "timeline-0-on-day"

    notification = _by_name(describe(IncidentNotification, None, COORDINATOR))
    assert notification["partnership"].kind is FieldKind.INPUT
    assert notification["children"].rows[0].fields[0].width == "govuk-input--width-20"  # a pseudonym is short


def test_a_new_form_holds_the_defaults() -> None:
    notification = _by_name(describe(IncidentNotification, None, COORDINATOR))
    assert notification["identity_known"].checked  # ticked by default
    assert not notification["looked_after"].checked
    kind = [o.value for o in notification["kind"].options if o.selected]
    assert kind == ["serious incident: abuse or neglect known or suspected"]
    child = _by_name(list(_by_name(describe(Identity, None, COORDINATOR))["children"].rows[0].fields))
    assert [o.value for o in child["children-0-sex"].options if o.selected] == ["not known"]


def test_the_partner_is_asked_only_of_a_person_who_acts_for_more_than_one() -> None:
    one = _by_name(describe(SignOff, None, frozenset({Role.POLICE})))["partner"]
    assert (one.kind, one.value) == (FieldKind.HIDDEN, "police")
    two = _by_name(describe(SignOff, None, frozenset({Role.POLICE, Role.HEALTH, Role.COORDINATOR})))["partner"]
    assert two.kind is FieldKind.RADIOS
    assert [o.value for o in two.options] == ["police", "health"]
    none = _by_name(describe(SignOff, None, COORDINATOR))["partner"]  # refused later; offered all three meanwhile
    assert [o.value for o in none.options] == ["local authority", "police", "health"]


def _sign_off(**more: list[str]) -> dict[str, list[str]]:
    return {
        "decision": ["sign off"],
        "signed_on-day": ["3"],
        "signed_on-month": ["3"],
        "signed_on-year": ["2025"],
        **more,
    }


def test_the_partner_signed_for_comes_from_the_person_not_the_page() -> None:
    answer, errors = read_form(SignOff, _sign_off(partner=["health"]), frozenset({Role.POLICE}))
    assert errors == {}
    assert answer is not None and answer["partner"] == "police"  # a page changed by hand changes nothing
    answer, _ = read_form(SignOff, _sign_off(partner=["health"]), frozenset({Role.POLICE, Role.HEALTH}))
    assert answer is not None and answer["partner"] == "health"
    _, errors = read_form(SignOff, _sign_off(), frozenset({Role.POLICE, Role.HEALTH}))
    assert errors == {"partner": "Select which partner you sign for"}
    _, errors = read_form(SignOff, _sign_off(partner=["local authority"]), frozenset({Role.POLICE, Role.HEALTH}))
    assert errors == {"partner": "Select which partner you sign for"}


# --- errors, in a partner's words ---------------------------------------------------------------------------------


def test_everything_missing() -> None:
    answer, errors = read_form(RapidReview, {}, COORDINATOR)
    assert answer is None
    assert errors == {
        "facts": "Enter the facts",
        "immediate_actions": "Enter the immediate safeguarding action",
        "agencies_involved": "Enter the agencies involved",
        "key_practice_episodes": "Enter the key practice episodes",
        "learning_now": "Enter the learning to share now",
        "recommendation": "Select the recommendation",
        "national_review_view": "Enter the partners' view on a national review",
        "completed_on": "Enter the date the rapid review was completed",
    }


def test_blank_is_missing_and_what_happened_reads_as_a_question() -> None:
    _, errors = read_form(ReviewProgress, {"request": ["   "], "on-day": [""]}, COORDINATOR)
    assert errors == {"update": "Select what happened", "on": "Enter the date"}


def _date(name: str, day: str, month: str, year: str) -> dict[str, list[str]]:
    return {f"{name}-day": [day], f"{name}-month": [month], f"{name}-year": [year]}


@pytest.mark.parametrize(
    ("parts", "message", "marked"),
    [
        (("3", "", "2025"), "Date of your decision must include a month", ("month",)),
        (("", "3", ""), "Date of your decision must include a day and year", ("day", "year")),
        (("31", "2", "2025"), "Date of your decision must be a real date", ("day", "month", "year")),
        (("3", "March", "2025"), "Date of your decision must be a real date", ("day", "month", "year")),
        (("0", "3", "2025"), "Date of your decision must be a real date", ("day", "month", "year")),
        (("3", "3", "25"), "The year of the date of your decision must include 4 numbers", ("day", "month", "year")),
    ],
)
def test_dates(parts: tuple[str, str, str], message: str, marked: tuple[str, ...]) -> None:
    posted = {**_sign_off(), **_date("signed_on", *parts)}
    answer, errors = read_form(SignOff, posted, frozenset({Role.POLICE}))
    assert answer is None
    assert errors == {"signed_on": message}
    field = _by_name(describe(SignOff, posted, frozenset({Role.POLICE}), errors))["signed_on"]
    assert field.error == message
    assert field.error_parts == marked
    assert field.id == f"signed_on-{marked[0]}"  # the error summary links to the first part to put right
    assert (field.day, field.month, field.year) == parts  # what was typed is shown again


def test_a_date_is_read_from_its_parts_with_spaces_and_leading_zeros() -> None:
    posted = {**_sign_off(), **_date("signed_on", " 03 ", "03", "2025")}
    answer, errors = read_form(SignOff, posted, frozenset({Role.POLICE}))
    assert errors == {}
    assert answer is not None and answer["signed_on"] == "2025-03-03"


def test_an_optional_date_left_blank_is_none_and_a_partial_one_is_an_error() -> None:
    posted = {"panel_reference": ["SIN-1"], **_date("notified_on", "3", "3", "2025")}
    form = NotificationSubmitted
    answer, errors = read_form(form, {**posted, **_date("partners_told_on", "", "", "")}, COORDINATOR)
    assert errors == {}
    assert answer is not None and "partners_told_on" not in answer  # left out: Prefect's schema takes no None
    _, errors = read_form(form, {**posted, **_date("partners_told_on", "4", "", "")}, COORDINATOR)
    assert errors == {
        "partners_told_on": "Date the local safeguarding partners were told must include a month and year"
    }


def test_a_rule_about_the_whole_answer() -> None:
    _, errors = read_form(SignOff, _sign_off(decision=["send back"]), frozenset({Role.POLICE}))
    assert errors == {FORM_ERROR: "Give a reason for sending the rapid review back"}
    fields = describe(SignOff, _sign_off(decision=["send back"]), frozenset({Role.POLICE}), errors)
    summary = error_summary(fields, errors)
    assert [(e.href, e.text) for e in summary] == [("", "Give a reason for sending the rapid review back")]


def test_a_date_in_the_future_is_refused_in_words() -> None:
    future = dt.date.today() + dt.timedelta(days=400)
    posted = {**_sign_off(), **_date("signed_on", str(future.day), str(future.month), str(future.year))}
    _, errors = read_form(SignOff, posted, frozenset({Role.POLICE}))
    assert errors == {FORM_ERROR: "The date of your decision cannot be in the future"}


def test_too_long_a_text_and_a_megabyte_of_it() -> None:
    posted = as_posted(RapidReview, RapidReview.model_validate(STEPS[Stage.RAPID_REVIEW].demo(Case(), 0)).model_dump())
    started = time.monotonic()
    _, errors = read_form(RapidReview, {**posted, "facts": [SECRET + "x" * 1_000_000]}, COORDINATOR)
    assert time.monotonic() - started < 5
    assert errors == {"facts": "Enter at most 20,000 characters for the facts"}
    _, errors = read_form(RapidReview, {**posted, "facts": ["x" * 20_000]}, COORDINATOR)
    assert errors == {}
    _, errors = read_form(RapidReview, {**posted, "facts": ["x" * 20_001]}, COORDINATOR)
    assert errors == {"facts": "Enter at most 20,000 characters for the facts"}


def test_each_line_of_a_list_and_each_row() -> None:
    posted = {
        "update": ["draft report submitted"],
        **_date("on", "3", "3", "2025"),
        "summary": ["s"],
        "systemic_analysis": ["a"],
        "recommendations": ["first\r\n\r\n" + "x" * 2001 + "\r\n"],
        "timeline-rows": ["3"],
        **_date("timeline-0-on", "", "", ""),
        "timeline-0-event": [""],  # an empty row: left out
        **_date("timeline-1-on", "", "", ""),
        "timeline-1-event": ["seen at school"],
        **_date("timeline-2-on", "1", "13", "2025"),
        "timeline-2-event": ["home visit\x07"],
    }
    _, errors = read_form(ReviewProgress, posted, COORDINATOR)
    assert errors == {
        "recommendations": "Enter at most 2,000 characters on each line for the draft report: recommendations",
        "timeline-1-on": "Enter the date in row 2 of the draft report: timeline",
        "timeline-2-on": "Date must be a real date in row 3 of the draft report: timeline",
        "timeline-2-event": "Remove the invisible control characters from what happened in row 3 of the draft "
        "report: timeline",
    }
    fields = describe(ReviewProgress, posted, COORDINATOR, errors)
    summary = error_summary(fields, errors)
    assert [e.href for e in summary] == [
        "#recommendations",
        "#timeline-1-on-day",
        "#timeline-2-on-day",
        "#timeline-2-event",
    ]
    posted.update({"recommendations": ["first\r\n\r\nsecond\r\n"], "timeline-2-event": ["home visit"]})
    posted.update({**_date("timeline-1-on", "2", "2", "2025"), **_date("timeline-2-on", "1", "12", "2025")})
    answer, errors = read_form(ReviewProgress, posted, COORDINATOR)
    assert errors == {}
    assert answer is not None
    assert answer["recommendations"] == ["first", "second"]  # blank lines dropped, a browser's CR LF made plain
    assert answer["timeline"] == [
        {"on": "2025-02-02", "event": "seen at school"},
        {"on": "2025-12-01", "event": "home visit"},
    ]


def test_rows_pattern_and_a_rule_about_a_list() -> None:
    _, errors = read_form(
        Identity,
        {
            "children-0-pseudonym": ["Child Q!"],
            "children-0-full_name": [SECRET],
            **_date("children-0-date_of_birth", "1", "1", "2020"),
        },
        COORDINATOR,
    )
    assert errors == {
        "children-0-pseudonym": "Pseudonym (as notified) must only include letters, numbers, spaces, full stops, "
        "apostrophes and hyphens in row 1 of the children"
    }
    _, errors = read_form(Identity, {"children-rows": ["1"]}, COORDINATOR)
    assert errors == {"children": "Enter at least 1 row for the children"}
    notification = as_posted(IncidentNotification, Case().notification())
    for index in range(1, 5):
        notification[f"children-{index}-pseudonym"] = [f"Child {index}"]
        notification[f"children-{index}-age_band"] = ["1 to 5"]
    _, errors = read_form(IncidentNotification, notification, COORDINATOR)
    assert errors == {"children": "One notification covers at most 4 children; notify the others separately"}


def test_a_choice_not_offered() -> None:
    posted = as_posted(RapidReview, STEPS[Stage.RAPID_REVIEW].demo(Case(), 0))
    _, errors = read_form(RapidReview, {**posted, "recommendation": [SECRET]}, COORDINATOR)
    assert errors == {"recommendation": "Select the recommendation"}
    _, errors = read_form(RapidReview, {**posted, "themes": ["neglect", SECRET]}, COORDINATOR)
    assert errors == {"themes": "Select the practice themes"}


def test_no_error_repeats_what_was_typed() -> None:
    for _, form, answer, roles in DEMO[:40]:
        posted = {name: [SECRET + "\x01" + "x" * 30_000] for name in as_posted(form, answer)}
        _, errors = read_form(form, posted, roles)
        assert errors
        assert not any(SECRET in message or "xxx" in message for message in errors.values())


def test_fields_the_form_does_not_have_are_ignored() -> None:
    answer = STEPS[Stage.RAPID_REVIEW].demo(Case(), 0)
    posted = as_posted(RapidReview, answer)
    extra = {"form_token": ["abc"], "action": ["submit"], "evil": ["<script>"], "facts-day": ["1"], "__proto__": ["x"]}
    got, errors = read_form(RapidReview, {**posted, **extra}, COORDINATOR)
    assert errors == {}
    assert got == RapidReview.model_validate(answer).model_dump(mode="json", exclude_none=True)


def test_markup_is_kept_as_text() -> None:
    answer = {**STEPS[Stage.RAPID_REVIEW].demo(Case(), 0), "facts": "<script>alert('x')</script> & more"}
    got, _ = read_form(RapidReview, as_posted(RapidReview, answer), COORDINATOR)
    assert got is not None and got["facts"] == "<script>alert('x')</script> & more"
    assert (
        _by_name(describe(RapidReview, as_posted(RapidReview, answer), COORDINATOR))["facts"].value == answer["facts"]
    )


# --- more rows, without JavaScript --------------------------------------------------------------------------------


def test_one_more_row() -> None:
    posted = as_posted(
        ReviewProgress, {"update": "draft report submitted", "timeline": [{"on": "2025-01-01", "event": "a"}]}
    )
    assert posted["timeline-rows"] == ["1"]
    assert not adds_row(ReviewProgress, posted)
    asked = {**posted, "timeline-add": ["1"], "action": ["submit"]}
    assert adds_row(ReviewProgress, asked)
    timeline = _by_name(describe(ReviewProgress, asked, COORDINATOR))["timeline"]
    assert [row.index for row in timeline.rows] == [0, 1]
    assert [f.value for f in timeline.rows[0].fields][1] == "a"
    assert timeline.rows[1].fields[1].value == ""
    # the empty row is drawn again (its count is posted), and left out of the answer
    again = {**posted, "timeline-rows": ["2"], "timeline-1-event": [""]}
    assert len(_by_name(describe(ReviewProgress, again, COORDINATOR))["timeline"].rows) == 2
    request = {"update": ["written request to the reviewer"], **_date("on", "1", "1", "2025"), "request": ["r"]}
    answer, errors = read_form(ReviewProgress, {**again, **request}, COORDINATOR)
    assert errors == {}
    assert answer is not None and len(answer["timeline"]) == 1
    assert adds_row(Identity, {"family_members-add": ["1"]})
    assert not adds_row(Identity, {"nothing-add": ["1"]})


def test_rows_stop_at_the_forms_limit_whatever_is_posted() -> None:
    posted = {"children-rows": ["99999"], "children-add": ["1"], "children-7-pseudonym": ["Child Z"]}
    children = _by_name(describe(Identity, posted, COORDINATOR))["children"]
    assert len(children.rows) == 4  # Identity takes at most 4 children
    assert not children.can_add
    answer, errors = read_form(Identity, posted, COORDINATOR)
    assert answer is None and "children" in errors  # the row past the limit is not read


def test_a_new_row_holds_its_defaults_and_counts_as_empty() -> None:
    posted = as_posted(Identity, Case().identity())
    asked = {**posted, "children-add": ["1"]}
    children = _by_name(describe(Identity, asked, COORDINATOR))["children"]
    second = _by_name(list(children.rows[1].fields))
    assert [o.value for o in second["children-1-child_protection_plan"].options if o.selected] == ["not known"]
    posted_again = {
        **posted,
        "children-rows": ["2"],
        "children-1-child_protection_plan": ["not known"],
        "children-1-full_name": [""],
    }
    answer, errors = read_form(Identity, posted_again, COORDINATOR)
    assert errors == {}
    assert answer is not None and len(answer["children"]) == 1


# --- fields of other types --------------------------------------------------------------------------------------


class _Entry(BaseModel):
    what: str = Field(min_length=1, max_length=50, title="Entry text")


class _Other(BaseModel):
    mode: Literal["fast", "slow"] = Field(title="Mode")
    agreed: bool = Field(title="Agreed")  # no default: asked as yes or no
    entry: _Entry = Field(title="An entry")
    notes: str | None = Field(default=None, max_length=500, title="Notes")


def test_a_literal_a_yes_or_no_and_a_group() -> None:
    fields = _by_name(describe(_Other, None, COORDINATOR))
    assert [o.value for o in fields["mode"].options] == ["fast", "slow"]
    assert [(o.value, o.label) for o in fields["agreed"].options] == [("yes", "Yes"), ("no", "No")]
    assert fields["entry"].kind is FieldKind.GROUP
    assert [f.name for f in fields["entry"].group] == ["entry-what"]
    assert fields["notes"].kind is FieldKind.TEXTAREA
    _, errors = read_form(_Other, {}, COORDINATOR)
    assert errors == {
        "mode": "Select the mode",
        "agreed": "Select yes or no for the agreed",
        "entry-what": "Enter the entry text",
    }
    answer = {"mode": "slow", "agreed": False, "entry": {"what": "x"}, "notes": None}
    got, errors = read_form(_Other, as_posted(_Other, answer), COORDINATOR)
    assert (got, errors) == ({"mode": "slow", "agreed": False, "entry": {"what": "x"}}, {})  # None left out


def test_a_type_no_page_can_draw_is_refused() -> None:
    class Odd(BaseModel):
        count: int

    with pytest.raises(TypeError, match="count"):
        describe(Odd, None, COORDINATOR)


def test_a_date_on_its_own_and_a_refusal_in_the_summary() -> None:
    assert read_date(_date("follow_up", "1", "2", "2026"), "follow_up") == (dt.date(2026, 2, 1), "")
    assert read_date({}, "follow_up", required=False) == (None, "")
    assert read_date({}, "follow_up", title="Date to look again") == (None, "Enter the date to look again")
    assert read_date(_date("follow_up", "30", "2", "2026"), "follow_up", title="Date to look again") == (
        None,
        "Date to look again must be a real date",
    )
    fields = fields_for(SignOff, frozenset({Role.POLICE}), posted={}, errors={"signed_on": "Enter the date"})
    summary = error_summary(fields, "The rapid review was sent back since you opened the page")
    assert [(e.href, e.text) for e in summary] == [
        ("", "The rapid review was sent back since you opened the page"),
        ("#signed_on-day", "Enter the date"),
    ]


# --- a page's own choices, and what an answer needs ---------------------------------------------------------------

AGENCIES = ("Northshire Primary School", "Riverside Medical Practice")


def test_a_list_of_texts_offered_is_a_box_to_tick_for_each_and_read_back_against_what_was_offered() -> None:
    fields = {f.name: f for f in fields_for(NotificationSubmitted, COORDINATOR, offered={"agencies": AGENCIES})}
    agencies = fields["agencies"]
    assert agencies.kind is FieldKind.CHECKBOXES
    assert [(o.value, o.label) for o in agencies.options] == [(a, a) for a in AGENCIES]
    good = {**Case().answer(Stage.INCIDENT_RECORDED), "agencies": [AGENCIES[1]]}
    posted = as_posted(NotificationSubmitted, good)
    answer, errors = read_form(NotificationSubmitted, posted, COORDINATOR, {"agencies": AGENCIES})
    assert errors == {} and answer is not None and answer["agencies"] == [AGENCIES[1]]
    drawn = {f.name: f for f in describe(NotificationSubmitted, posted, COORDINATOR, None, {"agencies": AGENCIES})}
    assert {o.value for o in drawn["agencies"].options if o.selected} == {AGENCIES[1]}
    as_lines = {**posted, "agencies": ["\n".join(AGENCIES)]}  # one value of several lines, as as_posted writes a list
    answer, errors = read_form(NotificationSubmitted, as_lines, COORDINATOR, {"agencies": AGENCIES})
    assert errors == {} and answer is not None and answer["agencies"] == list(AGENCIES)
    forged = {**posted, "agencies": [AGENCIES[0], f"{SECRET} Academy"]}
    answer, errors = read_form(NotificationSubmitted, forged, COORDINATOR, {"agencies": AGENCIES})
    said = "Select the agencies to ask for information for the rapid review from those listed"
    assert answer is None and errors == {"agencies": said}
    assert SECRET not in str(errors)


def test_a_list_with_nothing_to_offer_is_left_out_and_its_default_stands() -> None:
    assert "agencies" not in {f.name for f in fields_for(NotificationSubmitted, COORDINATOR, offered={"agencies": ()})}
    posted = as_posted(NotificationSubmitted, Case().answer(Stage.INCIDENT_RECORDED))
    answer, errors = read_form(
        NotificationSubmitted, {**posted, "agencies": ["Anything"]}, COORDINATOR, {"agencies": ()}
    )
    assert errors == {} and answer is not None and answer.get("agencies", []) == []


def test_a_choice_with_one_left_offered_is_given_not_asked() -> None:
    from models.work.forms import ActionReview

    only = {"verdict": ("close",)}
    (verdict, _reason) = fields_for(ActionReview, COORDINATOR, offered=only)
    assert (verdict.kind, verdict.value) == (FieldKind.HIDDEN, "close")
    answer, errors = read_form(ActionReview, {"verdict": ["accept"], "reason": ["Done elsewhere."]}, COORDINATOR, only)
    assert errors == {} and answer == {"verdict": "close", "reason": "Done elsewhere."}  # the page's, not the post's
    two = {"verdict": ("accept", "close")}
    assert [o.value for o in fields_for(ActionReview, COORDINATOR, offered=two)[0].options] == ["accept", "close"]
    answer, errors = read_form(ActionReview, {"verdict": ["send back"], "reason": ["No."]}, COORDINATOR, two)
    assert answer is None and errors == {"verdict": "Select what does the partnership decide?"}


def test_fields_an_answer_needs_are_not_marked_optional() -> None:
    from models.work.forms import AgencyReturn, RequestChange

    plain = {f.name: f.label for f in fields_for(AgencyReturn, frozenset())}
    assert plain["involvement"].endswith("(optional)")
    needed = {f.name: f.label for f in fields_for(AgencyReturn, frozenset(), needed=("involvement", "learning"))}
    assert not needed["involvement"].endswith("(optional)") and not needed["learning"].endswith("(optional)")
    assert needed["actions_taken"].endswith("(optional)")
    change = {f.name: f.label for f in fields_for(RequestChange, COORDINATOR)}  # "Needed to ...", "Only to ..."
    assert change["reason"] == "Reason" and change["due_on"] == "New date it is due"


def test_a_rule_of_the_whole_form_that_names_its_fields_is_shown_at_each() -> None:
    """An agency's return needs its involvement, analysis and learning (unless it had none): each one missing is an
    error at its own field, as the error summary links to, not one error for the whole form."""
    from models.work.forms import AgencyReturn

    contact = frozenset({Role.AGENCY_CONTACT})
    answer, errors = read_form(AgencyReturn, {"involvement": ["Two visits by the health visitor."]}, contact)
    assert answer is None
    assert errors == {
        "analysis": "Enter your analysis of your agency's practice, or answer that your agency had no involvement",
        "learning": "Enter what your agency has learnt",
    }
    full = {"involvement": ["Two visits."], "analysis": ["Missed the weight."], "learning": ["Weigh every visit."]}
    answer, errors = read_form(AgencyReturn, full, contact)
    assert errors == {} and answer is not None and answer["learning"] == "Weigh every visit."
