"""What an evidence document may be (models/work/evidence.py), how the gate reads a page sent with one
(gate/evidence.py), and the progress form's rule with a document (models/work/forms.py)."""

from __future__ import annotations

import io
import uuid
import zipfile

import pydantic
import pytest

from gate.evidence import download_headers, is_multipart, read_multipart
from models.work import evidence
from models.work.evidence import Kind, Unacceptable, download_name, examine, kind_of, shown_name, shown_size
from models.work.forms import ActionAnswer, ActionProgress, ActionProgressWithDocument


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    held = io.BytesIO()
    with zipfile.ZipFile(held, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return held.getvalue()


OOXML = b'<Types><Override PartName="/x" ContentType="application/vnd.openxmlformats-officedocument.%s.main+xml"/>'
DOCX = zipped([("[Content_Types].xml", OOXML % b"wordprocessingml.document"), ("word/document.xml", b"<w/>")])
XLSX = zipped([("[Content_Types].xml", OOXML % b"spreadsheetml.sheet"), ("xl/workbook.xml", b"<x/>")])
ODT = zipped([("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<o/>")])
ODS = zipped([("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", b"<o/>")])


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n", Kind.PDF),
        (b"\x89PNG\r\n\x1a\n\x00\x00", Kind.PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", Kind.JPEG),
        (DOCX, Kind.DOCX),
        (XLSX, Kind.XLSX),
        (ODT, Kind.ODT),
        ("Minutes: checks agreed.\r\n\tÉcole primaire.\n".encode(), Kind.TEXT),
        (b"\xef\xbb\xbfWith a byte-order mark", Kind.TEXT),
        (b"MZ\x90\x00\x03\x00", None),  # a Windows program
        (b"\x7fELF\x02\x01", None),
        (zipped([("a.txt", b"hello")]), None),  # a zip, but no Office or OpenDocument file
        (ODS, None),  # an OpenDocument spreadsheet: not among those allowed
        (b"PK\x03\x04broken", None),
        (b"text with a bell \x07 in it", None),
        (b"\xff\xfe\x00latin", None),
    ],
)
def test_a_document_is_told_by_its_content(data: bytes, kind: Kind | None) -> None:
    assert kind_of(data) is kind


def test_what_may_not_be_given_is_refused_in_words() -> None:
    with pytest.raises(Unacceptable, match=r"^The evidence document is empty"):
        examine("a.pdf", b"")
    with pytest.raises(Unacceptable) as too_large:
        examine("a.pdf", b"%PDF-" + bytes(13_000_000))
    assert str(too_large.value) == (
        "The evidence document is too large: it is 12.4 MB, and the largest allowed is 10 MB"
    )
    with pytest.raises(Unacceptable) as wrong:
        examine("report.pdf", b"MZ\x90\x00")
    assert str(wrong.value) == (
        "The evidence document must be a PDF, Word, Excel, OpenDocument text, PNG, JPEG or plain text file"
    )
    assert examine("a.pdf", b"%PDF-" + bytes(evidence.MAX_BYTES - 5)).size == evidence.MAX_BYTES  # the largest: taken


def test_a_name_is_cleaned_for_the_page_and_a_download_named_for_what_it_is() -> None:
    assert shown_name("C:\\Users\\lee\\Desktop\\report.pdf") == "report.pdf"
    assert shown_name("../../etc/passwd") == "passwd"
    assert shown_name("minutes\x07 of the\u202e meeting\r\n.txt") == "minutes of the meeting .txt"
    assert shown_name("  ") == "evidence" and len(shown_name("x" * 500)) == evidence.MAX_NAME
    assert download_name("scan.pdf", Kind.PNG) == "scan.pdf.png"
    assert download_name("photo.JPEG", Kind.JPEG) == "photo.JPEG"
    assert (shown_size(96), shown_size(2048), shown_size(evidence.MAX_BYTES + 1)) == ("96 bytes", "2 KB", "10.1 MB")


def test_a_page_sent_with_a_file_is_read_as_a_browser_sends_it() -> None:
    boundary = "----cspr"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="status"\r\n\r\ndone\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="evidence"\r\n\r\nLine one\r\nLine two\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="evidence_file"; filename="Écrit %22A%22.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + b"%PDF-1.4\r\n--not the boundary\r\n\x00\xff"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    assert is_multipart(content_type) and not is_multipart("application/x-www-form-urlencoded")
    fields, files = read_multipart(body, content_type, max_fields=100)
    assert fields == {"status": ["done"], "evidence": ["Line one\r\nLine two"]}
    upload = files["evidence_file"]
    assert upload.name == "Écrit %22A%22.pdf" and upload.data == b"%PDF-1.4\r\n--not the boundary\r\n\x00\xff"
    assert read_multipart(b"garbage", "multipart/form-data", max_fields=100) == ({}, {})


def test_a_download_is_an_attachment_under_a_safe_name() -> None:
    headers = dict(download_headers('Rapport "final"; été.pdf', "application/pdf"))
    assert headers["content-disposition"] == (
        'attachment; filename="Rapport _final__ _t_.pdf"; '
        "filename*=UTF-8''Rapport%20%22final%22%3B%20%C3%A9t%C3%A9.pdf"
    )


def test_done_needs_evidence_typed_or_a_document_and_a_document_only_when_done() -> None:
    with pytest.raises(pydantic.ValidationError, match="type it, or attach a document"):
        ActionProgress.model_validate({"status": "done"})
    assert ActionProgressWithDocument.model_validate({"status": "done"}).evidence == ""
    with pytest.raises(pydantic.ValidationError, match="only when the action is done"):
        ActionProgressWithDocument.model_validate({"status": "in progress"})
    document = str(uuid.uuid4())
    assert ActionAnswer.model_validate({"what": "progress", "status": "done", "evidence_document": document})
    for bad in ("report.pdf", "../x", document.upper()):  # an id, never a name
        with pytest.raises(pydantic.ValidationError):
            ActionAnswer.model_validate({"what": "progress", "status": "done", "evidence_document": bad})
    with pytest.raises(pydantic.ValidationError, match="not the partnership's decision"):
        ActionAnswer.model_validate({"what": "review", "verdict": "accept", "evidence_document": document})
