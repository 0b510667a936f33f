"""Personal data at rest: key rotation re-wraps every review's data key without loss and leaves the sealed values as
they are (SQLite and PostgreSQL, local and configured keys), and a team set-up refuses to start without a real key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from models import master_key, review_keys
from models.db import get_engine, transaction
from models.key_rotation import new_key, rotate
from models.people import add_person
from models.review import creation, transitions
from models.roles import Role
from models.settings import get_settings
from models.tables import Account, CasePerson
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident, make_partnership


@pytest.fixture
def own_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A CSPR_HOME of this test's own (its own development key), and no configured key."""
    monkeypatch.setenv("CSPR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CSPR_ENCRYPTION_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home" / "keys" / "development.key"
    get_settings.cache_clear()


def with_a_child(engine: Engine) -> None:
    with transaction(engine) as session:
        make_partnership(session)
        creation.create_review(session, incident(), actor=transitions.Actor("Chris Lee", "coordinator"))


def stored(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [(r[0], r[1]) for r in connection.execute(sa.text("SELECT name, date_of_birth FROM case_person"))]


def wrapped(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text("SELECT wrapped FROM review_key"))]


def read(engine: Engine) -> list[tuple[str | None, str | None]]:
    with Session(engine) as session:
        return [(p.name, p.date_of_birth) for p in session.exec(select(CasePerson))]


def test_rotation_in_local_mode_makes_a_new_key_and_rewraps_only_the_data_keys(engine: Engine, own_keys: Path) -> None:
    with_a_child(engine)
    first_key = own_keys.read_text()
    values_before, keys_before = stored(engine), wrapped(engine)
    with transaction(engine) as session:
        done = rotate(session)
    assert done.data_keys == 1 and done.new_key_made and done.wrapped_by == "local"
    keys = own_keys.read_text().split(",")
    assert len(keys) == 2 and keys[1] == first_key  # the new key first, the old one kept behind it
    assert stored(engine) == values_before  # the sealed values are not rewritten
    keys_after = wrapped(engine)
    assert keys_after != keys_before
    assert read(engine) == [(PLANTED_NAME, PLANTED_DOB.isoformat())]
    Fernet(keys[0].encode()).decrypt(keys_after[0].encode())  # the data key is under the new key alone
    with pytest.raises(InvalidToken):
        Fernet(first_key.encode()).decrypt(keys_after[0].encode())


def test_rotation_to_a_configured_key_lets_the_old_one_go(
    engine: Engine, own_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_key(), new_key()
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", old)
    get_settings.cache_clear()
    with_a_child(engine)
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", f"{new},{old}")  # the operator puts the new key first
    get_settings.cache_clear()
    with transaction(engine) as session:
        assert rotate(session).data_keys == 1
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", new)  # and drops the old one
    get_settings.cache_clear()
    review_keys._UNWRAPPED.clear()  # as a restarted process: nothing unwrapped before
    assert read(engine) == [(PLANTED_NAME, PLANTED_DOB.isoformat())]
    assert not own_keys.exists()  # a configured key never makes a development key


def test_an_accounts_totp_secret_needs_no_personal_data_key(
    engine: Engine, own_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate reads TOTP secrets inside the Prefect server's process, which holds no personal-data key: they are
    sealed with the gate's key, so neither rotating nor removing the personal-data key touches them."""
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", new_key())
    get_settings.cache_clear()
    with transaction(engine) as session:
        make_partnership(session)
        operator = transitions.Actor("an operator", "operator")
        add_person(
            session,
            name="Dana Okafor",
            email="dana@northshire-police.example",
            role=Role.POLICE,
            partnership_code="northshire",
            organisation="Northshire Police",
            by=operator,
        )
        secret = session.exec(select(Account)).one().totp_secret
        assert rotate(session).data_keys == 0  # nothing of the person's is under the personal-data key
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", new_key())  # another key altogether: the secret still reads
    get_settings.cache_clear()
    with Session(engine) as session:
        assert secret and session.exec(select(Account)).one().totp_secret == secret
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT totp_secret FROM account").scalar_one()
    assert secret not in stored  # sealed, not in the clear


def test_a_wrong_key_is_refused_with_a_message_not_garbage(
    engine: Engine, own_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_a_child(engine)
    monkeypatch.setenv("CSPR_ENCRYPTION_KEY", new_key())
    get_settings.cache_clear()
    review_keys._UNWRAPPED.clear()
    with pytest.raises(master_key.DecryptionError, match="is CSPR_ENCRYPTION_KEY the right key"):
        read(engine)


def test_cspr_keys_rotate_on_the_command_line(own_keys: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with_a_child(get_engine())
    result = runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0 and "a new development key was made; 1 review data key(s) re-wrapped" in result.output
    assert read(get_engine()) == [(PLANTED_NAME, PLANTED_DOB.isoformat())]


def test_cspr_keys_new_prints_a_usable_key() -> None:
    result = CliRunner().invoke(app, ["keys", "new"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid Fernet key


def test_the_team_set_up_will_not_start_without_a_real_key(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CSPR_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cspr"), "up", "--team"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "CSPR_ENCRYPTION_KEY is not set" in " ".join(result.stderr.split())
    assert not (tmp_path / "home").exists()  # nothing was started or written
