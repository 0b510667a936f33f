"""`cspr demo` as a user runs it, on the team set-up from scratch: `cspr up --team` against this machine's
PostgreSQL and a SeaweedFS S3 server, then `cspr demo` with a planted child's name and date of birth, driven to
publication through its two workers. Prefect's own database must be PostgreSQL and the documents in S3; then
everything the review left (both databases, the home folder with its logs, the S3 objects and their keys) is
searched for the planted name and date of birth. The demo acts through the gate as each person in turn, and the
server's process holds no encryption key while the workers' do."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from cli.processes import dies_with_parent
from cli.system import SERVER_MODULE
from tests.utils.maildev import MailDev, running_maildev
from tests.utils.permissions import loose
from tests.utils.search import needles, search_files, search_postgres
from tests.utils.team import CSPR, running_team


def environments(home: Path) -> dict[str, dict[str, str]]:
    """The environment of each running process of the system under ``home``, by its command line."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            raw = (proc / "environ").read_bytes()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if env.get("CSPR_HOME") == str(home):
            found[command] = env
    return found


CHILD, DOB = "Ottoline Marchbanks-Ferreira", dt.date(2016, 7, 9)  # invented


MAILBOXES = {
    "CSPR_PANEL_MAILBOX": "notices@panel.example",
    "CSPR_OFSTED_MAILBOX": "notices@ofsted.example",
    "CSPR_DFE_MAILBOX": "notices@dfe.example",
    "CSPR_SECRETARY_OF_STATE_MAILBOX": "notices@education.example",
}


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailDev]:
    with running_maildev(tmp_path) as server:
        yield server


@pytest.fixture
def team(tmp_path: Path, mail: MailDev) -> Iterator[tuple[dict[str, str], int, str]]:
    """The team set-up sending its email through a relay on this host (MailDev), to the national bodies too."""
    relay = {"CSPR_SMTP_URL": mail.smtp_url, "CSPR_MAIL_FROM": "cspr@northshire-scp.example", **MAILBOXES}
    with running_team(tmp_path, relay) as running:
        yield running


def test_the_team_set_up_runs_a_review_to_publication_on_two_workers_and_keeps_no_name_anywhere(
    team: tuple[dict[str, str], int, str], mail: MailDev, tmp_path: Path
) -> None:
    env, port, up_output = team
    assert "postgresql+asyncpg://" in up_output and "2 worker(s)" in up_output
    assert "Demo people" not in up_output  # no demo accounts in a team: its people set up the authenticator app
    # the secrets out of the gate's reach: the server's process has no encryption key, the workers have it
    running = environments(tmp_path / "cspr-home")
    server = [e for command, e in running.items() if SERVER_MODULE in command]
    # the workers (cspr worker), and the warm process whose children are the runs: each holds what a run needs
    workers = [e for command, e in running.items() if " worker --pool " in command]
    workers += [e for command, e in running.items() if "cli.warm_runs" in command]
    assert len(server) == 1 and len(workers) == 3, list(running)
    assert "CSPR_ENCRYPTION_KEY" not in server[0]
    assert all(w.get("CSPR_ENCRYPTION_KEY") == env["CSPR_ENCRYPTION_KEY"] for w in workers)
    assert "CSPR_AUDIT_KEY" not in server[0]  # the audit key too: the gate signs no audit head
    assert all(w.get("CSPR_AUDIT_KEY") == env["CSPR_AUDIT_KEY"] for w in workers)
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
    # each person signed in at the gate in turn (the demo's people are ordinary accounts here: app codes too)
    for email in ("chris.lee@", "alex.morgan@", "sam.patel@", "jo.evans@", "secretariat@"):
        assert f"signed in as {email}" in out, out
    # least privilege: each process's database role is its own, no superuser; the project's cannot change its
    # schema nor rewrite or remove a line of the audit trail (it did write them all, above)
    assert sa.engine.make_url(env["CSPR_DATABASE_URL"]).username.endswith("_app")  # type: ignore[union-attr]
    assert sa.engine.make_url(env["PREFECT_API_DATABASE_CONNECTION_URL"]).username.endswith("_server")  # type: ignore[union-attr]
    as_project = sa.create_engine(env["CSPR_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with as_project.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar() is False
        )
        assert connection.execute(sa.text("SELECT count(*) FROM stage_event")).scalar()
    for forbidden in (
        "UPDATE stage_event SET actor_name = 'Someone Else'",
        "DELETE FROM decision",
        "UPDATE register_event SET actor_name = 'Someone Else'",
        "CREATE TABLE cspr_probe (i int)",
        "ALTER TABLE review DROP COLUMN audit_head",
    ):
        with (
            as_project.connect() as connection,
            pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
        ):
            connection.execute(sa.text(forbidden))
    as_project.dispose()
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
    assert loose(home) == []  # the S3 stand-in's data, logs, team.env, stored objects: all owner-only
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
    # every email the relay took: exactly the deliveries the project database recorded as sent, and none names the
    # child (searched in every field MailDev keeps: headers, subject, text)
    emails = mail.emails()
    hits += [f"email {e['subject']}" for e in emails for w in words if w.lower() in json.dumps(e).lower()]
    assert hits == [], "\n".join(hits)
    received = Counter((r["address"], e["subject"]) for e in emails for r in e["to"])
    project = sa.create_engine(env["CSPR_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with project.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT d.address, o.subject, o.purpose, o.recipient, d.state FROM delivery d "
                "JOIN outbox o ON o.id = d.outbox_id"
            )
        ).all()
        unsent = connection.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar_one()
        notes = connection.execute(
            sa.text("SELECT transition, details FROM stage_event WHERE transition IN ('information_request', 'action')")
        ).all()
    project.dispose()
    assert {state for *_, state in rows} == {"sent"} and unsent == 0
    assert received == Counter((address, subject) for address, subject, *_ in rows)
    by_purpose = Counter((purpose.split(":")[0], recipient) for _, _, purpose, recipient, _ in rows)
    # the work around the review: each request's and action's messages, exactly as its history (the notes in the
    # review's audit chain) calls for, by item, what happened and who is told
    items = Counter(
        (purpose.split(":")[1], purpose.split(":")[2], recipient.split(":")[0])
        for _, _, purpose, recipient, _ in rows
        if purpose.startswith("item:")
    )
    assert items == expected_item_messages(notes), (items, notes)
    assert {"request", "action"} <= {key[0].split("-")[0] for key in items}  # agencies were asked, actions followed
    # the national bodies: told what the local path's history calls for, each once
    assert {k: n for k, n in {**by_purpose}.items() if not k[0].startswith(("waiting", "item"))} == {
        ("rapid_review", "panel"): 1,
        ("lcspr_decision", "panel"): 1,
        ("lcspr_decision", "ofsted"): 1,
        ("lcspr_decision", "dfe"): 1,
        ("reviewer_named", "panel"): 1,
        ("reviewer_named", "ofsted"): 1,
        ("reviewer_named", "dfe"): 1,
        ("final_report", "panel"): 1,
        ("final_report", "secretary_of_state"): 1,
        ("published", "panel"): 1,
        ("published", "ofsted"): 1,
        ("published", "dfe"): 1,
    }
    # and each person whose step it was, once per step
    waiting = Counter(r for (p, r), n in by_purpose.items() for _ in range(n) if p == "waiting")
    assert waiting["role:coordinator"] >= 8 and all(waiting[f"role:{p}"] >= 2 for p in ("police", "health"))
    assert CHILD not in out


# What each note of a request's or an action's history calls for: (the message's event, who is told), or nothing.
CALLS_FOR: dict[tuple[str, str], tuple[str, str] | None] = {
    ("request", "asked"): ("asked", "agency"),
    ("request", "return"): ("return", "coordinator"),
    ("request", "no involvement"): ("no involvement", "coordinator"),
    ("request", "extend"): ("extended", "agency"),
    ("request", "not needed"): ("not-needed", "agency"),
    ("request", "chase"): ("chased", "agency"),
    ("request", "missing"): None,
    ("action", "given"): ("given", "agency"),
    ("action", "in progress"): None,
    ("action", "done"): ("done", "coordinator"),
    ("action", "cannot be done"): ("cannot be done", "coordinator"),
    ("action", "accept"): ("accept", "agency"),
    ("action", "send-back"): ("send-back", "agency"),
    ("action", "close"): ("close", "agency"),
}


def expected_item_messages(notes: list[tuple[str, object]]) -> Counter[tuple[str, str, str]]:
    expected: Counter[tuple[str, str, str]] = Counter()
    for transition, raw in notes:
        details = json.loads(raw) if isinstance(raw, str) else raw
        assert isinstance(details, dict)
        kind = "request" if transition == "information_request" else "action"
        told = CALLS_FOR[(kind, details["happened"])]
        if told is not None:
            expected[(f"{kind}-{details[kind]}", *told)] += 1
    return expected
