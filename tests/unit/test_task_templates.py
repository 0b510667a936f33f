"""The task pages' templates (gate/templates/tasks/): each renders with sample data into well-formed HTML in which
every input has a label, every aria-describedby and error link points at something on the page, nothing typed is
left unescaped, and no script runs inline. And a step's page, submitted as a browser submits it, reads back as the
answer it was drawn from."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import BaseModel

from gate import pages
from gate.form_fields import as_posted, describe, error_summary, read_form
from models.forms import Identity, IdentityToFollow, IncidentNotification, UnbornIdentity
from models.process import STEPS
from models.process.demo_case import Case, answerer
from models.roles import Role

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
MARKUP = "<script>alert('x')</script><b>bold</b>"
PERSON = {"name": "Sam <Patel> & co"}


class Page(HTMLParser):
    """The page as a browser's form machinery sees it: elements well nested, ids, labels, the controls of each form
    (with their values, as a browser would submit them), and any text that still looks like markup."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str]] = []  # every input, select and textarea, with its form's index
        self.describedby: list[str] = []
        self.links: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self.text: list[str] = []
        self._textarea: dict[str, str] | None = None
        self._select: dict[str, str] | None = None
        self.feed(html)
        self.close()
        assert self.open == [], f"not closed: {self.open}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag not in VOID:
            self.open.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if "aria-describedby" in a:
            self.describedby += a["aria-describedby"].split()
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "script":
            self.scripts.append(a)
        if tag == "form":
            self.forms.append(a)
        form = str(len(self.forms) - 1)
        if tag == "input" or tag == "button":
            self.controls.append({"tag": tag, "form": form, **a})
        if tag == "textarea":
            self._textarea = {"tag": tag, "form": form, "value": "", **a}
            self.controls.append(self._textarea)
        if tag == "select":
            self._select = {"tag": tag, "form": form, "value": "", **a}
            self.controls.append(self._select)
        if tag == "option" and self._select is not None and not self._select.get("picked"):
            if "selected" in a:  # the option selected, or else the first
                self._select.update(value=a.get("value", ""), picked="1")
            elif not self._select.get("seen"):
                self._select.update(value=a.get("value", ""), seen="1")

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            # a browser drops one line end right after <textarea>
            start = "" if self._textarea["value"] else data.removeprefix("\n")
            self._textarea["value"] += start if not self._textarea["value"] else data
        else:
            self.text.append(data)

    def submitted(self, form: int, button: tuple[str, str]) -> dict[str, list[str]]:
        """What a browser posts from the form-th form when ``button`` (name, value) is pressed."""
        posted: dict[str, list[str]] = {}
        for c in self.controls:
            if c["form"] != str(form) or "name" not in c:
                continue
            kind = c.get("type", "text")
            if c["tag"] == "button" or kind == "submit":
                continue
            if kind in ("checkbox", "radio") and "checked" not in c:
                continue
            value = c.get("value", "on" if kind in ("checkbox", "radio") else "")
            posted.setdefault(c["name"], []).append(value)
        posted.setdefault(button[0], []).append(button[1])
        return posted


def check(html: bytes) -> Page:
    text = html.decode()
    page = Page(text)
    assert len(page.ids) == len(set(page.ids)), "ids must be unique"
    for control in page.controls:
        kind = control.get("type", "text")
        if control["tag"] != "button" and kind not in ("hidden", "submit"):
            assert control.get("id") in page.label_for, f"no label for {control}"
    assert set(page.describedby) <= set(page.ids)
    for href in page.links:
        if href.startswith("#"):
            assert href[1:] in page.ids, href
    # no script but the one module, from the gate's own assets: the CSP allows no other
    assert page.scripts == [{"type": "module", "src": "/tasks/assets/cspr.js"}]
    assert text.count("<script") == 1
    assert "<b>" not in text and "<Patel>" not in text
    assert "crown" not in text.lower()
    assert "Signed in as Sam <Patel> & co" in " ".join(page.text)
    assert "/sign-out" in page.links  # a link to the sign-out page, which asks first
    return page


def _form_page(
    form: type[BaseModel], posted: dict[str, list[str]] | None, roles: frozenset[Role], **more: Any
) -> bytes:
    errors: dict[str, str] = more.pop("field_errors", {})
    fields = describe(form, posted, roles, errors)
    values: dict[str, Any] = {
        "title": "Record the rapid review",
        "person": PERSON,
        "form_token": "token-123",
        "action": "/tasks/CSPR-2026-0042/rapid-review",
        "fields": fields,
        "errors": error_summary(fields, errors),
        "review": {"reference": "CSPR-2026-0042", "pseudonyms": ["Child Q", "Child R"], "partnership": "Northshire"},
        "guidance": "First paragraph.\n\nSecond paragraph.",
        "deadline": {"date": "12 March 2026", "working_days_left": 3, "provisional": True},
        **more,
    }
    return pages.render("tasks/form.html", **values)


def _samples() -> list[tuple[str, type[BaseModel], dict[str, Any], frozenset[Role]]]:
    case = Case(path="local", send_back_first=True, qa_returns=1, deferrals=1)
    found = [
        (step.slug, step.form, answer, frozenset({answerer(stage, answer)}))
        for stage, step in STEPS.items()
        for answer in [step.demo(case, 1)]
    ]
    return [
        *found,
        ("identity", Identity, case.identity(), frozenset({Role.COORDINATOR})),
        ("notification", IncidentNotification, case.notification(), frozenset({Role.COORDINATOR})),
        ("identity-to-follow", IdentityToFollow, {"confirmed": True}, frozenset({Role.COORDINATOR})),
        ("identity-unborn", UnbornIdentity, UNBORN, frozenset({Role.COORDINATOR})),
    ]


UNBORN = {  # an unborn child's identity step: the mother drawn as a group of her own
    "children": [{"pseudonym": "Child U", "expected_on": "2026-04-30", "ethnicity": "White"}],
    "mother": {"full_name": "Ottilie Garrow", "date_of_birth": "1998-06-30"},
    "family_members": [{"relationship": "father", "full_name": "Lucan Garrow", "date_of_birth": None}],
}


SAMPLES = _samples()


@pytest.mark.parametrize(("form", "answer", "roles"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
def test_each_step_page_submits_the_answer_it_was_drawn_from(
    form: type[BaseModel], answer: dict[str, Any], roles: frozenset[Role]
) -> None:
    page = check(_form_page(form, as_posted(form, answer), roles))
    posted = page.submitted(0, ("action", "submit"))
    assert posted["form_token"] == ["token-123"]
    got, errors = read_form(form, posted, roles)
    assert errors == {}
    assert got == form.model_validate(answer).model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize(("form", "answer", "roles"), [s[1:] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
def test_each_step_page_with_every_error(form: type[BaseModel], answer: dict[str, Any], roles: frozenset[Role]) -> None:
    _, errors = read_form(form, {}, roles)
    html = _form_page(form, {}, roles, field_errors=errors)
    page = check(html)
    text = html.decode()
    if errors:
        assert "<title>Error: " in text
        assert 'class="govuk-error-summary"' in text and 'role="alert"' in text
        assert text.count("govuk-form-group--error") >= len([e for e in errors if e])
        assert sum(1 for i in page.ids if i.endswith("-error")) >= len([e for e in errors if e])


def test_a_new_page_submitted_empty_gives_the_errors_not_a_crash() -> None:
    for _, form, _, roles in SAMPLES:
        page = check(_form_page(form, None, roles))
        read_form(form, page.submitted(0, ("action", "submit")), roles)


def test_what_was_typed_is_escaped_everywhere() -> None:
    form = STEPS[next(iter(STEPS))].form
    answer = {name: MARKUP for name in ("panel_reference",)}
    html = _form_page(
        form,
        as_posted(form, answer),
        frozenset({Role.COORDINATOR}),
        review={"reference": MARKUP, "pseudonyms": [MARKUP]},
        guidance=MARKUP,
        notes=[MARKUP, "- " + MARKUP],
        refusal=MARKUP,
        restored_draft=True,
        draft_saved=MARKUP,
        back_href="/tasks",
    )
    page = check(html)
    assert html.decode().count("&lt;script&gt;") >= 6
    assert [c["value"] for c in page.controls if c.get("name") == "panel_reference"] == [MARKUP]


def test_the_summary_above_the_form() -> None:
    html = _form_page(
        IdentityToFollow,
        None,
        frozenset({Role.COORDINATOR}),
        notes=["Where the sign-off stands:", "- local authority: signed off", "- police: waiting"],
        refusal="the date is before the notification",
        restored_draft=True,
        draft_saved="3 March 2026 at 4:12pm",
        back_href="/tasks",
    )
    check(html)
    text = html.decode()
    assert '<h1 class="govuk-heading-l">Record the rapid review</h1>' in text
    assert "CSPR-2026-0042" in text and "Child Q, Child R" in text and "Northshire" in text
    assert '<p class="govuk-body">First paragraph.</p>' in text and "Second paragraph." in text
    assert "<li>police: waiting</li>" in text
    assert "12 March 2026" in text and "3 working days left" in text and "Provisional" in text
    assert "This is the draft you saved on 3 March 2026 at 4:12pm." in text
    assert "Your last answer was not accepted: the date is before the notification" in text
    assert 'name="action" value="submit"' in text and 'name="action" value="save"' in text
    assert 'class="govuk-button-group"' in text
    assert 'action="/tasks/CSPR-2026-0042/rapid-review"' in text
    assert '<a href="/tasks" class="govuk-back-link">' in text
    assert "<title>Record the rapid review – cspr</title>" in text
    overdue = _form_page(IdentityToFollow, None, frozenset(), deadline={"date": "1 March", "working_days_left": -1})
    assert "govuk-tag--red" in overdue.decode() and "Overdue</strong> by 1 working day" in overdue.decode()
    saved = _form_page(IdentityToFollow, None, frozenset(), draft_just_saved=True)
    assert "Your draft is saved" in saved.decode()


def test_the_character_count_and_the_rows() -> None:
    form = STEPS[next(s for s in STEPS if STEPS[s].slug == "review-under-way")].form
    text = _form_page(form, None, frozenset({Role.COORDINATOR})).decode()
    assert 'data-module="govuk-character-count" data-maxlength="20000"' in text
    assert 'aria-describedby="summary-info"' in text and 'id="summary-info"' in text
    assert 'name="timeline-rows" value="1"' in text
    assert 'name="timeline-add" value="1"' in text
    assert 'id="timeline-0-on-day" name="timeline-0-on-day"' in text


def _task(**more: Any) -> dict[str, Any]:
    return {
        "reference": "CSPR-2026-0042",
        "pseudonyms": ["Child Q"],
        "partnership": "Northshire",
        "step": "Sign off the rapid review",
        "href": "/tasks/CSPR-2026-0042/rapid-review-sign-off",
        "deadline": "12 March 2026",
        "working_days_left": 2,
        "provisional": False,
        "overdue": False,
        "others": ["the police partner", "the health partner"],
        "claimed_by": None,
        "claimed_by_me": False,
        "claim_href": "/tasks/CSPR-2026-0042/rapid-review-sign-off/claim",
        "may_take": True,
        "may_release": False,
        "follow_up": None,
        **more,
    }


def _list_page(**more: Any) -> bytes:
    values: dict[str, Any] = {
        "title": "Your tasks",
        "person": PERSON,
        "form_token": "token-123",
        "tasks": [
            _task(),
            _task(
                reference=MARKUP,
                pseudonyms=[MARKUP],
                working_days_left=-3,
                overdue=True,
                provisional=True,
                claimed_by=MARKUP,
                may_take=False,
                follow_up="20 March 2026",
                others=[],
            ),
            _task(
                deadline=None,
                working_days_left=None,
                claimed_by_me=True,
                claimed_by="Sam Patel",
                may_take=False,
                may_release=True,
            ),
        ],
        "filters": {
            "action": "/tasks",
            "partnership": "northshire",
            "step": "",
            "due": "overdue",
            "partnerships": [{"value": "northshire", "label": "Northshire"}, {"value": "x", "label": MARKUP}],
            "steps": [{"value": "rapid-review", "label": "Record the rapid review"}],
        },
        "done": [
            {
                "reference": "CSPR-2026-0041",
                "pseudonyms": ["Child P"],
                "step": "Record the rapid review",
                "answered_on": "2 March 2026",
                "href": "/tasks/CSPR-2026-0041",
            },
            {"reference": MARKUP, "pseudonyms": [MARKUP], "step": MARKUP, "answered_on": "1 March 2026", "href": None},
        ],
        "notification_href": "/tasks/notify",
        "read_only": False,
        **more,
    }
    return pages.render("tasks/list.html", **values)


def test_the_task_list() -> None:
    html = _list_page()
    page = check(html)
    text = html.decode()
    assert text.count('class="govuk-summary-card"') == 3
    assert "Start a notification" in text and 'href="/tasks/notify"' in text
    assert "govuk-tag--red" in text and "by 3 working days" in text and "2 working days left" in text
    assert "govuk-tag--grey" in text  # provisional
    assert "the police partner, the health partner" in text and "Nobody else" in text
    assert "You said you are on it" in text and "Nobody has said they are on it" in text
    assert "I&#39;m on it" in text or "I'm on it" in text
    # taken by nobody: "I'm on it"; by me: "Release it"; by someone else: neither (a coordinator may release it)
    assert text.count('action="/tasks/CSPR-2026-0042/rapid-review-sign-off/claim"') == 2
    assert 'value="take"' in text and 'value="release"' in text
    assert "Follow up on" in text and "20 March 2026" in text
    assert "None set" in text
    assert "Done recently" in text and 'href="/tasks/CSPR-2026-0041"' in text
    filters = [f for f in page.forms if f.get("method") == "get"]
    assert filters == [{"method": "get", "action": "/tasks", "class": "govuk-!-margin-bottom-6"}]
    assert page.submitted(0, ("", ""))["partnership"] == ["northshire"]
    assert page.submitted(0, ("", ""))["due"] == ["overdue"]
    assert page.submitted(0, ("", ""))["step"] == [""]
    assert "operator" not in text


def test_the_task_list_for_an_operator_and_when_empty() -> None:
    text = _list_page(read_only=True).decode()
    assert "as an operator you do not answer them" in text
    assert "Start a notification" not in text
    assert "/claim" not in text
    empty = _list_page(tasks=[], done=[], notification_href=None)
    check(empty)
    assert "Nothing is waiting for you with these filters." in empty.decode()
    assert "Nothing answered lately." in empty.decode()
    assert "Start a notification" not in empty.decode()


def test_the_answer_key_a_step_seen_but_not_answered_and_other_ways_of_saying_things() -> None:
    html = _form_page(
        IdentityToFollow,
        None,
        frozenset(),
        form_key="CSPR-2026-0042:rapid_review:3",
        answerable=False,
        notice="",
        restored_draft=True,
        restored_at=dt.datetime(2026, 3, 3, 16, 12),
        person="Sam Patel",
    )
    page = Page(html.decode())
    text = html.decode()
    assert [c["value"] for c in page.controls if c.get("name") == "form_key"] == ["CSPR-2026-0042:rapid_review:3"]
    assert "it is not yours to answer" in text
    assert 'value="submit"' not in text and 'value="save"' not in text
    assert "This is the draft you saved on 3 March 2026 at 16:12." in text
    assert "Signed in as Sam Patel" in text
    saved = _form_page(IdentityToFollow, None, frozenset(), notice="saved").decode()
    assert "Your draft is saved" in saved
    assert 'value="submit"' in saved
