"""Rotating the key that protects personal data at rest.

Rotation re-encrypts every stored name and date of birth under the newest configured key, in one
transaction, and checks each value decrypts to what it was before anything is committed. Where the keys live decides who
makes the new key:

- local mode (no ``CSPR_ENCRYPTION_KEY``): rotation makes a new development key and keeps the previous one behind
  it in ``$CSPR_HOME/keys/development.key`` (``new,previous,...``), so a process still holding an old key can
  read what it wrote;
- with ``CSPR_ENCRYPTION_KEY``: the operator puts the new key first (``new,old``) everywhere, restarts, and rotates;
  the old key can be dropped once rotation has run.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session

from models import crypto
from models.files import write_private
from models.settings import get_settings

# every column encrypted with the personal-data key, by table: the names and dates of birth in a case (the accounts'
# TOTP secrets are sealed with the gate's key instead: models/crypto.py)
ENCRYPTED: dict[str, tuple[str, ...]] = {"case_person": ("name", "date_of_birth")}


class KeyProblem(RuntimeError):
    pass


@dataclass(frozen=True)
class Rotated:
    values: int  # values re-encrypted
    new_key_made: bool  # local mode: a new development key was written


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _prepend_development_key() -> None:
    path = crypto.development_key_path()
    current = [k for k in path.read_text().strip().split(",") if k] if path.exists() else []
    keys = [new_key(), *current]  # every earlier key stays behind it: nothing ever becomes unreadable
    write_private(path, ",".join(keys))


def rotate(session: Session) -> Rotated:
    """Re-encrypt every stored personal value under the newest key; all or nothing."""
    local = not get_settings().encryption_key
    if local:
        _prepend_development_key()
    cipher = crypto.cipher()
    count = 0
    for table, columns in ENCRYPTED.items():
        rows = session.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()
        for row_id, *values in rows:
            rotated: list[str | None] = []
            for before in values:
                after = None if before is None else cipher.rotate(before.encode("ascii")).decode("ascii")
                if (
                    before is not None
                    and after is not None
                    and cipher.decrypt(after.encode()) != cipher.decrypt(before.encode())
                ):
                    raise KeyProblem("a value did not survive re-encryption; nothing was changed")
                rotated.append(after)
            count += sum(v is not None for v in values)
            assignments = ", ".join(f"{c} = :{c}" for c in columns)
            session.execute(
                sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"),
                {**dict(zip(columns, rotated, strict=True)), "id": row_id},
            )
    return Rotated(values=count, new_key_made=local)


def require_real_key() -> None:
    """Team and production use need a key from the operator, never a generated development key."""
    if not (get_settings().encryption_key or "").strip():
        raise KeyProblem(
            "CSPR_ENCRYPTION_KEY is not set. A team set-up keeps children's names encrypted with a key that the "
            "partnership holds in its secrets store; make one with `cspr keys new`, store it there, and set "
            "CSPR_ENCRYPTION_KEY to it before starting"
        )
