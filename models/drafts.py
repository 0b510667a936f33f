"""A person's unfinished answer to a task, kept between visits to their tasks page.

The gate serves the page inside the Prefect server's process, which holds the gate's key (CSPR_GATE_KEY) and never a
review's data key; yet a draft is free text, and may name a child. So a draft is sealed with AES-GCM under a key
derived from the gate's for the one account (HKDF, as the accounts' TOTP secrets are sealed: models/master_key.py),
its associated data binding it to its place: the account, the review, the stage and the visit. Copied to another
person's row, or to another task, it no longer opens, and ``load`` reads it as no draft.

A draft of an answer to an item of the work around a review (an agency's return, an action's progress: models/work/)
is kept in the same table, under the item's name ("request-2") where a step's stage is, which no stage is ever called:
the two never meet (``ItemDraft``).

Drafts go when the answer is accepted (``discard_task``: everyone's), when their review is erased (``forget_review``),
and ``KEPT_FOR`` after they were last saved (``purge``, run by the daily deadline sweep).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, select

from models.tables import AnswerDraft
from models.task_ref import TaskRef, upsert

KEPT_FOR = dt.timedelta(days=30)
PREFIX = "d1:"  # version 1: AES-256-GCM, 96-bit random nonce, urlsafe base64 of nonce + ciphertext
NONCE_BYTES = 12

Fields = dict[str, list[str]]  # a form as the browser posts it: each field's name and its values


@dataclass(frozen=True)
class ItemDraft:
    """Where a draft of an answer to an item of a review is kept: the review and the item ("request-2"). An item has
    no visits (its visit is always 0): its answer counter moves on whenever anyone answers it, and a coordinator's
    reminder to an agency must not lose what the agency's contact was typing. Its drafts go when an answer to it is
    accepted (the person's own), and when it is closed (everyone's)."""

    review_id: uuid.UUID
    item: str


Place = TaskRef | ItemDraft  # a step's visit, or an item


def _slot(task: Place) -> tuple[str, int]:
    """The stage column and the visit a draft is kept under."""
    if isinstance(task, ItemDraft):
        return task.item, 0
    return task.stage.value, task.visit


def _key(gate_key: str, account_id: uuid.UUID) -> bytes:
    """The account's own drafts key: one account's key opens nobody else's drafts."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cspr draft " + str(account_id).encode()).derive(
        gate_key.encode()
    )


def _place(account_id: uuid.UUID, task: Place) -> bytes:
    """The associated data: whose draft, of which task. Copied anywhere else, it no longer opens."""
    stage, visit = _slot(task)
    return f"cspr draft|{account_id}|{task.review_id}|{stage}|{visit}".encode()


def seal(gate_key: str, account_id: uuid.UUID, task: Place, fields: Fields) -> str:
    plain = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(gate_key, account_id)).encrypt(nonce, plain, _place(account_id, task))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(gate_key: str, account_id: uuid.UUID, task: Place, token: str) -> Fields | None:
    """The fields, or None when the token does not open here (another account's, another task's, changed, or sealed
    under a gate key since replaced): a draft that cannot be read is a draft the person does not have."""
    if not token.startswith(PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
        plain = AESGCM(_key(gate_key, account_id)).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _place(account_id, task)
        )
        fields = json.loads(plain.decode("utf-8"))
    except (InvalidTag, ValueError):  # a bad tag, bad base64, bad UTF-8 or bad JSON
        return None
    return fields if _is_fields(fields) else None


def _is_fields(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(name, str) and isinstance(values, list) and all(isinstance(v, str) for v in values)
        for name, values in value.items()
    )


def save(session: Session, gate_key: str, account_id: uuid.UUID, task: Place, fields: Fields, at: dt.datetime) -> None:
    """Keep ``fields`` as the person's draft of the task, in place of any they saved before."""
    if not _is_fields(fields):
        raise TypeError("a draft's fields are each a name and a list of strings, as a form is posted")
    upsert(
        session,
        AnswerDraft,
        {
            "id": uuid.uuid4(),
            "account_id": account_id,
            "review_id": task.review_id,
            "stage": _slot(task)[0],
            "visit": _slot(task)[1],
            "sealed": seal(gate_key, account_id, task, fields),
            "saved_at": at.astimezone(dt.UTC),  # UTC, as every time is stored: SQLite keeps no zone
        },
        keys=["account_id", "review_id", "stage", "visit"],
        update=["sealed", "saved_at"],
    )


def load(session: Session, gate_key: str, account_id: uuid.UUID, task: Place) -> Fields | None:
    """The person's draft of the task, or None: none saved, or one that does not open as theirs."""
    token = session.exec(select(AnswerDraft.sealed).where(*_mine(account_id, task))).first()
    return None if token is None else unseal(gate_key, account_id, task, token)


def saved_at(session: Session, account_id: uuid.UUID, task: Place) -> dt.datetime | None:
    """When the person last saved their draft of the task (in UTC), to say so above the form; None: no draft."""
    at = session.exec(select(AnswerDraft.saved_at).where(*_mine(account_id, task))).first()
    return None if at is None else (at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at)  # SQLite keeps no zone


def _mine(account_id: uuid.UUID, task: Place) -> tuple[sa.ColumnElement[bool], ...]:
    return (col(AnswerDraft.account_id) == account_id, *_of(task))


def _of(task: Place) -> tuple[sa.ColumnElement[bool], ...]:
    stage, visit = _slot(task)
    return (
        col(AnswerDraft.review_id) == task.review_id,
        col(AnswerDraft.stage) == stage,
        col(AnswerDraft.visit) == visit,
    )


def discard(session: Session, account_id: uuid.UUID, task: Place) -> None:
    """The person's draft of the task thrown away (they chose to start again)."""
    session.execute(sa.delete(AnswerDraft).where(*_mine(account_id, task)))


def discard_task(session: Session, task: Place) -> None:
    """Every draft of the task, whoever saved it: its answer was accepted, and none of them will be sent now."""
    session.execute(sa.delete(AnswerDraft).where(*_of(task)))


def forget_review(session: Session, review_id: uuid.UUID) -> None:
    """Every draft of the review: it is being erased, and its drafts are not sealed under its data key, so
    destroying that key would not make them unreadable."""
    session.execute(sa.delete(AnswerDraft).where(col(AnswerDraft.review_id) == review_id))


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the drafts last saved more than ``KEPT_FOR`` before ``now``: free text is not kept for a form nobody
    came back to. Returns how many went."""
    result = session.execute(
        sa.delete(AnswerDraft).where(col(AnswerDraft.saved_at) < now.astimezone(dt.UTC) - KEPT_FOR)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
