"""Envelope encryption: each review's own data key, wrapped by the master key.

A review's names, dates of birth and free text are encrypted under its data key (models/sealing.py). The data key is
stored only wrapped, by one of two wrappers behind the same interface:

- ``MasterKey``: the Fernet key(s) of ``CSPR_ENCRYPTION_KEY`` (newest first), or the development key in local mode;
- ``Kms``: a key in AWS KMS (``CSPR_KMS_KEY_ID``), which never leaves it; the production option.

Rotating the master key re-wraps the data keys and nothing else (models/key_rotation.py), and destroying a review's
data key erases every value encrypted under it at once (crypto-shredding: models/retention.py).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

from cryptography.fernet import InvalidToken
from sqlmodel import Session, col, select

from models import master_key
from models.settings import get_settings
from models.tables import ReviewKey, utcnow

KEY_BYTES = 32  # AES-256-GCM
LOCAL = "local"
KMS_PREFIX = "kms:"
# the purpose bound into every KMS call: a data key unwrapped for anything else fails
KMS_CONTEXT = {"purpose": "cspr review data key"}


class Wrapper(Protocol):
    """Wraps and unwraps data keys; ``name`` is recorded with each wrapped key, to know which unwraps it."""

    @property
    def name(self) -> str: ...

    def wrap(self, key: bytes) -> str: ...

    def unwrap(self, wrapped: str) -> bytes: ...


class MasterKey:
    name = LOCAL

    def wrap(self, key: bytes) -> str:
        return master_key.cipher().encrypt(key).decode("ascii")

    def unwrap(self, wrapped: str) -> bytes:
        try:
            return master_key.cipher().decrypt(wrapped.encode("ascii"))
        except InvalidToken as exc:
            raise master_key.DecryptionError(
                "a review's data key could not be unwrapped: is CSPR_ENCRYPTION_KEY the right key?"
            ) from exc


class Kms:
    def __init__(self, key_id: str, client: Any | None = None) -> None:
        self.key_id = key_id
        self._client = client

    @property
    def name(self) -> str:
        return KMS_PREFIX + self.key_id

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]

            self._client = boto3.client("kms", region_name=get_settings().s3_region)
        return self._client

    def wrap(self, key: bytes) -> str:
        blob = self.client.encrypt(KeyId=self.key_id, Plaintext=key, EncryptionContext=KMS_CONTEXT)["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def unwrap(self, wrapped: str) -> bytes:
        answer = self.client.decrypt(
            KeyId=self.key_id, CiphertextBlob=base64.b64decode(wrapped), EncryptionContext=KMS_CONTEXT
        )
        return bytes(answer["Plaintext"])


@lru_cache(maxsize=8)
def _kms(key_id: str) -> Kms:
    return Kms(key_id)


def current() -> Wrapper:
    """The wrapper new data keys are wrapped with: the KMS key when one is configured."""
    key_id = get_settings().kms_key_id
    return _kms(key_id) if key_id else MasterKey()


def wrapper_for(name: str) -> Wrapper:
    """The wrapper that wrapped a stored key (a key wrapped locally stays readable after moving to a KMS)."""
    if name == LOCAL:
        return MasterKey()
    if name.startswith(KMS_PREFIX):
        return _kms(name.removeprefix(KMS_PREFIX))
    raise master_key.DecryptionError(f"a review's data key was wrapped by {name!r}, which this system does not know")


class Erased(LookupError):
    """The review's data key was destroyed: its encrypted values are gone for good."""


# Unwrapped keys, by the wrapped form they came from: a key destroyed or re-wrapped no longer matches, so an erasure
# takes effect in every process at its next read, without a restart. Bounded, so a long-lived worker holds few.
_UNWRAPPED: OrderedDict[str, bytes] = OrderedDict()
_UNWRAPPED_MAX = 4096


def _unwrapped(row: ReviewKey) -> bytes:
    if row.wrapped is None:
        raise Erased(f"review {row.review_id}'s data key was destroyed on {row.destroyed_at:%d %B %Y}")
    cache_key = f"{row.wrapped_by}|{row.wrapped}"
    key = _UNWRAPPED.get(cache_key)
    if key is None:
        key = wrapper_for(row.wrapped_by).unwrap(row.wrapped)
        _UNWRAPPED[cache_key] = key
        if len(_UNWRAPPED) > _UNWRAPPED_MAX:
            _UNWRAPPED.popitem(last=False)
    return key


def _session_keys(session: Session) -> dict[uuid.UUID, ReviewKey]:
    keys: dict[uuid.UUID, ReviewKey] = session.info.setdefault("cspr_review_keys", {})
    return keys


def forget(session: Session) -> None:
    """Drop the session's view of the keys (after a transaction that may have destroyed or re-wrapped one)."""
    session.info.pop("cspr_review_keys", None)


def key_row(session: Session, review_id: uuid.UUID) -> ReviewKey | None:
    known = _session_keys(session)
    if review_id not in known:
        with session.no_autoflush:
            row = session.get(ReviewKey, review_id)
        if row is None:
            return None
        known[review_id] = row
    return known[review_id]


def preload(session: Session, review_ids: Iterable[uuid.UUID]) -> None:
    """Read many reviews' keys in one query (the statistics read every child of a year)."""
    wanted = [r for r in set(review_ids) if r not in _session_keys(session)]
    for start in range(0, len(wanted), 500):
        for row in session.exec(select(ReviewKey).where(col(ReviewKey.review_id).in_(wanted[start : start + 500]))):
            _session_keys(session)[row.review_id] = row


def data_key(session: Session, review_id: uuid.UUID) -> bytes:
    """The review's data key, unwrapped; ``Erased`` once destroyed."""
    row = key_row(session, review_id)
    if row is None:
        raise master_key.DecryptionError(f"review {review_id} has no data key: its values cannot be read")
    return _unwrapped(row)


def data_key_for_writing(session: Session, review_id: uuid.UUID) -> bytes:
    """The review's data key, made (and wrapped) the first time the review holds a value to encrypt."""
    row = key_row(session, review_id)
    if row is None:
        key = os.urandom(KEY_BYTES)
        wrapper = current()
        row = ReviewKey(review_id=review_id, wrapped=wrapper.wrap(key), wrapped_by=wrapper.name)
        session.add(row)
        _session_keys(session)[review_id] = row
        return key
    return _unwrapped(row)


def destroy(session: Session, review_id: uuid.UUID) -> bool:
    """Destroy the review's data key: every value encrypted under it becomes unreadable, here and in every copy of
    the database made from now on. False if it had none, or it was destroyed already."""
    row = key_row(session, review_id)
    if row is None or row.wrapped is None:
        return False
    row.wrapped = None
    row.destroyed_at = utcnow()
    session.add(row)
    session.flush()
    _UNWRAPPED.clear()  # this process forgets every unwrapped key; others miss the wrapped form on their next read
    return True


def rewrap_all(session: Session) -> int:
    """Re-wrap every live data key with the current wrapper (the newest master key, or the KMS key); the values
    encrypted under them are not touched. Each is checked to unwrap to the same key before anything is written."""
    target = current()
    count = 0
    for row in session.exec(select(ReviewKey).where(col(ReviewKey.wrapped).is_not(None))):
        assert row.wrapped is not None
        key = wrapper_for(row.wrapped_by).unwrap(row.wrapped)
        wrapped = target.wrap(key)
        if target.unwrap(wrapped) != key:
            raise master_key.DecryptionError("a data key did not survive re-wrapping; nothing was changed")
        row.wrapped, row.wrapped_by = wrapped, target.name
        session.add(row)
        count += 1
    session.flush()
    forget(session)
    return count
