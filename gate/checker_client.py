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

An action's evidence document (models/work/evidence.py) goes the same way, since only the checker holds the key that
seals it: ``store_evidence`` hands the checker the document with the answer that names it (a token of its own
purpose, run ``evidence``, over the answer and the document's digest), and the checker stores it only if the answer
would be recorded; ``open_evidence`` asks for it back for its download (run ``evidence-open``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
from models.answer_check import (
    CHECK_RUN_ID,
    EVIDENCE_OPEN_RUN_ID,
    EVIDENCE_RUN_ID,
    NO_SUCH_ITEM,
    SHOW_RUN_ID,
    check_answer,
    check_item_answer,
    item_evidence,
    show_item,
)
from models.db import get_engine
from models.identity import Identity

log = logging.getLogger("cspr.gate")

TIMEOUT = 10.0  # seconds: a check is a transaction, or a report rendered for the redaction gate
UNCHECKED = "your answer could not be checked just now and nothing was sent; try again in a minute"
UNSHOWN = "what was asked could not be shown just now: try again in a minute"
CHECKER_URL = "http://checker/check"  # the host is a name for the socket, never looked up
SHOW_URL = "http://checker/show"
EVIDENCE_URL = "http://checker/evidence"
EVIDENCE_OPEN_URL = "http://checker/evidence/open"
EVIDENCE_TYPE = (
    "application/vnd.cspr.evidence"  # the request as JSON, a line break, the document (cli/checker_commands)
)
UNSTORED = (
    "your answer and its evidence document could not be checked just now and nothing was sent; try again in a minute"
)
EVIDENCE_TIMEOUT = 60.0  # seconds: a document of 10 MB sealed and stored, on a slow store


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


@dataclass(frozen=True)
class Stored:
    """An evidence document given with an answer: the answer's verdict (as ``Checked``), and the id of the document
    stored for it ("" when the answer was refused, and nothing stored)."""

    accepted: bool
    message: str
    document: str = ""


@dataclass(frozen=True)
class Evidence:
    """An action's evidence document, opened for its download: its bytes, type and the name to give it; or, with no
    bytes, ``refused`` (none, or not theirs to see) or the checker could not be asked."""

    data: bytes = b""
    media_type: str = ""
    name: str = ""
    refused: bool = False


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

    async def store_evidence(
        self, reference: str, item: str, key: str, data: dict[str, Any], name: str, content: bytes, person: Identity
    ) -> Stored:
        """``content`` (a file named ``name``) stored as the evidence document of ``data``, the answer ``person``
        gives to form ``key`` of action ``item``, if the answer, naming it, would be recorded."""
        ...

    async def open_evidence(self, reference: str, item: str, person: Identity) -> Evidence:
        """Action ``item``'s evidence document, opened, if ``person`` may see the action."""
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

    async def store_evidence(
        self, reference: str, item: str, key: str, data: dict[str, Any], name: str, content: bytes, person: Identity
    ) -> Stored:
        asked = {
            "reference": reference,
            "item": item,
            "key": key,
            "data": data,
            "name": name,
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        try:
            digest = identity.answer_digest(asked)
        except ValueError:  # a lone surrogate in the file's name: no browser sends one
            return Stored(False, "the evidence document's name could not be read; nothing was sent")
        token = identity.sign(
            self.gate_key, person, run_id=EVIDENCE_RUN_ID, form_key=key, at=self.clock(), answer=digest
        )
        head = json.dumps({**asked, "token": token}, separators=(",", ":")).encode()  # one line: JSON escapes breaks
        response = await self._post(
            reference,
            EVIDENCE_URL,
            content=head + b"\n" + content,
            headers={"content-type": EVIDENCE_TYPE},
            timeout=EVIDENCE_TIMEOUT,
        )
        if response is None:
            return Stored(False, UNSTORED)
        checked = _read(reference, response)
        found = response.json().get("document") if checked.message != UNCHECKED else ""
        document = found if isinstance(found, str) else ""
        if checked.accepted and not document:  # accepted, yet nothing stored: never passed on as if it were
            log.error("%s: the checker accepted an answer with evidence but named no document", reference)
            return Stored(False, UNSTORED)
        return Stored(checked.accepted, UNSTORED if checked.message == UNCHECKED else checked.message, document)

    async def open_evidence(self, reference: str, item: str, person: Identity) -> Evidence:
        try:
            digest = identity.answer_digest(reference)
        except ValueError:
            return Evidence(refused=True)
        at = self.clock()
        token = identity.sign(self.gate_key, person, run_id=EVIDENCE_OPEN_RUN_ID, form_key=item, at=at, answer=digest)
        response = await self._post(
            reference,
            EVIDENCE_OPEN_URL,
            {"reference": reference, "item": item, "token": token},
            timeout=EVIDENCE_TIMEOUT,
        )
        if response is None:
            return Evidence()
        if response.status_code == 404:
            return Evidence(refused=True)
        try:
            about = json.loads(response.headers.get("x-cspr-document", ""))
        except ValueError:
            about = None
        if response.status_code != 200 or not isinstance(about, dict):
            log.error("%s: the checker answered HTTP %s to open an evidence document", reference, response.status_code)
            return Evidence()
        return Evidence(response.content, str(about.get("media_type", "")), str(about.get("name", "")))

    async def _post(
        self,
        reference: str,
        url: str,
        request: dict[str, Any] | None = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response | None:
        """The checker's answer to ``request`` (JSON; or ``content``, as it is); None (and a line in the log) when it
        could not be reached."""
        transport = httpx.AsyncHTTPTransport(uds=str(self.socket_path), verify=_tls_context())
        try:
            async with httpx.AsyncClient(
                transport=transport, timeout=timeout or self.timeout, trust_env=False
            ) as client:
                if content is not None:
                    return await client.post(url, content=content, headers=headers)
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

    async def store_evidence(
        self, reference: str, item: str, key: str, data: dict[str, Any], name: str, content: bytes, person: Identity
    ) -> Stored:
        """Not in this process: storing needs the object store, which is the checker's (the gate imports no task)."""
        return Stored(False, UNSTORED)

    async def open_evidence(self, reference: str, item: str, person: Identity) -> Evidence:
        """Who may have it, and whether there is one, as the checker says; its bytes are the store's, not here."""
        return await anyio.to_thread.run_sync(self._open_evidence, reference, item, person)

    def _open_evidence(self, reference: str, item: str, person: Identity) -> Evidence:
        with Session(self.engine or get_engine()) as session:
            found = item_evidence(session, reference, item, person)
        return Evidence(refused=found is None)
