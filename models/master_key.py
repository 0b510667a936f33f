"""The master key, which wraps each review's own data key (models/review_keys.py), with Fernet.

The key comes from ``CSPR_ENCRYPTION_KEY`` (one or more Fernet keys, comma separated, newest first, so a
rotated-out key can still unwrap). With no key set, a development key is generated once under
``CSPR_HOME/keys`` so local use needs no set-up; it never leaves the machine. ``encrypt`` and ``decrypt`` are how
names were encrypted before each review had its own key: only the migration to data keys (0008) uses them.
"""

from __future__ import annotations

import base64
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


# --- the accounts' TOTP secrets: sealed with the gate's key, not the personal-data key -------------------------
# The gate checks codes inside the Prefect server's process, which must not hold the key to the children's names;
# so the secrets are sealed with a key derived from the gate's own (models/system_credentials.py), which it holds
# anyway.


@lru_cache(maxsize=4)
def _sealing(gate_key: str) -> Fernet:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"cspr: sign-in secrets").derive(
        gate_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(plain: str) -> str:
    from models.system_credentials import gate_key

    return _sealing(gate_key()).encrypt(plain.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    from models.system_credentials import gate_key

    try:
        return _sealing(gate_key()).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DecryptionError("a sign-in secret could not be read: is CSPR_GATE_KEY the right key?") from exc
