"""The gate's side of "refused at Submit": asking the checker what the lifecycle would say to an answer before the
answer is passed to Prefect.

The checks need keys the gate's process must never hold (the audit key, the review's data key), so they run in the
checker, a process of the workers' side (cli/checker_commands.py), reached over a Unix socket in an owner-only folder.
Only the gate may ask: each request carries a token the gate signs (models/identity.py) over the person, the form and
the answer's digest, naming the run ``check`` so that it can never resume a real run.

A checker that cannot be reached refuses the answer for now, saying that nothing was sent: an answer passed on
unchecked would be refused by the lifecycle after the run resumed, which is what this check exists to spare people.
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
from models.answer_check import CHECK_RUN_ID, check_answer
from models.db import get_engine
from models.identity import Identity

log = logging.getLogger("cspr.gate")

TIMEOUT = 10.0  # seconds: a check is a transaction, or a report rendered for the redaction gate
UNCHECKED = "your answer could not be checked just now and nothing was sent; try again in a minute"
CHECKER_URL = "http://checker/check"  # the host is a name for the socket, never looked up


@dataclass(frozen=True)
class Checked:
    """What the person is told on Submit: accepted, or why not (in words for them, naming no one but themselves)."""

    accepted: bool
    message: str


class Checker(Protocol):
    async def check(self, reference: str, key: str, data: dict[str, Any], person: Identity) -> Checked:
        """What the lifecycle would say to ``data`` given by ``person`` to form ``key`` of review ``reference``."""
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
        try:
            digest = identity.answer_digest(data)
        except ValueError:  # not a JSON value: it came from JSON, so this is a fault of the caller's
            return Checked(False, "your answer could not be read; nothing was sent")
        at = self.clock()
        token = identity.sign(self.gate_key, person, run_id=CHECK_RUN_ID, form_key=key, at=at, answer=digest)
        request = {"reference": reference, "key": key, "data": data, "token": token}
        transport = httpx.AsyncHTTPTransport(uds=str(self.socket_path), verify=_tls_context())
        try:
            async with httpx.AsyncClient(transport=transport, timeout=self.timeout, trust_env=False) as client:
                response = await client.post(CHECKER_URL, json=request)
        except httpx.HTTPError as exc:
            log.error(
                "%s: the checker at %s could not be reached (%s)", reference, self.socket_path, type(exc).__name__
            )
            return Checked(False, UNCHECKED)
        return _read(reference, response)


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
