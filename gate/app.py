"""The gate: an ASGI layer in front of Prefect's server, in the same process, through which every request passes.

Wiring only. The sign-in pages are a small Starlette app of their own (gate/signin_app.py), mounted at /sign-in and
/sign-out; so are the tasks pages (gate/tasks_app.py), at / and /tasks, where everyone answers their steps, each
answer checked (gate/checker_client.py) before it is handed to the run. Everything else goes through the guard
(gate/guard.py), which decides by the rule of each route (gate/policy.py) and passes the request on to Prefect
(gate/proxy.py), or, for an answer to a form, to the signer (gate/signer.py), which signs who gave it over the answer
itself. The gate's own calls to Prefect go straight to the app behind it (gate/prefect_client.py). Bodies over 1 MB
are refused before they are read in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from gate import tasks_app
from gate.asgi import (
    MAX_BODY,
    TOO_LARGE,
    ASGIApp,
    BodyTooLarge,
    Message,
    Receive,
    Scope,
    Send,
    header,
    limited,
    respond_json,
)
from gate.checker_client import Checker, SocketChecker
from gate.guard import Guard
from gate.oidc import Provider
from gate.prefect_client import PrefectClient
from gate.proxy import Proxy
from gate.routes import RouteTable, prefect_routes
from gate.sessions import Sessions
from gate.signer import Signer
from gate.signin_app import SignIn, serves
from gate.tasks_app import TasksPages
from models.settings import get_settings
from models.tables import utcnow


@dataclass
class Gate:
    app: ASGIApp  # Prefect's server
    service_digest: (
        str  # the service credential's digest (models/system_credentials.py): the gate never holds the credential
    )
    gate_key: str  # signs who answered onto each answer (models/identity.py)
    sessions: Sessions = field(default_factory=Sessions)
    secure: bool = False  # cookies marked Secure: set when the gate is reached over TLS
    demo_allowed: bool = True  # demo accounts may sign in (never in the team set-up)
    oidc: Provider | None = None  # the partnership's identity provider, when one is set up
    clock: Callable[[], dt.datetime] = utcnow
    routes: RouteTable = field(default_factory=prefect_routes)  # Prefect's own routes, which the rules name
    # runs the lifecycle's checks on an answer before it is handed over (None: the checker process's socket)
    checker: Checker | None = None
    signin: SignIn = field(init=False)
    guard: Guard = field(init=False)
    tasks: TasksPages = field(init=False)

    def __post_init__(self) -> None:
        self.signin = SignIn(
            self.sessions, self.clock, secure=self.secure, demo_allowed=self.demo_allowed, provider=self.oidc
        )
        prefect = PrefectClient(self.app)
        signer = Signer(prefect, self.gate_key, self.clock)
        self.guard = Guard(
            Proxy(self.app),
            prefect,
            answer=signer.answer,
            sessions=self.sessions,
            service_digest=self.service_digest,
            routes=self.routes,
            clock=self.clock,
        )
        checker = self.checker or SocketChecker(get_settings().resolved_checker_socket, self.gate_key, self.clock)
        self.tasks = TasksPages(self.sessions, prefect, signer, checker, self.gate_key, self.clock, secure=self.secure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.guard.websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:  # lifespan
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = header(scope, "content-length")
        limit = tasks_app.body_limit(scope) if tasks_app.serves(scope["path"]) else MAX_BODY  # an action's page: more
        if length is not None and (not length.isdigit() or int(length) > limit):
            if tasks_app.serves(scope["path"]):  # a person's page: told so on a page
                await self.tasks.too_large(scope, receive, send)
            else:
                await respond_json(send, 413, TOO_LARGE)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        path = scope["path"]
        handler = self.signin.app if serves(path) else self.tasks if tasks_app.serves(path) else self.guard
        try:
            await handler(scope, limited(receive, limit), watched)
        except BodyTooLarge:
            if not started:
                await respond_json(send, 413, TOO_LARGE)


__all__ = ["Gate"]
