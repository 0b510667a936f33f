"""The gate: an ASGI layer in front of Prefect's server, in the same process, through which every request passes.

Every page, API route and websocket needs the service credential (workers, the command line, the flows) or a
signed-in person's session; gate/policy.py decides per route what each may do. A form's answer from a person is
checked against the step it answers (gate/answers.py) and signed with who they are (models/identity.py) before
Prefect sees it. Bodies over 1 MB are refused before they are read in full.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from gate import oidc, pages, redirects, scope
from gate.answers import ANSWERED_ALREADY, AnswerRefused, answer_to_sign, answering_roles, waiting
from gate.asgi import (
    MAX_BODY,
    ASGIApp,
    BodyTooLarge,
    Message,
    Receive,
    Scope,
    Send,
    cookies,
    header,
    limited,
    read_body,
    replay,
    respond,
    respond_json,
    with_headers,
)
from gate.policy import (
    FIELDS,
    NOTHING,
    Audience,
    Caller,
    Grant,
    Rule,
    grant_for,
    is_open,
    is_page,
    reads_all,
    startable,
)
from gate.routes import API, RouteTable, prefect_routes
from gate.sessions import COOKIE, Session, Sessions, is_own_action
from gate.throttle import BUSY, Busy, HashSlots, Outcome, SignInThrottle, account_key, retry_after, too_many
from models import accounts, identity, people, signin
from models.credentials import SERVICE_HEADER, digest
from models.db import transaction
from models.tables import Account, utcnow

log = logging.getLogger("cspr.gate")

FORM_COOKIE = "cspr_form"  # the sign-in pages' own token, sent back in the form: a page of another site cannot post
ENROL_COOKIE = "cspr_enrol"
OIDC_COOKIE = "cspr_oidc"  # binds a sign-in with the identity provider to the browser that started it
ENROL_FOR = dt.timedelta(minutes=10)
OIDC_FOR = oidc.PENDING_MAX_AGE.total_seconds()
SIGN_IN = "/sign-in"
INTERNAL = "http://gate.internal"
NOT_YOURS = "this is not open to you: it is not part of your work in cspr. Ask your partnership's cspr operator"
NO_SUCH_RUN = "there is no such run, or it is not one of your partnerships' reviews"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
T = TypeVar("T")


@dataclass(frozen=True)
class Asked:
    """A signed-in person's request to a route of Prefect's, as the gate handles it."""

    scope: Scope
    receive: Receive
    send: Send
    session: Session
    caller: Caller
    params: Mapping[str, str]


@dataclass
class Enrolling:
    account_id: uuid.UUID
    until: dt.datetime


@dataclass(frozen=True)
class OidcStarted:
    """A sign-in sent to the identity provider: what ``finish`` needs, where to go after, and the browser's."""

    pending: oidc.Pending
    next_path: str
    browser: str  # the SHA-256 of the random value in the browser's OIDC_COOKIE: the callback must come with it


@dataclass
class Gate:
    app: ASGIApp
    service_digest: str  # the service credential's digest (models/credentials.py): the gate never holds the credential
    gate_key: str
    sessions: Sessions = field(default_factory=Sessions)
    secure: bool = False  # cookies marked Secure: set when the gate is reached over TLS
    demo_allowed: bool = True  # demo accounts may sign in (never in the team set-up)
    oidc: oidc.Provider | None = None  # the partnership's identity provider, when one is set up
    clock: Callable[[], dt.datetime] = utcnow
    _enrolling: dict[str, Enrolling] = field(default_factory=dict)
    routes: RouteTable = field(default_factory=prefect_routes)  # Prefect's own routes, which the rules name
    _csrf: tuple[str, float] | None = None
    # the client id under which the gate holds its CSRF token: secret, so no person can ask for a token under it
    _csrf_client: str = field(default_factory=lambda: f"cspr-gate-{secrets.token_urlsafe(24)}")
    _answering: list[asyncio.Lock] = field(default_factory=lambda: [asyncio.Lock() for _ in range(64)])
    _csrf_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # sign-ins sent to the identity provider, by their state: the PKCE verifier never leaves this process
    _oidc_pending: dict[str, OidcStarted] = field(default_factory=dict)
    oidc_pending_max: int = 1000  # sign-ins with the provider in progress at once; a new one past this is refused
    throttle: SignInThrottle = field(default_factory=SignInThrottle)  # failed sign-ins slow down (gate/throttle.py)
    hashing: HashSlots = field(default_factory=HashSlots)  # at most 2 password checks at once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:  # lifespan
            await self.app(scope, receive, send)

    # --- who is calling ---------------------------------------------------------------------------------

    def _is_service(self, scope: Scope) -> bool:
        presented = header(scope, SERVICE_HEADER)
        return presented is not None and hmac.compare_digest(digest(presented).encode(), self.service_digest.encode())

    def _session(self, scope: Scope, *, touch: bool = True) -> tuple[str | None, Session | None]:
        token = cookies(scope).get(COOKIE)
        return token, self.sessions.find(token, self.clock(), touch=touch)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Websockets are the system's own (events, logs, workers): the UI opens none. Refused before the handshake
        completes, as 401 where the server can say so."""
        if self._is_service(scope):
            await self.app(scope, receive, send)
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            body = json.dumps({"detail": "sign in first"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    # --- every request ----------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = header(scope, "content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await respond_json(send, 413, "the request is larger than 1 MB and was not read")
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._route(scope, limited(receive, MAX_BODY), watched)
        except BodyTooLarge:
            if not started:
                await respond_json(send, 413, "the request is larger than 1 MB and was not read")

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == SIGN_IN or path.startswith((SIGN_IN + "/", "/sign-out")):
            await self._pages(scope, receive, send)
            return
        if is_open(path):
            await self.app(scope, receive, send)
            return
        send = _not_kept(send)
        if self._is_service(scope):
            await self.app(scope, receive, send)
            return
        token, session = self._session(scope, touch=is_own_action(method, path, _headers(scope)))
        if session is not None and token is not None and self.sessions.due_for_check(session, self.clock()):
            session = await self._recheck(token, session)
        if session is None:
            await self._not_signed_in(scope, send)
            return
        caller = Caller(session.roles, session.partnerships)
        if is_page(method, path, caller):
            await self.app(scope, receive, send)
            return
        resolved = self.routes.resolve(method, path) if path.startswith(API + "/") else None
        grant = grant_for(resolved.route if resolved else None, caller)
        if resolved is None or grant is None:
            # the route's template only (or its method alone): a path may carry whatever someone typed
            route = str(resolved.route) if resolved else f"{method} (no route of Prefect's)"
            log.info("refused %s to %s", route, ", ".join(sorted(session.roles)))
            await respond_json(send, 403, NOT_YOURS)
            return
        asked = Asked(scope, receive, send, session, caller, resolved.params)
        await self._granted(grant, asked)

    async def _granted(self, grant: Grant, asked: Asked) -> None:
        """The request, under the rule of the route it is for (gate/policy.py)."""
        if "id" in asked.params and not _UUID.match(asked.params["id"]):  # every {id} here is a UUID in Prefect
            await respond_json(asked.send, 404, "there is no such record")
            return
        match grant.rule:
            case Rule.READ:
                await self._pass(asked)
            case Rule.RUN:
                await self._run_of_mine(asked, asked.params["id"])
            case Rule.RUN_QUERY:
                query = dict(urllib.parse.parse_qsl(asked.scope.get("query_string", b"").decode("latin-1")))
                await self._run_of_mine(asked, query.get("flow_run_id", ""))
            case Rule.RUNS:
                await self._narrowed(asked)
            case Rule.RUN_IDS | Rule.LOGS:
                await self._named_runs(asked, grant.rule)
            case Rule.TASK_RUN:
                await self._owned(asked, f"/api/task_runs/{asked.params['id']}")
            case Rule.ARTIFACT:
                key = asked.params.get("id") or asked.params.get("key", "")
                suffix = "/latest" if "key" in asked.params else ""
                await self._owned(asked, f"/api/artifacts/{urllib.parse.quote(key, safe='')}{suffix}")
            case Rule.FORM:
                await self._form(asked)
            case Rule.ANSWER:
                await self._answer(asked)
            case Rule.START:
                await self._start(asked)
            case Rule.CANCEL:
                await self._cancel(asked)
            case Rule.FIELDS:
                await self._fields(asked, grant)
            case Rule.SETTINGS:
                await self._settings(asked)
            case Rule.OPERATORS_ONLY:
                if Audience.OPERATOR in asked.caller.audiences:
                    await self._pass(asked)
                else:
                    await respond(asked.send, 200, json.dumps(NOTHING[grant.route]).encode(), "application/json")

    async def _pass(self, asked: Asked, body: bytes | None = None) -> None:
        """On to Prefect, with the body read (and perhaps rewritten) by the gate, or as it comes."""
        if body is None:
            await self.app(asked.scope, asked.receive, asked.send)
            return
        scope = {**asked.scope, "headers": _with_length(asked.scope, len(body))}
        await self.app(scope, replay(body, asked.receive), asked.send)

    async def _json_body(self, asked: Asked) -> dict[str, Any] | None:
        """The request's body as a JSON object; None, after answering 422, when it is not one."""
        raw = await read_body(asked.receive, MAX_BODY)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            await respond_json(asked.send, 422, "the request's body must be a JSON object")
            return None
        return body

    # --- reads, limited to the person's partnerships ----------------------------------------------------------

    @staticmethod
    async def _readable_run(client: httpx.AsyncClient, run_id: str, caller: Caller) -> dict[str, Any] | None:
        """The flow run as Prefect returns it, if it exists and the person may read it; else None."""
        if not _UUID.match(run_id):
            return None
        found = await client.get(f"/api/flow_runs/{run_id}")
        run: dict[str, Any] = found.json() if found.status_code == 200 else {}
        return run if run and scope.run_visible(run, caller.partnerships) else None

    async def _visible(self, client: httpx.AsyncClient, caller: Caller, run_ids: list[str]) -> bool:
        """Whether every run named is one the person may read (a run that does not exist is not)."""
        if caller.partnerships is None:
            return True
        for run_id in dict.fromkeys(run_ids):
            if await self._readable_run(client, run_id, caller) is None:
                return False
        return True

    async def _run_of_mine(self, asked: Asked, run_id: str) -> None:
        async with self._internal() as client:
            visible = await self._visible(client, asked.caller, [run_id])
        if not visible:
            await respond_json(asked.send, 404, NO_SUCH_RUN)
            return
        await self._pass(asked)

    async def _owned(self, asked: Asked, path: str) -> None:
        """A task run or an artifact, read only when the flow run it belongs to is the person's."""
        if asked.caller.partnerships is not None:
            async with self._internal() as client:
                found = await client.get(path)
                run_id = found.json().get("flow_run_id") if found.status_code == 200 else None
                visible = isinstance(run_id, str) and await self._visible(client, asked.caller, [run_id])
            if not visible:
                await respond_json(asked.send, 404, "there is no such record, or it is not one of your reviews")
                return
        await self._pass(asked)

    async def _narrowed(self, asked: Asked) -> None:
        body = await self._json_body(asked)
        if body is None:
            return
        interval = body.get("history_interval_seconds", 60)
        if not isinstance(interval, int | float) or not 1 <= interval <= 10**9:  # Prefect fails on a huge one
            await respond_json(asked.send, 422, "history_interval_seconds must be a number from 1 to 1,000,000,000")
            return
        if asked.caller.partnerships is not None:
            try:
                body = scope.narrow_runs(body, asked.caller.partnerships)
            except scope.Unscopable as refused:
                await respond_json(asked.send, 400, str(refused))
                return
        await self._pass(asked, json.dumps(body).encode())

    async def _named_runs(self, asked: Asked, rule: Rule) -> None:
        body = await self._json_body(asked)
        if body is None:
            return
        if asked.caller.partnerships is not None:
            try:
                run_ids = scope.named_runs(body) if rule is Rule.RUN_IDS else scope.logs_runs(body)
            except scope.Unscopable as refused:
                await respond_json(asked.send, 400, str(refused))
                return
            async with self._internal() as client:
                visible = await self._visible(client, asked.caller, run_ids)
            if not visible:
                await respond_json(asked.send, 404, NO_SUCH_RUN)
                return
        await self._pass(asked, json.dumps(body).encode())

    async def _form(self, asked: Asked) -> None:
        """A run's inputs hold answers (children's names among them) until the run reads them: nobody but the system
        reads one. A person reads only the form waiting for them: its schema and the text shown above it."""
        async with self._internal() as client:
            found = await self._readable_run(client, asked.params["id"], asked.caller)
        try:
            if found is None:
                raise AnswerRefused(NO_SUCH_RUN)
            run = waiting(found)
            if asked.params["key"] not in run.readable_keys:
                raise AnswerRefused("only the system reads a form's answer")
            person = asked.session.identity
            await _in_thread(lambda: _answering(run, person.person_id, person.name))
        except AnswerRefused as refused:
            await respond_json(asked.send, 403, str(refused))
            return
        await self._pass(asked)

    async def _settings(self, asked: Asked) -> None:
        """The server's settings, as Prefect answers them, with every credential withheld, for an operator; for anyone
        else only what the UI's pages read of them."""
        if Audience.OPERATOR not in asked.caller.audiences:
            await respond(asked.send, 200, json.dumps(scope.UI_SETTINGS).encode(), "application/json")
            return
        async with self._internal() as client:
            found = await client.get("/api/admin/settings")
        if found.status_code != 200:
            await respond_json(asked.send, found.status_code, "the settings could not be read")
            return
        body = json.dumps(scope.scrub(found.json())).encode()
        await respond(asked.send, 200, body, "application/json")

    # --- starting, cancelling, changing -----------------------------------------------------------------------

    async def _start(self, asked: Asked) -> None:
        """A run of a deployment the person's work needs, with its parameters and nothing else: the system names,
        tags and schedules it. A coordinator starts runs for their own partnerships only."""
        body = await self._json_body(asked)
        if body is None:
            return
        async with self._internal() as client:
            found = await client.get(f"/api/deployments/{asked.params['id']}")
        deployment = found.json() if found.status_code == 200 else {}
        where = startable(asked.caller, str(deployment.get("name", "")))
        if where is False:
            await respond_json(asked.send, 403, "you cannot start runs of this deployment; ask an operator")
            return
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            await respond_json(asked.send, 422, "the run's parameters must be a JSON object")
            return
        tags: list[str] = ["cspr", "started-by-a-person"]
        if isinstance(where, tuple):
            partnership = _dig(parameters, where)
            if not isinstance(partnership, str) or partnership not in (asked.caller.partnerships or frozenset()):
                await respond_json(
                    asked.send,
                    403,
                    "you can start this only for a partnership you are registered in: give its code (for example "
                    "'northshire') as the partnership",
                )
                return
            tags.append(scope.tag(partnership))
        await self._pass(asked, json.dumps({"parameters": parameters, "tags": tags}).encode())

    async def _cancel(self, asked: Asked) -> None:
        """An operator cancels a run; moving it to any other state is the system's alone."""
        body = await self._json_body(asked)
        if body is None:
            return
        state = body.get("state")
        if not isinstance(state, dict) or state.get("type") not in ("CANCELLING", "CANCELLED"):
            await respond_json(asked.send, 403, "an operator may cancel a run, and set no other state")
            return
        await self._pass(asked, json.dumps({"state": {"type": state["type"]}, "force": False}).encode())

    async def _fields(self, asked: Asked, grant: Grant) -> None:
        body = await self._json_body(asked)
        if body is None:
            return
        extra = sorted(set(body) - FIELDS[grant.route])
        if extra:
            allowed = ", ".join(sorted(FIELDS[grant.route]))
            await respond_json(asked.send, 403, f"only {allowed} may be changed here, not {', '.join(extra)}")
            return
        await self._pass(asked, json.dumps(body).encode())

    async def _recheck(self, token: str, session: Session) -> Session | None:
        """The session held to the register again: the person's roles today, or signed out if they have none."""
        person_id = uuid.UUID(session.identity.person_id)

        def held() -> tuple[frozenset[Any], frozenset[str] | None]:
            with transaction() as db:
                account = db.get(Account, person_id)
                if account is None or not account.active:
                    return frozenset(), frozenset()
                return _held(db, account)

        roles, partnerships = await _in_thread(held)
        if not roles:
            log.info("%s signed out: no longer active in the register", person_id)
        return self.sessions.refresh(token, roles, self.clock(), partnerships)

    async def _not_signed_in(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/api") or scope["method"] != "GET":
            await respond_json(send, 401, "sign in first", [("www-authenticate", 'Cookie realm="cspr"')])
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        await _redirect(send, f"{SIGN_IN}?{urllib.parse.urlencode({'next': target})}")

    # --- answering a form ---------------------------------------------------------------------------------------

    async def _answer(self, asked: Asked) -> None:
        """One answer at a time per run: the gate signs the person onto the very answer (its digest), stores the
        token, and passes the answer on; an answer Prefect refuses takes its token away again. A second person
        answering the same form meanwhile is told it was answered, and nothing of theirs is kept."""
        body = await read_body(asked.receive, MAX_BODY)
        run_id = asked.params["id"]
        async with self._answering_lock(run_id), self._internal() as client:
            found = await self._readable_run(client, run_id, asked.caller)
            if found is None:
                await respond_json(asked.send, 404, NO_SUCH_RUN)
                return
            try:
                run = waiting(found)
                person = asked.session.identity
                roles = await _in_thread(lambda: _answering(run, person.person_id, person.name))
                digest = answer_to_sign(body)
            except AnswerRefused as refused:
                status = 409 if str(refused) == ANSWERED_ALREADY else 403
                await respond_json(asked.send, status, str(refused))
                return
            role = next(iter(roles)) if len(roles) == 1 else ""  # a sign-off's form says which partner
            signer = identity.Identity(person.person_id, person.name, role, person.signed_in_with)
            token = identity.sign(
                self.gate_key, signer, run_id=run.run_id, form_key=run.form_key, at=self.clock(), answer=digest
            )
            key = identity.input_key(run.form_key)
            await client.delete(f"/api/flow_runs/{run_id}/input/{key}")  # an earlier attempt's, refused by the schema
            stored = await client.post(f"/api/flow_runs/{run_id}/input", json={"key": key, "value": json.dumps(token)})
            if stored.status_code >= 300:
                log.error("could not store the identity of an answer to run %s: HTTP %s", run_id, stored.status_code)
                await respond_json(asked.send, 503, "the answer could not be signed; try again in a moment")
                return
            answered = await client.post(
                f"/api/flow_runs/{run_id}/resume",
                content=body,
                headers={"content-type": "application/json"},
            )
            if not answered.is_success or (answered.json() or {}).get("status") != "ACCEPT":
                await client.delete(f"/api/flow_runs/{run_id}/input/{key}")  # nothing of a refused answer is kept
        await respond(
            asked.send,
            answered.status_code,
            answered.content,
            answered.headers.get("content-type", "application/json"),
        )

    def _answering_lock(self, run_id: str) -> asyncio.Lock:
        """One answer at a time per run: a fixed set of locks, a run's chosen by its id (two runs may share one;
        answers are few, and the set never grows)."""
        return self._answering[int(digest(run_id), 16) % len(self._answering)]

    def _internal(self) -> httpx.AsyncClient:
        """The gate's own calls to Prefect, straight to the app behind it (no credential: they never pass the gate).
        Prefect's CSRF check covers them too: they use a token under a client id nobody else knows, so no one can
        rotate it away."""
        headers = {"Prefect-Csrf-Client": self._csrf_client}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=INTERNAL,
            headers=headers,
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
                self._csrf = (token, time.monotonic() + 50 * 60)
            held = self._csrf[0]
        if held:
            request.headers["Prefect-Csrf-Token"] = held

    # --- the sign-in pages --------------------------------------------------------------------------------

    async def _pages(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        form: dict[str, str] = {}
        if method == "POST":
            form = _form(await read_body(receive, MAX_BODY))
            if not _same_token(form.get("form_token"), cookies(scope).get(FORM_COOKIE)):
                await self._page(
                    send,
                    400,
                    pages.message(
                        "Please try again",
                        "The page had expired. Open it again and resubmit.",
                        refused=True,
                        link={"href": SIGN_IN, "label": "Sign in"},
                    ),
                )
                return
        query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        next_path = redirects.local_path(form.get("next") or query.get("next"))
        match (method, path):
            case ("GET", "/sign-in"):
                await self._sign_in_page(send, next_path)
            case ("POST", "/sign-in"):
                await self._sign_in(scope, send, form, next_path)
            case ("POST", "/sign-in/enrol"):
                await self._enrol(scope, send, form, next_path)
            case ("GET", "/sign-in/oidc"):
                await self._oidc_start(scope, send, next_path)
            case ("GET", "/sign-in/oidc/callback"):
                await self._oidc_finish(scope, send, query)
            case ("GET", "/sign-out"):
                token = secrets.token_urlsafe(16)
                await self._page(
                    send,
                    200,
                    pages.message(
                        "Sign out",
                        "Sign out of cspr on this browser.",
                        form_token=token,
                        form={"action": "/sign-out", "label": "Sign out"},
                    ),
                    form_token=token,
                )
            case ("POST", "/sign-out"):
                token, _ = self._session(scope)
                self.sessions.end(token)
                await self._page(
                    send,
                    200,
                    pages.message(
                        "You are signed out",
                        "You have signed out of cspr. Close this window if you share the computer.",
                        link={"href": SIGN_IN, "label": "Sign in again"},
                    ),
                    clear=True,
                )
            case _:
                await respond_json(send, 404, "there is no such page")

    async def _page(
        self,
        send: Send,
        status: int,
        html: bytes,
        *,
        form_token: str = "",
        cookies_: list[str] | None = None,
        clear: bool = False,
    ) -> None:
        headers = [
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ]
        if form_token:
            headers.append(("set-cookie", self._cookie(FORM_COOKIE, form_token, max_age=3600)))
        for cookie in cookies_ or []:
            headers.append(("set-cookie", cookie))
        if clear:
            headers.append(("set-cookie", self._cookie(COOKIE, "", max_age=0)))
        await respond(send, status, html, "text/html; charset=utf-8", headers)

    def _cookie(self, name: str, value: str, *, max_age: int | None = None) -> str:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def _sign_in_page(self, send: Send, next_path: str, error: str = "", status: int = 200) -> None:
        token = secrets.token_urlsafe(16)
        await self._page(
            send,
            status,
            pages.sign_in(
                form_token=token,
                next_path=next_path,
                error=error,
                oidc="your organisation's account" if self.oidc else "",
            ),
            form_token=token,
        )

    async def _sign_in(self, scope: Scope, send: Send, form: dict[str, str], next_path: str) -> None:
        email, password, code = form.get("email", ""), form.get("password", ""), form.get("code", "").replace(" ", "")
        now = self.clock()
        account, address = account_key(email), _client_address(scope)
        wait = self.throttle.admit(account, address, time.monotonic())
        if wait > 0:  # refused before any hashing: a flood of attempts costs the server nothing
            slowed = with_headers(send, [("retry-after", retry_after(wait))])
            await self._sign_in_page(slowed, next_path, error=too_many(wait), status=429)
            return

        def attempt() -> accounts.SignedIn | str:
            with transaction() as db:
                return accounts.sign_in(db, email, password, code, now, demo_allowed=self.demo_allowed)

        outcome = Outcome.UNCHECKED
        try:
            result = await self.hashing.run(attempt)
            outcome = Outcome.FAILED if isinstance(result, str) else Outcome.SUCCEEDED
        except Busy:
            log.warning("a sign-in was turned away: every place to check a password stayed taken")
            busy = with_headers(send, [("retry-after", retry_after(self.hashing.wait))])
            await self._sign_in_page(busy, next_path, error=BUSY, status=503)
            return
        finally:
            self.throttle.finish(account, address, time.monotonic(), outcome)
        if isinstance(result, str):
            await self._sign_in_page(send, next_path, error=result, status=401)
            return
        if result.enrolling:
            await self._show_enrolment(send, result.account, next_path)
            return
        await self._signed_in(send, result.account, next_path)

    async def _oidc_start(self, scope: Scope, send: Send, next_path: str) -> None:
        provider = self.oidc
        if provider is None:
            await respond_json(send, 404, "sign-in with an organisation's account is not set up here")
            return
        if not self._oidc_room():  # before asking the provider anything
            await self._oidc_full(send)
            return
        try:
            url, pending = await _in_thread(lambda: oidc.start(provider))
        except oidc.OidcRefused as refused:
            await self._refused_page(send, str(refused), refused.reason)
            return
        if not self._oidc_room():  # others started while this one waited on the provider
            await self._oidc_full(send)
            return
        browser = secrets.token_urlsafe(32)  # fresh each time: a value someone planted in the browser binds nothing
        self._oidc_pending[pending.state] = OidcStarted(pending, next_path, digest(browser))
        cookie = self._oidc_cookie(browser, max_age=int(OIDC_FOR))
        await respond(send, 303, b"", "text/plain", [("location", url), ("set-cookie", cookie)])

    def _oidc_room(self) -> bool:
        """Whether another sign-in with the provider may start, once those past their time are forgotten."""
        now = time.time()
        stale = [state for state, held in self._oidc_pending.items() if now - held.pending.started_at > OIDC_FOR]
        for state in stale:
            del self._oidc_pending[state]
        return len(self._oidc_pending) < self.oidc_pending_max

    async def _oidc_full(self, send: Send) -> None:
        log.warning("a sign-in with the organisation's account turned away: %d in progress", len(self._oidc_pending))
        html = pages.message(
            "Please try again in a few minutes",
            "Too many people are signing in with their organisation's account at this moment. "
            "Please try again in a few minutes.",
            refused=True,
            link={"href": SIGN_IN, "label": "Back to sign-in"},
        )
        await self._page(with_headers(send, [("retry-after", "60")]), 503, html)

    def _oidc_cookie(self, value: str, *, max_age: int) -> str:
        """Sent back only to the callback; Lax, not Strict: the provider's redirect back is another site's link."""
        parts = [f"{OIDC_COOKIE}={value}", "Path=/sign-in/oidc", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def _oidc_finish(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        provider = self.oidc
        held = self._oidc_pending.pop(query.get("state", ""), None)  # used once, whatever comes of it
        presented = cookies(scope).get(OIDC_COOKIE, "")
        send = with_headers(send, [("set-cookie", self._oidc_cookie("", max_age=0))])
        if provider is None or held is None:
            await self._refused_page(send, oidc.START_AGAIN, "no such sign-in in progress")
            return
        if not presented or not hmac.compare_digest(digest(presented).encode(), held.browser.encode()):
            await self._refused_page(send, oidc.START_AGAIN, "the callback reached another browser than the start")
            return
        pending, next_path = held.pending, held.next_path
        now = self.clock()

        def match() -> Account:
            claims = oidc.finish(provider, pending, query)
            with transaction() as db:
                return people.match_oidc(
                    db, subject=claims.subject, email=claims.email, email_verified=claims.email_verified, at=now
                )

        try:
            account = await _in_thread(match)
        except oidc.OidcRefused as refused:
            await self._refused_page(send, str(refused), refused.reason)
            return
        except people.NotMatched as refused:
            await self._refused_page(send, str(refused), "not in the register")
            return
        await self._signed_in(send, account, next_path, signed_in_with="oidc")

    async def _refused_page(self, send: Send, message: str, reason: str) -> None:
        log.info("a sign-in with the organisation's account was refused: %s", reason)  # never a token or address
        html = pages.message(
            "You could not be signed in", message, refused=True, link={"href": SIGN_IN, "label": "Back to sign-in"}
        )
        await self._page(send, 403, html)

    async def _show_enrolment(self, send: Send, account: Account, next_path: str, error: str = "") -> None:
        assert account.totp_secret is not None
        ticket = secrets.token_urlsafe(24)
        self._enrolling[ticket] = Enrolling(account.id, self.clock() + ENROL_FOR)
        uri = signin.enrolment_uri(account.totp_secret, account.email)
        token = secrets.token_urlsafe(16)
        html = pages.enrol(
            form_token=token, next_path=next_path, uri=uri, qr_svg=signin.enrolment_qr_svg(uri), error=error
        )
        enrol_cookie = self._cookie(ENROL_COOKIE, ticket, max_age=int(ENROL_FOR.total_seconds()))
        await self._page(send, 401 if error else 200, html, form_token=token, cookies_=[enrol_cookie])

    async def _enrol(self, scope: Scope, send: Send, form: dict[str, str], next_path: str) -> None:
        ticket = cookies(scope).get(ENROL_COOKIE, "")
        pending = self._enrolling.pop(ticket, None)
        now = self.clock()
        if pending is None or pending.until < now:
            await self._sign_in_page(
                send, next_path, error="Setting up the app took too long. Sign in again.", status=401
            )
            return
        code = form.get("code", "").replace(" ", "")

        def confirm() -> tuple[Account | None, Account | str]:
            with transaction() as db:
                result = accounts.confirm_enrolment(db, pending.account_id, code, now)
                return db.get(Account, pending.account_id), result

        account, result = await _in_thread(confirm)
        if isinstance(result, str):
            if account is None or account.locked_until is not None:
                await self._sign_in_page(send, next_path, error=result, status=401)
            else:
                await self._show_enrolment(
                    send, account, next_path, error="That code is not right. Type the code the app shows now."
                )
            return
        await self._signed_in(send, result, next_path)

    async def _signed_in(self, send: Send, account: Account, next_path: str, signed_in_with: str = "") -> None:
        def roles() -> tuple[frozenset[Any], frozenset[str] | None]:
            with transaction() as db:
                return _held(db, account)

        held, partnerships = await _in_thread(roles)
        factor = signed_in_with or (
            signin.Factor.PASSWORD if account.totp_secret is None else signin.Factor.PASSWORD_AND_TOTP
        )
        token = self.sessions.start(
            accounts.identity_of(account, str(factor)),
            held,
            demo=account.demo,
            now=self.clock(),
            partnerships=partnerships,
        )
        log.info("%s signed in (%s)", account.id, factor)  # the account's id, never the address typed
        headers = [
            ("location", next_path),
            ("set-cookie", self._cookie(COOKIE, token)),
            ("set-cookie", self._cookie(ENROL_COOKIE, "", max_age=0)),
        ]
        await respond(send, 303, b"", "text/plain", headers)


def _not_kept(send: Send) -> Send:
    """What a signed-in person is shown is never kept by their browser: a page of the UI cached there would open
    again after they signed out, on a shared computer, and its address (a run's) would not reach the gate at all."""

    async def no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"cache-control", b"etag")]
            message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
        await send(message)

    return no_store


def _held(db: Any, account: Account) -> tuple[frozenset[Any], frozenset[str] | None]:
    """A person's roles, and the partnerships whose runs they read (None: every one), from the register."""
    roles = accounts.roles_of(db, account)
    return roles, None if reads_all(roles) else accounts.partnerships_of(db, account)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _with_length(scope: Scope, length: int) -> list[tuple[bytes, bytes]]:
    """The request's headers for a body the gate rewrote: its new length, no chunked transfer."""
    kept = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length", b"transfer-encoding")]
    return [*kept, (b"content-length", str(length).encode())]


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _answering(run: Any, person_id: str, name: str) -> frozenset[Any]:
    with transaction() as db:
        return answering_roles(db, run, person_id, name)


async def _in_thread(work: Callable[[], T]) -> T:
    """Database work off the event loop: the server goes on answering others meanwhile."""
    return await asyncio.to_thread(work)


async def _redirect(send: Send, location: str) -> None:
    await respond(send, 303, b"", "text/plain", [("location", location)])


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: value for key, value in pairs}


def _same_token(sent: str | None, cookie: str | None) -> bool:
    return bool(sent) and bool(cookie) and hmac.compare_digest(str(sent).encode(), str(cookie).encode())


def _client_address(scope: Scope) -> str:
    """The browser's address as the server sees it (behind the proxy, the one it passes on)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


__all__ = ["Gate"]
