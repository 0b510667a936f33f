"""MailDev (from npm, installed by scripts/setup.sh) on loopback ports of its own: an SMTP server that keeps every
message, and an HTTP API to read them (``/api/email``). For the end-to-end tests: a person's email read as it
arrived, and its link followed."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cli.processes import dies_with_parent, stop
from cli.seaweed import free_port
from models.settings import PROJECT_ROOT
from tests.utils.waiting import wait_until

PROGRAM = PROJECT_ROOT / "node_modules" / ".bin" / "maildev"
LINK = re.compile(r"https?://\S+")


@dataclass
class MailDev:
    smtp_port: int
    web_port: int
    process: subprocess.Popen[bytes]

    @property
    def smtp_url(self) -> str:
        """What CSPR_SMTP_URL says for it: plain SMTP, which is for a relay on this same host."""
        return f"smtp://127.0.0.1:{self.smtp_port}"

    def emails(self) -> list[dict[str, Any]]:
        response = httpx.get(f"http://127.0.0.1:{self.web_port}/api/email", timeout=10)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found

    def wait_for(self, to: str, subject_part: str, timeout: float = 120) -> dict[str, Any]:
        """The first email to ``to`` whose subject holds ``subject_part``, waiting for it to arrive."""

        def arrived() -> dict[str, Any] | None:
            for email in self.emails():
                addresses = {recipient["address"] for recipient in email.get("to", [])}
                if to in addresses and subject_part in email.get("subject", ""):
                    return email
            return None

        def there_are() -> str:
            return f"there are: {[(e.get('to'), e.get('subject')) for e in self.emails()]}"

        return wait_until(f"an email to {to} about {subject_part!r}", arrived, timeout=timeout, explain=there_are)


@contextmanager
def running_maildev(log_folder: Path, timeout: float = 30) -> Iterator[MailDev]:
    if not PROGRAM.exists():
        raise FileNotFoundError(f"{PROGRAM} is missing: scripts/setup.sh installs it (npm ci)")
    smtp_port, web_port = free_port(), free_port()
    log = (log_folder / "maildev.log").open("ab")
    process = subprocess.Popen(
        [str(PROGRAM), "--smtp", str(smtp_port), "--web", str(web_port), "--ip", "127.0.0.1"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        stdout=log,
        stderr=subprocess.STDOUT,
        **dies_with_parent(),
    )
    server = MailDev(smtp_port, web_port, process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                server.emails()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"MailDev did not start: see {log_folder / 'maildev.log'}") from None
                time.sleep(0.3)
        yield server
    finally:
        stop(process)
