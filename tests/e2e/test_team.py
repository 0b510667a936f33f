"""`cspr demo` as a user runs it, on the team set-up from scratch: `cspr up --team` against this machine's
PostgreSQL and a SeaweedFS S3 server, then `cspr demo` with a planted child's name and date of birth, driven to
publication through its two workers. Prefect's own database must be PostgreSQL and the documents in S3; then
everything the review left (both databases, the home folder with its logs, the S3 objects and their keys) is
searched for the planted name and date of birth."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import boto3
import sqlalchemy as sa

from cli.processes import dies_with_parent
from tests.utils.search import needles, search_files, search_postgres
from tests.utils.team import CSPR, team

__all__ = ["team"]

CHILD, DOB = "Ottoline Marchbanks-Ferreira", dt.date(2016, 7, 9)  # invented


def test_the_team_set_up_runs_a_review_to_publication_on_two_workers_and_keeps_no_name_anywhere(
    team: tuple[dict[str, str], int, str], tmp_path: Path
) -> None:
    env, port, up_output = team
    assert "postgresql+asyncpg://" in up_output and "2 worker(s)" in up_output
    demo = subprocess.run(
        [CSPR, "demo", "--port", str(port), "--child-name", CHILD, "--child-dob", DOB.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **dies_with_parent(),
    )
    out = demo.stdout + demo.stderr
    assert demo.returncode == 0, out
    assert "awaiting_publication -> published" in out and ": closed" in out and "refused" not in out
    assert "published/CSPR-" in out
    # Prefect kept its runs in PostgreSQL, not in a SQLite file
    prefect_url = env["PREFECT_API_DATABASE_CONNECTION_URL"].replace("+asyncpg", "+psycopg")
    prefect_db = sa.create_engine(prefect_url)
    with prefect_db.connect() as connection:
        names = {
            r[0]
            for r in connection.execute(
                sa.text("SELECT d.name FROM flow_run r JOIN deployment d ON d.id = r.deployment_id")
            )
        }
    prefect_db.dispose()
    assert {"notify-incident", "review-lifecycle"} <= names
    home = tmp_path / "cspr-home"
    assert not list(home.rglob("prefect.db"))
    # both workers were up and took runs
    logs = home / "logs"
    submitted = [(logs / f"worker-{n}.log").read_text().count("ubmitting flow run") for n in (1, 2)]
    assert sum(submitted) >= 10, submitted
    assert all(f"Worker 'cspr-local-worker-{n}' started" in (logs / f"worker-{n}.log").read_text() for n in (1, 2))
    # the documents are in S3
    s3 = boto3.client(
        "s3",
        endpoint_url=env["CSPR_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cspr-documents")["Contents"]]
    assert any(k.startswith("reviews/published/CSPR-") for k in keys) and len(keys) >= 7
    # the planted name and date of birth: nowhere in Prefect, in the project database (encrypted there), in the
    # logs and files, in an object key or an object's bytes (the S3 stand-in keeps its data under the home folder)
    words = needles(CHILD, DOB)
    hits = search_postgres(prefect_url, words) + search_postgres(env["CSPR_DATABASE_URL"], words)
    hits += search_files(home, words) + [f"object key {k}" for k in keys for w in words if w.lower() in k.lower()]
    assert hits == [], "\n".join(hits)
    assert CHILD not in out
