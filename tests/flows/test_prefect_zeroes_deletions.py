"""Prefect's own SQLite database zeroes what it deletes: a form answer naming a child, deleted once read, leaves no
trace in the database file. Debian's SQLite is built to zero deletions by default; the server turns it on for every
connection itself (cli/prefect_server.py, checked on a connection that had it off in tests/unit/test_prefect_server.py),
so it holds on any build."""

from __future__ import annotations

import sqlite3
import uuid

from prefect import flow, get_client

from cli.system import LocalSystem
from models.settings import get_settings

PLANTED = "Quenby Marchetti-Oduya"  # invented


@flow(name="cspr-probe-deleted-input")
def probe() -> None:  # never run: only a flow for a run to belong to
    pass


def test_a_deleted_form_answer_leaves_nothing_in_prefects_database_file(prefect_server: LocalSystem) -> None:
    marker = f"{PLANTED} {uuid.uuid4().hex}"
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(probe, tags=["cspr-test-probe"])
        client.create_flow_run_input(run.id, "identity", f'{{"full_name": "{marker}"}}')
        assert client.read_flow_run_input(run.id, "identity")
        client.delete_flow_run_input(run.id, "identity")
        client.delete_flow_run(run.id)
    database = get_settings().resolved_home / "prefect" / "prefect.db"
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page written back to the file
    finally:
        connection.close()
    raw = b"".join(p.read_bytes() for p in database.parent.glob("prefect.db*"))
    assert marker.encode() not in raw
