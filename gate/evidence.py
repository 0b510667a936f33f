"""The gate's part in an action's evidence document (models/work/evidence.py): reading a page posted with a file
(``multipart/form-data``, the one page that sends one), and the headers of the document's download.

The gate reads the whole body within its limit (gate/tasks_app.py ``body_limit``: room for one document of the
largest size allowed, on that page alone), so a simple reading is enough: the body split at its boundary, each part's
headers read by the standard library's email parser (which knows RFC 2231's encoded names). The file's name is
personal data as likely as anything typed (it may hold a child's name): it is never logged, and goes to the checker
alone, which seals it.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from email.message import Message

MULTIPART = "multipart/form-data"
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)


@dataclass(frozen=True)
class Upload:
    """A file posted with a page: its name as the browser gave it, and its bytes (empty: no file was chosen)."""

    name: str
    data: bytes


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == MULTIPART


def read_multipart(
    body: bytes, content_type: str, *, max_fields: int
) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    """The fields of a page posted as ``multipart/form-data`` (each name with every value sent under it, as a
    urlencoded page is read), and its files, by field name (the first of each). A body that cannot be read is read as
    nothing: the page then refuses it as it refuses a page with nothing typed."""
    found = _BOUNDARY.search(content_type)
    fields: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    if found is None:
        return fields, files
    delimiter = b"\r\n--" + found[1].encode("latin-1")
    parts = (b"\r\n" + body).split(delimiter)
    for part in parts[1 : max_fields + 1]:  # before the first delimiter: the preamble; after the last: "--"
        if part.startswith(b"--"):
            break
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = _headers(head)
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        filename = headers.get_filename()
        if filename is not None:
            files.setdefault(name, Upload(_as_utf8(filename), content))
            continue
        try:
            fields.setdefault(name, []).append(content.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return fields, files


def _headers(head: bytes) -> Message:
    """A part's headers. Browsers send a file's name as UTF-8 bytes in quotes; read as Latin-1 here (every byte a
    character), they are made UTF-8 again by ``_as_utf8``."""
    message = Message()
    for line in head.decode("latin-1").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon and key.strip():
            message[key.strip()] = value.strip()
    return message


def _as_utf8(name: str) -> str:
    try:
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name  # an RFC 2231 name, decoded already, or not UTF-8: as it is


def download_headers(name: str, media_type: str) -> list[tuple[str, str]]:
    """The headers of a document's download: saved, never shown in the page (``attachment``), under its name (an ASCII
    one for old browsers, and the name itself encoded as RFC 5987 says), of its own type, never sniffed, never kept
    by a cache (the gate's pages add ``nosniff`` and ``no-store`` to everything they answer: gate/asgi.py)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_" for c in name) or "evidence"
    encoded = urllib.parse.quote(name, safe="")
    return [
        ("content-disposition", f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"),
        ("content-security-policy", "default-src 'none'; sandbox"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ]
