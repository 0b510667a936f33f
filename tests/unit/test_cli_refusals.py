"""The command line shows a refusal (``Refused``) as its message and exit code 2, and never dresses up a programming
error as one: a plain ``ValueError`` from a bug propagates, and ``cspr`` exits 1 with its traceback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.people import RegisterRefusal
from models.refusals import Refused

runner = CliRunner()


@contextmanager
def no_database() -> Iterator[object]:
    yield object()  # each command's change is replaced below: nothing reads the session


def raising(error: Exception) -> Callable[..., None]:
    def change(*args: object, **kwargs: object) -> None:
        raise error

    return change


@pytest.fixture(autouse=True)
def without_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import db
    from models.review import lookup

    monkeypatch.setattr(db, "transaction", no_database)
    monkeypatch.setattr(lookup, "review_by_reference", lambda session, reference: object())


# a command changing a review (its refusals are ``Refused``), and one changing the register (``RegisterRefusal``)
COMMANDS = [
    ("models.retention", "hold", ["retention", "hold", "CSPR-2026-0042", "--reason", "an inquiry"], Refused),
    ("models.people", "disable_person", ["people", "disable", "someone@northshire.example"], RegisterRefusal),
]


@pytest.mark.parametrize(("module", "function", "args", "refusal"), COMMANDS)
def test_a_refusal_is_shown_as_its_message(
    monkeypatch: pytest.MonkeyPatch, module: str, function: str, args: list[str], refusal: type[Refused]
) -> None:
    monkeypatch.setattr(f"{module}.{function}", raising(refusal("that cannot be done as asked")))
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "cspr: that cannot be done as asked" in " ".join(result.stderr.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("module", "function", "args", "refusal"), COMMANDS)
def test_a_programming_error_is_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch, module: str, function: str, args: list[str], refusal: type[Refused]
) -> None:
    bug = ValueError("too many values to unpack")
    monkeypatch.setattr(f"{module}.{function}", raising(bug))
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.exception is bug
    assert "cspr:" not in result.output
    with pytest.raises(ValueError, match="too many values to unpack") as raised:
        runner.invoke(app, args, catch_exceptions=False)
    assert not isinstance(raised.value, Refused)


def test_the_installed_command_exits_with_the_traceback_of_a_programming_error() -> None:
    probe = (
        "import sys, contextlib; from models import db, retention; from models.review import lookup; "
        "db.transaction = lambda: contextlib.nullcontext(None); "
        "lookup.review_by_reference = lambda session, reference: None; "
        "retention.hold = lambda *a, **k: int('not a number'); "
        "from cli.main import main; "
        "sys.argv = ['cspr', 'retention', 'hold', 'CSPR-2026-0042', '--reason', 'an inquiry']; main()"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 1
    assert "Traceback (most recent call last)" in out.stderr
    assert "ValueError: invalid literal for int() with base 10: 'not a number'" in out.stderr
    assert "cspr:" not in out.stderr
