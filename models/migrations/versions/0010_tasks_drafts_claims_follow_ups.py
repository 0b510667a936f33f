"""A person's work on their tasks page: drafts of their answers (sealed with a key derived from the gate's for their
account), who has taken each task ("I'm on it"), and the day each person means to come back to one. A task is one
visit of a review to a step: the review, the stage and the number of the stage event that moved it there.

New tables only: nothing existing changes, and going back drops them (the drafts, claims and dates with them).

Revision ID: 0010
Revises: 0009
Created: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draft",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "review_id", "stage", "visit"),
    )
    op.create_index(op.f("ix_draft_review_id"), "draft", ["review_id"], unique=False)
    op.create_table(
        "task_claim",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "stage", "visit"),
    )
    op.create_index(op.f("ix_task_claim_review_id"), "task_claim", ["review_id"], unique=False)
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "review_id", "stage", "visit"),
    )
    op.create_index(op.f("ix_follow_up_review_id"), "follow_up", ["review_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_follow_up_review_id"), table_name="follow_up")
    op.drop_table("follow_up")
    op.drop_index(op.f("ix_task_claim_review_id"), table_name="task_claim")
    op.drop_table("task_claim")
    op.drop_index(op.f("ix_draft_review_id"), table_name="draft")
    op.drop_table("draft")
