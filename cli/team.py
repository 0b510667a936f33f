"""The team set-up: Prefect's server and the project database on PostgreSQL, two workers, and S3 storage.

``cspr up --team`` creates the two databases on the PostgreSQL server if they are missing, starts a SeaweedFS S3
server under ``CSPR_HOME`` to stand in for the partnership's S3 (unless ``CSPR_STORAGE_URL`` already names an
``s3://`` bucket), and writes every setting it chose to ``$CSPR_HOME/team.env`` so that other ``cspr`` commands
(and people) can use the same system: ``set -a; . .cspr/team.env; set +a``.

Least privilege: the administrator's URL (``--postgres``) creates the databases and two roles, migrates the project
database and is then put away. Prefect gets a role that owns its own database and nothing else; cspr gets a role
that reads and writes the project database's rows but cannot change its schema, and can only add to the audit
trail's tables (``APPEND_ONLY``): a stolen worker credential cannot rewrite a history, only add to it. Neither is a
superuser, nor may create databases or roles.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cli.seaweed import SeaweedS3
from models.db import make_engine, migrate
from models.files import write_private
from models.settings import get_settings, normalise_database_url
from models.system_credentials import audit_key, role_password
from models.tables import ReviewKey

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKET_URL = "s3://cspr-documents/reviews"


IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")  # database and role names, put into statements as they are
# the audit trail's tables: the project's role may add rows to them, never change or remove one
APPEND_ONLY = ("stage_event", "decision", "register_event")


def _identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r}: a database name here is lower-case letters, digits and '_' (at most 51)")
    return name


@contextmanager
def _admin(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(make_url(normalise_database_url(url)), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def ensure_database(admin_url: str, name: str, owner: str | None = None) -> str:
    """Create database ``name`` on the server of ``admin_url`` if it is missing (owned by ``owner``: then everything
    in it is handed to that role too); returns its URL, as the administrator."""
    with _admin(admin_url) as connection:
        exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            connection.exec_driver_sql(f'CREATE DATABASE "{_identifier(name)}"')
        if owner is not None:
            connection.exec_driver_sql(f'ALTER DATABASE "{_identifier(name)}" OWNER TO "{owner}"')
    url = make_url(normalise_database_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    if owner is not None:
        _hand_over(url, owner)
    return url


def _hand_over(url: str, owner: str) -> None:
    """Everything already in the database's public schema owned by ``owner`` (a database made before roles were)."""
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    with _admin(url) as connection:
        connection.exec_driver_sql(f'ALTER SCHEMA public OWNER TO "{owner}"')
        relations = connection.execute(
            sa.text(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') "
                "AND pg_get_userbyid(c.relowner) <> :o"
            ),
            {"o": owner},
        ).all()
        for name, kind in relations:  # a table's own sequences follow it
            connection.exec_driver_sql(f'ALTER {kinds[kind]} public."{name}" OWNER TO "{owner}"')
        types = connection.execute(
            sa.text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND pg_get_userbyid(t.typowner) <> :o"
            ),
            {"o": owner},
        ).all()
        for (name,) in types:
            connection.exec_driver_sql(f'ALTER TYPE public."{name}" OWNER TO "{owner}"')


def ensure_role(admin_url: str, role: str) -> str:
    """A login role with no power beyond what it is granted (no superuser, no databases, no roles), its password
    made once under CSPR_HOME/keys; returns the password. The server is sent only a SCRAM verifier of it, so the
    password itself is in no statement, log line or error."""
    password = role_password(role)
    rights = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    with _admin(admin_url) as connection:
        exists = connection.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
        pgconn = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
        verifier = pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
        verb = "ALTER" if exists else "CREATE"
        connection.exec_driver_sql(f"{verb} ROLE \"{_identifier(role)}\" WITH {rights} PASSWORD '{verifier}'")
    return password


def grant_project_role(admin_project_url: str, database: str, role: str) -> None:
    """The project's role: rows of every table, no schema; the audit trail's tables only added to; and it owns the
    table of review keys, so that after an erasure it can rewrite it without the destroyed key's old bytes (only an
    owner may). Run after every migration; tables a later migration adds are granted by default too."""
    with _admin(admin_project_url) as connection:
        for statement in (
            f'REVOKE ALL ON DATABASE "{_identifier(database)}" FROM PUBLIC',
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{role}"',
            f'REVOKE CREATE ON SCHEMA public FROM PUBLIC, "{role}"',
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            f'REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(APPEND_ONLY)} FROM "{role}"',
            f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM "{role}"',
            f'ALTER TABLE {ReviewKey.__tablename__} OWNER TO "{role}"',
        ):
            connection.exec_driver_sql(statement)


def as_role(url: str, role: str, password: str) -> str:
    return make_url(url).set(username=role, password=password).render_as_string(hide_password=False)


@dataclass
class Team:
    home: Path
    postgres: str = DEFAULT_POSTGRES  # a URL on the server with the right to create databases
    project_database: str = "cspr"
    prefect_database: str = "cspr_prefect"
    s3: SeaweedS3 | None = None
    env: dict[str, str] = field(default_factory=dict)

    def prepare(self) -> dict[str, str]:
        """Databases created, S3 running; returns the settings every process of the system needs."""
        settings = get_settings()
        project = settings.database_url or self._project_database()
        prefect = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or self._prefect_database()
        # demo accounts sign in with a password alone: never in a team's system
        self.env = {
            "CSPR_DATABASE_URL": project,
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect,
            "CSPR_DEMO_ACCOUNTS": "false",
            # the one already set, or made once under CSPR_HOME/keys: a new key at every start would leave every
            # head signed before it unverifiable
            "CSPR_AUDIT_KEY": audit_key(),
        }
        if settings.storage_url and settings.storage_url.startswith("s3://"):
            self.env["CSPR_STORAGE_URL"] = settings.storage_url
        else:
            self.s3 = SeaweedS3(self.home / "s3")
            self.s3.start()
            self.env.update(CSPR_STORAGE_URL=BUCKET_URL, **self.s3.env())
        os.environ.update(self.env)  # for this process's own reads, and the processes it starts
        get_settings.cache_clear()  # so that the settings read from now on are these
        # owner-only: it holds the S3 stand-in's key and the audit key
        write_private(self.home / "team.env", "".join(f"{key}={value}\n" for key, value in sorted(self.env.items())))
        return self.env

    def _project_database(self) -> str:
        """Made (or found), migrated and granted as the administrator; handed out as the project's role."""
        admin_url = ensure_database(self.postgres, self.project_database)
        role = f"{self.project_database}_app"
        password = ensure_role(self.postgres, role)
        migrate(make_engine(normalise_database_url(admin_url)))
        grant_project_role(admin_url, self.project_database, role)
        return as_role(normalise_database_url(admin_url), role, password)

    def _prefect_database(self) -> str:
        """Owned by Prefect's own role, which runs Prefect's migrations and nothing else."""
        role = f"{self.prefect_database}_server"
        password = ensure_role(self.postgres, role)
        admin_url = ensure_database(self.postgres, self.prefect_database, owner=role)
        url = as_role(normalise_database_url(admin_url), role, password)
        return url.replace("postgresql+psycopg://", "postgresql+asyncpg://")

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()

    def drop(self) -> None:
        """Drop both databases and both roles: for a set-up made for one run (a benchmark's, a test's)."""
        drop_team(self.postgres, self.project_database, self.prefect_database)


def drop_team(admin_url: str, project_database: str, prefect_database: str) -> None:
    """Drop a team set-up's two databases, whoever is still connected, and its two roles."""
    with _admin(admin_url) as connection:
        for name in (project_database, prefect_database):
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')
        for role in (f"{project_database}_app", f"{prefect_database}_server"):
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{_identifier(role)}"')
