"""Email deliveries: one row for each outbox message and mailbox it goes to, with its state (pending, sent,
failed), its tries and the mail relay's last answer; the link an outbox message's email leads to; and the reminders
sent for each deadline; and whether a person takes their email as one daily digest.

Revision ID: 0005
Revises: 0004
Created: 2026-12-05 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.String(length=500), nullable=False, server_default=""))
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_level", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("outbox_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=500), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id", "address"),
    )
    op.create_index(op.f("ix_delivery_outbox_id"), "delivery", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_outbox_id"), table_name="delivery")
    op.drop_table("delivery")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("link")
    with op.batch_alter_table("deadline", schema=None) as batch_op:
        batch_op.drop_column("reminder_level")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("digest")
