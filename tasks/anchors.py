"""The audit trail's anchors in the object store: an append-only log, one object per anchoring, kept under retention.

``write_anchor`` signs where every chain stands (``models.audit.anchor``) and stores it as
``audit/anchors/<UTC time>.json``, locked for ``ANCHOR_RETENTION_YEARS``: S3 Object Lock in compliance mode, which
nobody can lift, not even the bucket's owner; the folder store refuses to delete or replace it. ``latest_anchor``
reads the newest back for ``cspr audit verify``. An anchor holds references, numbers and hashes: never a name.

A plain library, like ``storage.py``: the deadline sweep's task (``tasks/sweep_tasks.py``) and ``cspr audit`` call it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import Engine

from models import audit
from models.db import transaction
from models.tables import utcnow
from tasks.storage import ObjectStore, open_store

ANCHOR_FOLDER = "audit/anchors"
# An anchor is the proof that the history before it was not rewritten, so it must outlive any challenge to what the
# history records: 7 years, the six years in which most claims can be brought (Limitation Act 1980) and one more.
# A partnership that keeps its case records longer should keep its anchors as long.
ANCHOR_RETENTION_YEARS = 7


@dataclass(frozen=True)
class Anchored:
    key: str
    reviews: int
    retain_until: dt.date
    locked: bool  # False where the store cannot lock objects (an S3 bucket without Object Lock)
    store: str


def anchor_key(at: dt.datetime) -> str:
    """The object's key: the time alone, so that the keys sort in the order they were written."""
    return f"{ANCHOR_FOLDER}/{at.astimezone(dt.UTC):%Y%m%dT%H%M%S.%fZ}.json"


def write_anchor(
    store: ObjectStore | None = None, *, engine: Engine | None = None, at: dt.datetime | None = None
) -> Anchored:
    """Anchor the whole audit trail as it stands now: one new object, locked."""
    store = store or open_store()
    at = at or utcnow()
    with transaction(engine) as session:
        data = audit.anchor(session, at)
    until = at.astimezone(dt.UTC).date() + relativedelta(years=ANCHOR_RETENTION_YEARS)
    stored = store.put(
        anchor_key(at), data, content_type="application/json", retain_until=until, metadata={"kind": "audit-anchor"}
    )
    reviews = len(audit.Anchor.model_validate_json(data).reviews)
    return Anchored(stored.key, reviews, until, stored.locked, store.describe())


def latest_anchor(store: ObjectStore | None = None) -> audit.StoredAnchor | None:
    """The newest anchor in the store, as it was first written; None before the first."""
    store = store or open_store()
    keys = [key for key in store.keys(ANCHOR_FOLDER) if key.endswith(".json")]
    if not keys:
        return None
    key = keys[-1]
    # its first version: a later one put over it (S3 keeps both) could come only from someone holding the store's
    # own credentials, and the locked first one is still there
    return audit.StoredAnchor(key, store.get(key, version_id=store.versions(key)[-1]))
