"""Benchmark of the sign-in gate: the time it adds to an API request, against the same request sent to Prefect's app
without it, in one run (requests alternate, so a busy moment of the machine falls on both alike).

Prefect's real app runs in this process on a throwaway SQLite database; requests go over ASGI (no sockets, whose cost
would be the same with or without the gate and only add noise). The request is a read every page of the UI makes
(``POST /api/flows/filter``), from a signed-in person's session.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(requests: int) -> dict[str, Any]:
    import httpx
    from prefect.server.api.server import create_app

    from gate.app import Gate
    from gate.sessions import COOKIE
    from models.identity import Identity
    from models.roles import Role
    from models.system_credentials import digest
    from models.tables import utcnow

    prefect = create_app(final=True, ephemeral=True)
    # the clock stands still: the person is made up, so the register (asked again once a minute a session, a
    # cost spread over every request of that minute) would sign them out part-way through a long run
    now = utcnow()
    gate = Gate(prefect, service_digest=digest("bench-service"), gate_key="bench-key", clock=lambda: now)
    person = Identity("00000000-0000-0000-0000-000000000001", "A coordinator", "", "password+totp")
    cookie = gate.sessions.start(person, frozenset({Role.COORDINATOR}), demo=False, now=now)
    timings: dict[str, list[float]] = {"with_gate": [], "without_gate": []}
    async with prefect.router.lifespan_context(prefect):
        clients = {
            "with_gate": httpx.AsyncClient(
                transport=httpx.ASGITransport(app=gate), base_url="http://bench", cookies={COOKIE: cookie}
            ),
            "without_gate": httpx.AsyncClient(transport=httpx.ASGITransport(app=prefect), base_url="http://bench"),
        }
        for client in clients.values():  # warm both paths: first requests compile queries and fill caches
            for _ in range(20):
                (await client.post("/api/flows/filter", json={"limit": 5})).raise_for_status()
        for _ in range(requests):
            for name, client in clients.items():
                started = time.perf_counter()
                response = await client.post("/api/flows/filter", json={"limit": 5})
                timings[name].append(time.perf_counter() - started)
                response.raise_for_status()
        for client in clients.values():
            await client.aclose()
    gated, plain = timings["with_gate"], timings["without_gate"]
    added = [g - p for g, p in zip(gated, plain, strict=True)]  # pairwise: each pair ran back to back
    ms = 1000.0
    return {
        "requests": requests,
        "with_gate_median_ms": round(statistics.median(gated) * ms, 3),
        "with_gate_p99_ms": round(_quantile(gated, 0.99) * ms, 3),
        "without_gate_median_ms": round(statistics.median(plain) * ms, 3),
        "without_gate_p99_ms": round(_quantile(plain, 0.99) * ms, 3),
        "added_median_ms": round(statistics.median(added) * ms, 3),
        "added_p99_ms": round(_quantile(added, 0.99) * ms, 3),
        "target_added_median_ms": 2.0,
        "target_met": statistics.median(added) * ms <= 2.0,
    }


def run(requests: int = 1000) -> dict[str, Any]:
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_CSRF_PROTECTION_ENABLED,
        temporary_settings,
    )

    with tempfile.TemporaryDirectory(prefix="cspr-bench-gate-") as home:
        database = f"sqlite+aiosqlite:///{Path(home) / 'prefect.db'}"
        with temporary_settings(
            {
                PREFECT_API_DATABASE_CONNECTION_URL: database,
                PREFECT_SERVER_CSRF_PROTECTION_ENABLED: False,  # the same request on both paths, no token fetched
                PREFECT_SERVER_ANALYTICS_ENABLED: False,
            }
        ):
            return asyncio.run(_measure(requests))
