"""Rotating the key that wraps each review's data key.

Every review's personal data and free text are sealed under its own data key (models/review_keys.py), and only the data
keys are wrapped by the master key; so rotation re-wraps the data keys, in one transaction, checking each unwraps to
the same key before anything is committed, and leaves every sealed value as it is. Where the keys live decides who
makes the new key:

- local mode (no ``CSPR_ENCRYPTION_KEY``): rotation makes a new development key and keeps the previous one behind
  it in ``$CSPR_HOME/keys/development.key`` (``new,previous,...``), so a process still holding an old key can
  read what it wrote;
- with ``CSPR_ENCRYPTION_KEY``: the operator puts the new key first (``new,old``) everywhere, restarts, and rotates;
  the old key can be dropped once rotation has run;
- with ``CSPR_KMS_KEY_ID``: rotation re-wraps every data key with that KMS key (moving from the master key to a KMS
  is one rotation); KMS rotates its own key material itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet
from sqlmodel import Session

from models import master_key, review_keys
from models.files import write_private
from models.settings import get_settings


class KeyProblem(RuntimeError):
    pass


@dataclass(frozen=True)
class Rotated:
    data_keys: int  # reviews' data keys re-wrapped
    new_key_made: bool  # local mode: a new development key was written
    wrapped_by: str  # what wraps them now: "local" or "kms:<key id>"


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _prepend_development_key() -> None:
    path = master_key.development_key_path()
    current = [k for k in path.read_text().strip().split(",") if k] if path.exists() else []
    keys = [new_key(), *current]  # every earlier key stays behind it: nothing ever becomes unreadable
    write_private(path, ",".join(keys))


def rotate(session: Session) -> Rotated:
    """Re-wrap every review's data key with the newest master key (or the KMS key); all or nothing."""
    settings = get_settings()
    local = not settings.encryption_key and not settings.kms_key_id
    if local:
        _prepend_development_key()
    try:
        count = review_keys.rewrap_all(session)
    except master_key.DecryptionError as exc:
        raise KeyProblem(f"{exc}; nothing was changed") from None
    return Rotated(data_keys=count, new_key_made=local, wrapped_by=review_keys.current().name)


def require_real_key() -> None:
    """Team and production use need a key from the operator, never a generated development key."""
    settings = get_settings()
    if not (settings.encryption_key or "").strip() and not settings.kms_key_id:
        raise KeyProblem(
            "CSPR_ENCRYPTION_KEY is not set. A team set-up wraps each review's key with a key that the partnership "
            "holds in its secrets store; make one with `cspr keys new`, store it there, and set CSPR_ENCRYPTION_KEY to "
            "it before starting (or set CSPR_KMS_KEY_ID to a key in AWS KMS)"
        )
