"""Searching everything Prefect (and the object store, and the logs) keeps, for planted personal data."""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
from pathlib import Path

import sqlalchemy as sa


def needles(name: str, dob: dt.date) -> list[str]:
    """The name, its parts, and the date of birth as people write it."""
    parts = [p for p in name.replace("-", " ").split() if len(p) > 3]
    dates = [dob.isoformat(), dob.strftime("%d/%m/%Y"), dob.strftime("%d %B %Y"), dob.strftime("%Y%m%d")]
    return [name, *parts, *dates]


def search_sqlite(path: Path, words: list[str]) -> list[str]:
    """Every text value of every column of every table of a SQLite database (its WAL checkpointed first)."""
    hits = []
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for word in words:
                    query = f'SELECT count(*) FROM "{table}" WHERE lower(CAST("{column}" AS TEXT)) LIKE ?'
                    (count,) = connection.execute(query, (f"%{word.lower()}%",)).fetchone()
                    if count:
                        hits.append(f"{path.name}: {table}.{column} contains {word!r} ({count} rows)")
    finally:
        connection.close()
    return hits


def search_postgres(url: str, words: list[str]) -> list[str]:
    """Every row of every table of a PostgreSQL database, as text (JSON, arrays and all)."""
    hits = []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            for (table,) in tables.all():
                for word in words:
                    query = sa.text(f'SELECT count(*) FROM "{table}" AS t WHERE lower(CAST(t AS TEXT)) LIKE :w')
                    count = connection.execute(query, {"w": f"%{word.lower()}%"}).scalar_one()
                    if count:
                        hits.append(f"{engine.url.database}: {table} contains {word!r} ({count} rows)")
    finally:
        engine.dispose()
    return hits


def search_files(root: Path, words: list[str], skip: tuple[Path, ...] = ()) -> list[str]:
    """Raw bytes of every file below ``root`` (and the base64 of each word, as pickles are stored that way)."""
    hits = []
    encoded = [(w, w.encode()) for w in words] + [(f"base64 of {w}", base64.b64encode(w.encode())) for w in words]
    for path in root.rglob("*"):
        if not path.is_file() or any(path.is_relative_to(s) for s in skip):
            continue
        data = path.read_bytes()
        lowered = data.lower()
        for label, raw in encoded:
            if raw.lower() in lowered:
                hits.append(f"{path}: contains {label!r}")
    return hits
