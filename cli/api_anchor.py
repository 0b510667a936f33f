"""What the system's Prefect clients trust when Prefect's API is plain HTTP on this machine: nothing.

Every Prefect client builds a TLS context for the API whether it will use TLS or not, and builds it by loading a CA
bundle: certifi's 140 certificates, 16 to 20 ms of CPU each time. A flow run makes a dozen clients (the engine's,
the events', the logs', the heartbeats', the pull step's, the concurrency slots'...): `cspr bench step`, 2026-12-07,
found a fifth of a warm run's CPU spent loading that bundle. An ``http://`` API never makes a TLS handshake, so the
bundle is never read after it is loaded, and the system's processes are pointed (``PREFECT_API_SSL_CERT_FILE``) at a
file holding one certificate instead, made here, whose private key is never written anywhere: no certificate can
chain to it, so were the API's URL ever ``https://`` with this setting still in place, every handshake would fail
rather than trust a server it should not. An ``https://`` API is left to Prefect's own choice (``SSL_CERT_FILE``,
or certifi's bundle).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

SETTING = "PREFECT_API_SSL_CERT_FILE"
FILE_NAME = "api-trust-nothing.pem"
NAME = "cspr: trust nothing (plain-HTTP Prefect API)"


def api_trust(api_url: str, home: Path) -> dict[str, str]:
    """The setting for the Prefect clients of a system whose API is ``api_url``, its anchor kept under ``home``:
    empty unless the API is plain HTTP."""
    if urlsplit(api_url).scheme != "http":
        return {}
    return {SETTING: str(trust_nothing(home / FILE_NAME))}


def trust_nothing(path: Path) -> Path:
    """``path``, holding a self-signed CA certificate whose key was discarded once it signed it (made if missing)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed: two processes starting at once each make one, and the last rename wins whole
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(_certificate())
    os.replace(file.name, path)
    return path


def _certificate() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())  # lives only in this function's frame
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM)
