"""People registered for a test, and a browser that signs them in at a real server's gate over HTTP: the sign-in
page's form (its token cookie and hidden field), the enrolment page, sign-out, and Prefect's CSRF token for a
signed-in person's changes."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
from sqlmodel import select

from cli import gate_client
from gate.sessions import COOKIE
from models.db import transaction
from models.people import add_person
from models.review.transitions import Actor
from models.roles import Role
from models.seed import DEMO_PARTNERSHIP
from models.tables import Account

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
OPERATOR = Actor("the tests' operator", Role.OPERATOR)


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    password: str
    totp_secret: str | None  # None: a demo account, which signs in with its password alone

    def code(self, steps_ahead: int = 0) -> str:
        """The authenticator app's code, now or a time step later (the gate takes the next step's code too, for a
        phone's clock a little ahead: so a test need not wait 30 s for a code it has not used yet)."""
        assert self.totp_secret is not None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.generate_otp(int(time.time()) // totp.interval + steps_ahead)

    def wrong_code(self) -> str:
        """A six-digit code that is none of the three the gate would take now."""
        taken = {self.code(step) for step in (-1, 0, 1, 2)}
        return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in taken)


def register(role: Role, *, demo: bool = True, label: str = "") -> Person:
    """A new person in the demo partnership (an operator in none), with a local account of their own."""
    tag = uuid.uuid4().hex[:8]
    name = f"{label or role.label.title()} {tag}"
    with transaction() as session:
        enrolment = add_person(
            session,
            name=name,
            email=f"{role.value}.{tag}@gate-test.example",
            role=role,
            partnership_code=None if role is Role.OPERATOR else DEMO_PARTNERSHIP,
            organisation="Gate test",
            by=OPERATOR,
            demo=demo,
        )
    assert enrolment.password is not None
    secret = None if enrolment.totp_uri is None else pyotp.parse_uri(enrolment.totp_uri).secret
    return Person(name, enrolment.email, enrolment.password, secret)


def account(person: Person) -> Account:
    with transaction() as session:  # expire_on_commit is off: the row stays readable afterwards
        return session.exec(select(Account).where(Account.email == person.email)).one()


def hidden_fields(page: httpx.Response) -> dict[str, str]:
    """A page's form as the browser sends it back untouched: its token, and where to go next."""
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    assert "form_token" in fields, f"no form on the page (HTTP {page.status_code}): {page.text[:300]}"
    return fields


class Browser:
    """One browser at the gate: its cookies, no service credential, redirects not followed (they are asserted).
    ``address``: the loopback address it connects from (127.0.0.1 unless given; any of 127.0.0.0/8 reaches the
    server), so the gate counts its failed sign-ins apart from other browsers'."""

    def __init__(self, ui_url: str, *, address: str | None = None) -> None:
        transport = None if address is None else httpx.HTTPTransport(local_address=address)
        self.http = httpx.Client(base_url=ui_url, timeout=60, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get(COOKIE)

    def sign_in(self, email: str, password: str, code: str = "", *, next_path: str = "") -> httpx.Response:
        """The sign-in page, then its form posted back as the browser would."""
        page = self.http.get("/sign-in", params={"next": next_path} if next_path else None)
        return self.http.post(
            "/sign-in", data={**hidden_fields(page), "email": email, "password": password, "code": code}
        )

    def enrol(self, enrolment_page: httpx.Response, code: str) -> httpx.Response:
        return self.http.post("/sign-in/enrol", data={**hidden_fields(enrolment_page), "code": code})

    def sign_out(self) -> httpx.Response:
        page = self.http.get("/sign-out")
        return self.http.post("/sign-out", data=hidden_fields(page))

    def csrf(self) -> dict[str, str]:
        """Prefect's CSRF headers for this browser's changes, fetched as the UI does (with the session cookie)."""
        client = str(uuid.uuid4())
        got = self.http.get("/api/csrf-token", params={"client": client})
        assert got.status_code == 200, got.text
        return {"Prefect-Csrf-Token": got.json()["token"], "Prefect-Csrf-Client": client}


def signed_in(ui_url: str, person: Person) -> Browser:
    """A browser with the person signed in: a demo account with its password; any other enrolled at this first
    sign-in with the app's current code."""
    browser = Browser(ui_url)
    answer = browser.sign_in(person.email, person.password)
    if person.totp_secret is not None:
        assert answer.status_code == 200 and "otpauth://" in answer.text, answer.text[:300]
        answer = browser.enrol(answer, person.code())
    assert answer.status_code == 303 and browser.session_cookie, (answer.status_code, answer.text[:300])
    return browser


def register_with_cli(env: dict[str, str], name: str, email: str, role: Role) -> gate_client.Person:
    """Someone registered on a running system (``env``: its CSPR_HOME and settings) by its operator, with
    `cspr people add`, in the demo partnership; their first password and authenticator app, as the command showed
    them."""
    command = [str(Path(sys.executable).parent / "cspr"), "people", "add", "--name", name, "--email", email]
    command += ["--role", role.value, "--partnership", DEMO_PARTNERSHIP]
    done = subprocess.run(command, env={**env, "COLUMNS": "400"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    password = re.search(r"first password: (\S+)", done.stdout)
    assert password is not None, done.stdout
    return gate_client.Person(email, password.group(1), gate_client.totp_secret_of(done.stdout))
