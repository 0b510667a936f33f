"""A real SMTP server on loopback for the mail tests (aiosmtpd): STARTTLS or implicit TLS with a certificate made
for the test, authentication required, and every message it took kept to be read. It can refuse chosen recipients
for good (550), and be stopped and started again on the same port (a relay that is down, then back)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.seaweed import free_port

USER, PASSWORD = "cspr-relay", "relay-password-for-tests"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own authority, and its key: the files' paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cspr test mail relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Received:
    envelope_to: list[str]
    message: EmailMessage
    authenticated: bool
    secure: bool


@dataclass
class _Handler:
    refuse: set[str]
    implicit_tls: bool
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        secure = self.implicit_tls or session.ssl is not None  # (aiosmtpd notes only a STARTTLS session's)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), parsed, bool(session.authenticated), secure))
        return "250 2.0.0 Message accepted for delivery"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=good, handled=False)


@dataclass
class MailRelay:
    """The test's relay. ``url`` is what CSPR_SMTP_URL would say for it; ``ca_file`` the authority to trust."""

    folder: Path
    implicit_tls: bool = False
    port: int = field(default_factory=free_port)
    refuse: set[str] = field(default_factory=set)
    _handler: _Handler | None = None
    _controller: Controller | None = None

    def __post_init__(self) -> None:
        self.ca_file, self._key_file = make_certificate(self.folder)
        self._handler = _Handler(self.refuse, self.implicit_tls)

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp+starttls"
        return f"{scheme}://{USER}@127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        assert self._handler is not None
        with self._handler.lock:
            return list(self._handler.received)

    def start(self) -> MailRelay:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.ca_file, self._key_file)
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "authenticator": _authenticate,
            "auth_required": True,
        }
        if self.implicit_tls:  # TLS from the first byte: aiosmtpd's "AUTH only after STARTTLS" check does not apply
            self._controller = Controller(self._handler, ssl_context=context, auth_require_tls=False, **common)
        else:
            common |= {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
            self._controller = Controller(self._handler, **common)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
            time.sleep(0.1)  # the port is free again before a test starts the relay anew


@contextmanager
def running_relay(folder: Path, *, implicit_tls: bool = False) -> Iterator[MailRelay]:
    relay = MailRelay(folder, implicit_tls=implicit_tls).start()
    try:
        yield relay
    finally:
        relay.stop()


def use_relay(monkeypatch: Any, relay: MailRelay, **mailboxes: str) -> None:
    """Point the system's settings at ``relay`` (``mailboxes``: PANEL=..., OFSTED=... for the national bodies'),
    trusting the test's certificate authority, for the rest of the test."""
    from models.settings import get_settings

    monkeypatch.setenv("SSL_CERT_FILE", str(relay.ca_file))
    settings = {"SMTP_URL": relay.url, "SMTP_PASSWORD": PASSWORD, "MAIL_FROM": "cspr@northshire-scp.example"}
    for name, value in {**settings, **{f"{body}_MAILBOX": box for body, box in mailboxes.items()}}.items():
        monkeypatch.setenv(f"CSPR_{name}", value)
    get_settings.cache_clear()
