"""The gate's side of "refused at Submit": asking the checker what the lifecycle would say to an answer before the
answer is passed to Prefect.

The checks need keys the gate's process must never hold (the audit key, the review's data key), so they run in the
checker, a process of the workers' side (cli/checker_commands.py), reached over a Unix socket in an owner-only folder.
Only the gate may ask: each request carries a token the gate signs (models/identity.py) over the person, the form and
the answer's digest, naming the run ``check`` so that it can never resume a real run.

A checker that cannot be reached refuses the answer for now, saying that nothing was sent: an answer passed on
unchecked would be refused by the lifecycle after the run resumed, which is what this check exists to spare people.

An item of the work around a review (an agency's information request, an action: models/work/) is checked the same
way, and its page's words come from the checker too (``show``): they are sealed, and only the checker holds the key
that opens them. The gate asks with a token signed for that purpose alone (run ``show``), naming the person, and the
checker shows the item only to those who may see it.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import identity
from models.answer_check import CHECK_RUN_ID, NO_SUCH_ITEM, SHOW_RUN_ID, check_answer, check_item_answer, show_item
from models.db import get_engine
from models.identity import Identity

log = logging.getLogger("cspr.gate")

TIMEOUT = 10.0  # seconds: a check is a transaction, or a report rendered for the redaction gate
UNCHECKED = "your answer could not be checked just now and nothing was sent; try again in a minute"
UNSHOWN = "what was asked could not be shown just now: try again in a minute"
CHECKER_URL = "http://checker/check"  # the host is a name for the socket, never looked up
SHOW_URL = "http://checker/show"


@dataclass(frozen=True)
class Checked:
    """What the person is told on Submit: accepted, or why not (in words for them, naming no one but themselves)."""

    accepted: bool
    message: str


@dataclass(frozen=True)
class Shown:
    """An item as its page shows it: its lines (markdown, sealed words opened), or, when there are none, why not:
    ``refused`` when the person may not see it (or there is no such item), else the checker could not be asked."""

    lines: tuple[str, ...] = ()
    refused: bool = False
    message: str = ""


class Checker(Protocol):
    async def check(self, reference: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        """What the lifecycle would say to ``data`` given by ``person`` to form ``key`` of review ``reference``."""
        ...

    async def check_item(self, reference: str, item: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        """What the item's run would say to ``data`` given by ``person`` to form ``key`` of ``item`` ("request-2")."""
        ...

    async def show(self, reference: str, item: str, person: Identity) -> Shown:
        """The item whole, if ``person`` may see it."""
        ...


@cache
def _tls_context() -> ssl.SSLContext:
    """The TLS context httpx would otherwise build (certificates loaded from disk) for each check: made once. A Unix
    socket never uses it; building it took 23 ms of each Submit's 112 (cspr bench submit, docs/benchmarks.md)."""
    return ssl.create_default_context()


@dataclass(frozen=True)
class SocketChecker:
    """The checker process, over its Unix socket; the gate signs each request with its own key."""

    socket_path: Path
    gate_key: str
    clock: Callable[[], dt.datetime]
    timeout: float = TIMEOUT

    async def check(self, reference: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        return await self._check(reference, key, data, person, {})

    async def check_item(self, reference: str, item: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        return await self._check(reference, key, data, person, {"item": item})

    async def _check(
        self, reference: str, key: str, data: dict[str, Any], person: Identity, more: dict[str, str]
    ) -> Checked:
        try:
            digest = identity.answer_digest(data)
        except ValueError:  # not a JSON value: it came from JSON, so this is a fault of the caller's
            return Checked(False, "your answer could not be read; nothing was sent")
        at = self.clock()
        token = identity.sign(self.gate_key, person, run_id=CHECK_RUN_ID, form_key=key, at=at, answer=digest)
        response = await self._post(
            reference, CHECKER_URL, {"reference": reference, "key": key, "data": data, **more, "token": token}
        )
        return Checked(False, UNCHECKED) if response is None else _read(reference, response)

    async def show(self, reference: str, item: str, person: Identity) -> Shown:
        try:
            digest = identity.answer_digest(reference)
        except ValueError:
            return Shown(refused=True, message=NO_SUCH_ITEM)
        token = identity.sign(self.gate_key, person, run_id=SHOW_RUN_ID, form_key=item, at=self.clock(), answer=digest)
        response = await self._post(reference, SHOW_URL, {"reference": reference, "item": item, "token": token})
        if response is None:
            return Shown(message=UNSHOWN)
        return _read_shown(reference, response)

    async def _post(self, reference: str, url: str, request: dict[str, Any]) -> httpx.Response | None:
        """The checker's answer to ``request``; None (and a line in the log) when it could not be reached."""
        transport = httpx.AsyncHTTPTransport(uds=str(self.socket_path), verify=_tls_context())
        try:
            async with httpx.AsyncClient(transport=transport, timeout=self.timeout, trust_env=False) as client:
                return await client.post(url, json=request)
        except httpx.HTTPError as exc:
            log.error(
                "%s: the checker at %s could not be reached (%s)", reference, self.socket_path, type(exc).__name__
            )
            return None


def _read(reference: str, response: httpx.Response) -> Checked:
    """The checker's verdict; anything but a verdict (it refused our token, or failed) is logged, and the answer held
    back for now."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if (
        response.status_code == 200
        and isinstance(body, dict)
        and isinstance(body.get("accepted"), bool)
        and isinstance(body.get("message"), str)
    ):
        return Checked(body["accepted"], body["message"])
    said = body.get("message") if isinstance(body, dict) else None
    log.error("%s: the checker answered HTTP %s: %s", reference, response.status_code, said or "(no message)")
    return Checked(False, UNCHECKED)


def _read_shown(reference: str, response: httpx.Response) -> Shown:
    """The item's lines; a refusal (404: not theirs, or no such item); anything else is logged, and nothing shown."""
    try:
        body = response.json()
    except ValueError:
        body = None
    lines = body.get("lines") if isinstance(body, dict) else None
    if response.status_code == 200 and isinstance(lines, list) and all(isinstance(line, str) for line in lines):
        return Shown(tuple(lines))
    if response.status_code == 404:
        return Shown(refused=True, message=NO_SUCH_ITEM)
    said = body.get("message") if isinstance(body, dict) else None
    log.error("%s: the checker answered HTTP %s to show an item: %s", reference, response.status_code, said or "-")
    return Shown(message=UNSHOWN)


@dataclass(frozen=True)
class InProcessChecker:
    """The same check made in this process, for tests, which hold the keys (the gate's process never does). It makes
    the database's checks only: the redaction gate is the checker's (cli/checker_commands.py ``run_check``)."""

    engine: Engine | None = None

    async def check(self, reference: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        return await anyio.to_thread.run_sync(self._check, reference, key, data, person)

    def _check(self, reference: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        with Session(self.engine or get_engine()) as session:
            outcome = check_answer(session, reference, key, data, person)
        return Checked(outcome.accepted, outcome.message)

    async def check_item(self, reference: str, item: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        return await anyio.to_thread.run_sync(self._check_item, reference, item, key, data, person)

    def _check_item(self, reference: str, item: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        with Session(self.engine or get_engine()) as session:
            outcome = check_item_answer(session, reference, item, key, data, person)
        return Checked(outcome.accepted, outcome.message)

    async def show(self, reference: str, item: str, person: Identity) -> Shown:
        return await anyio.to_thread.run_sync(self._show, reference, item, person)

    def _show(self, reference: str, item: str, person: Identity) -> Shown:
        with Session(self.engine or get_engine()) as session:
            lines = show_item(session, reference, item, person)
        return Shown(refused=True, message=NO_SUCH_ITEM) if lines is None else Shown(tuple(lines))
