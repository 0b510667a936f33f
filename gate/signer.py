"""The signer: a person's answer to a form reaches Prefect with who gave it, signed over the answer itself.

The gate signs the person's identity, the run, the form and the digest of the answer as Prefect will store it
(gate/who_may_answer.py, models/identity.py) and stores the token as the run's input beside the answer; the
lifecycle takes an answer only with a valid token for that very answer. One answer at a time per run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from gate import register
from gate.asgi import MAX_BODY, read_body, respond, respond_json
from gate.guard import NO_SUCH_RUN, Asked, readable_run
from gate.prefect_client import PrefectClient
from gate.who_may_answer import ANSWERED_ALREADY, AnswerRefused, Waiting, answer_to_sign, waiting
from models import identity
from models.system_credentials import digest

log = logging.getLogger("cspr.gate")

LOCKS = 64  # answers are few: a fixed set of locks, never grown


@dataclass(frozen=True)
class Signer:
    prefect: PrefectClient
    gate_key: str  # signs the identity onto answers (models/system_credentials.py)
    clock: Callable[[], dt.datetime]
    _locks: list[asyncio.Lock] = field(default_factory=lambda: [asyncio.Lock() for _ in range(LOCKS)])

    async def answer(self, asked: Asked) -> None:
        """One answer at a time per run: the gate signs the person onto the very answer (its digest), stores the
        token, and passes the answer on; an answer Prefect refuses takes its token away again. A second person
        answering the same form meanwhile is told it was answered, and nothing of theirs is kept."""
        body = await read_body(asked.receive, MAX_BODY)
        run_id = asked.params["id"]
        async with self._lock(run_id), self.prefect.client() as client:
            found = await readable_run(client, run_id, asked.caller)
            if found is None:
                await respond_json(asked.send, 404, NO_SUCH_RUN)
                return
            try:
                run = waiting(found)
                roles = await register.answering(run, asked.session.identity)
                answer_to_sign(body)  # a templated answer is refused before anything is stored
            except AnswerRefused as refused:
                status = 409 if str(refused) == ANSWERED_ALREADY else 403
                await respond_json(asked.send, status, str(refused))
                return
            role = next(iter(roles)) if len(roles) == 1 else ""  # a sign-off's form says which partner
            answered = await self.hand_over(client, run, asked.session.identity, role, body)
            if answered is None:
                await respond_json(asked.send, 503, "the answer could not be signed; try again in a moment")
                return
        await respond(
            asked.send,
            answered.status_code,
            answered.content,
            answered.headers.get("content-type", "application/json"),
        )

    async def hand_over(
        self, client: httpx.AsyncClient, run: Waiting, person: identity.Identity, role: str, body: bytes
    ) -> httpx.Response | None:
        """Sign ``person`` (answering in ``role``, or "" where the answer names it) onto the answer in ``body`` (a
        resume request's), store the token beside it and resume the run with it: Prefect's answer, or None when the
        token could not be stored. Call it under the run's lock (``locked``). An answer Prefect refuses takes its
        token away again."""
        signer = identity.Identity(person.person_id, person.name, role, person.signed_in_with)
        answer = answer_to_sign(body)
        at = self.clock()
        token = identity.sign(self.gate_key, signer, run_id=run.run_id, form_key=run.form_key, at=at, answer=answer)
        key = identity.input_key(run.form_key)
        await client.delete(f"/api/flow_runs/{run.run_id}/input/{key}")  # an earlier attempt's, refused by the schema
        stored = await client.post(f"/api/flow_runs/{run.run_id}/input", json={"key": key, "value": json.dumps(token)})
        if stored.status_code >= 300:
            log.error("could not store the identity of an answer to run %s: HTTP %s", run.run_id, stored.status_code)
            return None
        answered = await client.post(
            f"/api/flow_runs/{run.run_id}/resume", content=body, headers={"content-type": "application/json"}
        )
        if not answered.is_success or (answered.json() or {}).get("status") != "ACCEPT":
            await client.delete(f"/api/flow_runs/{run.run_id}/input/{key}")  # nothing of a refused answer is kept
        return answered

    def locked(self, run_id: str) -> asyncio.Lock:
        """The lock under which one answer at a time is handed to a run."""
        return self._lock(run_id)

    def _lock(self, run_id: str) -> asyncio.Lock:
        """A run's lock, chosen by its id (two runs may share one)."""
        return self._locks[int(digest(run_id), 16) % len(self._locks)]
