"""The sign-in pages, a small Starlette app the gate mounts at /sign-in and /sign-out (gate/app.py).

A password, and once enrolled the authenticator app's code (the first sign-in sets the app up); or the partnership's
identity provider over OpenID Connect; and signing out. A person signed in gets a session (gate/sessions.py) with
their roles from the register. Every POST carries the page's own token, in its form and in a cookie, so a page of
another site cannot post one; failed sign-ins slow down (gate/throttle.py); the page to go on to is always one of
this site's (gate/redirects.py). The pages are plain HTML (gate/pages.py), framed by no other site.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gate import oidc, pages, redirects, register
from gate.asgi import (
    MAX_BODY,
    TOO_LARGE,
    Answer,
    ASGIApp,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    cookies,
    read_body,
)
from gate.redirects import SIGN_IN, SIGN_OUT
from gate.sessions import COOKIE, Sessions
from gate.throttle import BUSY, Busy, HashSlots, Outcome, SignInThrottle, account_key, retry_after, too_many
from models import accounts, people, signin
from models.db import transaction
from models.system_credentials import digest
from models.tables import Account, utcnow

log = logging.getLogger("cspr.gate")

FORM_COOKIE = "cspr_form"  # the sign-in pages' own token, sent back in the form: a page of another site cannot post
ENROL_COOKIE = "cspr_enrol"
OIDC_COOKIE = "cspr_oidc"  # binds a sign-in with the identity provider to the browser that started it
ENROL_FOR = dt.timedelta(minutes=10)
OIDC_FOR = oidc.PENDING_MAX_AGE.total_seconds()
_PAGE_HEADERS = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
]
NO_SUCH_PAGE = "there is no such page"
_FORM = "cspr.form"  # the scope's key for the form a POST sent, read and checked before its page sees it


def serves(path: str) -> bool:
    """Whether a path is the sign-in pages' (the gate sends every other one through its guard)."""
    return path == SIGN_IN or path.startswith((SIGN_IN + "/", SIGN_OUT))


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
class SignIn:
    sessions: Sessions  # the gate's: a session started here opens Prefect through the guard
    clock: Callable[[], dt.datetime] = utcnow
    secure: bool = False  # cookies marked Secure: set when the gate is reached over TLS
    demo_allowed: bool = True  # demo accounts may sign in (never in the team set-up)
    provider: oidc.Provider | None = None  # the partnership's identity provider, when one is set up
    oidc_pending_max: int = 1000  # sign-ins with the provider in progress at once; a new one past this is refused
    throttle: SignInThrottle = field(default_factory=SignInThrottle)  # failed sign-ins slow down (gate/throttle.py)
    hashing: HashSlots = field(default_factory=HashSlots)  # at most 2 password checks at once
    _enrolling: dict[str, Enrolling] = field(default_factory=dict)
    # sign-ins sent to the identity provider, by their state: the PKCE verifier never leaves this process
    _oidc_pending: dict[str, OidcStarted] = field(default_factory=dict)
    app: Starlette = field(init=False)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(SIGN_IN, self._sign_in_form, methods=["GET"]),
                Route(SIGN_IN, self._sign_in, methods=["POST"]),
                Route(f"{SIGN_IN}/enrol", self._enrol, methods=["POST"]),
                Route(f"{SIGN_IN}/oidc", self._oidc_start, methods=["GET"]),
                Route(f"{SIGN_IN}/oidc/callback", self._oidc_finish, methods=["GET"]),
                Route(SIGN_OUT, self._sign_out_form, methods=["GET"]),
                Route(SIGN_OUT, self._sign_out, methods=["POST"]),
            ],
            middleware=[Middleware(_Submitted)],
            exception_handlers={404: _no_such_page, 405: _no_such_page},
        )
        self.app.router.redirect_slashes = False  # "/sign-in/" is no page, as any other path here that is none

    def cookie(self, name: str, value: str, *, max_age: int | None = None) -> str:
        """A cookie of the whole site's that no script reads and no other site's page sends."""
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def _page(
        self, status: int, html: bytes, *, form_token: str = "", cookies_: Iterable[str] = (), clear: bool = False
    ) -> Response:
        """A page, with its form's token in a cookie, ``cookies_``, and the session's cookie cleared if ``clear``."""
        sent = [self.cookie(FORM_COOKIE, form_token, max_age=3600)] if form_token else []
        sent += cookies_
        if clear:
            sent.append(self.cookie(COOKIE, "", max_age=0))
        return _html(status, html, sent)

    # --- a password, and the authenticator app's code --------------------------------------------------------

    async def _sign_in_form(self, request: Request) -> Response:
        return self._sign_in_page(_next(request))

    def _sign_in_page(self, next_path: str, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(16)
        html = pages.sign_in(
            form_token=token,
            next_path=next_path,
            error=error,
            oidc="your organisation's account" if self.provider else "",
        )
        return self._page(status, html, form_token=token)

    async def _sign_in(self, request: Request) -> Response:
        form, next_path = _form_of(request), _next(request)
        email, password, code = form.get("email", ""), form.get("password", ""), form.get("code", "").replace(" ", "")
        now = self.clock()
        account, address = account_key(email), _client_address(request.scope)
        wait = self.throttle.admit(account, address, time.monotonic())
        if wait > 0:  # refused before any hashing: a flood of attempts costs the server nothing
            slowed = self._sign_in_page(next_path, error=too_many(wait), status=429)
            return _adding(slowed, [("retry-after", retry_after(wait))])

        def attempt() -> accounts.SignedIn | str:
            with transaction() as db:
                return accounts.sign_in(db, email, password, code, now, demo_allowed=self.demo_allowed)

        outcome = Outcome.UNCHECKED
        try:
            result = await self.hashing.run(attempt)
            outcome = Outcome.FAILED if isinstance(result, str) else Outcome.SUCCEEDED
        except Busy:
            log.warning("a sign-in was turned away: every place to check a password stayed taken")
            busy = self._sign_in_page(next_path, error=BUSY, status=503)
            return _adding(busy, [("retry-after", retry_after(self.hashing.wait))])
        finally:
            self.throttle.finish(account, address, time.monotonic(), outcome)
        if isinstance(result, str):
            return self._sign_in_page(next_path, error=result, status=401)
        if result.enrolling:
            return self._show_enrolment(result.account, next_path)
        return await self._signed_in(result.account, next_path)

    def _show_enrolment(self, account: Account, next_path: str, error: str = "") -> Response:
        assert account.totp_secret is not None
        ticket = secrets.token_urlsafe(24)
        self._enrolling[ticket] = Enrolling(account.id, self.clock() + ENROL_FOR)
        uri = signin.enrolment_uri(account.totp_secret, account.email)
        token = secrets.token_urlsafe(16)
        html = pages.enrol(
            form_token=token, next_path=next_path, uri=uri, qr_svg=signin.enrolment_qr_svg(uri), error=error
        )
        enrol_cookie = self.cookie(ENROL_COOKIE, ticket, max_age=int(ENROL_FOR.total_seconds()))
        return self._page(401 if error else 200, html, form_token=token, cookies_=[enrol_cookie])

    async def _enrol(self, request: Request) -> Response:
        form, next_path = _form_of(request), _next(request)
        ticket = cookies(request.scope).get(ENROL_COOKIE, "")
        pending = self._enrolling.pop(ticket, None)
        now = self.clock()
        if pending is None or pending.until < now:
            return self._sign_in_page(next_path, error="Setting up the app took too long. Sign in again.", status=401)
        account_id = pending.account_id
        code = form.get("code", "").replace(" ", "")

        def confirm() -> tuple[Account | None, Account | str]:
            with transaction() as db:
                result = accounts.confirm_enrolment(db, account_id, code, now)
                return db.get(Account, account_id), result

        account, result = await register.in_thread(confirm)
        if isinstance(result, str):
            if account is None or account.locked_until is not None:
                return self._sign_in_page(next_path, error=result, status=401)
            return self._show_enrolment(
                account, next_path, error="That code is not right. Type the code the app shows now."
            )
        return await self._signed_in(result, next_path)

    # --- the organisation's account, through its identity provider ---------------------------------------------

    async def _oidc_start(self, request: Request) -> Response:
        next_path = _next(request)
        provider = self.provider
        if provider is None:
            return _json(404, "sign-in with an organisation's account is not set up here")
        if not self._oidc_room():  # before asking the provider anything
            return self._oidc_full()
        try:
            url, pending = await register.in_thread(lambda: oidc.start(provider))
        except oidc.OidcRefused as refused:
            return self._refused_page(str(refused), refused.reason)
        if not self._oidc_room():  # others started while this one waited on the provider
            return self._oidc_full()
        browser = secrets.token_urlsafe(32)  # fresh each time: a value someone planted in the browser binds nothing
        self._oidc_pending[pending.state] = OidcStarted(pending, next_path, digest(browser))
        cookie = self._oidc_cookie(browser, max_age=int(OIDC_FOR))
        return _answer(303, b"", "text/plain", [("location", url), ("set-cookie", cookie)])

    def _oidc_room(self) -> bool:
        """Whether another sign-in with the provider may start, once those past their time are forgotten."""
        now = time.time()
        stale = [state for state, held in self._oidc_pending.items() if now - held.pending.started_at > OIDC_FOR]
        for state in stale:
            del self._oidc_pending[state]
        return len(self._oidc_pending) < self.oidc_pending_max

    def _oidc_full(self) -> Response:
        log.warning("a sign-in with the organisation's account turned away: %d in progress", len(self._oidc_pending))
        html = pages.message(
            "Please try again in a few minutes",
            "Too many people are signing in with their organisation's account at this moment. "
            "Please try again in a few minutes.",
            refused=True,
            link={"href": SIGN_IN, "label": "Back to sign-in"},
        )
        return _adding(self._page(503, html), [("retry-after", "60")])

    def _oidc_cookie(self, value: str, *, max_age: int) -> str:
        """Sent back only to the callback; Lax, not Strict: the provider's redirect back is another site's link."""
        parts = [f"{OIDC_COOKIE}={value}", "Path=/sign-in/oidc", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def _oidc_finish(self, request: Request) -> Response:
        """The provider's redirect back; whatever comes of it, the browser's cookie for it is cleared."""
        answer = await self._oidc_callback(request)
        return _adding(answer, [("set-cookie", self._oidc_cookie("", max_age=0))])

    async def _oidc_callback(self, request: Request) -> Response:
        query = _query(request)
        provider = self.provider
        held = self._oidc_pending.pop(query.get("state", ""), None)  # used once, whatever comes of it
        presented = cookies(request.scope).get(OIDC_COOKIE, "")
        if provider is None or held is None:
            return self._refused_page(oidc.START_AGAIN, "no such sign-in in progress")
        if not presented or not hmac.compare_digest(digest(presented).encode(), held.browser.encode()):
            return self._refused_page(oidc.START_AGAIN, "the callback reached another browser than the start")
        pending, next_path = held.pending, held.next_path
        now = self.clock()

        def match() -> Account:
            claims = oidc.finish(provider, pending, query)
            with transaction() as db:
                return people.match_oidc(
                    db, subject=claims.subject, email=claims.email, email_verified=claims.email_verified, at=now
                )

        try:
            account = await register.in_thread(match)
        except oidc.OidcRefused as refused:
            return self._refused_page(str(refused), refused.reason)
        except people.NotMatched as refused:
            return self._refused_page(str(refused), "not in the register")
        return await self._signed_in(account, next_path, signed_in_with="oidc")

    def _refused_page(self, message: str, reason: str) -> Response:
        log.info("a sign-in with the organisation's account was refused: %s", reason)  # never a token or address
        html = pages.message(
            "You could not be signed in", message, refused=True, link={"href": SIGN_IN, "label": "Back to sign-in"}
        )
        return self._page(403, html)

    # --- signed in, and signing out ---------------------------------------------------------------------------

    async def _signed_in(self, account: Account, next_path: str, signed_in_with: str = "") -> Response:
        held, partnerships = await register.held(account)
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
            ("set-cookie", self.cookie(COOKIE, token)),
            ("set-cookie", self.cookie(ENROL_COOKIE, "", max_age=0)),
        ]
        return _answer(303, b"", "text/plain", headers)

    async def _sign_out_form(self, request: Request) -> Response:
        token = secrets.token_urlsafe(16)
        html = pages.message(
            "Sign out",
            "Sign out of cspr on this browser.",
            form_token=token,
            form={"action": SIGN_OUT, "label": "Sign out"},
        )
        return self._page(200, html, form_token=token)

    async def _sign_out(self, request: Request) -> Response:
        self.sessions.end(cookies(request.scope).get(COOKIE))
        html = pages.message(
            "You are signed out",
            "You have signed out of cspr. Close this window if you share the computer.",
            link={"href": SIGN_IN, "label": "Sign in again"},
        )
        return self._page(200, html, clear=True)


class _Submitted:
    """Before any page: the sign-in pages answer GET and POST only, and every POST must carry the page's own token
    (in its form and its cookie). The form, read once within the gate's limit, goes on to the page in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "POST"):
            await _json(404, NO_SUCH_PAGE)(scope, receive, send)
            return
        form: dict[str, str] = {}
        if method == "POST":
            try:
                form = _form(await read_body(receive, MAX_BODY))
            except BodyTooLarge:  # answered here: past this app's own error handling, it would be a 500
                await _json(413, TOO_LARGE)(scope, receive, send)
                return
            if not _same_token(form.get("form_token"), cookies(scope).get(FORM_COOKIE)):
                expired = pages.message(
                    "Please try again",
                    "The page had expired. Open it again and resubmit.",
                    refused=True,
                    link={"href": SIGN_IN, "label": "Sign in"},
                )
                await _html(400, expired)(scope, receive, send)
                return
        scope[_FORM] = form
        await self.app(scope, receive, send)


async def _no_such_page(request: Request, exc: Exception) -> Response:
    return _json(404, NO_SUCH_PAGE)


def _answer(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Answer(status, body, content_type, headers)


def _json(status: int, detail: str) -> Response:
    return _answer(status, json.dumps({"detail": detail}).encode(), "application/json")


def _html(status: int, html: bytes, cookies_: Iterable[str] = ()) -> Response:
    """One of the sign-in pages: framed by no other site, sending no referrer, loading nothing from elsewhere."""
    headers = [*_PAGE_HEADERS, *(("set-cookie", cookie) for cookie in cookies_)]
    return _answer(status, html, "text/html; charset=utf-8", headers)


def _adding(answer: Response, headers: list[tuple[str, str]]) -> Response:
    """``answer`` with ``headers`` after its own."""
    answer.raw_headers += [(name.encode(), value.encode()) for name, value in headers]
    return answer


def _form_of(request: Request) -> dict[str, str]:
    form: dict[str, str] = request.scope.get(_FORM, {})
    return form


def _query(request: Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.scope.get("query_string", b"").decode("latin-1")))


def _next(request: Request) -> str:
    """Where to go on to once signed in: the form's or the address's ``next``, if it is a page of this site."""
    return redirects.local_path(_form_of(request).get("next") or _query(request).get("next"))


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
