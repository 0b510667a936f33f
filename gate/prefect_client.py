"""The gate's own calls to Prefect: reading a run before a person may read it, storing the identity of an answer,
passing the answer on. Straight to the app behind the gate, in the same process, with no credential: they never pass
the gate.

Prefect's CSRF check covers them too. The gate asks for its token under a client id nobody else knows (made at
random when the gate starts), so no one can ask for a token under it and rotate the gate's away.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import httpx

from gate.asgi import ASGIApp

INTERNAL = "http://gate.internal"
CSRF_FOR = 50 * 60  # seconds a CSRF token is used before another is fetched: before Prefect's (an hour) lapses


@dataclass
class PrefectClient:
    app: ASGIApp  # Prefect's server, behind the gate
    # the client id under which the gate holds its CSRF token: secret, so no person can ask for a token under it
    _csrf_client: str = field(default_factory=lambda: f"cspr-gate-{secrets.token_urlsafe(24)}")
    _csrf: tuple[str, float] | None = None  # the token, and when (time.monotonic) to fetch another
    _csrf_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def client(self) -> httpx.AsyncClient:
        """A client for the gate's own calls (use it in ``async with``): its changes carry the gate's CSRF token."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=INTERNAL,
            headers={"Prefect-Csrf-Client": self._csrf_client},
            event_hooks={"request": [self._with_csrf]},
            timeout=60,
        )

    async def _with_csrf(self, request: httpx.Request) -> None:
        """A CSRF token for the gate's changes, fetched under its secret client id and renewed before it lapses."""
        if request.method == "GET":
            return
        async with self._csrf_lock:  # one fetch at a time: each fetch replaces the token the one before got
            if self._csrf is None or self._csrf[1] < time.monotonic():
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=INTERNAL) as plain:
                    got = await plain.get("/api/csrf-token", params={"client": self._csrf_client})
                token = got.json().get("token", "") if got.status_code == 200 else ""
                self._csrf = (token, time.monotonic() + CSRF_FOR)
            held = self._csrf[0]
        if held:
            request.headers["Prefect-Csrf-Token"] = held
