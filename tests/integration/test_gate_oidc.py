"""The gate's sign-in with the organisation's account, end to end against a real OpenID provider on loopback: from
the sign-in page's button to a session that opens the person's tasks page (a police representative's: partners use
no Prefect, so the API is refused to them as to anyone signed in who is not of Prefect's UI), and a clear refusal for
a person not in the register. The gate runs over ASGI in this process in front of a stand-in for Prefect; its
database is this session's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from gate import oidc
from gate.app import Gate
from gate.asgi import Receive, Scope, Send, respond_json
from gate.guard import NOT_PREFECT
from gate.sessions import COOKIE
from gate.signin_app import OIDC_COOKIE
from models.db import get_engine, migrate, transaction
from models.people import add_person
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_PARTNERSHIP, seed_demo
from models.system_credentials import digest
from tests.utils.oidc import CALLBACK, LoopbackProvider, ProviderAccount, running_provider, sign_in_at_provider

SAM = ProviderAccount("0c9f3f2e-7d1a-4d55-8e2b-sam000000001", "sam.okoro@northshire-police.example", "Sam Okoro")
ALEX = ProviderAccount("0c9f3f2e-7d1a-4d55-8e2b-alex00000002", "alex.vance@northshire-police.example", "Alex Vance")
ORIGIN = CALLBACK.removesuffix("/sign-in/oidc/callback")


async def prefect_stand_in(scope: Scope, receive: Receive, send: Send) -> None:
    await respond_json(send, 200, f"reached {scope['path']}")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc"), [SAM, ALEX]) as server:
        yield server
    oidc.forget_discovery()


@pytest.fixture(scope="module")
def gate(idp: LoopbackProvider, cspr_home: Path) -> Gate:
    migrate(get_engine())
    with transaction() as session:
        seed_demo(session)
        add_person(
            session,
            name=SAM.name,
            email=SAM.email,
            role=Role.POLICE,
            partnership_code=DEMO_PARTNERSHIP,
            organisation="Northshire Police",
            by=Actor("an operator", Role.OPERATOR),
        )
    return Gate(prefect_stand_in, service_digest=digest("service"), gate_key="gate-key", oidc=idp.provider)


def call(gate: Gate, path: str, cookies: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, cookies=cookies) as client:
            return await client.get(path)

    return asyncio.run(go())


def start(gate: Gate) -> httpx.Response:
    """The sign-in page's button: the gate sends the browser to the provider, with a cookie to come back with."""
    started = call(gate, "/sign-in/oidc?" + urlencode({"next": "/runs/flow-run/abc"}))
    assert started.status_code == 303 and started.cookies.get(OIDC_COOKIE), started.text[:300]
    return started


def through_provider(gate: Gate, person: ProviderAccount) -> httpx.Response:
    """The sign-in page's button, the person's login at the provider, and the provider's redirect back to the same
    browser."""
    started = start(gate)
    callback = sign_in_at_provider(started.headers["location"], person.sub)
    browser = {OIDC_COOKIE: started.cookies[OIDC_COOKIE]}
    return call(gate, "/sign-in/oidc/callback?" + urlencode(callback), browser)


def cleared_browser_cookie(answer: httpx.Response) -> bool:
    return any(c.startswith(f"{OIDC_COOKIE}=;") and "Max-Age=0" in c for c in answer.headers.get_list("set-cookie"))


def test_the_sign_in_page_offers_the_organisations_account(gate: Gate) -> None:
    page = call(gate, "/sign-in")
    assert "Sign in with your organisation" in page.text and 'action="/sign-in/oidc"' in page.text


def test_a_registered_person_signs_in_with_their_organisations_account(gate: Gate) -> None:
    back = through_provider(gate, SAM)
    assert back.status_code == 303 and back.headers["location"] == "/runs/flow-run/abc"
    assert cleared_browser_cookie(back)  # used once
    cookie = back.cookies[COOKIE]
    assert call(gate, "/").status_code == 303  # not signed in: sent to sign in
    tasks = call(gate, "/", {COOKIE: cookie})
    assert tasks.status_code == 200 and "reached" not in tasks.text  # their tasks page, the gate's own
    assert call(gate, "/api/version").status_code == 401
    # signed in (not 401), and refused as a partner: nothing reached Prefect
    assert call(gate, "/api/version", {COOKIE: cookie}).json() == {"detail": NOT_PREFECT}
    session = gate.sessions.find(cookie, gate.clock())
    assert session is not None
    assert session.roles == frozenset({Role.POLICE}) and session.identity.signed_in_with == "oidc"


def test_a_person_not_in_the_register_is_refused_with_a_clear_page(gate: Gate) -> None:
    back = through_provider(gate, ALEX)
    assert back.status_code == 403 and COOKIE not in back.cookies
    assert "You could not be signed in" in back.text and "not registered" in back.text


def test_a_callback_nobody_started_is_refused(gate: Gate, idp: LoopbackProvider) -> None:
    url, _ = oidc.start(idp.provider)  # started elsewhere: the gate never saw this state
    callback = sign_in_at_provider(url, SAM.sub)
    back = call(gate, "/sign-in/oidc/callback?" + urlencode(callback))
    assert back.status_code == 403 and "start again" in back.text
    assert dict(parse_qsl(urlsplit(url).query))["code_challenge_method"] == "S256"


def test_the_browser_cookie_goes_back_only_to_the_callback_and_lasts_as_long_as_the_sign_in(gate: Gate) -> None:
    (cookie,) = [c for c in start(gate).headers.get_list("set-cookie") if c.startswith(f"{OIDC_COOKIE}=")]
    _, *attributes = (part.strip() for part in cookie.split(";"))
    # Lax: the provider's redirect back is a link from another site, which a Strict cookie would not follow
    max_age = f"Max-Age={int(oidc.PENDING_MAX_AGE.total_seconds())}"
    assert set(attributes) == {"Path=/sign-in/oidc", "HttpOnly", "SameSite=Lax", max_age}  # Secure over TLS


@pytest.mark.parametrize("other", ["no cookie", "another browser's cookie"])
def test_a_callback_replayed_from_another_browser_is_refused(gate: Gate, other: str) -> None:
    started = start(gate)
    callback = sign_in_at_provider(started.headers["location"], SAM.sub)  # Sam's real login, its address leaked
    elsewhere = {} if other == "no cookie" else {OIDC_COOKIE: start(gate).cookies[OIDC_COOKIE]}
    replayed = call(gate, "/sign-in/oidc/callback?" + urlencode(callback), elsewhere)
    assert replayed.status_code == 403 and "start again" in replayed.text and COOKIE not in replayed.cookies
    assert cleared_browser_cookie(replayed)
    # and the sign-in it tried to take over is spent: Sam starts again, as the page says
    mine = call(gate, "/sign-in/oidc/callback?" + urlencode(callback), {OIDC_COOKIE: started.cookies[OIDC_COOKIE]})
    assert mine.status_code == 403 and COOKIE not in mine.cookies


def test_the_sign_ins_in_progress_are_capped_the_expired_ones_forgotten_first(gate: Gate) -> None:
    sign_ins = gate.signin
    cap = sign_ins.oidc_pending_max
    sign_ins._oidc_pending.clear()
    sign_ins.oidc_pending_max = 3
    try:
        for _ in range(3):
            start(gate)
        full = call(gate, "/sign-in/oidc?" + urlencode({"next": "/runs"}))
        assert full.status_code == 503 and "Please try again in a few minutes" in full.text
        assert OIDC_COOKIE not in full.cookies and "location" not in full.headers
        assert len(sign_ins._oidc_pending) == 3
        state, held = next(iter(sign_ins._oidc_pending.items()))  # one sign-in left unfinished for 11 minutes
        gone = held.pending.started_at - oidc.PENDING_MAX_AGE.total_seconds() - 60
        sign_ins._oidc_pending[state] = replace(held, pending=replace(held.pending, started_at=gone))
        start(gate)  # its place is taken by a new one
        assert state not in sign_ins._oidc_pending and len(sign_ins._oidc_pending) == 3
    finally:
        sign_ins.oidc_pending_max = cap
        sign_ins._oidc_pending.clear()
