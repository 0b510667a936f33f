"""No way into the real server without signing in: every route of Prefect's own OpenAPI document (walked from the
document, so a route a later Prefect adds is covered too), the UI's pages, and every websocket. And CORS lets no
other site's page call the API.

Against the session's server (LocalSystem, as `cspr up` starts it: the gate in front of Prefect, in its process).
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import prefect.server.api
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from cli.system import LocalSystem, service_headers
from gate.guard import NOT_PREFECT, NOT_YOURS
from gate.policy import Caller, grant_for, uses_prefect
from gate.routes import Route
from gate.sessions import COOKIE
from models.roles import Role
from tests.utils.api import service_api
from tests.utils.signin import register, signed_in

# the routes that answer without a session: the two health checks `cspr up` and a load balancer poll
OPEN = {("GET", "/health"), ("GET", "/ready")}
METHODS = {"get", "post", "put", "patch", "delete"}
# Prefect's websockets, by the prefix of the router that declares each (checked against Prefect's source below)
WEBSOCKETS = [
    "/events/in",
    "/events/out",
    "/logs/out",
    "/task_runs/subscriptions/scheduled",
    "/work_pools/{work_pool_name}/workers/connect",
]


@pytest.fixture(scope="module")
def system(deployed: LocalSystem) -> LocalSystem:
    return deployed


@pytest.fixture(scope="module")
def spec(system: LocalSystem) -> dict[str, Any]:
    document: dict[str, Any] = service_api(system).get("/openapi.json").raise_for_status().json()
    return document


def filled(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter filled: a fresh uuid where Prefect wants one, a plausible name elsewhere."""
    kinds = {
        p["name"]: p.get("schema", {}).get("format", "")
        for p in operation.get("parameters", [])
        if p.get("in") == "path"
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(uuid.uuid4()) if kinds.get(name) == "uuid" or name.endswith("id") else f"gate-test-{name}"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_route_in_prefects_openapi_document_needs_a_session(system: LocalSystem, spec: dict[str, Any]) -> None:
    assert [s["url"] for s in spec.get("servers", [])] == ["/api"]  # the document's paths are under /api
    operations = [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in METHODS]
    assert len(operations) > 150  # the whole API, not a stub: Prefect 3.8 has 187
    answered: dict[tuple[str, str], int] = {}
    with httpx.Client(base_url=system.api_url, timeout=30) as anonymous:  # no cookie, no service header
        for method, path, operation in operations:
            answered[(method, path)] = anonymous.request(method, filled(path, operation)).status_code
    let_in = {route for route, status in answered.items() if status != 401}
    assert let_in == OPEN, sorted(let_in - OPEN)


@pytest.mark.parametrize("role", [Role.POLICE, Role.COORDINATOR, Role.PANEL])
def test_every_route_outside_a_roles_allowlist_is_refused_by_the_gate_reads_included(
    system: LocalSystem, spec: dict[str, Any], role: Role
) -> None:
    # across the whole document, so a route a later Prefect adds is refused to people by default; refused by the gate
    # itself (its words, not Prefect's), so nothing here reaches Prefect or changes anything
    caller = Caller(frozenset({role}), frozenset({"northshire"}))
    every = [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in METHODS]
    outside = [
        (method, filled(path, op))
        for method, path, op in every
        if grant_for(Route(method, "/api" + path), caller) is None and (method, path) not in OPEN
    ]
    assert len(outside) > 100
    with signed_in(system.ui_url, register(role)) as browser:
        answers = {(method, path): browser.http.request(method, "/api" + path) for method, path in outside}
    # partners and the Panel use no Prefect at all: every route is refused to them, in words sending them to their tasks
    refusal = NOT_YOURS if uses_prefect(caller) else NOT_PREFECT
    let_through = {
        route: answer.status_code
        for route, answer in answers.items()
        if answer.status_code != 403 or answer.json()["detail"] != refusal
    }
    assert let_through == {}
    if not uses_prefect(caller):
        assert len(outside) == len([op for op in every if (op[0], op[1]) not in OPEN])  # every route of the API


@pytest.mark.parametrize("role", [Role.POLICE, Role.PANEL])
def test_every_page_of_prefects_ui_sends_a_partner_to_their_tasks(system: LocalSystem, role: Role) -> None:
    with signed_in(system.ui_url, register(role)) as browser:
        for page in ("/dashboard", "/runs", "/runs/flow-run/0b5c2f0e", "/deployments", "/v2/", "/artifacts", "/docs"):
            answer = browser.http.get(page)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/"), page
        assert browser.http.get("/").status_code == 200  # their tasks


def test_the_routes_left_open_are_only_the_health_checks(system: LocalSystem) -> None:
    for method, path in OPEN:
        assert httpx.request(method, f"{system.api_url}{path}").status_code == 200
    assert len(OPEN) <= 2  # an open route is a decision: add one here only with a reason


def test_a_refusal_says_to_sign_in_and_holds_nothing_else(system: LocalSystem) -> None:
    refused = httpx.post(f"{system.api_url}/flow_runs/filter", json={})
    assert refused.status_code == 401
    assert refused.json() == {"detail": "sign in first"}
    assert refused.headers["www-authenticate"].startswith("Cookie")


@pytest.mark.parametrize("page", ["/", "/runs", "/v2/", "/dashboard", "/runs/flow-run/0b5c2f0e?tab=Logs"])
def test_a_page_opened_without_a_session_goes_to_the_sign_in_page_and_back(system: LocalSystem, page: str) -> None:
    answer = httpx.get(system.ui_url + page)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/sign-in" and parse_qs(location.query)["next"] == [page]


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../api/version",
        "/v2/assets/../../api/version",
        "/assets/%2e%2e/api/version",
        "/sign-in/../api/version",
        "/api/health/../version",
        "/api//version",
        "//api/version",
    ],
)
def test_a_path_that_climbs_out_of_an_open_folder_stays_closed(system: LocalSystem, path: str) -> None:
    # sent as it is (an HTTP client would tidy the dots away): the gate sees the path Prefect routes on
    with socket.create_connection(("127.0.0.1", system.port), timeout=30) as raw:
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status in {303, 401, 404}, answer[:300]
    assert b'"0.' not in answer.partition(b"\r\n\r\n")[2]  # never Prefect's version string


def test_a_signed_in_person_gets_through_to_prefect(system: LocalSystem) -> None:
    # the control for the refusals above: the same requests with a session are answered by Prefect
    with signed_in(system.ui_url, register(Role.COORDINATOR)) as browser:
        assert browser.http.get("/api/version").status_code == 200
        assert browser.http.post("/api/flow_runs/filter", json={}, headers=browser.csrf()).status_code == 200
        assert browser.http.get("/").status_code == 200


def test_nothing_a_signed_in_person_is_shown_is_kept_by_their_browser(system: LocalSystem) -> None:
    # a page kept in the browser's cache would open again after signing out, without asking the gate
    with signed_in(system.ui_url, register(Role.POLICE)) as browser:
        for path in ("/runs/flow-run/00000000-0000-4000-8000-000000000000", "/deployments", "/api/version"):
            answer = browser.http.get(path)
            assert answer.headers.get_list("cache-control") == ["no-store"], path
            assert "etag" not in answer.headers, path


# --- websockets -----------------------------------------------------------------------------------------


def _routers_websockets(source: Path) -> list[str]:
    text = source.read_text()
    prefix = re.search(r'PrefectRouter\(\s*prefix="([^"]*)"', text)
    return [(prefix.group(1) if prefix else "") + p for p in re.findall(r'@router\.websocket\("([^"]+)"\)', text)]


def test_every_websocket_of_prefect_is_in_the_list_tested() -> None:
    folder = Path(prefect.server.api.__file__).parent
    found = sorted(w for source in folder.rglob("*.py") for w in _routers_websockets(source))
    assert found == sorted(WEBSOCKETS)


def _ws_url(system: LocalSystem, path: str) -> str:
    return "ws://127.0.0.1:{}/api{}".format(system.port, path.replace("{work_pool_name}", "cspr-local"))


@pytest.mark.parametrize("path", WEBSOCKETS)
def test_a_websocket_is_refused_without_the_service_credential(system: LocalSystem, path: str) -> None:
    with pytest.raises(InvalidStatus) as refused, connect(_ws_url(system, path), subprotocols=["prefect"]):  # type: ignore[list-item]
        pass
    assert refused.value.response.status_code in {401, 403}


@pytest.fixture(scope="module")
def operator_cookie(system: LocalSystem) -> Iterator[str]:
    with signed_in(system.ui_url, register(Role.OPERATOR)) as browser:
        yield f"{COOKIE}={browser.session_cookie}"


@pytest.mark.parametrize("path", WEBSOCKETS)
def test_a_websocket_is_refused_to_a_signed_in_person_too(system: LocalSystem, operator_cookie: str, path: str) -> None:
    # the UI opens none: every websocket is the system's own (workers, event and log streams), even an operator's
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(_ws_url(system, path), subprotocols=["prefect"], additional_headers={"cookie": operator_cookie}),  # type: ignore[list-item]
    ):
        pass
    assert refused.value.response.status_code in {401, 403}


@pytest.mark.parametrize("path", WEBSOCKETS)
def test_a_websocket_opens_with_the_service_credential(system: LocalSystem, path: str) -> None:
    with connect(
        _ws_url(system, path),
        subprotocols=["prefect"],  # type: ignore[list-item]
        additional_headers=service_headers(),
        open_timeout=30,
    ) as socket_:
        socket_.send('{"type": "auth", "token": null}')  # Prefect's own handshake, after the gate's
        assert socket_.recv(timeout=30) == '{"type":"auth_success"}'


# --- CORS ---------------------------------------------------------------------------------------------------

EVIL = "https://evil.example"


def preflight(system: LocalSystem, origin: str, headers: dict[str, str] | None = None) -> httpx.Response:
    asking = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return httpx.options(f"{system.api_url}/flow_runs/filter", headers={**asking, **(headers or {})})


def test_a_preflight_from_another_origin_is_not_allowed(system: LocalSystem) -> None:
    # as a browser sends it: no cookie, no credential (the gate refuses it outright)
    assert "access-control-allow-origin" not in preflight(system, EVIL).headers
    # and past the gate, Prefect's own CORS allows only the server's origin
    allowed = preflight(system, EVIL, service_headers()).headers.get("access-control-allow-origin")
    assert allowed is None


def test_a_preflight_from_the_servers_own_origin_is_allowed_by_prefect(system: LocalSystem) -> None:
    # the control for the test above: the header the other origin did not get
    answer = preflight(system, system.ui_url, service_headers())
    assert answer.headers.get("access-control-allow-origin") == system.ui_url


def test_a_signed_in_persons_request_from_another_origin_gets_no_cors_header(system: LocalSystem) -> None:
    with signed_in(system.ui_url, register(Role.COORDINATOR)) as browser:
        answer = browser.http.post("/api/flow_runs/filter", json={}, headers={"Origin": EVIL, **browser.csrf()})
    assert answer.status_code == 200  # answered, but a browser would not let the other site's page read it
    assert answer.headers.get("access-control-allow-origin") not in {EVIL, "*"}
