"""Partners that change mid-review: a partnership's partner bodies with the dates they held their place, and each
representative's body and the dates they represent it; a change to either is recorded in the register's history,
which then names no account. And the characteristics of each child notified (sex, ethnicity, disability, a plan),
encrypted like names, for the figures the Department publishes.

Revision ID: 0007
Revises: 0006
Created: 2026-12-05 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_body",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("from_on", sa.Date(), nullable=False),
        sa.Column("to_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["partnership_id"], ["partnership.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("partner_body", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_body_partnership_id"), ["partnership_id"], unique=False)
    with op.batch_alter_table("representative", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("from_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("to_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key("fk_representative_body_id", "partner_body", ["body_id"], ["id"])
    with op.batch_alter_table("register_event", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=True)
    with op.batch_alter_table("case_person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("characteristics", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_person", schema=None) as batch_op:
        batch_op.drop_column("characteristics")
    with op.batch_alter_table("register_event", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("representative", schema=None) as batch_op:
        batch_op.drop_constraint("fk_representative_body_id", type_="foreignkey")
        batch_op.drop_column("to_on")
        batch_op.drop_column("from_on")
        batch_op.drop_column("body_id")
    with op.batch_alter_table("partner_body", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_body_partnership_id"))
    op.drop_table("partner_body")
