"""The Prefect server, as `prefect server start` runs it, behind the sign-in gate (gate/app.py), and with one
addition: a request the server refused only because its SQLite database was busy is tried again before the
answer goes back.

Why: on SQLite, a request that reads and then writes (starting a run from a deployment, resuming a run with a
form's answer) fails at once with "database is locked" when another writer commits in between: the server's own
services write all the time (the scheduler, the automations' event buckets, heartbeats). The server rolls that
request back and answers 503, which Prefect's Python client retries but the UI does not: the coordinator would
see "Service Unavailable" after pressing Submit. The browser test on a loaded machine met that in CI and in two
runs of two here (resuming a run; starting one); with the retry it passed, three refusals absorbed. Trying again
is as safe as in Prefect's client: the refused request's transaction was rolled back, nothing was written.

Still needed on 3.9.1 because its resume route and its route that starts a run from a deployment
(prefect/server/api/flow_runs.py ``resume_flow_run``, api/deployments.py ``create_flow_run_from_deployment``) still
open a deferred transaction that reads before it writes, and a read transaction that meets another writer cannot be
upgraded (SQLite gives up at once, without its busy timeout). 3.9 starts only some of its own writers with ``BEGIN
IMMEDIATE`` (set_state, the automations' buckets, deployment status), which makes refusals rarer, not impossible.
Shown on 3.9.1 by tests/flows/test_prefect_races.py (a resume while another connection holds the write lock): 503
"Service Unavailable" without this retry, accepted with it.

Usage: ``python -m cli.prefect_server --host 127.0.0.1 --port 4200`` with the environment of ``prefect_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

from gate.asgi import ASGIApp, Message, Receive, Send, read_body, replay

BUSY = 503  # Prefect's answer to a request it rolled back because the database was busy ("Service Unavailable")
PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)  # seconds before each new try: about 3 s in all, then the 503 goes back

log = logging.getLogger("cspr.prefect_server")


class RetryWhenBusy:
    """ASGI middleware: replay an HTTP request while the app answers 503, a few times, then pass its answer on.

    The request's body is kept so that it can be replayed; once the app has read it, further reads wait on the
    real connection (a streaming answer listens there for the client going away). Websockets pass straight through.
    """

    def __init__(self, app: ASGIApp, pauses: tuple[float, ...] = PAUSES) -> None:
        self.app = app
        self.pauses = pauses

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        for attempt, pause in enumerate(self.pauses, start=1):
            if not await self._try(scope, replay(body, receive), send, last=False):
                return
            log.info("%s %s: the database was busy; trying again (%d)", scope["method"], scope["path"], attempt)
            await asyncio.sleep(pause)
        await self._try(scope, replay(body, receive), send, last=True)  # whatever it answers goes back

    async def _try(self, scope: MutableMapping[str, Any], receive: Receive, send: Send, *, last: bool) -> bool:
        """Run the app once; True if it answered 503 and the answer was held back (never on the last try)."""
        held = False

        async def send_unless_busy(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == BUSY and not last:
                held = True
            if not held:
                await send(message)

        try:
            await self.app(dict(scope), receive, send_unless_busy)  # a copy: routing writes into the scope it is given
        except Exception:
            # Starlette answers an exception through the app's handler (Prefect's gives the 503), then raises it
            # again for the server to log; a refusal held back for another try is not an error to pass on
            if not held:
                raise
        return held


def zero_what_sqlite_deletes(dbapi_connection: Any, _record: Any) -> None:
    """Every new SQLite connection of the server zeroes what it deletes (``secure_delete``), as the project's own
    database does: a form answer with a child's name, deleted once read, is then not left in the file's free pages.
    PostgreSQL connections are left alone."""
    if "sqlite" not in type(dbapi_connection).__module__.lower() + type(dbapi_connection).__name__.lower():
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def main() -> None:
    import sqlalchemy as sa
    import uvicorn
    from fastapi import FastAPI
    from prefect.server.api.server import create_app
    from prefect.settings import (
        PREFECT_SERVER_API_KEEPALIVE_TIMEOUT,
        PREFECT_SERVER_API_WEBSOCKET_PING_INTERVAL,
        PREFECT_SERVER_API_WEBSOCKET_PING_TIMEOUT,
        PREFECT_SERVER_LOGGING_LEVEL,
    )
    from starlette.routing import Mount

    from cli.processes import freeze_imported
    from gate.app import Gate
    from gate.oidc import provider_from_settings
    from gate.routes import API, RouteTable
    from models.settings import get_settings
    from models.system_credentials import digest, gate_key, service_token

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = get_settings()
    sa.event.listen(sa.pool.Pool, "connect", zero_what_sqlite_deletes)  # before the server makes its first connection
    public = settings.public_url or f"http://{args.host}:{args.port}"
    prefect = create_app(final=True)
    api = next(route.app for route in prefect.routes if isinstance(route, Mount) and route.path == API)
    assert isinstance(api, FastAPI)  # Prefect's API, mounted in its app
    app = Gate(
        RetryWhenBusy(prefect),
        service_digest=settings.service_digest or digest(service_token()),
        routes=RouteTable.from_openapi(api.openapi()),
        gate_key=gate_key(),
        secure=public.startswith("https://"),
        demo_allowed=settings.demo_accounts,
        oidc=provider_from_settings(f"{public}/sign-in/oidc/callback"),
    )
    handler = logging.StreamHandler()  # to the server's log, in the form of Prefect's own lines
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S")
    )
    ours = logging.getLogger("cspr")  # this module's and the gate's (cspr.gate)
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False
    # its collections went over the 370,000 or so objects of its start again and again: 11 % of the server's CPU in
    # a 60-incident burst, 8 % once they are frozen, and the server's CPU 7.6 % less (docs/benchmarks.md, 2026-12-07)
    freeze_imported()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value(),
        ws_ping_interval=PREFECT_SERVER_API_WEBSOCKET_PING_INTERVAL.value(),
        ws_ping_timeout=PREFECT_SERVER_API_WEBSOCKET_PING_TIMEOUT.value(),
        log_level=PREFECT_SERVER_LOGGING_LEVEL.value().lower(),
    )


if __name__ == "__main__":
    main()
