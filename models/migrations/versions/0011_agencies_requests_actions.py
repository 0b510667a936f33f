"""The work around a review: the partnership's agencies and their contacts, agencies' information requests and
returns, and the recommendations and their actions followed to their close.

New tables, a nullable column on the register (the agency a contact answers for) and a column with a default on the
partnership (the working days an agency is given): nothing existing changes meaning, and going back drops them.

Revision ID: 0011
Revises: 0010
Created: 2026-12-06 22:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys() -> list[sa.Column[Any]]:
    return [sa.Column("id", sa.Uuid(), nullable=False), sa.Column("review_id", sa.Uuid(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("partner", sa.String(length=40), nullable=True),
        sa.Column("from_on", sa.Date(), nullable=False),
        sa.Column("to_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["partnership_id"], ["partnership.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partnership_id", "name"),
    )
    op.create_index(op.f("ix_agency_partnership_id"), "agency", ["partnership_id"], unique=False)
    with op.batch_alter_table("representative") as batch:
        batch.add_column(sa.Column("agency_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key("fk_representative_agency_id_agency", "agency", ["agency_id"], ["id"])
    # not a batch: SQLite would copy the table, which every review refers to; it adds and drops a column in place
    op.add_column("partnership", sa.Column("information_days", sa.Integer(), nullable=False, server_default="5"))
    op.create_table(
        "information_request",
        *_keys(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("asked_at_stage", sa.String(length=40), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("answer_seq", sa.Integer(), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reminder_level", sa.Integer(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "number"),
    )
    op.create_index(op.f("ix_information_request_review_id"), "information_request", ["review_id"], unique=False)
    op.create_table(
        "recommendation",
        *_keys(),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "number"),
    )
    op.create_index(op.f("ix_recommendation_review_id"), "recommendation", ["review_id"], unique=False)
    op.create_table(
        "action",
        *_keys(),
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("done_when", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("answer_seq", sa.Integer(), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("evidence_key", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("reminder_level", sa.Integer(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["recommendation_id"], ["recommendation.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "number"),
    )
    op.create_index(op.f("ix_action_review_id"), "action", ["review_id"], unique=False)


def downgrade() -> None:
    for table in ("action", "recommendation", "information_request"):
        op.drop_index(op.f(f"ix_{table}_review_id"), table_name=table)
        op.drop_table(table)
    op.drop_column("partnership", "information_days")
    with op.batch_alter_table("representative") as batch:
        batch.drop_constraint("fk_representative_agency_id_agency", type_="foreignkey")
        batch.drop_column("agency_id")
    op.drop_index(op.f("ix_agency_partnership_id"), table_name="agency")
    op.drop_table("agency")
