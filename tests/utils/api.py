"""The tests' own raw calls to a real server's API, made as the system itself: past the gate with the service
credential, and past Prefect's CSRF protection (on since the gate came) with a token on every change.

Prefect's Python client does both on its own (the service header comes from PREFECT_CLIENT_CUSTOM_HEADERS, the CSRF
token it fetches itself); a bare ``httpx.post`` does neither, and gets 401 from the gate or 403 from Prefect.
"""

from __future__ import annotations

import time
import uuid
from functools import cache

import httpx

from cli.system import LocalSystem
from models.system_credentials import SERVICE_HEADER, service_token

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}  # the methods Prefect's CSRF protection covers
CSRF_FOR = 30 * 60  # seconds a token is used for: well inside Prefect's hour


def service_api(system: LocalSystem | str, *, token: str | None = None) -> httpx.Client:
    """A client of the server's API (``system.api_url``, or the API's URL itself) as the service identity. Paths are
    relative to the API: ``service_api(system).post("/flow_runs/filter", json={})``. ``token``: the service credential
    of a server started with a CSPR_HOME other than this test session's."""
    api_url = system if isinstance(system, str) else system.api_url
    return _client(api_url.rstrip("/"), token or service_token())


@cache
def _client(api_url: str, token: str) -> httpx.Client:
    """One client per server for the whole test session: no connections left open by one-off calls."""
    headers = {SERVICE_HEADER: token}
    held: dict[str, tuple[str, float]] = {}  # the CSRF token, and when to fetch another
    client_id = f"cspr-tests-{uuid.uuid4()}"

    def with_csrf(request: httpx.Request) -> None:
        if request.method not in CHANGES:
            return
        token_, until = held.get("csrf", ("", 0.0))
        if time.monotonic() > until:
            got = httpx.get(f"{api_url}/csrf-token", params={"client": client_id}, headers=headers, timeout=30)
            got.raise_for_status()
            token_, until = got.json()["token"], time.monotonic() + CSRF_FOR
            held["csrf"] = (token_, until)
        request.headers["Prefect-Csrf-Token"] = token_
        request.headers["Prefect-Csrf-Client"] = client_id

    return httpx.Client(base_url=api_url, headers=headers, timeout=30, event_hooks={"request": [with_csrf]})
