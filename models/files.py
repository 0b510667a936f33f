"""Files that hold secrets (keys, credentials): owner-only from their first byte, and never seen half written."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


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
