"""Test-wide set-up: a private CSPR_HOME, and the project database on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything reads settings: every test session gets its own state folder.
_HOME = Path(tempfile.mkdtemp(prefix="cspr-test-home-"))
os.environ["CSPR_HOME"] = str(_HOME)
os.environ.pop("CSPR_DATABASE_URL", None)
os.environ.pop("CSPR_ENCRYPTION_KEY", None)

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from models.db import make_engine, migrate  # noqa: E402
from models.settings import get_settings  # noqa: E402

get_settings.cache_clear()

POSTGRES_ADMIN_URL = os.environ.get("CSPR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_required() -> bool:
    return os.environ.get("CSPR_REQUIRE_POSTGRES", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def cspr_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped at the end."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL is not answering at {POSTGRES_ADMIN_URL} ({type(exc).__name__})"
        if postgres_required():
            pytest.fail(f"{reason}, and CSPR_REQUIRE_POSTGRES is set", pytrace=False)
        pytest.skip(reason)
    name = f"cspr_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty project database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'cspr.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    eng = make_engine(server_url)
    with eng.begin() as conn:  # each test starts from an empty schema
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    migrate(eng)
    yield eng
    eng.dispose()
