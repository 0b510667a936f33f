"""Files holding secrets are owner-only from the start, whatever the umask, and a kept file is kept."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.files import write_private


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: a file made with the default mode would be readable and writable by everyone."""
    before = os.umask(0)
    yield
    os.umask(before)


def test_a_secret_file_is_owner_only_and_nothing_is_left_beside_it(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "keys" / "development.key"
    write_private(path, "first")
    assert path.read_text() == "first" and stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(path, "second")
    assert path.read_text() == "second" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["development.key"]


def test_the_temporary_file_is_owner_only_from_its_first_byte(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_replace = os.replace

    def look_then_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append(stat.S_IMODE(os.stat(src).st_mode))  # the file as it was written, before it is moved
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", look_then_replace)
    write_private(tmp_path / "team.env", "AWS_SECRET_ACCESS_KEY=made-up\n")
    assert seen == [0o600]


def test_keep_existing_keeps_the_file_already_there(tmp_path: Path) -> None:
    path = tmp_path / "development.key"
    write_private(path, "the first process's key", keep_existing=True)
    write_private(path, "the second process's key", keep_existing=True)
    assert path.read_text() == "the first process's key"
    assert [p.name for p in tmp_path.iterdir()] == ["development.key"]
