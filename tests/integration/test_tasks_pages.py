"""The tasks pages (gate/tasks_app.py), through the whole gate in-process, each person with a real session: what each
role sees, a step's form, Submit refused with the lifecycle's own words and nothing sent to Prefect, drafts, "I'm on
it", follow-up dates, and bad input. Prefect behind the gate is a stand-in that records every call, so "nothing
reaches Prefect" is what it saw; an answer accepted and handed to a real run is tested through the running system
(tests/flows/test_through_the_gate.py) and by the browser journey."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select, text

from gate import form_fields
from gate.app import Gate
from gate.asgi import Receive, Scope, Send, respond_json
from gate.checker_client import InProcessChecker
from gate.sessions import COOKIE
from gate.task_views import closing_path
from gate.tasks_app import form_token
from models import accounts, partners
from models.db import transaction
from models.forms import Identity, UnbornIdentity
from models.identity import SUSPENDED
from models.process import STEPS
from models.process.demo_case import Case, answerer
from models.review import lookup, transitions
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, demo_agency_contact, demo_identity
from models.settings import get_settings
from models.stages import Stage
from models.system_credentials import digest, gate_key
from models.tables import Account, Representative, utcnow
from models.task_ref import task_path
from tests.integration.test_answers import TODAY, _at, answer, at_sign_off, quick_passwords, state
from tests.utils.bad_answers import BAD_ANSWERS
from tests.utils.signin import register

__all__ = ["quick_passwords"]

ORIGIN = "http://gate.test"
PLANTED = "Zephyrine Quill-Ashdown"  # invented: must never reach Prefect


@dataclass
class StandIn:
    """Prefect behind the gate: records every call, answers each as Prefect's API would with nothing found."""

    calls: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.calls.append(f"{scope['method']} {scope['path']}")
        if scope["path"] == "/api/flow_runs/filter":
            await _json(send, [])
            return
        await respond_json(send, 404, "not found")


async def _json(send: Send, value: Any) -> None:
    import json

    body = json.dumps(value).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh project database (SQLite, then PostgreSQL), as the one the gate and the checker read."""
    monkeypatch.setenv("CSPR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


@pytest.fixture
def prefect() -> StandIn:
    return StandIn()


@pytest.fixture
def gate(prefect: StandIn) -> Gate:
    return Gate(prefect, service_digest=digest("service"), gate_key=gate_key(), checker=InProcessChecker())


SCHOOL, SURGERY = DEMO_AGENCY_CONTACTS[0][0], DEMO_AGENCY_CONTACTS[1][0]  # two demo agencies, with a contact each


class Person:
    """A demo person's browser, signed in at the gate with a session of their own: for an agency's contact, the
    contact of ``agency`` (the school's unless given)."""

    def __init__(self, gate: Gate, role: Role, agency: str = SCHOOL) -> None:
        self.gate = gate
        with transaction() as session:
            if role is Role.OPERATOR:  # the demo has none: one registered as an operator is
                email = register(Role.OPERATOR).email
                account = session.exec(select(Account).where(Account.email == email)).one()
            elif role is Role.AGENCY_CONTACT:
                account = session.get_one(Account, uuid.UUID(demo_agency_contact(session, agency).person_id))
            else:
                account = session.get_one(Account, uuid.UUID(demo_identity(session, role).person_id))
            roles = accounts.roles_of(session, account)
            held = None if Role.OPERATOR in roles or Role.PANEL in roles else accounts.partnerships_of(session, account)
            self.identity = accounts.identity_of(account, "password")
        self.token = gate.sessions.start(self.identity, roles, demo=True, now=utcnow(), partnerships=held)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.gate)
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, cookies={COOKIE: self.token}) as client:
                return await client.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        data = {**fields, "form_token": form_token(self.token) if token is None else token}
        return self.request("POST", path, data=data)

    def submit(self, path: str, posted: dict[str, list[str]], *, action: str = "submit") -> httpx.Response:
        page = self.get(path)
        key = re.search(r'name="form_key" value="([^"]+)"', page.text)
        assert key, page.text[:500]
        return self.post(path, {**posted, "form_key": key.group(1), "action": action})


def visible(page: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def sign_off(reference: str, c: Any, **change: Any) -> dict[str, list[str]]:
    answer_ = {**c.answer(Stage.RAPID_REVIEW_SIGN_OFF), **change}
    return form_fields.as_posted(STEPS[Stage.RAPID_REVIEW_SIGN_OFF].form, answer_)


@pytest.fixture
def signing(db: Engine) -> Iterator[tuple[str, Any]]:
    yield at_sign_off(db)


# --- what each person sees ---------------------------------------------------------------------------------


def test_a_partner_sees_the_step_waiting_for_them_and_lands_on_its_page(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    police = Person(gate, Role.POLICE)
    page = police.get("/")
    assert page.status_code == 200
    text = visible(page)
    assert reference in text and STEPS[Stage.RAPID_REVIEW_SIGN_OFF].title in text
    assert task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF) in page.text
    form = police.get(task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF))
    assert form.status_code == 200
    # one role in this review: the gate knows which partner signs, and says so, with no choice to make
    assert "You sign for: Police" in visible(form) and not re.search(r'type="radio"[^>]*name="partner"', form.text)


def test_a_page_not_signed_in_goes_to_sign_in_and_back_to_the_task(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url=ORIGIN) as client:
            return await client.get(path)

    page = asyncio.run(go())
    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in?next=") and "rapid-review-sign-off" in page.headers["location"]


def test_the_coordinator_sees_every_step_waiting_in_their_partnership_and_can_start_a_notification(
    gate: Gate, signing: tuple[str, Any]
) -> None:
    reference, _ = signing
    page = Person(gate, Role.COORDINATOR).get("/")
    assert page.status_code == 200 and reference in visible(page)
    assert "Start a notification" in visible(page)


def test_an_operator_sees_every_step_waiting_and_answers_none(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, c = signing
    operator = Person(gate, Role.OPERATOR)
    assert reference in visible(operator.get("/"))
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    page = operator.get(path)
    assert page.status_code == 200 and 'value="submit"' not in page.text  # the form, without its buttons
    refused = operator.submit(path, sign_off(reference, c))
    assert refused.status_code == 403


def test_a_partner_has_no_prefect_at_all(gate: Gate, prefect: StandIn, signing: tuple[str, Any]) -> None:
    police = Person(gate, Role.POLICE)
    for page in ("/dashboard", "/runs", "/deployments"):
        found = police.get(page)
        assert found.status_code == 303 and found.headers["location"] == "/"
    for route in ("/api/version", "/api/flow_runs/filter", "/api/admin/settings"):
        assert police.request("GET" if "filter" not in route else "POST", route).status_code == 403
    assert prefect.calls == []


# --- refused at Submit ---------------------------------------------------------------------------------------


def test_a_date_before_the_rapid_review_is_refused_on_the_page_and_nothing_reaches_prefect(
    gate: Gate, prefect: StandIn, db: Engine, signing: tuple[str, Any]
) -> None:
    reference, c = signing
    before = state(db, reference)
    page = Person(gate, Role.LOCAL_AUTHORITY).submit(
        task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), sign_off(reference, c, signed_on="2020-01-01")
    )
    assert page.status_code == 400
    assert "cannot be before the rapid review's completion" in visible(page)
    assert 'class="govuk-error-summary' in page.text
    assert prefect.calls == []
    after = state(db, reference)
    assert (after.stage, after.step_seq, after.step_refusal) == (before.stage, before.step_seq, before.step_refusal)


def test_signing_twice_is_refused_on_the_page(
    gate: Gate, prefect: StandIn, db: Engine, signing: tuple[str, Any]
) -> None:
    reference, c = signing
    assert answer(db, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted  # the local authority signed
    page = Person(gate, Role.LOCAL_AUTHORITY).submit(
        task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), sign_off(reference, c)
    )
    assert page.status_code == 400 and "already signed off" in visible(page)
    assert prefect.calls == []
    done = visible(Person(gate, Role.LOCAL_AUTHORITY).get("/")).split("Done recently", 1)[1]
    assert reference in done and "Sign off: signed" in done  # their sign-off, among what they did lately


def test_a_registration_no_longer_in_force_is_refused_on_the_page(
    gate: Gate, prefect: StandIn, db: Engine, signing: tuple[str, Any]
) -> None:
    reference, c = signing
    police = Person(gate, Role.POLICE)
    with transaction() as session:
        email = session.exec(select(Representative).where(Representative.role == Role.POLICE)).first()
        assert email is not None
        operator = transitions.Actor("Olu Operator (command line)", Role.OPERATOR)
        partners.represent(session, "northshire", email.email, to_on=TODAY - dt.timedelta(days=1), by=operator)
    page = police.submit(task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), sign_off(reference, c, partner="police"))
    assert page.status_code == 400 and "not in force today" in visible(page)
    assert prefect.calls == []


def test_the_forms_own_rules_are_shown_by_each_field(gate: Gate, prefect: StandIn, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    page = Person(gate, Role.POLICE).submit(task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), {})
    assert page.status_code == 400
    assert 'class="govuk-error-summary' in page.text and "govuk-error-message" in page.text
    assert prefect.calls == []


def test_an_answer_to_a_form_answered_since_is_refused_and_changes_nothing(
    gate: Gate, prefect: StandIn, db: Engine, signing: tuple[str, Any]
) -> None:
    reference, c = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    police = Person(gate, Role.POLICE)
    page = police.get(path)
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key
    assert answer(db, reference, c.answer(Stage.RAPID_REVIEW_SIGN_OFF)).accepted  # someone answered meanwhile
    stale = police.post(path, {**sign_off(reference, c, partner="police"), "form_key": key.group(1)})
    assert stale.status_code == 409 and "since you opened the page" in visible(stale)
    assert prefect.calls == []


def test_a_page_from_another_session_is_refused_as_expired(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    refused = Person(gate, Role.POLICE).post(path, {"action": "save", "x": "y"}, token="a-token-of-another-page")
    assert refused.status_code == 400 and "expired" in visible(refused)


def test_markup_typed_into_a_field_is_shown_back_as_text(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, c = signing
    markup = '<script>alert("x")</script><b>bold</b>'
    posted = sign_off(reference, c, signed_on="2020-01-01")
    texts = [name for name, f in _text_fields(Stage.RAPID_REVIEW_SIGN_OFF).items() if f]
    assert texts, "the sign-off has a free-text field"
    posted[texts[0]] = [markup]
    page = Person(gate, Role.POLICE).submit(task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), posted)
    assert markup not in page.text and html.escape(markup, quote=False)[:20] in page.text.replace("&#34;", '"')


def _text_fields(stage: Stage) -> dict[str, bool]:
    fields = form_fields.fields_for(STEPS[stage].form, frozenset({Role.POLICE}))
    return {f.name: f.kind in ("text", "textarea") for f in fields}


def test_a_body_over_1_mb_is_refused_before_it_is_read(gate: Gate, prefect: StandIn, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    big = {"reasons": "x" * (1024 * 1024 + 1)}
    page = Person(gate, Role.POLICE).post(task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF), big)
    assert page.status_code == 413
    assert prefect.calls == []


# --- drafts --------------------------------------------------------------------------------------------------


def test_a_draft_survives_signing_out_and_is_nobody_elses(gate: Gate, db: Engine, signing: tuple[str, Any]) -> None:
    reference, c = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    posted = sign_off(reference, c)
    field_name = next(name for name, text_ in _text_fields(Stage.RAPID_REVIEW_SIGN_OFF).items() if text_)
    posted[field_name] = [f"Seen by {PLANTED} on the ward"]
    police = Person(gate, Role.POLICE)
    saved = police.post(path, {**posted, "action": "save"})
    assert saved.status_code == 303
    gate.sessions.end(police.token)  # signed out (or timed out): a new sign-in
    again = Person(gate, Role.POLICE).get(path)
    assert PLANTED in visible(again) and "draft" in visible(again).lower()
    assert PLANTED not in visible(Person(gate, Role.LOCAL_AUTHORITY).get(path))  # another person's page
    with Session(db) as session:  # sealed at rest
        rows = session.exec(text("SELECT sealed FROM draft")).all()  # type: ignore[call-overload]
        assert rows and all(PLANTED not in str(row) for row in rows)


# --- "I'm on it" and follow-up dates -----------------------------------------------------------------------------


def test_taking_a_task_is_shown_to_the_others_and_only_its_taker_or_a_coordinator_releases_it(
    gate: Gate, signing: tuple[str, Any]
) -> None:
    reference, _ = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    police = Person(gate, Role.POLICE)
    assert police.post(f"{path}/claim", {"action": "take"}).status_code == 303
    shown = visible(Person(gate, Role.LOCAL_AUTHORITY).get("/"))
    assert police.identity.name in shown
    refused = Person(gate, Role.LOCAL_AUTHORITY).post(f"{path}/claim", {"action": "release"})
    assert refused.status_code == 409
    assert Person(gate, Role.COORDINATOR).post(f"{path}/claim", {"action": "release"}).status_code == 303
    assert police.identity.name not in visible(Person(gate, Role.LOCAL_AUTHORITY).get("/"))


def test_a_follow_up_date_is_the_persons_own(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    police = Person(gate, Role.POLICE)
    day = TODAY + dt.timedelta(days=3)
    done = police.post(
        f"{path}/follow-up", {"follow_up-day": day.day, "follow_up-month": day.month, "follow_up-year": day.year}
    )
    assert done.status_code == 303
    assert f"{day:%-d %B %Y}" in visible(police.get("/"))
    assert f"{day:%-d %B %Y}" not in visible(Person(gate, Role.LOCAL_AUTHORITY).get("/"))
    wrong = police.post(f"{path}/follow-up", {"follow_up-day": "31", "follow_up-month": "2", "follow_up-year": "2027"})
    assert wrong.status_code == 400


def test_state_is_untouched_by_a_look(db: Engine, gate: Gate, signing: tuple[str, Any]) -> None:
    reference, _ = signing
    before = state(db, reference)
    for role in (Role.POLICE, Role.COORDINATOR, Role.OPERATOR, Role.PANEL):
        Person(gate, role).get("/")
    with Session(db) as session:
        assert lookup.review_by_reference(session, reference).step_seq == before.step_seq


# --- the hostile corpus, through the page ------------------------------------------------------------------

# what the page cannot send: a one-partner person's partner is known (the field is not theirs to choose), and a field
# the form does not have is not read
# the form does not have is not read, and a box to tick is sent ticked or not (a forged value: below)
NOT_ON_THE_PAGE = {("partner",), ("unexpected_field",), ("national_review",)}


def _on_the_page(stage: Stage, change: dict[str, Any]) -> bool:
    """Whether a page can send ``change``: not a field the page does not draw, nor a text where it draws rows (a
    repeating group is posted row by row)."""
    kinds = {f.name: f.kind for f in form_fields.fields_for(STEPS[stage].form, frozenset())}
    rows_as_text = any(
        kinds.get(name) is form_fields.FieldKind.ROWS and isinstance(v, str) for name, v in change.items()
    )
    return tuple(change) not in NOT_ON_THE_PAGE and not rows_as_text


ON_THE_PAGE = [(s, change, m) for s, change, m in BAD_ANSWERS if _on_the_page(s, change)]


@pytest.mark.parametrize(
    ("stage", "change", "message"), ON_THE_PAGE, ids=[f"{s.value}-{m[:20]}" for s, _, m in ON_THE_PAGE]
)
def test_each_bad_answer_is_refused_on_the_page_clearly_and_changes_nothing(
    gate: Gate, prefect: StandIn, db: Engine, stage: Stage, change: dict[str, Any], message: str
) -> None:
    reference, c = _at(db, stage)
    good = c.answer(stage)
    before = state(db, reference)
    person = Person(gate, answerer(stage, good))
    page = person.submit(task_path(reference, stage), form_fields.as_posted(STEPS[stage].form, {**good, **change}))
    shown = visible(page)
    if page.status_code == 413:  # a paste over 1 MB: refused before it is read
        assert "at most 1 MB" in shown
    else:
        assert page.status_code == 400, shown[:500]
        assert 'class="govuk-error-summary' in page.text
        assert message.lower() in shown.lower() or _title_of(stage, change).lower() in shown.lower(), shown[:800]
    assert prefect.calls == []
    after = state(db, reference)
    assert (after.stage, after.step_seq, after.step_refusal) == (before.stage, before.step_seq, before.step_refusal)


def _title_of(stage: Stage, change: dict[str, Any]) -> str:
    field = STEPS[stage].form.model_fields.get(next(iter(change)))
    return field.title or "" if field else ""


# --- the notification's identity step ----------------------------------------------------------------------


RUN = "0b5c2f0e-3f6a-4c1b-9d2e-7a8b9c0d1e2f"


@dataclass
class NotificationWaiting(StandIn):
    """Prefect with one notification run waiting for the children's identities (as its record reads)."""

    resumed: list[dict[str, Any]] = field(default_factory=list)
    notified: dict[str, Any] = field(default_factory=dict)  # more of the notification's parameters

    def run(self) -> dict[str, Any]:
        keyset = {"response": f"{SUSPENDED}identity-1-response", "schema": f"{SUSPENDED}identity-1-schema"}
        notification = {"partnership": "northshire", "children": [{"pseudonym": "Child K"}], **self.notified}
        return {
            "id": RUN,
            "name": "northshire · new incident",
            "parameters": {"notification": notification},
            "state": {"type": "PAUSED", "state_details": {"run_input_keyset": keyset}},
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.calls.append(f"{scope['method']} {scope['path']}")
        if scope["path"] == f"/api/flow_runs/{RUN}":
            await _json(send, self.run())
        elif scope["path"] == "/api/flow_runs/filter":
            await _json(send, [self.run()])
        else:
            await respond_json(send, 404, "not found")


def test_the_coordinator_sees_and_opens_a_notification_waiting_for_the_childrens_identities(db: Engine) -> None:
    prefect = NotificationWaiting()
    gate = Gate(prefect, service_digest=digest("service"), gate_key=gate_key(), checker=InProcessChecker())
    at_sign_off(db)  # the demo partnership and its people
    coordinator = Person(gate, Role.COORDINATOR)
    listed = coordinator.get("/")
    assert f"/tasks/notification/{RUN}" in listed.text and "Who the children are" in visible(listed)
    page = coordinator.get(f"/tasks/notification/{RUN}")
    assert page.status_code == 200 and "Child K" in visible(page)
    assert 'value="save"' not in page.text  # no draft of children's names
    identity = Case(today=TODAY).identity()
    identity["children"] = [{**identity["children"][0], "pseudonym": "Child Z"}]  # not the child notified
    wrong = coordinator.submit(f"/tasks/notification/{RUN}", form_fields.as_posted(Identity, identity))
    assert wrong.status_code == 400 and "same pseudonyms: Child K" in visible(wrong)
    assert not any("resume" in call or "input" in call for call in prefect.calls)  # nothing handed over
    police = Person(gate, Role.POLICE)
    assert f"/tasks/notification/{RUN}" not in police.get("/").text
    assert police.get(f"/tasks/notification/{RUN}").status_code == 404  # a partner answers no notification


def test_an_unborn_childs_notification_asks_the_mother_and_the_expected_date_and_refuses_as_the_run(
    db: Engine,
) -> None:
    prefect = NotificationWaiting(notified={"unborn": True, "incident_date": "2026-03-10"})
    gate = Gate(prefect, service_digest=digest("service"), gate_key=gate_key(), checker=InProcessChecker())
    at_sign_off(db)
    coordinator = Person(gate, Role.COORDINATOR)
    assert "The mother and the expected date of delivery" in visible(coordinator.get("/"))
    page = coordinator.get(f"/tasks/notification/{RUN}")
    assert page.status_code == 200
    shown = visible(page)
    assert "Expected date of delivery" in shown and "Mother's full name" in shown and "Child K" in shown
    names = set(re.findall(r'name="([^"]+)"', page.text))
    assert {"children-0-expected_on-day", "mother-full_name", "mother-date_of_birth-day"} <= names
    assert not {"children-0-date_of_birth-day", "children-0-full_name"} & names  # nothing of the child's to give
    unborn = {
        "children": [{"pseudonym": "Child K", "expected_on": "2025-12-01"}],  # born long before the incident
        "mother": {"full_name": PLANTED, "date_of_birth": None},
    }
    long_past = coordinator.submit(f"/tasks/notification/{RUN}", form_fields.as_posted(UnbornIdentity, unborn))
    assert long_past.status_code == 400
    assert "Child K: the expected date of delivery must be between 6 weeks before" in visible(long_past)
    unborn["children"] = [{"pseudonym": "Child Z", "expected_on": "2026-05-01"}]
    wrong = coordinator.submit(f"/tasks/notification/{RUN}", form_fields.as_posted(UnbornIdentity, unborn))
    assert wrong.status_code == 400 and "same pseudonyms: Child K" in visible(wrong)
    unborn["mother"] = {"full_name": PLANTED, "date_of_birth": "2099-01-01"}
    born_later = coordinator.submit(f"/tasks/notification/{RUN}", form_fields.as_posted(UnbornIdentity, unborn))
    assert born_later.status_code == 400 and "cannot be in the future" in visible(born_later)
    assert not any("resume" in call or "input" in call for call in prefect.calls)  # nothing handed over


def test_a_forged_value_for_a_box_to_tick_is_refused(gate: Gate, prefect: StandIn, db: Engine) -> None:
    reference, c = _at(db, Stage.AWAITING_PANEL)
    posted = form_fields.as_posted(STEPS[Stage.AWAITING_PANEL].form, c.answer(Stage.AWAITING_PANEL))
    page = Person(gate, Role.PANEL).submit(
        task_path(reference, Stage.AWAITING_PANEL), {**posted, "national_review": ["perhaps"]}
    )
    assert page.status_code == 400 and "The Panel will carry out a national review" in visible(page)
    assert prefect.calls == []


def test_the_page_saves_a_draft_while_the_person_types(gate: Gate, signing: tuple[str, Any]) -> None:
    reference, c = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    police = Person(gate, Role.POLICE)
    assert "data-cspr-autosave" in police.get(path).text
    posted = sign_off(reference, c)
    field_name = next(name for name, text_ in _text_fields(Stage.RAPID_REVIEW_SIGN_OFF).items() if text_)
    posted[field_name] = ["typed a minute before the idle sign-out"]
    assert police.post(path, {**posted, "action": "autosave"}).status_code == 204  # gate/static/cspr.js
    gate.sessions.end(police.token)  # the idle sign-out
    assert police.post(path, {**posted, "action": "autosave"}).status_code == 401  # told on the page; kept before
    assert "typed a minute before the idle sign-out" in visible(Person(gate, Role.POLICE).get(path))


# --- every route of the tasks pages, as each role ------------------------------------------------------------

ROLES = [
    Role.COORDINATOR,
    Role.LOCAL_AUTHORITY,
    Role.POLICE,
    Role.HEALTH,
    Role.PANEL,
    Role.OPERATOR,
    Role.AGENCY_CONTACT,
]
PARTNER = {Role.LOCAL_AUTHORITY, Role.POLICE, Role.HEALTH}
CLOSES = {Role.COORDINATOR, *PARTNER}  # who may close a review's open actions together
SEES_ITEMS = {
    Role.COORDINATOR,
    *PARTNER,
    Role.AGENCY_CONTACT,
}  # the agency contact: the school's, whose items these are


def expected(role: Role | None, route: str) -> int:
    """What each person gets from each route at a review waiting for the partners' sign-off, with a request to the
    school and an action of the school's (None: not signed in)."""
    if route == "GET assets":
        return 200  # the styles and script: nothing of anyone's
    if role is None:
        return 303 if route.startswith("GET") else 401
    agency = role is Role.AGENCY_CONTACT
    return {
        "GET list": 200,
        "GET task": 404 if agency else 200,  # the form; without its buttons to someone whose step it is not
        "POST save": 303 if role in PARTNER else 409 if agency else 403,
        "POST take": 303 if role in PARTNER else 409,
        "POST follow-up": 409 if agency else 303,  # a date of their own, on a step they may see
        "GET accepted": 200,
        "GET identity": 404,  # no notification waits here
        "GET no such": 404,
        # the work around the review: its people see each item, and nobody else learns whether it exists
        "GET request": 200 if role in SEES_ITEMS else 404,
        "POST request save": 303
        if role in (Role.COORDINATOR, Role.AGENCY_CONTACT)
        else 403
        if role in PARTNER
        else 404,
        "GET request accepted": 200,
        "GET action": 200 if role in SEES_ITEMS else 404,
        "POST action save": 303 if role in SEES_ITEMS else 404,
        "GET action accepted": 200,
        "GET action evidence": 404,  # it has none: to those who see the action as to everyone else, no such page
        # the review's open actions, closed together: the partnership's page alone (no run waits here, so nothing
        # is closed, and the page says so)
        "GET close actions": 200 if role in CLOSES else 404,
        "POST close actions": 409 if role in CLOSES else 404,
        "GET no such request": 404,
    }[route]


def add_work(reference: str) -> tuple[str, str]:
    """A request to the school and an action of the school's on the review: their pages."""
    from models.tables import RecommendationSource
    from models.work.actions import NewAction, record_actions
    from models.work.items import ItemKind, ItemRef, item_path
    from models.work.requests import ask_agencies

    coordinator = transitions.Actor("Chris Lee", Role.COORDINATOR)
    with transaction() as session:
        review = lookup.review_by_reference(session, reference)
        (request,) = ask_agencies(session, review, [SCHOOL], actor=coordinator, at=utcnow(), today=TODAY)
        new = NewAction("Schools hear of missed appointments.", "Add them to welfare checks.", SCHOOL, "Mr Owen Price",
                        TODAY + dt.timedelta(days=60), "The check asks about them.")  # fmt: skip
        (action,) = record_actions(
            session, review, [new], RecommendationSource.RAPID_REVIEW, actor=coordinator, at=utcnow(), today=TODAY
        )
        return (
            item_path(reference, ItemRef(ItemKind.REQUEST, request.number)),
            item_path(reference, ItemRef(ItemKind.ACTION, action.number)),
        )


@pytest.mark.parametrize("role", [None, *ROLES], ids=["not signed in", *(r.value for r in ROLES)])
def test_every_route_of_the_tasks_pages_as_each_role(
    gate: Gate, prefect: StandIn, signing: tuple[str, Any], role: Role | None
) -> None:
    reference, _ = signing
    path = task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    request, action = add_work(reference)
    closing = closing_path(reference)
    if role is None:
        person = Person(gate, Role.POLICE)
        person.token = "no-session"
    else:
        person = Person(gate, role)
    routes = {
        "GET list": lambda: person.get("/"),
        "GET task": lambda: person.get(path),
        "POST save": lambda: person.post(path, {"action": "save"}),
        "POST take": lambda: person.post(f"{path}/claim", {"action": "take"}),
        "POST follow-up": lambda: person.post(f"{path}/follow-up", {}),
        "GET accepted": lambda: person.get(f"{path}/accepted"),
        "GET identity": lambda: person.get(f"/tasks/notification/{RUN}"),
        "GET no such": lambda: person.get("/tasks/nothing"),
        "GET assets": lambda: person.get("/tasks/assets/cspr.css"),
        "GET request": lambda: person.get(request),
        "POST request save": lambda: person.post(request, {"action": "save"}),
        "GET request accepted": lambda: person.get(f"{request}/accepted"),
        "GET action": lambda: person.get(action),
        "POST action save": lambda: person.post(action, {"action": "save"}),
        "GET action accepted": lambda: person.get(f"{action}/accepted"),
        "GET action evidence": lambda: person.get(f"{action}/evidence"),
        "GET close actions": lambda: person.get(closing),
        "POST close actions": lambda: person.post(
            closing,
            {"reason": "Taken into the partnership's plan.", "form_key": "action-1-0"},  # as the page drew it
        ),
        "GET no such request": lambda: person.get(request.replace("/requests/1", "/requests/99")),
    }
    got = {route: call().status_code for route, call in routes.items()}
    assert got == {route: expected(role, route) for route in routes}
    assert not any("/resume" in call or "/input" in call for call in prefect.calls)  # no answer reached Prefect


# --- the agencies to ask: boxes to tick --------------------------------------------------------------------------


def test_the_agencies_to_ask_are_ticked_from_the_partnerships_own(gate: Gate, prefect: StandIn, db: Engine) -> None:
    reference, c = _at(db, Stage.INCIDENT_RECORDED)
    path = task_path(reference, Stage.INCIDENT_RECORDED)
    coordinator = Person(gate, Role.COORDINATOR)
    page = coordinator.get(path)
    assert page.status_code == 200
    for agency in (SCHOOL, SURGERY):
        assert f'type="checkbox" value="{html.escape(agency)}"' in page.text.replace('name="agencies" ', "")
    notification = {**c.answer(Stage.INCIDENT_RECORDED), "agencies": [SURGERY]}
    posted = form_fields.as_posted(STEPS[Stage.INCIDENT_RECORDED].form, notification)
    forged = coordinator.submit(path, {**posted, "agencies": [SURGERY, f"{PLANTED} Academy"]})
    assert forged.status_code == 400 and "from those listed" in visible(forged) and PLANTED not in visible(forged)
    checked = coordinator.submit(path, {**posted, "agencies": [SURGERY]})
    assert checked.status_code == 409 and "not waiting for this answer just now" in visible(checked)  # checked: no run
    assert not any("/resume" in call for call in prefect.calls)


# --- bad input at an item's forms ----------------------------------------------------------------------------------

GOOD_RETURN = {
    "involvement": "Seen daily at school.",
    "chronology": [{"on": "2026-10-02", "contact": "Hungry in class."}],
    "analysis": "Not shared with health.",
    "learning": "Share the same day.",
}
TOMORROW = (dt.date.today() + dt.timedelta(days=2)).isoformat()
BAD_ITEM_ANSWERS = [
    ("return", {"learning": ""}, "what your agency has learnt"),
    ("return", {"involvement": "Seen\x07 daily."}, "Remove the invisible control characters"),
    ("return", {"analysis": "x" * 20_001}, "Enter at most 20,000 characters"),
    ("return", {"chronology": [{"on": TOMORROW, "contact": "Seen."}]}, "in the future"),
    ("return", {"chronology": [{"on": "", "contact": "Seen."}]}, "Enter the date in row 1"),
    ("progress", {"status": "done", "evidence": ""}, "give the evidence"),
    ("progress", {"status": "cannot be done", "reason": ""}, "give the reason the action cannot be done"),
    ("progress", {"status": "finished"}, "Select where does the action stand?"),
    ("change", {"what": "extend", "reason": "Half term."}, "give the new date it is due"),
    ("change", {"what": "not needed", "reason": ""}, "give the reason"),
]


@pytest.mark.parametrize(("part", "change", "message"), BAD_ITEM_ANSWERS, ids=[m[:30] for _, _, m in BAD_ITEM_ANSWERS])
def test_each_bad_answer_to_an_item_is_refused_clearly_and_changes_nothing(
    gate: Gate, prefect: StandIn, db: Engine, signing: tuple[str, Any], part: str, change: dict[str, Any], message: str
) -> None:
    from models.work.forms import ActionProgress, AgencyReturn, RequestChange

    reference, _ = signing
    request, action = add_work(reference)
    form, path, role, base = {
        "return": (AgencyReturn, request, Role.AGENCY_CONTACT, GOOD_RETURN),
        "progress": (ActionProgress, action, Role.AGENCY_CONTACT, {}),
        "change": (RequestChange, request, Role.COORDINATOR, {}),
    }[part]
    before = item_state(db)
    page = Person(gate, role).submit(path, form_fields.as_posted(form, {**base, **change}))
    assert page.status_code == 400, visible(page)[:800]
    assert 'class="govuk-error-summary' in page.text and message.lower() in visible(page).lower(), visible(page)[:800]
    assert item_state(db) == before
    assert not any("/resume" in call or "/input" in call for call in prefect.calls)


def item_state(db: Engine) -> list[tuple[Any, ...]]:
    with Session(db) as session:
        return [
            tuple(row)
            for table in ("information_request", "action")
            for row in session.exec(text(f"SELECT status, answer_seq, refusal FROM {table}")).all()  # type: ignore[call-overload]
        ]
