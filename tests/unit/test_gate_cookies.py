"""The gate's cookies: HttpOnly (no script reads them), SameSite=Strict (no other site's page sends them), Path=/,
and Secure exactly when the gate is reached over TLS. Through the gate's ASGI interface, in front of a stand-in
for Prefect."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from gate.app import Gate
from gate.asgi import Receive, Scope, Send, respond_json
from gate.sessions import COOKIE
from gate.signin_app import FORM_COOKIE
from models.system_credentials import digest


async def prefect_stand_in(scope: Scope, receive: Receive, send: Send) -> None:
    await respond_json(send, 200, "reached Prefect")


def gate(*, secure: bool) -> Gate:
    return Gate(prefect_stand_in, service_digest=digest("service"), gate_key="gate-key", secure=secure)


def attributes(set_cookie: str) -> set[str]:
    """A Set-Cookie header's attributes, without the name=value pair or Max-Age's value."""
    _, *rest = (part.strip() for part in set_cookie.split(";"))
    return {re.sub(r"=.*", "", part) if part.startswith("Max-Age") else part for part in rest}


def call(app: Gate, method: str, path: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_httponly_strict_for_the_whole_site_and_secure_only_over_tls(secure: bool) -> None:
    cookie = gate(secure=secure).signin.cookie(COOKIE, "token")
    assert cookie.startswith(f"{COOKIE}=token;")
    assert attributes(cookie) == {"Path=/", "HttpOnly", "SameSite=Strict"} | ({"Secure"} if secure else set())


@pytest.mark.parametrize("secure", [False, True])
def test_the_sign_in_pages_form_cookie_has_the_same_attributes(secure: bool) -> None:
    page = call(gate(secure=secure), "GET", "/sign-in")
    assert page.status_code == 200
    (form_cookie,) = [c for c in page.headers.get_list("set-cookie") if c.startswith(f"{FORM_COOKIE}=")]
    wanted = {"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age"} | ({"Secure"} if secure else set())
    assert attributes(form_cookie) == wanted


@pytest.mark.parametrize("secure", [False, True])
def test_signing_out_clears_the_session_cookie_with_the_same_attributes(secure: bool) -> None:
    app = gate(secure=secure)
    page = call(app, "GET", "/sign-out")
    token = page.cookies[FORM_COOKIE]
    out = call(
        app, "POST", "/sign-out", data={"form_token": token}, headers={"cookie": f"{FORM_COOKIE}={token}; {COOKIE}=x"}
    )
    assert out.status_code == 200
    (cleared,) = [c for c in out.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    assert cleared.startswith(f"{COOKIE}=;") and "Max-Age=0" in cleared
    assert attributes(cleared) == {"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age"} | (
        {"Secure"} if secure else set()
    )


def test_the_stand_in_is_reached_with_the_service_credential_only() -> None:
    # the control for the tests above: the gate in front of the stand-in works as in the server
    app = gate(secure=False)
    assert call(app, "GET", "/api/version").status_code == 401
    assert call(app, "GET", "/api/version", headers={"X-Cspr-Service": "service"}).json() == {
        "detail": "reached Prefect"
    }
