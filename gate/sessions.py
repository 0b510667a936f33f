"""Signed-in sessions: a random token in an HttpOnly cookie, and what it stands for in the gate's memory.

Held in memory, not written anywhere: a session cookie never reaches a log or a database, and restarting the
server signs everyone out (they sign in again; nothing of a review is lost). Only a hash of each token is kept, so
the table itself would not let anyone in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

from models.identity import Identity
from models.roles import Role

IDLE_FOR = dt.timedelta(minutes=30)
AT_MOST = dt.timedelta(hours=12)
# how long a session's roles are taken as read: then the register is asked again, so a person disabled (or whose
# registrations changed) with `cspr people` keeps no access beyond a minute
RECHECK_EVERY = dt.timedelta(minutes=1)
COOKIE = "cspr_session"
# POSTs under /api that only read: the UI sends them on its own, every few seconds, while a page is open
_READ_ONLY_ENDINGS = (
    "/filter",
    "/count",
    "/paginate",
    "/history",
    "/lateness",
    "/concurrency_status",
    "/templates/validate",
)
_READ_ONLY_UNDER = ("/api/ui/", "/api/events/count-by/")
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Session:
    identity: Identity  # role "": the person's roles are in ``roles``; the step decides which one they act in
    roles: frozenset[Role]
    demo: bool
    started: dt.datetime
    last_seen: dt.datetime
    checked: dt.datetime  # when ``roles`` were last read from the register
    # the partnerships whose reviews' runs the person reads (None: every one; an operator, the Panel's contact)
    partnerships: frozenset[str] | None = frozenset()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, idle_for: dt.timedelta = IDLE_FOR, at_most: dt.timedelta = AT_MOST) -> None:
        self.idle_for = idle_for
        self.at_most = at_most
        self._by_digest: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(
        self,
        identity: Identity,
        roles: frozenset[Role],
        *,
        demo: bool,
        now: dt.datetime,
        partnerships: frozenset[str] | None = frozenset(),
    ) -> str:
        """A new session for a person who just signed in; returns the token for their cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired(now)
            self._by_digest[_digest(token)] = Session(identity, roles, demo, now, now, now, partnerships)
        return token

    def find(self, token: str | None, now: dt.datetime, *, touch: bool = True) -> Session | None:
        """The live session of a cookie; None once idle too long or past its limit. ``touch``: the request is the
        person's own doing (see ``is_own_action``), so the idle clock starts again; False leaves it running."""
        if not token or len(token) > 100:
            return None
        key = _digest(token)
        with self._lock:
            session = self._by_digest.get(key)
            if session is None:
                return None
            if now - session.last_seen > self.idle_for or now - session.started > self.at_most:
                del self._by_digest[key]
                return None
            if touch:
                self._by_digest[key] = session = replace(session, last_seen=now)
        return session

    @staticmethod
    def due_for_check(session: Session, now: dt.datetime) -> bool:
        return now - session.checked >= RECHECK_EVERY

    def refresh(
        self, token: str, roles: frozenset[Role], now: dt.datetime, partnerships: frozenset[str] | None = frozenset()
    ) -> Session | None:
        """The session with the roles the register gives the person now; ended (None) when it gives none: the
        account was disabled, or every registration of it ended."""
        key = _digest(token)
        with self._lock:
            session = self._by_digest.get(key)
            if session is None or not roles:
                self._by_digest.pop(key, None)
                return None
            self._by_digest[key] = session = replace(session, roles=roles, checked=now, partnerships=partnerships)
        return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._by_digest.pop(_digest(token), None)

    def end_for(self, person_id: str) -> int:
        """End every session of one person (their account was disabled); returns how many."""
        with self._lock:
            mine = [k for k, s in self._by_digest.items() if s.identity.person_id == person_id]
            for key in mine:
                del self._by_digest[key]
        return len(mine)

    def _forget_expired(self, now: dt.datetime) -> None:
        expired = [
            k for k, s in self._by_digest.items() if now - s.last_seen > self.idle_for or now - s.started > self.at_most
        ]
        for key in expired:
            del self._by_digest[key]


def is_own_action(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """Whether a request is the person's own doing, which keeps their session alive; the UI's polling does not.

    True: opening a page (a GET outside /api that the browser marks ``Sec-Fetch-Mode: navigate``, or, from a
    browser that sends no such header, one whose ``Accept`` prefers HTML), and a change through the API (POST, PUT,
    PATCH, DELETE under /api) other than the POSTs that only read (``.../filter``, ``.../count``, ``.../paginate``,
    ``.../history``, ``.../lateness``, ``.../concurrency_status``, ``/api/templates/validate``, anything under
    ``/api/ui/`` or ``/api/events/count-by/``). False for everything else: every GET under /api is polling.
    Header names may be in any case."""
    method = method.upper()
    if path == "/api" or path.startswith("/api/"):
        if method not in _CHANGES:
            return False
        if method != "POST":
            return True
        return not (path.rstrip("/").endswith(_READ_ONLY_ENDINGS) or path.startswith(_READ_ONLY_UNDER))
    if method != "GET":
        return False
    lowered = {name.lower(): value for name, value in headers.items()}
    mode = lowered.get("sec-fetch-mode")
    if mode is not None:
        return mode.strip().lower() == "navigate"
    return _prefers_html(lowered.get("accept", ""))


def _prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header names HTML, with no other type before it (a browser opening a page does; a
    script's fetch asks for ``*/*`` or JSON)."""
    html, others = 0.0, 0.0
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() == "text/html":
            html = max(html, quality)
        elif media:
            others = max(others, quality)
    return html > 0 and html >= others
