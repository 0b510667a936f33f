"""The "Who can do what" tables are the gate's allowlist, word for word: regenerate them with `python -m gate.access`
after changing gate/policy.py."""

from __future__ import annotations

from gate.access import documents, routes_table
from gate.policy import ALLOWLIST


def test_the_readme_and_docs_access_say_what_the_allowlist_says() -> None:
    stale = [str(path) for path, text in documents().items() if path.read_text() != text]
    assert stale == [], f"run `python -m gate.access`: {stale} differ from gate/policy.py"


def test_every_listed_route_has_its_row() -> None:
    table = routes_table()
    assert all(f"`{route}`" in table for route in ALLOWLIST)
