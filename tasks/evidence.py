"""Evidence documents in the object store (models/work/evidence.py): storing one sealed under its review's key, opening
it for the action's page, and deleting those nobody will come back to. The checker (cli/checker_commands.py) stores
and opens them for the gate, which holds no key; the deadline sweep deletes those left attached to nothing.

A document is sealed before it leaves for the store, bound to its object key (models/sealing.py ``seal_document``), so
the store never holds its bytes in the clear, and erasing the review's key leaves every copy unreadable. Its object
key carries the review's reference, the action's number and a random id: never a name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlmodel import Session, select

from models import review_keys, sealing
from models.tables import EvidenceDocument, Review
from models.work import evidence
from tasks.storage import SEALED_TYPE, ObjectStore, sha256_of


def store_evidence(
    session: Session, store: ObjectStore, review: Review, document: EvidenceDocument, given: evidence.Examined
) -> EvidenceDocument:
    """``given`` sealed under the review's key and put in the store at ``document``'s object key, and its row added
    (its file name sealed), attached to nothing until the answer naming it is recorded."""
    key = review_keys.data_key_for_writing(session, review.id)
    sealed = sealing.seal_document(key, document.object_key, review.id, given.data)
    # the row first: a row that cannot be written stores nothing, where an object stored first would be left with no
    # row for the sweep or retention to find it by
    session.add(document)
    session.flush()
    store.put(
        document.object_key,
        sealed,
        content_type=SEALED_TYPE,
        metadata={"reference": review.reference, "kind": "evidence"},
    )
    return document


def open_evidence(session: Session, store: ObjectStore, document: EvidenceDocument) -> bytes:
    """The document's bytes, opened with its review's key and checked against the SHA-256 recorded when it was given
    (the store's own checksum is of the sealed bytes)."""
    sealed = store.get(document.object_key)
    opened = sealing.open_document(
        review_keys.data_key(session, document.review_id), document.object_key, document.review_id, sealed
    )
    if sha256_of(opened) != document.sha256:
        raise ValueError(f"{document.object_key} does not match the checksum recorded when it was given")
    return opened


def delete_evidence(session: Session, store: ObjectStore, document: EvidenceDocument) -> None:
    """The document gone from the store, with every version of it, and its row with it."""
    for version in store.versions(document.object_key):
        store.delete(document.object_key, version_id=version)
    session.delete(document)
    session.flush()


def purge_unattached(session: Session, store: Callable[[], ObjectStore], now: dt.datetime) -> int:
    """Delete every document attached to nothing for longer than ``evidence.UNATTACHED_FOR`` (its answer was refused
    or never recorded) from the store ``store()`` opens (only when there is one to delete); how many went."""
    gone = evidence.unattached_before(session, now - evidence.UNATTACHED_FOR)
    if gone:
        opened = store()
        for document in gone:
            delete_evidence(session, opened, document)
    return len(gone)


def by_key(session: Session, object_key: str) -> EvidenceDocument | None:
    """The evidence document stored at ``object_key``; None: none is."""
    return session.exec(select(EvidenceDocument).where(EvidenceDocument.object_key == object_key)).first()
