"""A real OpenID provider on loopback for the sign-in tests: `oidc-provider` from npm, run by oidc_provider.mjs beside
this file. Started the way the S3 server is: on a free port, ready once its discovery document answers, dying with
the process that started it, and stopped at the end."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest

from cli.processes import dies_with_parent, stop
from cli.seaweed import free_port
from gate.oidc import Provider
from models.settings import PROJECT_ROOT
from tests.conftest import postgres_required

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE = PROJECT_ROOT / "node_modules" / "oidc-provider"
# Nothing listens here: a test reads the provider's redirect to it, as a browser would be sent, and stops there.
CALLBACK = "http://127.0.0.1:9/sign-in/oidc/callback"
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass(frozen=True)
class ProviderAccount:
    """A person with an account at the identity provider (which says nothing about the register)."""

    sub: str
    email: str
    name: str
    email_verified: bool | None = True  # None: the claim is not sent at all (Entra ID, for work accounts)
    xms_edov: bool | None = None  # Entra ID's optional claim: the address's domain is one the tenant owns


def _claims(account: ProviderAccount) -> dict[str, object]:
    """What the provider holds for the account: a claim it does not send is left out, not sent empty."""
    return {name: value for name, value in asdict(account).items() if value is not None}


@dataclass
class LoopbackProvider:
    root: Path  # its log
    accounts: Sequence[ProviderAccount]
    client_id: str = "cspr-gate"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    redirect_uri: str = CALLBACK
    issuer: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> str:
        """Start the provider and wait until its discovery document answers; returns its issuer."""
        node = shutil.which("node")
        if node is None or not PACKAGE.exists():
            raise FileNotFoundError("Node.js or node_modules/oidc-provider is missing (scripts/setup.sh installs it)")
        port = free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        args = [
            node,
            str(SCRIPT),
            f"--port={port}",
            f"--client-id={self.client_id}",
            f"--redirect-uri={self.redirect_uri}",
            f"--accounts={json.dumps([_claims(a) for a in self.accounts])}",
        ]
        self.root.mkdir(parents=True, exist_ok=True)
        log = (self.root / "oidc-provider.log").open("ab")
        self.process = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env={"PATH": os.environ.get("PATH", ""), "OIDC_CLIENT_SECRET": self.client_secret},  # no CSPR_ secret
            stdin=subprocess.PIPE,  # the script exits when this closes, as a second guard against outliving us
            stdout=log,
            stderr=subprocess.STDOUT,
            **dies_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start: see {self.root / 'oidc-provider.log'}")
            time.sleep(0.2)
        return self.issuer

    def _answers(self) -> bool:
        try:
            response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("issuer") == self.issuer

    @property
    def provider(self) -> Provider:
        """The provider as the gate would be configured for it."""
        return Provider(self.issuer, self.client_id, self.client_secret, self.redirect_uri)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            stop(self.process)
            self.process = None


@contextmanager
def running_provider(root: Path, accounts: Sequence[ProviderAccount]) -> Iterator[LoopbackProvider]:
    """The provider, running for the ``with`` block; skips (fails in CI) where Node.js or the package is missing."""
    server = LoopbackProvider(root, accounts)
    try:
        server.start()
    except FileNotFoundError as exc:
        if postgres_required():  # CI: the machine has everything, so a skip would hide a broken set-up
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def sign_in_at_provider(authorization_url: str, login: str, redirect_uri: str = CALLBACK) -> dict[str, str]:
    """What a person's browser does at the provider: follow the authorization address to the login form, log in as
    ``login`` (the account's subject), and follow redirects until the provider sends the browser back to
    ``redirect_uri``. Returns that callback's query parameters (code, state, iss), without calling it."""
    with httpx.Client(timeout=10) as browser:
        response = _until_page_or_callback(browser, browser.get(authorization_url), redirect_uri)
        if _callback(response, redirect_uri) is None:  # the login form
            action = FORM_ACTION.search(response.text)
            assert action is not None, f"no login form at the provider (HTTP {response.status_code})"
            submitted = browser.post(urljoin(str(response.url), action.group(1)), data={"login": login})
            response = _until_page_or_callback(browser, submitted, redirect_uri)
        callback = _callback(response, redirect_uri)
        assert callback is not None, f"the provider did not send the browser back (HTTP {response.status_code})"
        return callback


def _until_page_or_callback(browser: httpx.Client, response: httpx.Response, redirect_uri: str) -> httpx.Response:
    for _ in range(10):
        if not response.is_redirect or _callback(response, redirect_uri) is not None:
            return response
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    raise AssertionError("the provider redirected more than 10 times")


def _callback(response: httpx.Response, redirect_uri: str) -> dict[str, str] | None:
    location = response.headers.get("location", "") if response.is_redirect else ""
    if not location.startswith(redirect_uri + "?"):
        return None
    return dict(parse_qsl(urlsplit(location).query))
