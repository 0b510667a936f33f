"""The register (the project's database of people), as the gate reads it: a person's roles and the partnerships whose
runs they read, and the roles in which they may answer a run's step. Read off the event loop, so the server goes on
answering others meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session, select

from gate.policy import reads_all
from gate.who_may_answer import Waiting, answering_roles
from models import accounts
from models.db import transaction
from models.identity import Identity
from models.roles import Role
from models.tables import Account, Partnership

T = TypeVar("T")
Held = tuple[frozenset[Role], frozenset[str] | None]  # roles, and partnerships whose runs are read (None: every one)


async def in_thread(work: Callable[[], T]) -> T:
    """Database work off the event loop: the server goes on answering others meanwhile."""
    return await asyncio.to_thread(work)


def _held(db: Session, account: Account) -> Held:
    roles = accounts.roles_of(db, account)
    return roles, None if reads_all(roles) else accounts.partnerships_of(db, account)


async def held(account: Account) -> Held:
    """A person's roles, and the partnerships whose runs they read (None: every one), from the register."""

    def read() -> Held:
        with transaction() as db:
            return _held(db, account)

    return await in_thread(read)


async def held_now(person_id: uuid.UUID) -> Held:
    """What ``held`` gives for the account of a signed-in person today; no roles at all once the account is gone or
    disabled."""

    def read() -> Held:
        with transaction() as db:
            account = db.get(Account, person_id)
            if account is None or not account.active:
                return frozenset(), frozenset()
            return _held(db, account)

    return await in_thread(read)


async def answering(run: Waiting, person: Identity) -> frozenset[Role]:
    """The roles in which the person may answer the step the run waits for; AnswerRefused if none."""

    def read() -> frozenset[Role]:
        with transaction() as db:
            return answering_roles(db, run, person.person_id, person.name)

    return await in_thread(read)


async def partnership_name(code: str) -> str:
    """A partnership's name as people know it; its code when the register has no such partnership."""

    def read() -> str:
        with transaction() as db:
            found = db.exec(select(Partnership).where(Partnership.code == code)).first()
            return found.name if found is not None else code

    return await in_thread(read)
