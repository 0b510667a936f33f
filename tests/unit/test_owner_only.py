"""Everything cspr makes under CSPR_HOME is owner-only from the moment it exists: folders 700, files 600."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli.processes import dies_with_parent
from tests.utils.permissions import loose

CSPR = Path(sys.executable).parent / "cspr"


def test_a_new_home_and_its_database_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSPR_", "PREFECT_"))} | {"CSPR_HOME": str(home)}
    subprocess.run([CSPR, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    assert list(home.rglob("*.db")), list(home.rglob("*"))
    assert loose(home) == []


def test_every_long_lived_child_creates_owner_only_files(tmp_path: Path) -> None:
    """The tests and `cspr up` start the Prefect server, workers and S3 through dies_with_parent: whatever umask the
    starting process has, the child's files are owner-only."""
    target = tmp_path / "made-by-a-child"
    subprocess.run(
        [sys.executable, "-c", f"open({str(target)!r}, 'w').close(); __import__('os').mkdir({str(target)!r} + '.d')"],
        check=True,
        **dies_with_parent(),
    )
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert oct(Path(f"{target}.d").stat().st_mode & 0o777) == "0o700"
