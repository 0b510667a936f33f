"""The worklist artifacts' refreshes: one row a partnership, counting the turns that may have changed what its
worklist shows and when it was last refreshed, so that a turn writes one row instead of re-reading every open review
(tasks/worklist_artifacts.py). A new table: nothing existing changes; a partnership with no row yet is refreshed at
its next turn.

Revision ID: 0013
Revises: 0012
Created: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worklist_refresh",
        sa.Column("partnership", sa.String(length=64), primary_key=True),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shown", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("worklist_refresh")
