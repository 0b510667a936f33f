"""Encryption of personal data at rest (names and dates of birth), with Fernet.

The key comes from ``CSPR_ENCRYPTION_KEY`` (one or more Fernet keys, comma separated, newest first, so a
rotated-out key can still decrypt). With no key set, a development key is generated once under
``CSPR_HOME/keys`` so local use needs no set-up; it never leaves the machine.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from models.files import write_private
from models.settings import get_settings


class DecryptionError(RuntimeError):
    """Stored personal data could not be decrypted with any configured key."""


def development_key_path() -> Path:
    return get_settings().resolved_home / "keys" / "development.key"


def _development_key() -> str:
    path = development_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        # the first of two processes starting together makes the key, and both use it
        write_private(path, Fernet.generate_key().decode("ascii"), keep_existing=True)
    return path.read_text().strip()


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def cipher() -> MultiFernet:
    keys = get_settings().encryption_key or _development_key()
    return _fernet(keys)


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DecryptionError("personal data could not be decrypted: is CSPR_ENCRYPTION_KEY the right key?") from exc
