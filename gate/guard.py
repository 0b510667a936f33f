"""The guard: who is calling, and what the rule of the route they call lets them do (gate/policy.py).

Every page, API route and websocket needs the service credential (workers, the command line, the flows) or a
signed-in person's session. A person's request to Prefect's API is resolved to the route it is for, and the route's
rule for the person's roles decides: refused, passed on to Prefect as it came, passed on narrowed or rewritten, or
(an answer to a form) handed to the signer. Reads are limited to the runs of the person's partnerships' reviews.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import re
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gate import register, scope
from gate.asgi import MAX_BODY, Message, Receive, Scope, Send, cookies, header, read_body, respond, respond_json
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
    startable,
    uses_prefect,
)
from gate.prefect_client import PrefectClient
from gate.proxy import Proxy
from gate.redirects import HOME, SIGN_IN
from gate.routes import API, RouteTable
from gate.sessions import COOKIE, Session, Sessions, is_own_action
from gate.who_may_answer import AnswerRefused, waiting
from models.system_credentials import SERVICE_HEADER, digest

log = logging.getLogger("cspr.gate")

NOT_YOURS = "this is not open to you: it is not part of your work in cspr. Ask your partnership's cspr operator"
NOT_PREFECT = (
    "Prefect's pages and API are not part of your work in cspr: your tasks are on your tasks page, at the site's "
    "home page"
)
NO_SUCH_RUN = "there is no such run, or it is not one of your partnerships' reviews"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Asked:
    """A signed-in person's request to a route of Prefect's, as the gate handles it."""

    scope: Scope
    receive: Receive
    send: Send
    session: Session
    caller: Caller
    params: Mapping[str, str]


Handler = Callable[[Asked], Awaitable[None]]


async def readable_run(client: httpx.AsyncClient, run_id: str, caller: Caller) -> dict[str, Any] | None:
    """The flow run as Prefect returns it, if it exists and the person may read it; else None."""
    if not _UUID.match(run_id):
        return None
    found = await client.get(f"/api/flow_runs/{run_id}")
    run: dict[str, Any] = found.json() if found.status_code == 200 else {}
    return run if run and scope.run_visible(run, caller.partnerships) else None


async def visible(client: httpx.AsyncClient, caller: Caller, run_ids: list[str]) -> bool:
    """Whether every run named is one the person may read (a run that does not exist is not)."""
    if caller.partnerships is None:
        return True
    for run_id in dict.fromkeys(run_ids):
        if await readable_run(client, run_id, caller) is None:
            return False
    return True


@dataclass(frozen=True)
class Guard:
    proxy: Proxy  # on to Prefect
    prefect: PrefectClient  # the gate's own reads of Prefect, to decide
    answer: Handler  # an answer to a form, once the rule lets the person give it (gate/signer.py)
    sessions: Sessions
    service_digest: (
        str  # the service credential's digest (models/system_credentials.py): the gate never holds the credential
    )
    routes: RouteTable  # Prefect's own routes, which the rules name
    clock: Callable[[], dt.datetime]

    # --- who is calling ---------------------------------------------------------------------------------

    def _is_service(self, scope: Scope) -> bool:
        presented = header(scope, SERVICE_HEADER)
        return presented is not None and hmac.compare_digest(digest(presented).encode(), self.service_digest.encode())

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Websockets are the system's own (events, logs, workers): the UI opens none. Refused before the handshake
        completes, as 401 where the server can say so."""
        if self._is_service(scope):
            await self.proxy.forward(scope, receive, send)
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            body = json.dumps({"detail": "sign in first"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    async def _recheck(self, token: str, session: Session) -> Session | None:
        """The session held to the register again: the person's roles today, or signed out if they have none."""
        person_id = uuid.UUID(session.identity.person_id)
        roles, partnerships = await register.held_now(person_id)
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
        location = f"{SIGN_IN}?{urllib.parse.urlencode({'next': target})}"
        await respond(send, 303, b"", "text/plain", [("location", location)])

    async def _to_tasks(self, scope: Scope, send: Send) -> None:
        """A partner or the Panel's contact, anywhere in Prefect: their work is on their tasks page."""
        if scope["path"].startswith(API) or scope["method"] not in ("GET", "HEAD"):
            await respond_json(send, 403, NOT_PREFECT)
            return
        await respond(send, 303, b"", "text/plain", [("location", HOME)])

    # --- every request but the sign-in pages' ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if is_open(path):
            await self.proxy.forward(scope, receive, send)
            return
        send = _not_kept(send)
        if self._is_service(scope):
            await self.proxy.forward(scope, receive, send)
            return
        token = cookies(scope).get(COOKIE)
        session = self.sessions.find(token, self.clock(), touch=is_own_action(method, path, _headers(scope)))
        if session is not None and token is not None and self.sessions.due_for_check(session, self.clock()):
            session = await self._recheck(token, session)
        if session is None:
            await self._not_signed_in(scope, send)
            return
        caller = Caller(session.roles, session.partnerships)
        if not uses_prefect(caller):
            await self._to_tasks(scope, send)
            return
        if is_page(method, path, caller):
            await self.proxy.forward(scope, receive, send)
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
                await self.answer(asked)
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
        await self.proxy.forward(asked.scope, asked.receive, asked.send, body)

    # --- reads, limited to the person's partnerships ----------------------------------------------------------

    async def _run_of_mine(self, asked: Asked, run_id: str) -> None:
        async with self.prefect.client() as client:
            mine = await visible(client, asked.caller, [run_id])
        if not mine:
            await respond_json(asked.send, 404, NO_SUCH_RUN)
            return
        await self._pass(asked)

    async def _owned(self, asked: Asked, path: str) -> None:
        """A task run or an artifact, read only when the flow run it belongs to is the person's."""
        if asked.caller.partnerships is not None:
            async with self.prefect.client() as client:
                found = await client.get(path)
                run_id = found.json().get("flow_run_id") if found.status_code == 200 else None
                mine = isinstance(run_id, str) and await visible(client, asked.caller, [run_id])
            if not mine:
                await respond_json(asked.send, 404, "there is no such record, or it is not one of your reviews")
                return
        await self._pass(asked)

    async def _narrowed(self, asked: Asked) -> None:
        body = await _json_body(asked)
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
        body = await _json_body(asked)
        if body is None:
            return
        if asked.caller.partnerships is not None:
            try:
                run_ids = scope.named_runs(body) if rule is Rule.RUN_IDS else scope.logs_runs(body)
            except scope.Unscopable as refused:
                await respond_json(asked.send, 400, str(refused))
                return
            async with self.prefect.client() as client:
                mine = await visible(client, asked.caller, run_ids)
            if not mine:
                await respond_json(asked.send, 404, NO_SUCH_RUN)
                return
        await self._pass(asked, json.dumps(body).encode())

    async def _form(self, asked: Asked) -> None:
        """A run's inputs hold answers (children's names among them) until the run reads them: nobody but the system
        reads one. A person reads only the form waiting for them: its schema and the text shown above it."""
        async with self.prefect.client() as client:
            found = await readable_run(client, asked.params["id"], asked.caller)
        try:
            if found is None:
                raise AnswerRefused(NO_SUCH_RUN)
            run = waiting(found)
            if asked.params["key"] not in run.readable_keys:
                raise AnswerRefused("only the system reads a form's answer")
            await register.answering(run, asked.session.identity)
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
        async with self.prefect.client() as client:
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
        body = await _json_body(asked)
        if body is None:
            return
        async with self.prefect.client() as client:
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
        body = await _json_body(asked)
        if body is None:
            return
        state = body.get("state")
        if not isinstance(state, dict) or state.get("type") not in ("CANCELLING", "CANCELLED"):
            await respond_json(asked.send, 403, "an operator may cancel a run, and set no other state")
            return
        await self._pass(asked, json.dumps({"state": {"type": state["type"]}, "force": False}).encode())

    async def _fields(self, asked: Asked, grant: Grant) -> None:
        body = await _json_body(asked)
        if body is None:
            return
        extra = sorted(set(body) - FIELDS[grant.route])
        if extra:
            allowed = ", ".join(sorted(FIELDS[grant.route]))
            await respond_json(asked.send, 403, f"only {allowed} may be changed here, not {', '.join(extra)}")
            return
        await self._pass(asked, json.dumps(body).encode())


async def _json_body(asked: Asked) -> dict[str, Any] | None:
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


def _not_kept(send: Send) -> Send:
    """What a signed-in person is shown is never kept by their browser: a page of the UI cached there would open
    again after they signed out, on a shared computer, and its address (a run's) would not reach the gate at all."""

    async def no_store(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"cache-control", b"etag")]
            message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
        await send(message)

    return no_store


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value
