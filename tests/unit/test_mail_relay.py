"""`CSPR_SMTP_URL` read as the operator's guide says: STARTTLS, implicit TLS, or plain SMTP to this host alone; and
every mistake refused with a message that says what to write instead."""

from __future__ import annotations

import re

import pytest

from models.settings import Settings
from tasks.mail import Relay, RelayConfigError, Security, parse_relay, relay_from_settings


@pytest.mark.parametrize(
    ("url", "relay"),
    [
        ("smtp+starttls://cspr@relay.example:587", Relay("relay.example", 587, Security.STARTTLS, "cspr", "pw")),
        (
            "smtp+starttls://cspr%40northshire@relay.example",
            Relay("relay.example", 587, Security.STARTTLS, "cspr@northshire", "pw"),
        ),
        ("smtps://cspr@relay.example:465", Relay("relay.example", 465, Security.TLS, "cspr", "pw")),
        ("smtps://relay.example", Relay("relay.example", 465, Security.TLS, None, None)),
        ("smtp://127.0.0.1:25", Relay("127.0.0.1", 25, Security.PLAIN, None, None)),
        ("smtp://localhost:2525", Relay("localhost", 2525, Security.PLAIN, None, None)),
    ],
)
def test_each_form_of_the_relays_address(url: str, relay: Relay) -> None:
    assert parse_relay(url, "pw") == relay


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://relay.example", "must start with one of smtp://, smtp+starttls://, smtps://"),
        ("smtps://", "names no mail relay"),
        ("smtps://cspr:secret@relay.example", "put the mail relay's password in CSPR_SMTP_PASSWORD"),
        ("smtp://relay.example:25", "plain smtp:// is only for a relay on this same host"),
        ("smtp://cspr@127.0.0.1:25", "a password is never sent over plain smtp://"),
        ("smtps://relay.example:99999", "a port that is not a number from 1 to 65535"),
    ],
)
def test_a_mistake_in_the_address_is_refused_saying_what_to_write(url: str, says: str) -> None:
    with pytest.raises(RelayConfigError, match=re.escape(says)):
        parse_relay(url, "pw")


def test_without_a_relay_the_outbox_folder_stays() -> None:
    assert relay_from_settings(Settings(smtp_url=None)) is None


def test_the_password_never_shows_in_the_relays_repr() -> None:
    assert "secret-pw" not in repr(parse_relay("smtps://cspr@relay.example", "secret-pw"))
