"""What every command shares: the consoles, a refusal's exit, reading a date option, the operator's identity, and the
transactions that turn a refusal into its message.

Only ``Refused`` (and the few errors named where they are caught) becomes a message and exit code 2: any other
exception is a fault and propagates with its traceback.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, overload

import typer
from rich.console import Console

from models.refusals import Refused
from models.roles import Role

if TYPE_CHECKING:
    from sqlmodel import Session

    from models.review.transitions import Actor

# a fixed width when not on a terminal (tests, pipes), so that tables wrap the same everywhere
console = Console(width=140) if not Console().is_terminal else Console()
err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """The exit for a refusal: ``message`` on stderr, exit code 2. Raise what it returns."""
    err.print(f"[bold red]cspr:[/] {message}")
    return typer.Exit(code=2)


@overload
def parse_date(value: str, option: str) -> dt.date: ...
@overload
def parse_date(value: str | None, option: str) -> dt.date | None: ...
def parse_date(value: str | None, option: str) -> dt.date | None:
    """An option's ``YYYY-MM-DD`` as a date (None stays None); anything else is a usage error naming ``option``."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD", param_hint=option) from None


def operator() -> Actor:
    """Who changes the register from the command line: the machine's user, acting as an operator."""
    from models.review.transitions import Actor

    return Actor(f"{getpass.getuser()} (command line)", Role.OPERATOR)


def stop_on_sigterm() -> None:
    """Make SIGTERM (a service manager stopping us, `timeout`, `kill`) unwind like Ctrl-C, so that everything
    started is stopped too instead of being left running."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextmanager
def review_change() -> Iterator[Session]:
    """A transaction for a change to a review from the command line: a refusal rolls back and becomes the message."""
    from models.db import transaction
    from models.review_keys import Erased

    try:
        with transaction() as session:
            yield session
    except Erased:
        raise fail("that review was erased: nothing more can be recorded about it") from None
    except Refused as exc:
        raise fail(str(exc)) from None


@contextmanager
def register_change() -> Iterator[Session]:
    """A transaction for a change to the register (people, partner bodies): a change it refuses rolls back and the
    command exits with the reason."""
    from models.db import transaction
    from models.people import RegisterRefusal

    try:
        with transaction() as session:
            yield session
    except RegisterRefusal as exc:
        raise fail(str(exc)) from None
