"""Every listing of the command line: what a query gave, as JSON with ``--json``, or else as a table."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from rich.table import Column, Table

from cli.common import console

Row = TypeVar("Row")


def print_json(data: object, *, indent: int | None = None) -> None:
    """One JSON document on stdout, as it is (never through rich: no markup, no wrapping); dates as ISO strings."""
    print(json.dumps(data, indent=indent, default=str))


def as_records(rows: Sequence[object]) -> list[object]:
    """Rows as JSON objects: a dataclass as its fields, anything else (a dict) as it is."""
    return [dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type) else r for r in rows]


def print_listing(
    rows: Sequence[Row],
    *,
    as_json: bool,
    columns: Sequence[str | Column],
    cells: Callable[[Row], Iterable[str]],
    data: Callable[[Sequence[Row]], object] = as_records,
    indent: int | None = None,
    title: str | None = None,
    empty: str | None = None,
    soft_wrap: bool = False,
) -> None:
    """Print ``rows``: with ``as_json``, ``data(rows)`` as one JSON document; otherwise a table of ``columns``, a row
    of ``cells(row)`` each, under ``title``; or, when there are no rows and ``empty`` is given, that sentence instead
    of an empty table. ``soft_wrap``: long cells (links) printed whole, never folded at the console's width."""
    if as_json:
        print_json(data(rows), indent=indent)
        return
    if not rows and empty is not None:
        console.print(empty)
        return
    table = Table(*columns, title=title, title_justify="left")
    for row in rows:
        table.add_row(*cells(row))
    console.print(table, soft_wrap=soft_wrap)
