"""Evidence documents: a document an action's owner gives as evidence that it is done, stored sealed in the object
store, one row each (its object key, checksum, size, type, its file name sealed, who gave it, when, and the action it
was attached to once the answer naming it was recorded). A new table: nothing existing changes.

Revision ID: 0014
Revises: 0013
Created: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("action_number", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Uuid(), nullable=True),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_key"),
    )
    op.create_index(op.f("ix_evidence_document_review_id"), "evidence_document", ["review_id"], unique=False)
    op.create_index(op.f("ix_evidence_document_action_id"), "evidence_document", ["action_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_document_action_id"), table_name="evidence_document")
    op.drop_index(op.f("ix_evidence_document_review_id"), table_name="evidence_document")
    op.drop_table("evidence_document")
