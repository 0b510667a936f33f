"""The secrets the system holds outside its database: the key that signs who answered a form (models/identity.py)
and the service credential the workers, the command line and the flows present at the gate, both shared by the gate
and the workers; and the audit key, which signs each review's audit head and the audit trail's anchors
(models/audit.py), held by the workers and the command line.

Each comes from its setting (``CSPR_GATE_KEY``, ``CSPR_SERVICE_TOKEN``, ``CSPR_AUDIT_KEY``) in the team set-up, or is
generated once, owner-only, under ``CSPR_HOME/keys`` on one machine. None is the encryption key of personal data,
which the Prefect server's process never holds.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from models.files import write_private
from models.settings import get_settings

KEY_BYTES = 32
SERVICE_HEADER = "X-Cspr-Service"  # the header that carries the service credential on every request and websocket


def _generated(name: str) -> str:
    path: Path = get_settings().resolved_home / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        # the first of two processes starting together makes it, and both use it
        write_private(path, secrets.token_urlsafe(KEY_BYTES), keep_existing=True)
    return path.read_text().strip()


def gate_key() -> str:
    """The key that signs identities onto form answers (the gate) and checks them (the lifecycle)."""
    return get_settings().gate_key or _generated("gate.key")


# Where earlier versions kept the service credential. Their server's process held it in its Prefect settings, which
# Prefect's API returned to anyone signed in, so it is treated as known: on upgrade it is deleted and a new one made.
RETIRED_SERVICE_FILES = ("service.token",)
SERVICE_FILE = "service.credential"


def service_token() -> str:
    """The service credential: whoever presents it acts as the system itself. The gate holds only its digest."""
    configured = get_settings().service_token
    if configured:
        return configured
    keys = get_settings().resolved_home / "keys"
    for retired in RETIRED_SERVICE_FILES:
        (keys / retired).unlink(missing_ok=True)
    return _generated(SERVICE_FILE)


def digest(credential: str) -> str:
    """SHA-256, in hex: what the gate keeps of a credential (the service's, a browser's sign-in cookie), enough to
    recognise it and never enough to present it."""
    return hashlib.sha256(credential.encode()).hexdigest()


def audit_key() -> str:
    """The key that signs audit heads and anchors: whoever can write the database but does not hold it cannot make
    a rewritten history verify."""
    return get_settings().audit_key or _generated("audit.key")


def role_password(role: str) -> str:
    """The password of one of the team set-up's database roles (cli/team.py), made once; letters, digits, - and _."""
    return _generated(f"db-{role}.password")
