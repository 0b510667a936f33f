"""The "Who can do what" tables are the gate's allowlist, word for word: regenerate them with `python -m gate.access`
after changing gate/policy.py."""

from __future__ import annotations

from gate.access import ROOT, documents, routes_table
from gate.policy import ALLOWLIST


def test_docs_access_says_what_the_allowlist_says() -> None:
    stale = [str(path) for path, text in documents().items() if path.read_text() != text]
    assert stale == [], f"run `python -m gate.access`: {stale} differ from gate/policy.py"


def test_the_generated_tables_are_written_into_docs_alone() -> None:
    assert [path.relative_to(ROOT).as_posix() for path in documents()] == ["docs/access.md"]


def test_every_listed_route_has_its_row() -> None:
    table = routes_table()
    assert all(f"`{route}`" in table for route in ALLOWLIST)
