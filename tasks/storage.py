"""Object storage for documents: one small interface, two backends, chosen by ``CSPR_STORAGE_URL``.

- unset, or ``file:///path``: a folder (default ``$CSPR_HOME/objects``), nothing to configure;
- ``s3://bucket/prefix``: S3 through boto3 (``CSPR_S3_ENDPOINT_URL`` for a non-AWS server such as SeaweedFS or
  MinIO; credentials from the standard ``AWS_*`` variables). Versioning on, server-side encryption requested on
  every put, Object Lock retention for published reports where the bucket supports it.

Both record each object's SHA-256 and check it on read, store identical bytes only once (a retried upload makes
no second version), and refuse to delete an object before its retention date. Keys carry a review reference
and a document kind, never a name, and are checked against a narrow pattern.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from models.settings import Settings, get_settings

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# what the store is told a sealed object holds (a restricted document, an evidence document): sealed bytes, whatever
# they open to (`cspr document --out` opens a document)
SEALED_TYPE = "application/vnd.cspr.sealed"
NONCURRENT_DAYS = 30  # how long a replaced version of an object is kept in the bucket's history


class ChecksumMismatch(RuntimeError):
    """What was read back is not what was stored."""


class RetentionError(RuntimeError):
    """The object is under retention and cannot be deleted yet."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str | None
    sha256: str
    size: int
    created: bool  # False when identical bytes were there already and nothing was written
    locked: bool = False  # retention applied by the store


class ObjectStore(Protocol):
    supports_retention: bool

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        retain_until: dt.date | None = None,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject: ...
    def get(self, key: str, *, sha256: str | None = None, version_id: str | None = None) -> bytes: ...
    def delete(self, key: str, version_id: str | None = None) -> None: ...
    def link(self, key: str, expires_in: int = 300) -> str: ...
    def exists(self, key: str) -> bool: ...
    def versions(self, key: str) -> list[str]: ...
    def keys(self, folder: str) -> list[str]: ...
    def describe(self) -> str: ...


def check_key(key: str) -> str:
    if not key or ".." in key or not KEY_PATTERN.match(key):
        raise ValueError(f"not a valid object key: {key[:80]!r} (letters, digits, '.', '_', '-' and '/' only)")
    return key


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify(data: bytes, sha256: str | None, key: str) -> bytes:
    if sha256 is not None and sha256_of(data) != sha256:
        raise ChecksumMismatch(f"{key} does not match the checksum recorded when it was stored")
    return data


def open_store(url: str | None = None) -> ObjectStore:
    # CSPR_STORAGE_URL and CSPR_S3_* are read afresh at each opening, as boto3 reads the AWS_* credentials: a store
    # is opened for each use, and tests point these variables elsewhere while the process runs
    url = url if url is not None else Settings().storage_url or ""
    if not url:
        return LocalStore(get_settings().resolved_home / "objects")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    if parsed.scheme == "s3":
        return S3Store(bucket=parsed.netloc, prefix=parsed.path.strip("/"))
    raise ValueError(f"CSPR_STORAGE_URL must be empty, file:///path or s3://bucket/prefix, not {url!r}")


class LocalStore:
    """A folder: each object a file, with a ``.meta.json`` beside it (checksum, type, retention)."""

    supports_retention = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"not a valid object key: {key[:80]!r}")
        return path

    def _meta(self, key: str) -> dict[str, Any]:
        meta = self._path(key).with_name(self._path(key).name + ".meta.json")
        return dict(json.loads(meta.read_text())) if meta.exists() else {}

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        retain_until: dt.date | None = None,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        path = self._path(key)
        digest = sha256_of(data)
        if path.exists() and self._meta(key).get("sha256") == digest:
            return StoredObject(key, None, digest, len(data), created=False, locked=retain_until is not None)
        self._check_retention(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, content in (
            (path, data),
            (
                path.with_name(path.name + ".meta.json"),
                json.dumps(
                    {
                        "sha256": digest,
                        "content_type": content_type,
                        "retain_until": retain_until.isoformat() if retain_until else None,
                        "metadata": metadata or {},
                    }
                ).encode(),
            ),
        ):
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(content)
            tmp.replace(target)  # atomic: a reader never sees half a document
        return StoredObject(key, None, digest, len(data), created=True, locked=retain_until is not None)

    def _check_retention(self, key: str) -> None:
        until = self._meta(key).get("retain_until")
        if until and dt.date.fromisoformat(until) >= dt.date.today():
            raise RetentionError(f"{key} must be kept until {until}; it cannot be deleted or replaced before then")

    def get(self, key: str, *, sha256: str | None = None, version_id: str | None = None) -> bytes:
        return _verify(self._path(key).read_bytes(), sha256, key)

    def delete(self, key: str, version_id: str | None = None) -> None:
        self._check_retention(key)
        path = self._path(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".meta.json").unlink(missing_ok=True)

    def link(self, key: str, expires_in: int = 300) -> str:
        return self._path(key).as_uri()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def versions(self, key: str) -> list[str]:
        return ["current"] if self.exists(key) else []

    def keys(self, folder: str) -> list[str]:
        """Every object's key under ``folder``, sorted."""
        path = self._path(folder)
        if not path.is_dir():
            return []
        return sorted(
            found.relative_to(self.root).as_posix()
            for found in path.rglob("*")
            if found.is_file() and not found.name.endswith((".meta.json", ".tmp"))
        )

    def describe(self) -> str:
        return f"the folder {self.root}"


def s3_client(endpoint: str | None, region: str) -> Any:
    """An S3 client from a session of its own (boto3's default session keeps the first credentials it ever read), which
    reads botocore's descriptions of S3 through the process's one loader (``_descriptions``)."""
    # boto3 and botocore ship no type information (their stubs are separate packages, not installed)
    import boto3  # type: ignore[import-untyped]
    import botocore.session  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    session = botocore.session.Session()
    session.register_component("data_loader", _descriptions())
    return boto3.session.Session(botocore_session=session).client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 3}),
    )


@lru_cache(maxsize=1)
def _descriptions() -> Any:
    """botocore's loader of its own JSON files (S3's API, its endpoints' rules), kept for the process: a new session
    would read and parse them again for every client, 0.13 CPU-s each here (a run's documents, the team set-up's
    burst: py-spy, 2026-12-07). It holds botocore's files only: no credentials, no settings."""
    from botocore.loaders import create_loader  # type: ignore[import-untyped]

    return create_loader()


def prepare() -> None:
    """Read botocore's descriptions of S3 once, as making a client does (it connects to nothing): what a process's
    first store pays. The warm process (cli/warm_runs.py) pays it for every run forked from it."""
    s3_client("http://127.0.0.1:9", "us-east-1")


class S3Store:
    """An S3 bucket (AWS, SeaweedFS, MinIO) with versioning, encryption and, where supported, Object Lock."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        if not bucket:
            raise ValueError("CSPR_STORAGE_URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix
        settings = Settings()  # afresh, like the credentials: see open_store
        self.endpoint = settings.s3_endpoint_url or None
        self.client: Any = s3_client(self.endpoint, settings.s3_region)
        self.supports_retention = self._prepare_bucket()

    def _prepare_bucket(self) -> bool:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # (no types: see __init__)

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        self.client.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.expires_old_versions = self._expire_old_versions()
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError:
            return False
        lock: dict[str, str] = config.get("ObjectLockConfiguration", {})
        return lock.get("ObjectLockEnabled") == "Enabled"

    def _expire_old_versions(self) -> bool:
        """A version replaced by a newer one is deleted after ``NONCURRENT_DAYS`` (locked ones only once their lock
        ends): an earlier draft of a restricted document does not outlive its retention in the bucket's history.
        False where the server has no lifecycle rules (the bucket is then kept as it was)."""
        from botocore.exceptions import ClientError

        rule = {
            "ID": "cspr-noncurrent-versions-expire",
            "Status": "Enabled",
            "Filter": {"Prefix": f"{self.prefix}/" if self.prefix else ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
        }
        try:
            self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration={"Rules": [rule]})
        except ClientError:
            return False
        return True

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _object(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        """The arguments that name one object (a given version of it, or the current one) in a boto3 call."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if version_id:
            args["VersionId"] = version_id
        return args

    def _head(self, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(**self._object(key, version_id))
        except ClientError:
            return None
        return head

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        retain_until: dt.date | None = None,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        digest = sha256_of(data)
        current = self._head(key)
        if current is not None and current.get("Metadata", {}).get("sha256") == digest:
            locked = bool(current.get("ObjectLockRetainUntilDate"))
            return StoredObject(key, current.get("VersionId"), digest, len(data), created=False, locked=locked)
        args: dict[str, Any] = {
            **self._object(key),
            "Body": data,
            "ContentType": content_type,
            "ServerSideEncryption": "AES256",
            "Metadata": {**(metadata or {}), "sha256": digest},
        }
        locked = retain_until is not None and self.supports_retention
        if locked and retain_until is not None:
            args["ObjectLockMode"] = "COMPLIANCE"
            args["ObjectLockRetainUntilDate"] = dt.datetime.combine(retain_until, dt.time(), tzinfo=dt.UTC)
        response = self.client.put_object(**args)
        return StoredObject(key, response.get("VersionId"), digest, len(data), created=True, locked=locked)

    def get(self, key: str, *, sha256: str | None = None, version_id: str | None = None) -> bytes:
        data: bytes = self.client.get_object(**self._object(key, version_id))["Body"].read()
        return _verify(data, sha256, key)

    def delete(self, key: str, version_id: str | None = None) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(**self._object(key, version_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"AccessDenied", "InvalidRequest", "ObjectLocked"}:
                raise RetentionError(f"{key} is under retention and cannot be deleted yet") from exc
            raise

    def link(self, key: str, expires_in: int = 300) -> str:
        url: str = self.client.generate_presigned_url("get_object", Params=self._object(key), ExpiresIn=expires_in)
        return url

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def versions(self, key: str) -> list[str]:
        full = self._key(key)
        listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=full)
        found = [v for v in listing.get("Versions", []) if v["Key"] == full]
        found.sort(key=lambda v: v["LastModified"], reverse=True)
        return [str(v["VersionId"]) for v in found]

    def keys(self, folder: str) -> list[str]:
        """Every object's key under ``folder``, sorted; an object hidden behind a delete marker too, since a delete
        without a version id only hides a locked object, and what it hid is still there to read."""
        full = self._key(folder) + "/"
        found: set[str] = set()
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=full):
            found.update(str(v["Key"]) for v in page.get("Versions", []))
        return sorted(key.removeprefix(f"{self.prefix}/" if self.prefix else "") for key in found)

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"
