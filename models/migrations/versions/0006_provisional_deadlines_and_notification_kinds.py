"""Provisional deadlines, and every kind of notification: a deadline counted over bank holidays GOV.UK has not
published yet says so, and is counted again when a newer list is imported; a review records the kind of notification
that started it (a serious incident, a death of a looked-after child or of a care leaver, a child harmed outside
England) and whether a rapid review follows. Reviews recorded before were all serious incidents, with a rapid review.

Revision ID: 0006
Revises: 0005
Created: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notification_kind", sa.String(length=40), nullable=False, server_default="serious_incident")
        )
        batch_op.add_column(sa.Column("rapid_review_follows", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("rapid_review_follows")
        batch_op.drop_column("notification_kind")
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.drop_column("provisional")
