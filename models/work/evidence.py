"""A document an action's owner gives as evidence that the action is done: what may be given, and its row.

The agency's contact may attach a document beside the evidence they type (the action's page, gate/tasks_app.py). It
is checked at the gate before anything is kept (``examine``): at most ``MAX_BYTES``, and of one of a few types, told
by its first bytes (and, for the zip-based ones, by the entries that name what the zip holds), never by its name
alone. The gate holds no key, so the checker stores it (cli/checker_commands.py, tasks/evidence.py): sealed under the
review's key, under an object key that carries the review's reference, the action's number and a random id, never a
name (``object_key``), with a row here whose file name is sealed under the review's key like other free text. The
answer handed to the action's run names the document by its row's id alone; recording the answer attaches it to the
action (``attach``). A document whose answer was refused or never recorded stays attached to nothing, and the deadline
sweep deletes it after ``UNATTACHED_FOR`` (``unattached_before``).

A name that does not match the content (a PNG named ``.pdf``) is accepted: the content decides what the document is,
and is what was checked; the name is the person's own (mail systems and scanners rename files), so it is kept, and a
download gets the extension of what the document is added (``download_name``) so that it opens in the right program.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from models.process.step import Refusal
from models.tables import Action, EvidenceDocument, Review

MB = 1024 * 1024
MAX_BYTES = 10 * MB  # the largest evidence document: a scanned letter or a long report, not a video
UNATTACHED_FOR = dt.timedelta(days=2)  # an upload whose answer was never recorded is deleted after this
MAX_NAME = 200  # characters of a file's name kept (a name longer is cut)
FIELD = "evidence_file"  # the page's file input
_ZIP_ENTRY_READ = 256 * 1024  # the most of a zip's directory entry read to tell its type (a bomb reads no further)
_TEXT_SNIFF = 64 * 1024  # plain text is told by its whole content; this much is enough to refuse most binaries early

ALLOWED = "The evidence document must be a PDF, Word, Excel, OpenDocument text, PNG, JPEG or plain text file"
EMPTY = "The evidence document is empty: choose the file again"


class Kind(StrEnum):
    """The types an evidence document may be, by their media type."""

    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ODT = "application/vnd.oasis.opendocument.text"
    TEXT = "text/plain"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Kind.PDF: "PDF",
    Kind.PNG: "PNG image",
    Kind.JPEG: "JPEG image",
    Kind.DOCX: "Word document",
    Kind.XLSX: "Excel workbook",
    Kind.ODT: "OpenDocument text",
    Kind.TEXT: "plain text",
}
EXTENSIONS = {  # the names each kind is known by: the first is the one a download is given when its name has none
    Kind.PDF: (".pdf",),
    Kind.PNG: (".png",),
    Kind.JPEG: (".jpg", ".jpeg", ".jpe"),
    Kind.DOCX: (".docx",),
    Kind.XLSX: (".xlsx",),
    Kind.ODT: (".odt",),
    Kind.TEXT: (".txt", ".text", ".csv", ".md", ".log"),
}
_OOXML_MAIN = {  # the main part's content type, as [Content_Types].xml declares it
    Kind.DOCX: b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    Kind.XLSX: b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}


class Unacceptable(ValueError):
    """A document that may not be given; ``str()`` says why, in words for the person."""


@dataclass(frozen=True)
class Examined:
    """A document that may be given: its bytes, its type, and its name as it is shown."""

    name: str
    kind: Kind
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def shown_size(size: int) -> str:
    """A size as people read it: "12.4 MB", "320 KB", "96 bytes" (rounded up: 10 MB and a byte is "10.1 MB")."""
    if size >= MB:
        return f"{math.ceil(size * 10 / MB) / 10:.1f} MB"
    if size >= 1024:
        return f"{math.ceil(size / 1024)} KB"
    return f"{size} byte{'' if size == 1 else 's'}"


def too_large(size: int) -> str:
    largest = f"{MAX_BYTES // MB} MB"
    return f"The evidence document is too large: it is {shown_size(size)}, and the largest allowed is {largest}"


def examine(name: str, data: bytes) -> Examined:
    """The document, if it may be given: not empty, at most ``MAX_BYTES``, and of an allowed type by its content;
    else Unacceptable, saying why."""
    if not data:
        raise Unacceptable(EMPTY)
    if len(data) > MAX_BYTES:
        raise Unacceptable(too_large(len(data)))
    kind = kind_of(data)
    if kind is None:
        raise Unacceptable(ALLOWED)
    return Examined(shown_name(name), kind, data)


def kind_of(data: bytes) -> Kind | None:
    """What the document is, by its first bytes (and a zip's entries); None: none of the kinds allowed."""
    if data.startswith(b"%PDF-"):
        return Kind.PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return Kind.TEXT if _is_text(data) else None


def _zip_kind(data: bytes) -> Kind | None:
    """A Word, Excel or OpenDocument text file: a zip whose entries say so (OpenDocument: its first entry,
    ``mimetype``, stored, holds the type; Office: ``[Content_Types].xml`` declares the main part's type). Any other
    zip, or a broken one, is none of them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if not entries:
                return None
            first = entries[0]
            if first.filename == "mimetype" and first.file_size <= _ZIP_ENTRY_READ:
                said = archive.read(first).strip()
                return Kind.ODT if said == Kind.ODT.value.encode() else None
            types = next((e for e in entries if e.filename == "[Content_Types].xml"), None)
            if types is None or types.file_size > _ZIP_ENTRY_READ:
                return None
            declared = archive.read(types)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError):
        return None
    return next((kind for kind, main in _OOXML_MAIN.items() if main in declared), None)


def _is_text(data: bytes) -> bool:
    """Plain text: UTF-8 (a byte-order mark allowed), with no control characters but tabs, line and page breaks."""
    if b"\x00" in data[:_TEXT_SNIFF]:
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def shown_name(given: str) -> str:
    """A file's name as the page shows it: its last part only (a browser may send a whole path), with no control or
    formatting characters (a right-to-left override would disguise its extension), spaces collapsed, at most
    ``MAX_NAME`` characters; "evidence" if nothing is left."""
    last = given.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(" " if c.isspace() else "" if unicodedata.category(c) in ("Cc", "Cf") else c for c in last)
    name = " ".join(kept.split()).strip(" .")
    return name[:MAX_NAME] or "evidence"


def download_name(name: str, kind: Kind) -> str:
    """The name a download is given: the name as shown, with the extension of what the document is added when its
    own does not say so (so that it opens in the program for it)."""
    return name if name.lower().endswith(EXTENSIONS[kind]) else name + EXTENSIONS[kind][0]


# --- the rows ---------------------------------------------------------------------------------------------------------


def object_key(reference: str, action_number: int, document_id: uuid.UUID) -> str:
    """Where the document is kept: the review's reference, the action's number and the row's random id; never a name."""
    return f"evidence/{reference}/action-{action_number}/{document_id}"


def new_document(
    review: Review,
    action_number: int,
    given: Examined,
    sha256: str,
    uploaded_by: uuid.UUID,
    at: dt.datetime,
    document_id: uuid.UUID,
) -> EvidenceDocument:
    """The row of a document being given for action ``action_number``, attached to nothing yet; its name is sealed
    (by the ORM, models/sealing.py) as it is stored."""
    return EvidenceDocument(
        id=document_id,
        review_id=review.id,
        action_number=action_number,
        object_key=object_key(review.reference, action_number, document_id),
        sha256=sha256,
        size_bytes=given.size,
        media_type=given.kind.value,
        name=given.name,
        uploaded_by=uploaded_by,
        uploaded_at=at,
    )


def attach(session: Session, review: Review, row: Action, given: str, at: dt.datetime) -> EvidenceDocument:
    """The document ``given`` (its row's id, from the answer) attached to the action as its evidence; Refusal when it
    is not a document given for this very action of this review, or it is attached already."""
    try:
        document = session.get(EvidenceDocument, uuid.UUID(given))
    except ValueError:
        document = None
    if document is None or document.review_id != review.id or document.action_number != row.number:
        raise Refusal(
            f"the evidence document given is not one uploaded for action {row.number}: choose the file again and send "
            "the update"
        )
    if document.action_id is not None:
        raise Refusal("the evidence document given is attached already: choose the file again and send the update")
    document.action_id, document.attached_at = row.id, at
    row.evidence_key = document.object_key
    session.add(document)
    return document


def evidence_of(session: Session, row: Action) -> EvidenceDocument | None:
    """The document the action's latest evidence names; None: it has none."""
    if row.evidence_key is None:
        return None
    return session.exec(
        select(EvidenceDocument).where(
            EvidenceDocument.object_key == row.evidence_key, EvidenceDocument.action_id == row.id
        )
    ).first()


def of_review(session: Session, review_id: uuid.UUID) -> list[EvidenceDocument]:
    """Every document given for the review's actions, attached or not."""
    return list(
        session.exec(
            select(EvidenceDocument)
            .where(EvidenceDocument.review_id == review_id)
            .order_by(col(EvidenceDocument.uploaded_at))
        )
    )


def unattached_before(session: Session, cutoff: dt.datetime) -> list[EvidenceDocument]:
    """The documents attached to nothing that were uploaded before ``cutoff``: their answer was refused or never
    recorded, and nobody will come back to them."""
    return list(
        session.exec(
            select(EvidenceDocument).where(
                col(EvidenceDocument.action_id).is_(None), col(EvidenceDocument.uploaded_at) < cutoff
            )
        )
    )
