"""An action's evidence document (models/work/evidence.py), through the running system as test_item_pages.py drives it:
the real server's gate, the real checker (`cspr checker`, which alone seals, stores and opens the document) and the
object store it uses (the project's folder, as `cspr up` runs it), each person signed in over HTTP.

- A PDF given with "done" is stored sealed (its bytes nowhere in the clear), attached to the action when the action's
  run records the answer, noted in the review's history by id, size and type, listed on the action's page and
  downloaded by whoever may see the page: the coordinator, a partner, the agency's contact; not another agency's
  contact nor the Panel, who are told there is no such page, as for one that does not exist.
- A document that may not be given (too large, an .exe named .pdf, empty, a zip that is no Office document, given
  with anything but "done") is refused at the gate, in the error summary linked to the file input, and nothing is
  stored: no object, no row, the action unchanged. One whose name does not say what it is (a PNG named .pdf) is
  accepted by what it is, and downloaded under its name with the right extension added; a name with a path and
  control characters is accepted and shown cleaned.
- A child's name in the file's name and in its content is in no object key, nowhere in Prefect, the logs or the
  project's files in the clear: the name is sealed in the database.
"""

from __future__ import annotations

import html
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import Session, select

from cli.system import LocalSystem
from models import identity, sealing
from models.answer_check import CHECK_RUN_ID, EVIDENCE_OPEN_RUN_ID, EVIDENCE_RUN_ID, SHOW_RUN_ID
from models.db import get_engine
from models.identity import Identity
from models.review import transitions
from models.review.lookup import review_by_reference
from models.review.transitions import Noted
from models.roles import Role
from models.settings import get_settings
from models.system_credentials import gate_key
from models.tables import ActionStatus, EvidenceDocument, utcnow
from models.work import evidence
from models.work.forms import ONLY_WHEN_DONE
from models.work.items import ItemKind, ItemRef, item_key
from tasks.storage import LocalStore, sha256_of
from tests.integration.test_item_pages import (
    FORM_KEY,
    FORM_TOKEN,
    SCHOOL,
    At,
    People,
    accepted,
    action_row,
    item_run,
    notified,
    nowhere_in_prefect,
    path_of,
    people,  # noqa: F401  (the fixture: the coordinator, the police, the school's and the surgery's contacts)
    recorded,
    visible,
    with_actions,
)
from tests.utils.signin import register, signed_in

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n(Weekly list of missed appointments, first sent.)\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
PLANTED = "Invented Childname"  # an invented child's name: in a file's name and in its content


def store() -> LocalStore:
    """The object store the checker uses: the project's folder under this session's CSPR_HOME."""
    return LocalStore(get_settings().resolved_home / "objects")


def stored_keys() -> list[str]:
    return store().keys("evidence")


def document_rows() -> int:
    with Session(get_engine()) as session:
        return len(session.exec(select(EvidenceDocument)).all())


@pytest.fixture(scope="module")
def panel(deployed: LocalSystem) -> Iterator[At]:
    browser = signed_in(deployed.ui_url, register(Role.PANEL))
    yield At(browser)
    browser.close()


def send(
    at: At, path: str, fields: dict[str, str], file: tuple[str, bytes] | None, action: str = "submit"
) -> httpx.Response:
    """The action's page sent back as a browser sends it with a file chosen: multipart/form-data."""
    page = at.get(path)
    assert page.status_code == 200, visible(page)[:500]
    assert 'enctype="multipart/form-data"' in page.text and f'name="{evidence.FIELD}" type="file"' in page.text
    token, key = FORM_TOKEN.search(page.text), FORM_KEY.search(page.text)
    assert token and key
    data = {**fields, "form_token": html.unescape(token.group(1)), "form_key": key.group(1), "action": action}
    name, content = file if file is not None else ("", b"")
    boundary = f"----cspr-test-{uuid.uuid4().hex}"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
        for field, value in data.items()
    )
    # the file's name as a browser writes it (the HTML standard: only '"', CR and LF escaped), in UTF-8
    escaped = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{evidence.FIELD}"; filename="{escaped}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return at.browser.http.post(path, content=body, headers=headers)


def review_id_of(reference: str) -> uuid.UUID:
    with Session(get_engine()) as session:
        return review_by_reference(session, reference).id


def document_of(reference: str, number: int) -> EvidenceDocument:
    with Session(get_engine()) as session:
        row = action_row(reference, number)
        found = session.exec(select(EvidenceDocument).where(EvidenceDocument.action_id == row.id)).one()
        session.expunge(found)
        return found


# --- given, stored sealed, attached and downloaded -----------------------------------------------------------------


def test_a_pdf_given_with_done_is_stored_sealed_attached_noted_and_downloaded_by_those_who_see_the_action(
    people: People,  # noqa: F811
    panel: At,
) -> None:
    reference, _ = notified("Child Evidenced", ())
    (first,) = with_actions(reference, SCHOOL)
    path = path_of(reference, ItemKind.ACTION, first.number)
    objects, rows = stored_keys(), document_rows()

    accepted(send(people.school, path, {"status": "done", "evidence": ""}, ("weekly-list.pdf", PDF)))
    (key,) = set(stored_keys()) - set(objects)
    assert re.fullmatch(rf"evidence/{reference}/action-{first.number}/[0-9a-f-]{{36}}", key)
    sealed = store().get(key)
    assert sealing.is_sealed_document(sealed) and b"Weekly list" not in sealed and b"%PDF" not in sealed
    assert document_rows() == rows + 1
    recorded(reference, first)

    row = action_row(reference, first.number)
    assert row.status is ActionStatus.DONE and row.evidence_key == key
    document = document_of(reference, first.number)
    assert (document.object_key, document.media_type, document.size_bytes) == (key, "application/pdf", len(PDF))
    assert document.attached_at is not None
    with Session(get_engine()) as session:
        last = transitions.history(session, review_id_of(reference))[-1]
    assert last.transition == Noted.ACTION
    assert last.details["evidence_document"] == str(document.id)
    assert (last.details["size_bytes"], last.details["media_type"]) == (len(PDF), "application/pdf")
    assert "weekly-list" not in str(last.details)

    page = people.school.get(path)
    shown = visible(page)
    assert f"Evidence document: weekly-list.pdf (PDF, {evidence.shown_size(len(PDF))})" in shown
    assert f'href="{path}/evidence"' in page.text
    for who in (people.school, people.coordinator, people.police):
        got = who.get(f"{path}/evidence")
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == (
            "attachment; filename=\"weekly-list.pdf\"; filename*=UTF-8''weekly-list.pdf"
        )
        assert got.headers["x-content-type-options"] == "nosniff" and got.headers["cache-control"] == "no-store"
    for nobody in (people.surgery, panel):
        nothing = nobody.get(path_of(reference, ItemKind.ACTION, 99) + "/evidence")
        assert nothing.status_code == 404
        refused = nobody.get(f"{path}/evidence")
        assert refused.status_code == 404 and visible(refused) == visible(nothing)
        assert b"Weekly list" not in refused.content


def test_a_document_named_for_another_type_is_taken_for_what_it_is_and_a_name_is_cleaned(people: People) -> None:  # noqa: F811
    reference, _ = notified("Child Renamed", ())
    first, second = with_actions(reference, SCHOOL, SCHOOL)
    path = path_of(reference, ItemKind.ACTION, first.number)
    accepted(send(people.school, path, {"status": "done", "evidence": "The scan."}, ("scan.pdf", PNG)))
    recorded(reference, first)
    assert document_of(reference, first.number).media_type == "image/png"
    got = people.coordinator.get(f"{path}/evidence")
    assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
    assert 'filename="scan.pdf.png"' in got.headers["content-disposition"]  # opens in the program for what it is

    other = path_of(reference, ItemKind.ACTION, second.number)
    tricky = "C:\\Users\\lee\\My docs/..\\minutes\x07 of the\u202e meeting.txt"
    minutes = b"Minutes: checks agreed.\n"
    accepted(send(people.school, other, {"status": "done"}, (tricky, minutes)))
    recorded(reference, second)
    shown = visible(people.school.get(other))
    assert f"Evidence document: minutes of the meeting.txt (plain text, {len(minutes)} bytes)" in shown
    got = people.school.get(f"{other}/evidence")
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert 'filename="minutes of the meeting.txt"' in got.headers["content-disposition"]


# --- bad input: refused at the gate, nothing stored -----------------------------------------------------------------


@dataclass(frozen=True)
class AnAction:
    reference: str
    ref: ItemRef
    path: str


@pytest.fixture(scope="module")
def an_action(people: People) -> AnAction:  # noqa: F811
    reference, _ = notified("Child Refused Evidence", ())
    (first,) = with_actions(reference, SCHOOL)
    return AnAction(reference, first, path_of(reference, ItemKind.ACTION, first.number))


def _zip(entries: dict[str, bytes]) -> bytes:
    held = io.BytesIO()
    with zipfile.ZipFile(held, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return held.getvalue()


OVER = evidence.MAX_BYTES + 1
BAD_DOCUMENTS: list[tuple[str, dict[str, str], tuple[str, bytes], str]] = [
    (
        "too large",
        {"status": "done"},
        ("big.pdf", b"%PDF-1.4\n" + bytes(OVER - 9)),
        "The evidence document is too large: it is 10.1 MB, and the largest allowed is 10 MB",
    ),
    ("an exe named .pdf", {"status": "done"}, ("report.pdf", b"MZ\x90\x00\x03" + bytes(200)), evidence.ALLOWED),
    ("empty", {"status": "done", "evidence": "Done."}, ("report.pdf", b""), evidence.EMPTY),
    ("a zip named .docx", {"status": "done"}, ("report.docx", _zip({"a.txt": b"hello"})), evidence.ALLOWED),
    ("not done", {"status": "in progress"}, ("report.pdf", PDF), ONLY_WHEN_DONE),
]


@pytest.mark.parametrize(("label", "fields", "file", "message"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_a_document_that_may_not_be_given_is_refused_at_the_gate_and_nothing_is_stored(
    people: People,  # noqa: F811
    an_action: AnAction,
    label: str,
    fields: dict[str, str],
    file: tuple[str, bytes],
    message: str,
) -> None:
    before, run = action_row(an_action.reference, an_action.ref.number), item_run(an_action.reference, an_action.ref)
    objects, rows = stored_keys(), document_rows()
    refused = send(people.school, an_action.path, fields, file)
    assert refused.status_code == 400, visible(refused)[:800]
    assert 'class="govuk-error-summary' in refused.text
    assert f'<a href="#{evidence.FIELD}">{html.escape(message)}</a>' in refused.text
    assert "govuk-file-upload--error" in refused.text
    assert (stored_keys(), document_rows()) == (objects, rows)
    after = action_row(an_action.reference, an_action.ref.number)
    assert (after.status, after.answer_seq, after.evidence_key) == (before.status, before.answer_seq, None)
    again = item_run(an_action.reference, an_action.ref)
    assert again.state is not None and again.state.is_paused() and again.state_id == run.state_id  # not resumed


def test_a_page_too_large_for_even_a_document_is_refused_before_it_is_read(
    people: People,  # noqa: F811
    an_action: AnAction,
) -> None:
    objects, rows = stored_keys(), document_rows()
    refused = send(people.school, an_action.path, {"status": "done"}, ("huge.pdf", b"%PDF-" + bytes(21 * evidence.MB)))
    assert refused.status_code == 413 and "The evidence document is too large" in visible(refused)
    assert "largest document allowed is 10 MB" in visible(refused)
    assert (stored_keys(), document_rows()) == (objects, rows)
    # the room for a document is the action's page's alone: any other page may still send 1 MB
    two_mb = {"form_token": "x", "evidence": "x" * (2 * evidence.MB)}
    for elsewhere in (path_of(an_action.reference, ItemKind.REQUEST, 1), "/tasks/notification/x", "/"):
        other = people.school.browser.http.post(elsewhere, data=two_mb)
        assert other.status_code == 413 and "at most 1 MB" in visible(other)


# --- a child's name in the file's name and content ------------------------------------------------------------------


def test_a_childs_name_in_a_documents_name_and_content_is_sealed_and_nowhere_else(people: People) -> None:  # noqa: F811
    reference, _ = notified("Child Named File", ())
    (first,) = with_actions(reference, SCHOOL)
    path = path_of(reference, ItemKind.ACTION, first.number)
    content = PDF + f"(Seen with {PLANTED} on 2 October.)\n".encode()
    given = {"status": "done", "evidence": "See the report."}
    accepted(send(people.school, path, given, ("Invented-Childname-report.pdf", content)))
    recorded(reference, first)
    document = document_of(reference, first.number)
    words = [PLANTED, "Childname"]
    assert all(word.lower() not in document.object_key.lower() for word in words)
    assert all("childname" not in key.lower() for key in stored_keys())
    assert document.name == "Invented-Childname-report.pdf"  # opened by the ORM, which holds the key here
    with Session(get_engine()) as session:  # at rest, sealed (a column read alone is not opened)
        stored = session.exec(select(EvidenceDocument.name).where(EvidenceDocument.id == document.id)).one()
    assert stored.startswith(sealing.PREFIX) and "Childname" not in stored
    assert "Invented-Childname-report.pdf" in visible(people.school.get(path))  # opened for the page alone
    assert nowhere_in_prefect(words) == []  # Prefect's database and files, the logs, the project's files


# --- the checker's doors: a token for one purpose opens no other ----------------------------------------------------


def test_a_token_signed_for_one_purpose_stores_or_opens_nothing_else(
    deployed: LocalSystem, an_action: AnAction
) -> None:
    someone = Identity(str(uuid.uuid4()), "Someone", Role.AGENCY_CONTACT.value, "password")
    reference, item, now = an_action.reference, str(an_action.ref), utcnow()
    key = item_key(an_action.ref, action_row(reference, an_action.ref.number).answer_seq)
    asked = {"reference": reference, "item": item, "key": key, "data": {"what": "progress", "status": "done"}}
    asked |= {"name": "report.pdf", "sha256": sha256_of(PDF)}
    objects, rows = stored_keys(), document_rows()

    def post(url: str, body: bytes | dict[str, object]) -> httpx.Response:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(deployed.checker_socket)), timeout=30) as client:
            if isinstance(body, bytes):
                return client.post(f"http://checker{url}", content=body)
            return client.post(f"http://checker{url}", json=body)

    def sign(purpose: str, form_key: str, digest: str) -> str:
        return identity.sign(gate_key(), someone, run_id=purpose, form_key=form_key, at=now, answer=digest)

    stored_digest = identity.answer_digest(asked)
    for purpose in (CHECK_RUN_ID, SHOW_RUN_ID, EVIDENCE_OPEN_RUN_ID):  # only an evidence token stores a document
        head = json.dumps({**asked, "token": sign(purpose, key, stored_digest)}).encode()
        assert post("/evidence", head + b"\n" + PDF).status_code == 403
    head = json.dumps({**asked, "token": sign(EVIDENCE_RUN_ID, key, stored_digest)}).encode()
    assert post("/evidence", head + b"\n" + PDF + b" ").status_code == 400  # not the document the token names
    shown_digest = identity.answer_digest(reference)
    for purpose in (CHECK_RUN_ID, SHOW_RUN_ID, EVIDENCE_RUN_ID):  # only an opening token opens one
        opened = post(
            "/evidence/open", {"reference": reference, "item": item, "token": sign(purpose, item, shown_digest)}
        )
        assert opened.status_code == 403
    evidence_token = sign(EVIDENCE_OPEN_RUN_ID, item, shown_digest)  # and an opening token shows no item
    assert post("/show", {"reference": reference, "item": item, "token": evidence_token}).status_code == 403
    assert (stored_keys(), document_rows()) == (objects, rows)
