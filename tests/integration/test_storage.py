"""Object storage against a real S3 server (SeaweedFS on loopback) and the local folder."""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tasks.storage import NONCURRENT_DAYS, ChecksumMismatch, ObjectStore, RetentionError, S3Store, open_store

KEY = "restricted/CSPR-2026-0001/final-report/v1.pdf"
NEXT_YEAR = dt.date.today() + dt.timedelta(days=366)


@pytest.fixture
def store(any_store: ObjectStore) -> ObjectStore:
    return any_store


def test_round_trip_with_checksum(store: ObjectStore) -> None:
    stored = store.put(KEY, b"%PDF-1.7 report", content_type="application/pdf")
    assert stored.created and len(stored.sha256) == 64
    assert store.get(KEY, sha256=stored.sha256) == b"%PDF-1.7 report"
    assert store.exists(KEY) and not store.exists("restricted/CSPR-2026-0001/none.pdf")


def test_a_retried_upload_makes_no_second_version(store: ObjectStore) -> None:
    first = store.put(KEY, b"version one", content_type="application/pdf")
    again = store.put(KEY, b"version one", content_type="application/pdf")
    assert not again.created and again.sha256 == first.sha256
    assert len(store.versions(KEY)) == 1


def test_s3_keeps_every_version(s3_endpoint: str) -> None:
    store = open_store(f"s3://cspr-{uuid.uuid4().hex[:10]}")  # the local folder keeps the current version only
    first = store.put(KEY, b"version one", content_type="application/pdf")
    store.put(KEY, b"version two", content_type="application/pdf")
    assert len(store.versions(KEY)) == 2
    assert store.get(KEY, version_id=first.version_id, sha256=first.sha256) == b"version one"


def test_a_changed_object_is_detected_on_read(store: ObjectStore, tmp_path: Path) -> None:
    stored = store.put(KEY, b"the approved report", content_type="application/pdf")
    if isinstance(store, S3Store):  # someone overwrites it behind the system's back
        store.client.put_object(Bucket=store.bucket, Key=store._key(KEY), Body=b"something else")
    else:
        (tmp_path / "objects" / KEY).write_bytes(b"something else")
    with pytest.raises(ChecksumMismatch, match="does not match the checksum"):
        store.get(KEY, sha256=stored.sha256)


def test_server_side_encryption_is_requested(s3_endpoint: str) -> None:
    store = open_store(f"s3://cspr-{uuid.uuid4().hex[:10]}")
    assert isinstance(store, S3Store)
    store.put(KEY, b"x", content_type="application/pdf")
    head = store.client.head_object(Bucket=store.bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"


def test_a_published_report_under_retention_cannot_be_deleted(store: ObjectStore) -> None:
    key = "published/CSPR-2026-0001/final-report.pdf"
    stored = store.put(key, b"published", content_type="application/pdf", retain_until=NEXT_YEAR)
    assert store.supports_retention and stored.locked
    with pytest.raises(RetentionError):
        store.delete(key, version_id=stored.version_id)
    assert store.get(key, sha256=stored.sha256) == b"published"
    if isinstance(store, S3Store):  # the server itself refuses, not only this code
        with pytest.raises(Exception, match=r"AccessDenied|locked|retention|Forbidden|InvalidRequest"):
            store.client.delete_object(Bucket=store.bucket, Key=store._key(key), VersionId=stored.version_id)


def test_an_expired_link_is_refused(s3_endpoint: str) -> None:
    store = open_store(f"s3://cspr-{uuid.uuid4().hex[:10]}")
    store.put(KEY, b"restricted", content_type="application/pdf")
    short = store.link(KEY, expires_in=1)
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(short)
    assert refused.value.code == 403
    with urllib.request.urlopen(store.link(KEY, expires_in=60)) as fresh:
        assert fresh.read() == b"restricted"


@pytest.mark.parametrize(
    "key", ["", "../etc/passwd", "/published/x.pdf", "published/Jane Smith.pdf", "published/x\\y.pdf", "a/../b"]
)
def test_keys_are_narrow(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a valid object key"):
        store.put(key, b"x", content_type="application/pdf")


def test_the_storage_url_is_checked() -> None:
    with pytest.raises(ValueError, match="CSPR_STORAGE_URL must be"):
        open_store("ftp://example/x")


def test_replaced_versions_expire_on_s3(s3_endpoint: str) -> None:
    """The bucket deletes a replaced version after NONCURRENT_DAYS: an old draft does not live on in its history."""
    store = open_store(f"s3://cspr-{uuid.uuid4().hex[:10]}/docs")
    assert isinstance(store, S3Store) and store.expires_old_versions
    rules = store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules] == [NONCURRENT_DAYS]
    assert rules[0]["Filter"]["Prefix"] == "docs/"
