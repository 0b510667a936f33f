"""The evidence documents attached to a review's actions come under its signed audit head (models.audit.signed_head):
their ids, actions and checksums, as its stored documents' already were. No column changes.

Only the heads of reviews with an attached evidence document change (a review with none signs exactly as before),
and they are signed again here, through the project's own code, as migration 0009 signed every head. Downgrading
signs them again as revision 0014 did, without their evidence.

Revision ID: 0015
Revises: 0014
Created: 2026-12-07 11:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel import Session

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _sign_again(revision)


def downgrade() -> None:
    _sign_again("0014")


def _sign_again(at: str) -> None:
    """Sign again, as the code at revision ``at`` signs, the head of every review with an attached evidence document."""
    from models.audit import SIGNING_AT, store_head

    session = Session(bind=op.get_bind(), info={SIGNING_AT: at})
    try:
        with_evidence = sa.text("SELECT DISTINCT review_id FROM evidence_document WHERE action_id IS NOT NULL")
        for review_id in session.execute(with_evidence).scalars().all():
            store_head(session, review_id if isinstance(review_id, uuid.UUID) else uuid.UUID(str(review_id)))
        session.flush()
    finally:
        session.close()  # the migration's own transaction commits it, with the version
