"""The team set-up: Prefect's server and the project database on PostgreSQL, two workers, and S3 storage.

``cspr up --team`` creates the two databases on the PostgreSQL server if they are missing, starts a SeaweedFS S3
server under ``CSPR_HOME`` to stand in for the partnership's S3 (unless ``CSPR_STORAGE_URL`` already names an
``s3://`` bucket), and writes every setting it chose to ``$CSPR_HOME/team.env`` so that other ``cspr`` commands
(and people) can use the same system: ``set -a; . .cspr/team.env; set +a``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cli.seaweed import SeaweedS3
from models.files import write_private
from models.settings import get_settings, normalise_database_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKET_URL = "s3://cspr-documents/reviews"


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url`` if it is missing; returns its URL."""
    admin = make_url(normalise_database_url(admin_url))
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


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
        project = settings.database_url or ensure_database(self.postgres, self.project_database)
        prefect = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or ensure_database(
            self.postgres, self.prefect_database
        ).replace("postgresql+psycopg://", "postgresql+asyncpg://")
        # demo accounts sign in with a password alone: never in a team's system
        self.env = {
            "CSPR_DATABASE_URL": project,
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect,
            "CSPR_DEMO_ACCOUNTS": "false",
        }
        if settings.storage_url and settings.storage_url.startswith("s3://"):
            self.env["CSPR_STORAGE_URL"] = settings.storage_url
        else:
            self.s3 = SeaweedS3(self.home / "s3")
            self.s3.start()
            self.env.update(CSPR_STORAGE_URL=BUCKET_URL, **self.s3.env())
        os.environ.update(self.env)  # for this process's own reads, and the processes it starts
        get_settings.cache_clear()  # so that the settings read from now on are these
        # owner-only: it holds the S3 stand-in's key
        write_private(self.home / "team.env", "".join(f"{key}={value}\n" for key, value in sorted(self.env.items())))
        return self.env

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
