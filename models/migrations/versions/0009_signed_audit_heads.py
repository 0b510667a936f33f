"""Signed audit heads: every review's head becomes an HMAC with the audit key (CSPR_AUDIT_KEY, never in the
database) over the newest entry of both chains, its stage, its milestones, its people's records and its documents'
checksums (models.audit.signed_head). No column changes: the head keeps its 64 hex characters.

The migration is the trusted moment: whatever the database holds now is what gets signed. It signs through the
project's own code (models.audit.store_head, in a Session on the migration's connection), so it reads the people's
records as the ORM does, decrypted; the audit key must be set (or, in local mode, it is made under CSPR_HOME/keys).

Downgrading puts back the head of before: the SHA-256 of the two chains' newest hashes.

Revision ID: 0009
Revises: 0008
Created: 2026-12-06 02:00:00
"""

import hashlib
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    from models.audit import SIGNING_AT, store_head

    session = Session(bind=op.get_bind(), info={SIGNING_AT: revision})  # the models' later columns are not here yet
    try:
        for review_id in session.execute(sa.text("SELECT id FROM review")).scalars().all():
            store_head(session, _uuid(review_id))
        session.flush()
    finally:
        session.close()  # the migration's own transaction commits it, with the version


def downgrade() -> None:
    connection = op.get_bind()
    for (review_id,) in connection.execute(sa.text("SELECT id FROM review")).all():
        connection.execute(
            sa.text("UPDATE review SET audit_head = :head WHERE id = :id"),
            {"head": _sha256_head(connection, review_id), "id": review_id},
        )


def _uuid(value: object) -> uuid.UUID:
    # SQLite gives the stored 32 hex characters, PostgreSQL a UUID
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _sha256_head(connection: sa.Connection, review_id: object) -> str:
    """The head as models/audit.py computed it before this revision."""
    newest = {
        table: connection.execute(
            sa.text(f"SELECT hash FROM {table} WHERE review_id = :id ORDER BY seq DESC LIMIT 1"), {"id": review_id}
        ).scalar()
        for table in ("stage_event", "decision")
    }
    content = {"events": newest["stage_event"] or GENESIS_HASH, "decisions": newest["decision"] or GENESIS_HASH}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
