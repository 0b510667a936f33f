"""The three hash chains: a review's stage events, its decisions, and the register's history (models/people.py).

Each entry carries its place in its chain (``seq``: 1, 2, 3 ...), the hash of the entry before it (``prev_hash``) and
its own hash (``hash``), made over its content and ``prev_hash`` (models/audit.py says what each entry's hash
covers). Changing an entry changes its hash, which then no longer matches, or breaks the link the entry after it holds.

The first entry: an entry is its chain's first if and only if it is number 1, and the first entry follows
``GENESIS_HASH``. Every later entry follows the hash stored on the entry before it, as it is stored: an entry changed
after it was written is for ``walk`` to find, not for ``append`` to paper over (an empty stored hash does not start the
chain again). The only entries numbered 0 are decisions recorded before decisions were chained (migration 0002 gave
them the number 0 and no hash): they stand before the chain, so the decision after them is number 1 and follows
``GENESIS_HASH``, and the hash a review's signed head records for such a chain is ``GENESIS_HASH`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

GENESIS_HASH = "0" * 64


class Link(Protocol):
    """What the entry after an entry follows: its number and its stored hash."""

    @property
    def seq(self) -> int: ...

    @property
    def hash(self) -> str: ...


class ChainEntry(SQLModel):
    """The columns every entry of a hash chain has, in each of the three tables (models/tables.py). An entry not yet
    appended is number 0, with no hashes. What else constrains the number (one chain per review, or one in all) is the
    table's."""

    seq: int = 0
    prev_hash: str = Field(default="", sa_type=sa.String(64))
    hash: str = Field(default="", sa_type=sa.String(64))


def follows(newest: Link | None) -> tuple[int, str]:
    """The number of the entry after ``newest`` (its chain's newest entry; None for an empty chain) and the hash it
    follows: the one rule for the first entry (see above)."""
    if newest is None or newest.seq == 0:
        return 1, GENESIS_HASH
    return newest.seq + 1, newest.hash


Entry = TypeVar("Entry", bound=ChainEntry)


def append(
    session: Session, entry: Entry, *, hashed: Callable[[Entry], str], chain: sa.ColumnElement[bool] | None = None
) -> Entry:
    """Add ``entry`` at the end of its chain, in the caller's transaction, and flush it: numbered after the newest
    entry of its table among those ``chain`` selects (a review's; None: the whole table, the register's), following
    that entry's stored hash, then hashed with ``hashed``."""
    table = type(entry)
    newest = select(table).order_by(col(table.seq).desc()).limit(1)
    entry.seq, entry.prev_hash = follows(session.exec(newest if chain is None else newest.where(chain)).first())
    entry.hash = hashed(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Unopened:
    """An entry whose content cannot be read: sealed content that does not open with its review's key (changed, or
    copied from another row; models/sealing.py). Its number and stored hashes still are, so the rest of its chain is
    walked."""

    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    """Where a chain does not hold: the number of the entry and what is wrong with it, in words for an operator."""

    seq: int
    problem: str


def walk(entries: Sequence[Entry | Unopened], hashed: Callable[[Entry], str] | None) -> list[Break]:
    """Walk one chain, its entries in order: every number in turn, every hash made again with ``hashed`` (None: the
    links alone, for entries whose content is gone, an erased review's), and every link to the entry before it by the
    rule ``append`` follows. Nothing is changed."""
    breaks: list[Break] = []
    before: Link | None = None
    for expected, entry in enumerate(entries, start=1):
        if entry.seq != expected:
            breaks.append(Break(expected, f"is missing (the next is {entry.seq})"))
        if isinstance(entry, Unopened):
            breaks.append(Break(entry.seq, "was changed after it was written: it no longer opens"))
        elif hashed is not None and entry.hash != hashed(entry):
            breaks.append(Break(entry.seq, "was changed after it was written"))
        elif entry.prev_hash != follows(before)[1]:
            breaks.append(Break(entry.seq, "does not follow the one before it"))
        before = entry
    return breaks
