"""Personal data and free text, encrypted under the review's own data key (models/review_keys.py) with AES-GCM.

What is sealed, by table (``SEALED``): a person's name, date of birth and characteristics whole; the reasons people
write; the terms of reference; a message's body; and, inside a decision's or a stage event's details, every value of
a free-text field of a step's form (``models.process.FREE_TEXT``), wherever it sits. Dates, outcomes and themes stay
readable, so the compliance report and the sweep count without any key.

Each value is bound to where it lives: the associated data names the review, the table, the column, the row and the
place inside the details. A value copied to another row or another review fails to decrypt.

The ORM does it, so the rest of the code reads and writes plain values: a flush seals what is new or changed (and
puts the plain value back on the object afterwards), and loading a row opens it. A column read with a plain
``select`` of columns stays sealed: ``open_value`` opens one. Once a review is erased, its sealed values read as
``None``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

from models import review_keys
from models.master_key import DecryptionError
from models.process.table import FREE_TEXT
from models.tables import (
    Action,
    CasePerson,
    Commission,
    Decision,
    EvidenceDocument,
    InformationRequest,
    Outbox,
    Recommendation,
    StageEvent,
)

PREFIX = "c1:"  # version 1: AES-256-GCM, 96-bit random nonce, urlsafe base64 of nonce + ciphertext
NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    whole: tuple[str, ...] = ()  # text columns sealed as one value
    within: tuple[str, ...] = ()  # JSON columns whose free-text values are sealed one by one


SEALED: dict[type[SQLModel], Sealed] = {
    CasePerson: Sealed(whole=("name", "date_of_birth", "characteristics", "former_names", "expected_on")),
    Decision: Sealed(whole=("reasons",), within=("details",)),
    StageEvent: Sealed(whole=("reason",), within=("details",)),
    Commission: Sealed(whole=("terms_of_reference",)),
    Outbox: Sealed(whole=("body",)),
    InformationRequest: Sealed(whole=("reason", "refusal"), within=("answer",)),
    Recommendation: Sealed(whole=("text",)),
    Action: Sealed(whole=("text", "done_when", "evidence", "reason", "refusal")),
    EvidenceDocument: Sealed(whole=("name",)),  # a file's name may hold a child's as likely as anything typed
}


def place(table: str, column: str, row_id: uuid.UUID | str, review_id: uuid.UUID | str, path: str = "") -> bytes:
    """The associated data: where the value lives. Copied anywhere else, it no longer opens."""
    return f"cspr|{review_id}|{table}|{column}|{row_id}|{path}".encode()


def seal(key: bytes, where: bytes, plain: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plain.encode("utf-8"), where)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, where: bytes, token: str) -> str:
    if not token.startswith(PREFIX):
        raise DecryptionError("a stored value is not sealed as cspr seals them: it was written outside cspr")
    raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], where).decode("utf-8")
    except InvalidTag as exc:
        raise DecryptionError(
            "a stored value does not open with its review's key where it is: it was changed, or copied from "
            "another row or review"
        ) from exc


# --- stored documents: a restricted document is sealed before it leaves for the object store ------------------------

DOCUMENT_MAGIC = b"cspr-sealed-1\n"  # then the 96-bit nonce, then AES-256-GCM's ciphertext and tag


def _document_place(object_key: str, review_id: uuid.UUID) -> bytes:
    return place("report", "object", object_key, review_id)


def seal_document(key: bytes, object_key: str, review_id: uuid.UUID, data: bytes) -> bytes:
    """The document sealed under the review's key, bound to its object key. The nonce is derived from the key, the
    place and the content (deterministic sealing): the same document stored again is the same bytes, so a retried
    upload is recognised as one, and only identical documents ever share a nonce."""
    where = _document_place(object_key, review_id)
    nonce_key = hashlib.sha256(b"cspr document nonce|" + key).digest()
    nonce = hmac.new(nonce_key, where + hashlib.sha256(data).digest(), hashlib.sha256).digest()[:NONCE_BYTES]
    return DOCUMENT_MAGIC + nonce + AESGCM(key).encrypt(nonce, data, where)


def is_sealed_document(data: bytes) -> bool:
    return data.startswith(DOCUMENT_MAGIC)


def open_document(key: bytes, object_key: str, review_id: uuid.UUID, data: bytes) -> bytes:
    body = data[len(DOCUMENT_MAGIC) :]
    try:
        return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _document_place(object_key, review_id))
    except InvalidTag as exc:
        raise DecryptionError(f"{object_key} does not open with its review's key: it was changed or moved") from exc


def _free_strings(value: Any, path: str, change: Callable[[str, str], str | None], free: bool = False) -> Any:
    """The details with every string under a free-text key (a form's free-text field, at any depth, and every string
    inside it, lists included) replaced by ``change(string, path)``."""
    if isinstance(value, dict):
        return {k: _free_strings(v, f"{path}/{k}", change, free or k in FREE_TEXT) for k, v in value.items()}
    if isinstance(value, list):
        return [_free_strings(v, f"{path}/{i}", change, free) for i, v in enumerate(value)]
    if free and isinstance(value, str):
        return change(value, path)
    return value


def _sealed_strings(value: Any, path: str, change: Callable[[str, str], str | None]) -> Any:
    """The details with every sealed string, wherever it sits, replaced by ``change(token, path)``. Opening goes by
    what is sealed, not by today's list of free-text fields: a field that becomes free text later leaves the rows
    written before it readable as they were."""
    if isinstance(value, dict):
        return {k: _sealed_strings(v, f"{path}/{k}", change) for k, v in value.items()}
    if isinstance(value, list):
        return [_sealed_strings(v, f"{path}/{i}", change) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(PREFIX):
        return change(value, path)
    return value


def _holds_free_text(value: Any) -> bool:
    found: list[str] = []
    _free_strings(value, "", lambda v, p: found.append(p))
    return bool(found)


def seal_column(key: bytes, table: str, column: str, row_id: Any, review_id: Any, value: Any, *, within: bool) -> Any:
    if value is None:
        return None
    if within:
        return _free_strings(value, "", lambda v, p: seal(key, place(table, column, row_id, review_id, p), v))
    return seal(key, place(table, column, row_id, review_id), value)


KeySource = Callable[[], bytes | None]  # the review's key, looked up only when a sealed value is met; None: erased


def open_column(
    key: bytes | KeySource | None, table: str, column: str, row_id: Any, review_id: Any, value: Any, *, within: bool
) -> Any:
    """A sealed column opened; with no key (the review was erased) its sealed values are ``None``. A whole column
    that is not sealed was written outside cspr, and says so."""
    if value is None:
        return None
    source: KeySource = key if callable(key) else (lambda: key)

    def one(token: str, path: str) -> str | None:
        found = source()
        return None if found is None else unseal(found, place(table, column, row_id, review_id, path), token)

    return _sealed_strings(value, "", one) if within else one(value, "")


def _key_to_read(session: Session, review_id: uuid.UUID) -> bytes | None:
    try:
        return review_keys.data_key(session, review_id)
    except review_keys.Erased:
        return None


def _lazy_key(session: Session, review_id: uuid.UUID) -> KeySource:
    found: list[bytes | None] = []

    def source() -> bytes | None:
        if not found:
            found.append(_key_to_read(session, review_id))
        return found[0]

    return source


def open_value(
    session: Session, review_id: uuid.UUID, table: type[SQLModel], column: str, row_id: Any, value: Any
) -> Any:
    """One sealed column read with a plain ``select``, opened."""
    spec = SEALED[table]
    return open_column(
        _lazy_key(session, review_id),
        _table(table),
        column,
        row_id,
        review_id,
        value,
        within=column in spec.within,
    )


def _table(cls: type[SQLModel]) -> str:
    return str(cls.__tablename__)


def _review_id(obj: Any) -> uuid.UUID:
    review_id = obj.review_id
    if review_id is None:  # never written in the clear for want of a review: say so instead
        raise ValueError(f"a {type(obj).__name__} with no review cannot hold sealed text")
    return review_id if isinstance(review_id, uuid.UUID) else uuid.UUID(str(review_id))


def _changed(obj: Any, column: str, new: bool) -> bool:
    return new or sa.inspect(obj).attrs[column].history.has_changes()


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    plain: list[tuple[Any, str, Any]] = session.info.setdefault("cspr_plain", [])
    for obj, new in [*((o, True) for o in session.new), *((o, False) for o in session.dirty)]:
        spec = SEALED.get(type(obj))
        if spec is None or (isinstance(obj, Outbox) and obj.review_id is None):  # a message about no review: nobody's
            continue
        for column in (*spec.whole, *spec.within):
            value = getattr(obj, column)
            if value is None or not _changed(obj, column, new):
                continue
            if column in spec.within and not _holds_free_text(value):  # no key needed (nor made) for dates alone
                continue
            review_id = _review_id(obj)
            key = review_keys.data_key_for_writing(session, review_id)
            sealed = seal_column(key, _table(type(obj)), column, obj.id, review_id, value, within=column in spec.within)
            plain.append((obj, column, value))
            setattr(obj, column, sealed)


def _after_flush(session: Session, _context: Any) -> None:
    # the object goes on holding the plain value, as committed: the code that wrote it reads it back unchanged
    for obj, column, value in session.info.pop("cspr_plain", []):
        set_committed_value(obj, column, value)


def _after_rollback(session: Session, _previous: Any) -> None:
    """A flush that failed, or a savepoint rolled back: the objects get their plain values back (sealing them again
    later must not seal a sealed value), and the keys the session knew are read again (one made in what was rolled
    back was never stored)."""
    for obj, column, value in session.info.pop("cspr_plain", []):
        obj.__dict__[column] = value
    review_keys.forget(session)


def _on_load(target: Any, context: Any) -> None:
    _open_loaded(target, context, None)


def _on_refresh(target: Any, context: Any, attrs: Any) -> None:
    _open_loaded(target, context, None if attrs is None else set(attrs))


def _open_loaded(target: Any, context: Any, only: set[str] | None) -> None:
    spec = SEALED[type(target)]
    if target.review_id is None:
        return
    review_id = _review_id(target)
    key = _lazy_key(context.session, review_id)
    for column in (*spec.whole, *spec.within):
        value = target.__dict__.get(column)
        if value is None or (only is not None and column not in only):
            continue
        opened = open_column(
            key, _table(type(target)), column, target.id, review_id, value, within=column in spec.within
        )
        set_committed_value(target, column, opened)


def install() -> None:
    """Seal on flush and open on load, for every session (models/db.py calls it once)."""
    if sa.event.contains(Session, "before_flush", _before_flush):
        return
    sa.event.listen(Session, "before_flush", _before_flush)
    sa.event.listen(Session, "after_flush_postexec", _after_flush)
    sa.event.listen(Session, "after_soft_rollback", _after_rollback)
    for cls in SEALED:
        sa.event.listen(cls, "load", _on_load)
        sa.event.listen(cls, "refresh", _on_refresh)
