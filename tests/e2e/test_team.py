"""The team set-up from scratch: `cspr up --team` against this machine's PostgreSQL and a SeaweedFS S3 server,
then `cspr demo` through its two workers. Prefect's own database must be PostgreSQL, and the documents in S3."""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3
import sqlalchemy as sa

from tests.utils.team import CSPR, team

__all__ = ["team"]


def test_the_team_set_up_runs_a_review_on_postgresql_two_workers_and_s3(
    team: tuple[dict[str, str], int, str], tmp_path: Path
) -> None:
    env, port, up_output = team
    assert "postgresql+asyncpg://" in up_output and "2 worker(s)" in up_output
    demo = subprocess.run([CSPR, "demo", "--port", str(port)], env=env, capture_output=True, text=True, timeout=600)
    out = demo.stdout + demo.stderr
    assert demo.returncode == 0, out
    assert ": closed" in out and "published/CSPR-" in out
    # Prefect kept its runs in PostgreSQL, not in a SQLite file
    prefect_db = sa.create_engine(env["PREFECT_API_DATABASE_CONNECTION_URL"].replace("+asyncpg", "+psycopg"))
    with prefect_db.connect() as connection:
        names = {r[0] for r in connection.execute(sa.text("SELECT d.name FROM flow_run r JOIN deployment d "
                                                          "ON d.id = r.deployment_id"))}  # fmt: skip
    prefect_db.dispose()
    assert {"notify-incident", "review-lifecycle"} <= names
    assert not list((tmp_path / "cspr-home").rglob("prefect.db"))
    # both workers were up and took runs
    logs = tmp_path / "cspr-home" / "logs"
    submitted = [(logs / f"worker-{n}.log").read_text().count("ubmitting flow run") for n in (1, 2)]
    assert sum(submitted) >= 10, submitted
    assert all(f"Worker 'cspr-local-worker-{n}' started" in (logs / f"worker-{n}.log").read_text() for n in (1, 2))
    # the documents are in S3
    s3 = boto3.client("s3", endpoint_url=env["CSPR_S3_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")  # fmt: skip
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cspr-documents")["Contents"]]
    assert any(k.startswith("reviews/published/CSPR-") for k in keys) and len(keys) >= 7
