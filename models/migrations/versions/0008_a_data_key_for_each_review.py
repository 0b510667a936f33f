"""A data key for each review (envelope encryption), and what retention needs: a legal hold, the day a review was
erased, and the names a person's record was corrected from (sealed like the name).

Every review gets its own data key, wrapped by the master key (or the KMS key). Its people's names, dates of birth
and characteristics, encrypted until now with the master key itself, are sealed again under it, and so is the free
text its people wrote: reasons, the free-text fields of its decisions and stage events, the terms of reference and
its messages' bodies. Every value is checked to open to what it was before the migration commits; the audit trail's
hashes cover the plain values, so they do not change.

Revision ID: 0008
Revises: 0007
Created: 2026-12-06 01:10:00
"""

import os
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# what is sealed: (table, column, whole or within); the same as models/sealing.py's SEALED when this was written
SEALED: list[tuple[str, str, bool]] = [
    ("case_person", "name", False),
    ("case_person", "date_of_birth", False),
    ("case_person", "characteristics", False),
    ("case_person", "former_names", False),
    ("decision", "reasons", False),
    ("decision", "details", True),
    ("stage_event", "reason", False),
    ("stage_event", "details", True),
    ("commission", "terms_of_reference", False),
    ("outbox", "body", False),
]
LEGACY = {"case_person"}  # encrypted with the master key before; the rest was plain


def _rows(table: str, column: str, within: bool) -> tuple[sa.TableClause, list[Any]]:
    shape = sa.table(
        table,
        sa.column("id", sa.Uuid()),
        sa.column("review_id", sa.Uuid()),
        sa.column(column, sa.JSON() if within else sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(shape.c.id, shape.c.review_id, shape.c[column]).where(
            shape.c[column].is_not(None), shape.c.review_id.is_not(None)
        )
    ).all()
    return shape, list(rows)


def _rewrite(change: Callable[[bytes, str, str, Any, Any, Any, bool], Any], keys: dict[Any, bytes]) -> None:
    bind = op.get_bind()
    for table, column, within in SEALED:
        shape, rows = _rows(table, column, within)
        for row_id, review_id, value in rows:
            changed = change(keys[review_id], table, column, row_id, review_id, value, within)
            bind.execute(sa.update(shape).where(shape.c.id == row_id).values({column: changed}))


def upgrade() -> None:
    from models import master_key, review_keys, sealing

    op.create_table(
        "review_key",
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=True),
        sa.Column("wrapped_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"]),
        sa.PrimaryKeyConstraint("review_id"),
    )
    # ALTER TABLE ... ADD COLUMN, not a batch copy of the table: other tables' rows refer to the reviews
    op.add_column("review", sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("review", sa.Column("erased_on", sa.Date(), nullable=True))
    op.add_column("case_person", sa.Column("former_names", sa.Text(), nullable=True))

    bind = op.get_bind()
    wrapper = review_keys.current()
    keys_table = sa.table(
        "review_key",
        sa.column("review_id", sa.Uuid()),
        sa.column("wrapped", sa.Text()),
        sa.column("wrapped_by", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    review = sa.table("review", sa.column("id", sa.Uuid()))
    keys: dict[Any, bytes] = {}
    for (review_id,) in bind.execute(sa.select(review.c.id)).all():
        keys[review_id] = os.urandom(review_keys.KEY_BYTES)
        bind.execute(
            sa.insert(keys_table).values(
                review_id=review_id,
                wrapped=wrapper.wrap(keys[review_id]),
                wrapped_by=wrapper.name,
                created_at=sa.func.current_timestamp(),
            )
        )

    def seal(key: bytes, table: str, column: str, row_id: Any, review_id: Any, value: Any, within: bool) -> Any:
        plain = master_key.decrypt(value) if table in LEGACY else value
        sealed = sealing.seal_column(key, table, column, row_id, review_id, plain, within=within)
        if sealing.open_column(key, table, column, row_id, review_id, sealed, within=within) != plain:
            raise RuntimeError(f"a value of {table}.{column} did not survive sealing; nothing was changed")
        return sealed

    _rewrite(seal, keys)


def downgrade() -> None:
    from models import master_key, review_keys, sealing

    bind = op.get_bind()
    stored = sa.table(
        "review_key", sa.column("review_id", sa.Uuid()), sa.column("wrapped", sa.Text()), sa.column("wrapped_by")
    )
    rows = bind.execute(sa.select(stored.c.review_id, stored.c.wrapped, stored.c.wrapped_by)).all()
    if any(wrapped is None for _, wrapped, _ in rows):
        raise RuntimeError("reviews were erased under this version: going back would need their keys, which are gone")
    keys = {review_id: review_keys.wrapper_for(wrapped_by).unwrap(wrapped) for review_id, wrapped, wrapped_by in rows}

    def open_(key: bytes, table: str, column: str, row_id: Any, review_id: Any, value: Any, within: bool) -> Any:
        plain = sealing.open_column(key, table, column, row_id, review_id, value, within=within)
        return master_key.encrypt(plain) if table in LEGACY else plain

    _rewrite(open_, keys)
    op.drop_table("review_key")
    op.drop_column("case_person", "former_names")
    op.drop_column("review", "erased_on")
    op.drop_column("review", "legal_hold")
