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
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from gate import oidc, pages
from gate.answers import AnswerRefused, answering_roles, waiting
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
)
from gate.policy import SERVICE, Access, Caller, access, allowed, may_set_job_variables
from gate.sessions import COOKIE, Session, Sessions
from models import accounts, identity, people, signin
from models.credentials import SERVICE_HEADER
from models.db import transaction
from models.tables import Account, utcnow

log = logging.getLogger("cspr.gate")

FORM_COOKIE = "cspr_form"  # the sign-in pages' own token, sent back in the form: a page of another site cannot post
ENROL_COOKIE = "cspr_enrol"
ENROL_FOR = dt.timedelta(minutes=10)
OIDC_FOR = oidc.PENDING_MAX_AGE.total_seconds()
SIGN_IN = "/sign-in"
INTERNAL = "http://gate.internal"
T = TypeVar("T")


@dataclass
class Enrolling:
    account_id: uuid.UUID
    until: dt.datetime


@dataclass
class Gate:
    app: ASGIApp
    service_token: str
    gate_key: str
    sessions: Sessions = field(default_factory=Sessions)
    secure: bool = False  # cookies marked Secure: set when the gate is reached over TLS
    demo_allowed: bool = True  # demo accounts may sign in (never in the team set-up)
    oidc: oidc.Provider | None = None  # the partnership's identity provider, when one is set up
    clock: Callable[[], dt.datetime] = utcnow
    _enrolling: dict[str, Enrolling] = field(default_factory=dict)
    _csrf: tuple[str, float] | None = None
    # sign-ins sent to the identity provider, by their state: the PKCE verifier never leaves this process
    _oidc_pending: dict[str, tuple[oidc.Pending, str]] = field(default_factory=dict)

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
        return presented is not None and hmac.compare_digest(presented.encode(), self.service_token.encode())

    def _session(self, scope: Scope) -> tuple[str | None, Session | None]:
        token = cookies(scope).get(COOKIE)
        return token, self.sessions.find(token, self.clock())

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
        needed = access(method, path)
        if needed is Access.OPEN:
            await self.app(scope, receive, send)
            return
        send = _not_kept(send)
        if self._is_service(scope):
            await self.app(scope, receive, send)
            return
        token, session = self._session(scope)
        if session is not None and token is not None and self.sessions.due_for_check(session, self.clock()):
            session = await self._recheck(token, session)
        if session is None:
            await self._not_signed_in(scope, send)
            return
        caller = Caller(service=False, roles=session.roles)
        if not allowed(needed, caller):
            await respond_json(send, 403, _forbidden(needed))
            return
        if needed is Access.ANSWER:
            await self._answer(scope, receive, send, session)
        elif needed is Access.START:
            await self._start(scope, receive, send, caller)
        else:
            await self.app(scope, receive, send)

    async def _recheck(self, token: str, session: Session) -> Session | None:
        """The session held to the register again: the person's roles today, or signed out if they have none."""
        person_id = uuid.UUID(session.identity.person_id)

        def held() -> frozenset[Any]:
            with transaction() as db:
                account = db.get(Account, person_id)
                return frozenset() if account is None or not account.active else accounts.roles_of(db, account)

        roles = await _in_thread(held)
        if not roles:
            log.info("%s signed out: no longer active in the register", person_id)
        return self.sessions.refresh(token, roles, self.clock())

    async def _not_signed_in(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/api") or scope["method"] != "GET":
            await respond_json(send, 401, "sign in first", [("www-authenticate", 'Cookie realm="cspr"')])
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        await _redirect(send, f"{SIGN_IN}?{urllib.parse.urlencode({'next': target})}")

    # --- starting a run, answering a form -----------------------------------------------------------------

    async def _start(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        body = await read_body(receive, MAX_BODY)
        try:
            asked = json.loads(body or b"{}")
        except ValueError:
            asked = {}
        if isinstance(asked, dict) and asked.get("job_variables") and not may_set_job_variables(caller):
            await respond_json(send, 403, "only an operator may start a run with job variables; leave them empty")
            return
        await self.app(scope, replay(body, receive), send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, session: Session) -> None:
        body = await read_body(receive, MAX_BODY)
        run_id = scope["path"].split("/")[3]
        async with self._internal() as client:
            found = await client.get(f"/api/flow_runs/{run_id}")
            if found.status_code != 200:
                await respond_json(send, 404, "there is no such run")
                return
            try:
                run = waiting(found.json())
                person = session.identity
                roles = await _in_thread(lambda: _answering(run, person.person_id, person.name))
            except AnswerRefused as refused:
                await respond_json(send, 403, str(refused))
                return
            role = next(iter(roles)) if len(roles) == 1 else ""  # a sign-off's form says which partner
            signer = identity.Identity(person.person_id, person.name, role, person.signed_in_with)
            token = identity.sign(self.gate_key, signer, run_id=run.run_id, form_key=run.form_key, at=self.clock())
            key = identity.input_key(run.form_key)
            await client.delete(f"/api/flow_runs/{run_id}/input/{key}")  # an earlier attempt's, refused by the schema
            stored = await client.post(f"/api/flow_runs/{run_id}/input", json={"key": key, "value": json.dumps(token)})
            if stored.status_code >= 300:
                log.error("could not store the identity of an answer to run %s: HTTP %s", run_id, stored.status_code)
                await respond_json(send, 503, "the answer could not be signed; try again in a moment")
                return
        await self.app(scope, replay(body, receive), send)

    def _internal(self) -> httpx.AsyncClient:
        """The gate's own calls to Prefect, straight to the app behind it, as the service."""
        headers = {SERVICE_HEADER: self.service_token}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=INTERNAL,
            headers=headers,
            event_hooks={"request": [self._with_csrf]},
        )

    async def _with_csrf(self, request: httpx.Request) -> None:
        """Prefect's CSRF protection covers the gate's own changes too: fetch a token once an hour."""
        if request.method == "GET":
            return
        if self._csrf is None or self._csrf[1] < time.monotonic():
            client_id = "cspr-gate"
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=INTERNAL) as plain:
                got = await plain.get("/api/csrf-token", params={"client": client_id})
            token = got.json().get("token", "") if got.status_code == 200 else ""
            self._csrf = (token, time.monotonic() + 50 * 60)
        if self._csrf[0]:
            request.headers["Prefect-Csrf-Token"] = self._csrf[0]
            request.headers["Prefect-Csrf-Client"] = "cspr-gate"

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
        next_path = _local_path(form.get("next") or query.get("next"))
        match (method, path):
            case ("GET", "/sign-in"):
                await self._sign_in_page(send, next_path)
            case ("POST", "/sign-in"):
                await self._sign_in(send, form, next_path)
            case ("POST", "/sign-in/enrol"):
                await self._enrol(scope, send, form, next_path)
            case ("GET", "/sign-in/oidc"):
                await self._oidc_start(send, next_path)
            case ("GET", "/sign-in/oidc/callback"):
                await self._oidc_finish(send, query)
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

    async def _sign_in(self, send: Send, form: dict[str, str], next_path: str) -> None:
        email, password, code = form.get("email", ""), form.get("password", ""), form.get("code", "").replace(" ", "")
        now = self.clock()

        def attempt() -> accounts.SignedIn | str:
            with transaction() as db:
                return accounts.sign_in(db, email, password, code, now, demo_allowed=self.demo_allowed)

        result = await _in_thread(attempt)
        if isinstance(result, str):
            await self._sign_in_page(send, next_path, error=result, status=401)
            return
        if result.enrolling:
            await self._show_enrolment(send, result.account, next_path)
            return
        await self._signed_in(send, result.account, next_path)

    async def _oidc_start(self, send: Send, next_path: str) -> None:
        provider = self.oidc
        if provider is None:
            await respond_json(send, 404, "sign-in with an organisation's account is not set up here")
            return
        try:
            url, pending = await _in_thread(lambda: oidc.start(provider))
        except oidc.OidcRefused as refused:
            await self._refused_page(send, str(refused), refused.reason)
            return
        now = time.time()
        stale = [state for state, (p, _) in self._oidc_pending.items() if now - p.started_at > OIDC_FOR]
        for state in stale:
            del self._oidc_pending[state]
        self._oidc_pending[pending.state] = (pending, next_path)
        await _redirect(send, url)

    async def _oidc_finish(self, send: Send, query: dict[str, str]) -> None:
        provider = self.oidc
        held = self._oidc_pending.pop(query.get("state", ""), None)
        if provider is None or held is None:
            await self._refused_page(send, oidc.START_AGAIN, "no such sign-in in progress")
            return
        pending, next_path = held
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
        def roles() -> Any:
            with transaction() as db:
                return accounts.roles_of(db, account)

        held = await _in_thread(roles)
        factor = signed_in_with or (
            signin.Factor.PASSWORD if account.totp_secret is None else signin.Factor.PASSWORD_AND_TOTP
        )
        token = self.sessions.start(
            accounts.identity_of(account, str(factor)), held, demo=account.demo, now=self.clock()
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


def _answering(run: Any, person_id: str, name: str) -> frozenset[Any]:
    with transaction() as db:
        return answering_roles(db, run, person_id, name)


async def _in_thread(work: Callable[[], T]) -> T:
    """Database work off the event loop: the server goes on answering others meanwhile."""
    return await asyncio.to_thread(work)


async def _redirect(send: Send, location: str) -> None:
    await respond(send, 303, b"", "text/plain", [("location", location)])


def _forbidden(needed: Access) -> str:
    if needed is Access.START:
        return "only a coordinator or an operator may start a run"
    if needed is Access.SERVICE:
        return "only the system itself may do this"
    return "only an operator may change this; ask your partnership's cspr operator"


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: value for key, value in pairs}


def _same_token(sent: str | None, cookie: str | None) -> bool:
    return bool(sent) and bool(cookie) and hmac.compare_digest(str(sent).encode(), str(cookie).encode())


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (never another site), the UI's home otherwise."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    if target.startswith((SIGN_IN, "/sign-out")):
        return "/"
    return target


__all__ = ["SERVICE", "Gate"]
