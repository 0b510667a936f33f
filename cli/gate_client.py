"""Signing in at the gate and answering a form as a person would in the browser: the sign-in page's form, the
authenticator's code where the account has one, then Prefect's own resume call with the session cookie.

``cspr demo`` acts through this as each demo person in turn, and the tests that drive the running system do too,
so every answer they give is signed by the gate exactly as a person's is.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp

from models.refusals import Refused

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
ERROR_SUMMARY = re.compile(r'<div class="govuk-error-summary".*?<ul[^>]*>(.*?)</ul>', re.DOTALL)
SECRET = re.compile(r"secret=([A-Z2-7]+)")


class GateRefused(Refused):
    """The gate (or Prefect behind it) said no; ``str()`` is its answer."""


@dataclass
class Person:
    """Someone who can sign in: an address, a password and, unless a demo account, the TOTP secret of their app."""

    email: str
    password: str
    totp_secret: str | None = None
    enrolled: bool = False  # the app's first code was confirmed: every sign-in now takes a code
    last_step: int = -1  # the time step of the last code used: the gate accepts each code once


@dataclass
class GateSession:
    """One person's browser, as far as the gate can tell."""

    ui_url: str
    person: Person
    client: httpx.Client = field(init=False)
    _csrf_client: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.ui_url, timeout=30)

    def sign_in(self) -> GateSession:
        page = self.client.get("/sign-in")
        form = {"form_token": _form_token(page), "email": self.person.email, "password": self.person.password}
        form["code"] = self._code() if self.person.totp_secret and self.person.enrolled else ""
        answer = self.client.post("/sign-in", data=form)
        if answer.status_code == 200 and "otpauth://" in answer.text:  # the first sign-in: enrol the app
            answer = self.client.post("/sign-in/enrol", data={"form_token": _form_token(answer), "code": self._code()})
        if answer.status_code != 303:
            raise GateRefused(f"{self.person.email} could not sign in (HTTP {answer.status_code})")
        self.person.enrolled = True
        return self

    def _code(self) -> str:
        """The app's current code, waiting for the next one if this one was used already (each is single-use)."""
        assert self.person.totp_secret is not None
        totp = pyotp.TOTP(self.person.totp_secret)
        while (step := int(time.time()) // totp.interval) <= self.person.last_step:
            time.sleep(1)
        self.person.last_step = step
        return totp.generate_otp(step)

    def _csrf(self) -> dict[str, str]:
        got = self.client.get("/api/csrf-token", params={"client": self._csrf_client})
        if got.status_code != 200:
            raise GateRefused(f"no CSRF token (HTTP {got.status_code}): {got.text[:200]}")
        return {"Prefect-Csrf-Token": got.json()["token"], "Prefect-Csrf-Client": self._csrf_client}

    def resume(self, run_id: Any, answer: dict[str, Any]) -> dict[str, Any]:
        """Submit a form's answer to a suspended run, as the UI's Submit does; Prefect's verdict (status ACCEPT or
        REJECT, with its reason)."""
        response = self.client.post(f"/api/flow_runs/{run_id}/resume", json={"run_input": answer}, headers=self._csrf())
        if not response.is_success:
            raise GateRefused(_detail(response))
        verdict: dict[str, Any] = response.json()
        return verdict

    def answer_task(self, path: str, posted: dict[str, list[str]], action: str = "submit") -> None:
        """Answer a step on its task page (``path``, from models.task_ref.task_path), as the person's Submit (or
        another of the page's buttons, ``action``) does: the page's own token and form key, then the fields.
        GateRefused with what the page says is wrong."""
        answer = self._send_task(path, posted, action)
        if answer.status_code != 303 or not answer.headers.get("location", "").endswith("/accepted"):
            raise GateRefused(f"HTTP {answer.status_code}: {_page_errors(answer)}")

    def save_draft(self, path: str, posted: dict[str, list[str]]) -> None:
        """Keep what was typed on a task page as the person's draft, as "Save draft" does."""
        answer = self._send_task(path, posted, "save")
        if answer.status_code != 303:
            raise GateRefused(f"HTTP {answer.status_code}: {_page_errors(answer)}")

    def _send_task(self, path: str, posted: dict[str, list[str]], action: str) -> httpx.Response:
        page = self.client.get(path)
        if page.status_code != 200:
            raise GateRefused(f"the task page did not open (HTTP {page.status_code}): {_page_errors(page)}")
        key = FORM_KEY.search(page.text)
        fields: dict[str, str | list[str]] = {**posted, "form_token": _form_token(page), "action": action}
        fields["form_key"] = key.group(1) if key else ""
        return self.client.post(path, data=fields)

    def start_run(self, deployment_id: Any, parameters: dict[str, Any]) -> str:
        """Start a run of a deployment, as the UI's Run button does; the new run's id."""
        response = self.client.post(
            f"/api/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters}, headers=self._csrf()
        )
        if not response.is_success:
            raise GateRefused(_detail(response))
        return str(response.json()["id"])

    def sign_out(self) -> None:
        page = self.client.get("/sign-out")
        self.client.post("/sign-out", data={"form_token": _form_token(page)})
        self.client.close()


def _form_token(page: httpx.Response) -> str:
    found = FORM_TOKEN.search(page.text)
    if found is None:
        raise GateRefused(f"the gate's page has no form (HTTP {page.status_code})")
    return found.group(1)


def _page_errors(page: httpx.Response) -> str:
    """What a page's error summary says, as text (or its whole text, shortened, when it has none)."""
    found = ERROR_SUMMARY.search(page.text)
    text = found.group(1) if found else page.text
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())[:1000]


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return f"HTTP {response.status_code}"


def totp_secret_of(uri: str | None) -> str | None:
    """The secret in an ``otpauth://`` enrolment address."""
    found = SECRET.search(uri or "")
    return found.group(1) if found else None
