"""Engine, sessions and migrations for the project database.

SQLite under ``CSPR_HOME`` by default; PostgreSQL when ``CSPR_DATABASE_URL`` says so. On SQLite every
transaction starts with ``BEGIN IMMEDIATE``: writers queue for the lock instead of failing when a read
snapshot goes stale, which is what makes compare-and-set transitions safe across processes.

Both engines hide a statement's parameters from their errors (``hide_parameters``): a failed insert would otherwise
carry a child's name in its message, into Prefect's logs. SQLite runs with ``secure_delete``, so a value deleted or
overwritten is zeroed rather than left in the file's free pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import sealing
from models.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config

# every session seals a review's personal data and free text on the way in and opens it on the way out
sealing.install()

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted or overwritten value is zeroed, not left in free pages
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    # alembic is imported here, not by every process that opens the database: each step of a review runs in a
    # process of its own, and only the ones that migrate need it (about 70 ms of import each)
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    engine = engine or get_engine()
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    engine = engine or get_engine()
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def purge_deleted(engine: Engine, table: str) -> bool:
    """Make what was deleted or overwritten in ``table`` gone from the database's files, not only unreachable: on
    SQLite the WAL, which still holds the pages as they were, is written back and emptied (``secure_delete`` has
    zeroed the old values in them); on PostgreSQL the table is rewritten (``VACUUM FULL``), so no old row version is
    left in its pages. True when done; False when it could not be now (a reader holding the WAL, or a role that does
    not own the table), and the next run tries again."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        return bool(busy == 0)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        owner: bool | None = connection.execute(
            sa.text(
                "SELECT pg_get_userbyid(relowner) = current_user OR (SELECT rolsuper FROM pg_roles "
                "WHERE rolname = current_user) FROM pg_class WHERE oid = to_regclass(:t)"
            ),
            {"t": table},
        ).scalar()
        if not owner:
            return False
        connection.exec_driver_sql(f'VACUUM FULL "{table}"')
    return True


@contextmanager
def _driver_cursor(session: Session, query: Any) -> Iterator[Any]:
    """The query executed on the driver's own cursor, in the session's transaction; its literals are bound into the
    text, so only for queries whose literals are the code's own."""
    connection = session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        yield cursor
    finally:
        cursor.close()


def driver_rows(session: Session, query: Any) -> tuple[list[str], Sequence[Any]]:
    """A query's column names and rows as the database driver returns them.

    Read through the driver's own cursor: SQLAlchemy's per-row and per-value processing (a ``Row`` for each row, a
    ``UUID`` and a ``date`` for each value) is most of the cost of a read at national scale, and pandas and numpy
    convert whole columns faster. Values come as the driver gives them: SQLite's ISO text and JSON text, PostgreSQL's
    dates and parsed JSON.
    """
    with _driver_cursor(session, query) as cursor:
        return [d[0] for d in cursor.description], cursor.fetchall()


def driver_chunks(session: Session, query: Any, size: int) -> Iterator[tuple[list[str], Sequence[Any]]]:
    """As ``driver_rows``, ``size`` rows at a time: a large read need not hold every row as Python tuples at once."""
    with _driver_cursor(session, query) as cursor:
        keys = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(size):
            yield keys, rows
