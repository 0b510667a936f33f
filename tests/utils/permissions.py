"""File modes: what under a folder has any permission for anyone but its owner."""

from __future__ import annotations

from pathlib import Path

OTHERS = 0o077  # group and other: anyone but the owner
# SeaweedFS (the S3 stand-in of the team set-up) sets 644 on its volume info files itself, whatever the umask. They sit
# in its data folder, which is 700, so nobody else reaches them.
SET_BY_SEAWEED = "s3/data/*.vif"


def loose(home: Path) -> list[str]:
    """Every file or folder under ``home`` (and ``home``) with a permission for group or others."""
    found = []
    for path in [home, *home.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # gone meanwhile (a running system's temporary file)
            continue
        relative = path.relative_to(home)
        if mode & OTHERS and not path.is_symlink() and not relative.match(SET_BY_SEAWEED):
            found.append(f"{relative} {oct(mode & 0o777)}")
    return found
