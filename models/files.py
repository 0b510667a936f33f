"""Files that hold secrets (keys, credentials): owner-only from their first byte, and never seen half written; and
every other file and folder cspr's processes make, owner-only too (:func:`owner_only`)."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

OWNER_ONLY_UMASK = 0o077  # files 600, folders 700


def owner_only() -> None:
    """Make everything this process (and every process it starts) creates owner-only from the moment it exists:
    the databases, Prefect's home, logs, stored objects, team.env. Called first by ``cspr`` and in each long-lived
    child (cli/processes.py): a file made readable and narrowed afterwards could be opened in between."""
    os.umask(OWNER_ONLY_UMASK)


def write_private(path: Path, text: str, *, keep_existing: bool = False) -> None:
    """Write ``text`` to ``path`` with mode 600. The file is created so (not chmod'ed afterwards, which leaves a
    moment when another user may open it) under a name of its own, then moved into place, so a reader never sees
    half of it. With ``keep_existing``, a file already there stays: of two processes writing at once, the first wins
    and both then read the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    try:
        if keep_existing:
            with suppress(FileExistsError):
                os.link(tmp, path)  # fails if the path exists: the file already there is kept
        else:
            os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
