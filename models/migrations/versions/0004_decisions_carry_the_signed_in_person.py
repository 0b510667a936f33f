"""Decisions and stage events carry the person who proved who they are: their account and how they signed in.
Both columns are empty on rows written before (a typed name was all there was), which the audit chain's hashes
leave out, so those rows still verify.

Revision ID: 0004
Revises: 0003
Created: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("stage_event", "decision")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("actor_id", sa.Uuid(), nullable=True))
            batch_op.add_column(sa.Column("actor_signed_in_with", sa.String(length=40), nullable=True))
            batch_op.create_foreign_key(f"fk_{table}_actor_id_account", "account", ["actor_id"], ["id"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_actor_id_account", type_="foreignkey")
            batch_op.drop_column("actor_signed_in_with")
            batch_op.drop_column("actor_id")
