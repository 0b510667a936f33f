"""Email through the partnership's mail relay, chosen by ``CSPR_SMTP_URL``:

- ``smtp+starttls://user@relay.example:587``: STARTTLS, then authentication (the password from
  ``CSPR_SMTP_PASSWORD``);
- ``smtps://user@relay.example:465``: TLS from the first byte (implicit TLS), then authentication;
- ``smtp://127.0.0.1:25``: plain SMTP, for a relay on this same host only (a password is never sent in the clear).

A plain library, no Prefect in it: ``tasks/notices.py`` decides what to send and records what happened. The relay's
certificate is checked against the system's trusted authorities (``SSL_CERT_FILE`` names another bundle).
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from models.settings import Settings, get_settings

TIMEOUT = 30.0  # seconds for the relay to answer each command


class Security(StrEnum):
    PLAIN = "smtp"
    STARTTLS = "smtp+starttls"
    TLS = "smtps"


DEFAULT_PORTS = {Security.PLAIN: 25, Security.STARTTLS: 587, Security.TLS: 465}


class RelayConfigError(ValueError):
    """``CSPR_SMTP_URL`` cannot be used; ``str()`` says why, in an operator's words."""


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)


class Refused(Exception):
    """The relay did not take the message. ``permanent``: it refused this recipient or message for good (5xx);
    otherwise it may take it later (4xx, no answer, a broken connection). ``answer`` is what it said."""

    def __init__(self, answer: str, *, permanent: bool) -> None:
        super().__init__(answer)
        self.answer = answer[:500]
        self.permanent = permanent


def parse_relay(url: str, password: str | None = None) -> Relay:
    """The relay a ``CSPR_SMTP_URL`` names; RelayConfigError saying what is wrong with it."""
    parts = urlsplit(url)
    try:
        security = Security(parts.scheme)
    except ValueError:
        schemes = ", ".join(f"{s.value}://" for s in Security)
        raise RelayConfigError(f"CSPR_SMTP_URL must start with one of {schemes}") from None
    if not parts.hostname:
        raise RelayConfigError("CSPR_SMTP_URL names no mail relay: give its host, e.g. smtps://relay.example:465")
    if parts.password:
        raise RelayConfigError("put the mail relay's password in CSPR_SMTP_PASSWORD, not in CSPR_SMTP_URL")
    username = unquote(parts.username) if parts.username else None
    if security is Security.PLAIN and not _this_host(parts.hostname):
        raise RelayConfigError(
            "plain smtp:// is only for a relay on this same host; use smtp+starttls:// or smtps:// for "
            f"{parts.hostname}"
        )
    if security is Security.PLAIN and username:
        raise RelayConfigError("a password is never sent over plain smtp://; use smtp+starttls:// or smtps://")
    try:
        port = parts.port or DEFAULT_PORTS[security]
    except ValueError:
        raise RelayConfigError("CSPR_SMTP_URL has a port that is not a number from 1 to 65535") from None
    return Relay(parts.hostname, port, security, username, password if username else None)


def relay_from_settings(settings: Settings | None = None) -> Relay | None:
    """The configured relay, or None when messages go to the outbox folder."""
    settings = settings or get_settings()
    return parse_relay(settings.smtp_url, settings.smtp_password) if settings.smtp_url else None


def _this_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send(relay: Relay, message: EmailMessage, to: str, *, timeout: float = TIMEOUT) -> str:
    """Hand ``message`` for the one address ``to`` to the relay; what it answered. Refused if it did not take it."""
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if relay.security is Security.TLS:
            smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:  # no relay, no TLS
        raise Refused(_no_answer(relay, exc), permanent=False) from None
    try:
        smtp.ehlo()
        if relay.security is Security.STARTTLS:
            smtp.starttls(context=context)
            smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password or "")
        smtp.send_message(message, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, said = exc.recipients.get(to, (550, b"refused"))
        raise Refused(f"{code} {said.decode(errors='replace')}", permanent=code >= 500) from None
    except smtplib.SMTPDataError as exc:  # the message itself refused
        raise Refused(_said(exc), permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPResponseException as exc:  # the sender or the sign-in refused: the set-up, not the message
        raise Refused(_said(exc), permanent=False) from None
    except (OSError, smtplib.SMTPException) as exc:  # a broken connection
        raise Refused(_no_answer(relay, exc), permanent=False) from None
    finally:
        _goodbye(smtp)
    return "250 taken by the relay"


def _goodbye(smtp: smtplib.SMTP) -> None:
    """QUIT, and close. Nothing said or not said here undoes a message the relay took: it is not sent again."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _no_answer(relay: Relay, exc: BaseException) -> str:
    return f"the mail relay {relay.host}:{relay.port} did not answer ({type(exc).__name__})"


def _said(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {said}"
