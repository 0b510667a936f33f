"""`cspr demo` as a user runs it: it starts its own Prefect server, registers prefect.yaml's deployments, starts a
worker, and drives a review end to end through real worker processes. Then everything it left is searched for
the planted child's name and date of birth."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.utils.search import needles, search_files, search_sqlite

CHILD = "Ottoline Marchbanks-Ferreira"
DOB = dt.date(2016, 7, 9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_cspr_demo_runs_a_review_to_publication_through_workers(tmp_path: Path) -> None:
    home = tmp_path / "cspr-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["CSPR_HOME"] = str(home)
    cspr = Path(sys.executable).parent / "cspr"
    result = subprocess.run(
        [str(cspr), "demo", "--port", str(free_port()), "--child-name", CHILD, "--child-dob", DOB.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "awaiting_publication -> published" in out
    assert ": closed" in out
    assert "refused" not in out
    assert "Published report: file://" in out and "published/CSPR-" in out
    assert (home / "logs" / "worker-1.log").read_text().count("submitting flow run") >= 10
    words = needles(CHILD, DOB)
    hits = search_sqlite(home / "prefect" / "prefect.db", words) + search_files(home, words)
    assert hits == [], "\n".join(hits)
    assert CHILD not in out
