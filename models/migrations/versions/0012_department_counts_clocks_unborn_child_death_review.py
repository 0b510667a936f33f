"""Counted as the Department counts, clocked as the Panel counts: the columns for the rapid review's count chosen by a
partnership and pinned on each review, the other count shown beside a due date, unborn children, the child death
review's reference and mailbox, and the order a notification listed its children in.

Every column is new and nullable or has a default, so nothing existing changes meaning:
- each existing review is pinned to the count it has been counted with (from awareness), so no running review's
  dates move; an operator recounts with ``cspr partnerships rapid-review-count ... --recount``;
- each partnership follows its edition's count until it chooses (the retired ``rapid_review_from`` was never set by
  any command, so there is no choice to carry over);
- the children's age bands and characteristics are kept exactly as they were recorded: the Department's categories
  are read from them when counted (models/department.py), and a band that cannot be mapped is counted as unknown and
  said so in the report. Nothing is rewritten, so the reviews' signed audit heads still hold.
- the children of existing reviews are numbered in the order they were stored, for the Department's "first child
  listed"; where two were stored at the same moment, by pseudonym.

Revision ID: 0012
Revises: 0011
Created: 2026-12-07 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # not batches: SQLite would copy tables every review refers to; these add and drop columns in place
    op.add_column("partnership", sa.Column("rapid_review_count", sa.String(length=40), nullable=True))
    op.add_column("partnership", sa.Column("child_death_review_email", sa.String(length=254), nullable=True))
    op.add_column("review", sa.Column("rapid_review_from", sa.String(length=40), nullable=True))
    op.add_column("review", sa.Column("unborn", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("review", sa.Column("child_death_review_reference", sa.String(length=64), nullable=True))
    op.add_column("case_person", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column("case_person", sa.Column("expected_on", sa.Text(), nullable=True))
    op.add_column("deadline", sa.Column("alternative_basis", sa.String(length=40), nullable=True))
    op.add_column("deadline", sa.Column("alternative_on", sa.Date(), nullable=True))
    op.execute("UPDATE review SET rapid_review_from = 'aware_on'")
    bind = op.get_bind()
    children = bind.execute(
        sa.text(
            "SELECT id, review_id FROM case_person WHERE kind = 'child' ORDER BY review_id, created_at, pseudonym"
        )
    ).all()
    numbers: dict[object, int] = {}
    for person_id, review_id in children:
        numbers[review_id] = numbers.get(review_id, 0) + 1
        bind.execute(
            sa.text("UPDATE case_person SET position = :n WHERE id = :id"), {"n": numbers[review_id], "id": person_id}
        )


def downgrade() -> None:
    op.drop_column("deadline", "alternative_on")
    op.drop_column("deadline", "alternative_basis")
    op.drop_column("case_person", "expected_on")
    op.drop_column("case_person", "position")
    op.drop_column("review", "child_death_review_reference")
    op.drop_column("review", "unborn")
    op.drop_column("review", "rapid_review_from")
    op.drop_column("partnership", "child_death_review_email")
    op.drop_column("partnership", "rapid_review_count")
