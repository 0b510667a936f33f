"""``cspr checker``: the process that tells the gate, on Submit, what the lifecycle would say to an answer.

Why a process of its own: the lifecycle's checks (models/answer_check.py) run the step's handler, which signs the
review's audit head and seals free text, so they need the keys a worker holds; the gate's process must hold none of
them (cli/system.py ``SERVER_NEVER_HOLDS``). The checker is started with the workers' environment (``cspr up``) and
listens on a Unix socket in an owner-only folder (``CSPR_CHECKER_SOCKET``), so nothing on the network reaches it, and
it answers only a request whose token the gate signed (models/identity.py) for that very form and answer.

Four routes. ``POST /check`` with ``{"reference", "key", "data", "token"}`` (and ``"item"``, "request-2", for an answer
to an item of the work around a review): 200 and ``{"accepted", "message"}`` with the lifecycle's (or the item run's)
verdict. ``POST /show`` with ``{"reference", "item", "token"}``: 200 and ``{"lines"}``, the item whole as its page shows
it, sealed words opened, for a person who may see it; 404 for anyone else, or no such item (not told apart).

And two for an action's evidence document (models/work/evidence.py, tasks/evidence.py), since the gate holds no key
to seal or open one. ``POST /evidence``, its body the request as JSON (``reference``, ``item``, ``key``, ``data``,
``name``, ``sha256``, ``token``), a line break, then the document: the document checked again, then the answer with
it (as ``/check`` checks one), and only if that is accepted, the document sealed and stored; 200 and ``{"accepted",
"message", "document"}`` (the stored document's id, or ""). ``POST /evidence/open`` with ``{"reference", "item",
"token"}``: 200 and the document's bytes for a person who may see the action, 404 for anyone else or none.

All: 400 for a request it cannot read, 403 for a token that is not the gate's (a token is signed for one purpose: a
check's never shows an item, stores or opens a document), 413 for a body larger than any the gate passes. The
process stays warm: the project's modules are imported, and the engine (one for the process) connected, before the
socket is made; each check runs in a thread of a small pool.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import stat
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cli.common import fail, stop_on_sigterm
from cli.processes import listens_on

if TYPE_CHECKING:
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from models.answers import Outcome
    from models.identity import Identity

    Check = Callable[[str, str, dict[str, Any], Identity], Outcome]
    CheckItem = Callable[[str, str, str, dict[str, Any], Identity], Outcome]  # reference, item, key, data, person
    Show = Callable[[str, str, Identity], list[str] | None]  # reference, item, person: None when not theirs
    # reference, item, key, data, the file's name and bytes, person: the verdict, and the document's id if stored
    StoreEvidence = Callable[[str, str, str, dict[str, Any], str, bytes, Identity], tuple[Outcome, str]]
    OpenEvidence = Callable[[str, str, Identity], "Opened | None"]  # reference, item, person: None when not theirs

log = logging.getLogger("cspr.checker")
T = TypeVar("T")

TOKEN_AGE = dt.timedelta(minutes=2)  # the gate signs each request as it sends it: an older token is a replay
# the gate refuses a page over 1 MB but an action's (gate/tasks_app.py body_limit): an answer, with its token, stays
# well under this; /evidence's body has the document besides (MAX_BYTES more)
MAX_REQUEST = 4 * 1024 * 1024
THREADS = 4  # checks at once: on SQLite they queue for the write lock anyway; on PostgreSQL a few run side by side
BACKLOG = 64
SUN_PATH_MAX = 107  # a Unix socket's path, in bytes (108 with its terminating NUL)


def checker_command(
    socket_path: Annotated[
        Path | None,
        typer.Option("--socket", help="The Unix socket to listen on (default: CSPR_CHECKER_SOCKET)."),
    ] = None,
) -> None:
    """Run the checker: the lifecycle's own checks of an answer, for the gate, before it passes the answer on.

    `cspr up` starts it with the workers' settings; it holds the keys the workers hold. Stops on Ctrl-C or SIGTERM.
    """
    import uvicorn

    from models.settings import get_settings
    from models.system_credentials import gate_key

    path = socket_path.expanduser().resolve() if socket_path else get_settings().resolved_checker_socket
    _log_to_stderr()
    stop_on_sigterm()  # uvicorn hands SIGTERM back once it has stopped: the socket is then removed below
    warm_up()
    listener = listen_on(path)
    made = os.stat(path)
    log.info("the checker is listening on %s", path)
    try:
        uvicorn.run(checker_app(gate_key(), run_check), fd=listener.fileno(), access_log=False, log_level="warning")
    finally:
        listener.close()
        if _same_file(path, made):  # not one a checker started since has made
            path.unlink()


def run_check(reference: str, key: str, data: dict[str, Any], person: Identity) -> Outcome:
    """The check as the lifecycle makes it when the answer arrives (flows/review_lifecycle.py): the redaction gate
    first, outside the database (it renders what would be published), then ``apply_answer``, undone
    (models/answer_check.py). The stage is the one the form's key names, as the lifecycle passes the stage it asked."""
    from sqlmodel import Session

    from models.answer_check import check_answer
    from models.answers import Outcome
    from models.db import get_engine
    from models.review.lookup import UnknownReview
    from tasks.archive import check_publication

    try:
        refusal = check_publication.fn(reference, _stage_of(key), data)
    except UnknownReview as exc:
        return Outcome(False, str(exc))
    with Session(get_engine()) as session:
        return check_answer(session, reference, key, data, person, refusal=refusal)


def run_item_check(reference: str, item: str, key: str, data: dict[str, Any], person: Identity) -> Outcome:
    """The check as an item's run makes it when the answer arrives (flows/review_work.py): ``apply_item_answer``,
    undone (models/answer_check.py). Nothing an item takes is published, so there is no redaction gate to pass."""
    from sqlmodel import Session

    from models.answer_check import check_item_answer
    from models.db import get_engine

    with Session(get_engine()) as session:
        return check_item_answer(session, reference, item, key, data, person)


def run_show(reference: str, item: str, person: Identity) -> list[str] | None:
    """The item whole for its page, if the person may see it (models/answer_check.py ``show_item``)."""
    from sqlmodel import Session

    from models.answer_check import show_item
    from models.db import get_engine

    with Session(get_engine()) as session:
        return show_item(session, reference, item, person)


def run_store_evidence(
    reference: str, item: str, key: str, data: dict[str, Any], name: str, content: bytes, person: Identity
) -> tuple[Outcome, str]:
    """An evidence document given with an action's answer (models/work/evidence.py), stored only if the answer naming
    it would be recorded: checked as the gate checks it (size and type), then the answer checked with the document as
    if it were stored (``check_item_answer``, undone), then the document sealed and stored with its row. The verdict,
    and the document's id ("" when nothing was stored)."""
    import uuid

    from sqlmodel import Session

    from models.answer_check import NO_SUCH_ITEM, check_item_answer
    from models.answers import Outcome
    from models.db import get_engine, transaction
    from models.review.lookup import UnknownReview, review_by_reference
    from models.tables import utcnow
    from models.work import evidence
    from models.work.items import ItemKind, ItemRef
    from tasks.evidence import store_evidence
    from tasks.storage import open_store, sha256_of

    try:
        given = evidence.examine(name, content)
    except evidence.Unacceptable as exc:
        return Outcome(False, str(exc)), ""
    try:
        ref = ItemRef.parse(item)
    except ValueError:
        return Outcome(False, NO_SUCH_ITEM), ""
    if ref.kind is not ItemKind.ACTION:
        return Outcome(False, NO_SUCH_ITEM), ""
    document_id, at, digest = uuid.uuid4(), utcnow(), sha256_of(content)

    def row(review: Any) -> Any:
        uploader = uuid.UUID(person.person_id)
        return evidence.new_document(review, ref.number, given, digest, uploader, at, document_id)

    answer = {**data, "evidence_document": str(document_id)}
    with Session(get_engine()) as session:
        try:
            review = review_by_reference(session, reference)
        except UnknownReview:
            return Outcome(False, NO_SUCH_ITEM), ""
        outcome = check_item_answer(session, reference, item, key, answer, person, evidence=row(review))
    if not outcome.accepted:
        return outcome, ""
    with transaction() as session:
        review = review_by_reference(session, reference)
        store_evidence(session, open_store(), review, row(review), given)
    return outcome, str(document_id)


@dataclass(frozen=True)
class Opened:
    """An evidence document opened for its download: its bytes, its type and the name to give the download."""

    data: bytes
    media_type: str
    name: str


def run_open_evidence(reference: str, item: str, person: Identity) -> Opened | None:
    """Action ``item``'s evidence document, opened, if the person may see the action (models/answer_check.py
    ``item_evidence``); None when it has none or is not theirs to see."""
    from sqlmodel import Session

    from models.answer_check import item_evidence
    from models.db import get_engine
    from models.work import evidence
    from tasks.evidence import open_evidence
    from tasks.storage import open_store

    with Session(get_engine()) as session:
        document = item_evidence(session, reference, item, person)
        if document is None:
            return None
        data = open_evidence(session, open_store(), document)
        name = document.name or "evidence"
        kind = evidence.Kind(document.media_type)
        return Opened(data, kind.value, evidence.download_name(name, kind))


def _stage_of(key: str) -> str:
    """The stage a form's key names (models/process/next.py ``form_key``: the stage, dashed, and the counter)."""
    return key.rpartition("-")[0].replace("-", "_")


def checker_app(
    gate_key: str,
    check: Check,
    clock: Callable[[], dt.datetime] | None = None,
    *,
    threads: int = THREADS,
    check_item: CheckItem | None = None,
    show: Show | None = None,
    store_evidence: StoreEvidence | None = None,
    open_evidence: OpenEvidence | None = None,
) -> Starlette:
    """The checker's routes, answering with ``check``'s verdict (``check_item``'s for an item's answer),
    ``show``'s item, and storing and opening evidence documents, on requests signed with ``gate_key``."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from models.tables import utcnow

    checks = _Checks(
        gate_key,
        check,
        check_item or run_item_check,
        show or run_show,
        store_evidence or run_store_evidence,
        open_evidence or run_open_evidence,
        clock or utcnow,
        threads,
    )
    return Starlette(
        routes=[
            Route("/check", checks.post, methods=["POST"]),
            Route("/show", checks.show, methods=["POST"]),
            Route("/evidence", checks.evidence, methods=["POST"]),
            Route("/evidence/open", checks.open, methods=["POST"]),
        ]
    )


class _Refused(Exception):
    """A request the checker does not take: its answer."""

    def __init__(self, answer: JSONResponse) -> None:
        self.answer = answer


class _Checks:
    def __init__(
        self,
        gate_key: str,
        check: Check,
        check_item: CheckItem,
        show: Show,
        store_evidence: StoreEvidence,
        open_evidence: OpenEvidence,
        clock: Callable[[], dt.datetime],
        threads: int,
    ) -> None:
        self.gate_key = gate_key
        self.check = check
        self.check_item = check_item
        self.shown = show
        self.store_evidence = store_evidence
        self.open_evidence = open_evidence
        self.clock = clock
        self.threads = threads
        self.limiter: anyio.CapacityLimiter | None = None  # made in the server's event loop, at the first check

    async def post(self, request: Request) -> JSONResponse:
        from models import identity
        from models.answer_check import CHECK_RUN_ID

        try:
            fields = await _read(request)
            reference, key, data, token = (fields.get(name) for name in ("reference", "key", "data", "token"))
            item = fields.get("item")
            if not (isinstance(reference, str) and isinstance(key, str) and isinstance(data, dict)):
                return _answer(400, 'the request needs "reference" and "key" (text), "data" (an object) and "token"')
            if item is not None and not isinstance(item, str):
                return _answer(400, '"item" is the item\'s name, as text ("request-2")')
            try:
                digest = identity.answer_digest(data)
            except ValueError:  # a string with a lone surrogate (JSON's escapes allow one)
                return _answer(400, '"data" holds text that is not valid Unicode')
            person = self._verified(token, CHECK_RUN_ID, key, digest)
        except _Refused as refused:
            return refused.answer
        try:
            if item is None:
                outcome = await self._in_thread(self.check, reference, key, data, person)
            else:
                outcome = await self._in_thread(self.check_item, reference, item, key, data, person)
        except Exception as exc:  # a fault, not a refusal: logged by its kind and where, never its message (which
            # may repeat what was typed)
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("%s %s: the check failed (%s)\n%s", reference, key, type(exc).__name__, where)
            return _answer(500, "the answer could not be checked")
        log.info("%s %s: %s", reference, key, "accepted" if outcome.accepted else "refused")
        return _answer(200, outcome.message, accepted=outcome.accepted)

    async def show(self, request: Request) -> JSONResponse:
        from starlette.responses import JSONResponse

        from models.answer_check import NO_SUCH_ITEM, SHOW_RUN_ID

        try:
            reference, item, person = await self._item_request(request, SHOW_RUN_ID)
        except _Refused as refused:
            return refused.answer
        try:
            lines = await self._in_thread(self.shown, reference, item, person)
        except Exception as exc:  # a fault: logged by its kind and where, never a word of the item
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("%s %s: the item could not be shown (%s)\n%s", reference, item, type(exc).__name__, where)
            return _answer(500, "the item could not be shown")
        if lines is None:
            return _answer(404, NO_SUCH_ITEM)
        return JSONResponse({"lines": lines})

    async def evidence(self, request: Request) -> JSONResponse:
        """An evidence document with the action's answer that names it: stored if the answer would be recorded. The
        body is the request as JSON (``reference``, ``item``, ``key``, ``data``, ``name``, ``sha256``, ``token``), a
        line break, then the document's bytes; the token is signed for this purpose over all of it but the token."""
        from models import identity
        from models.answer_check import EVIDENCE_RUN_ID
        from models.work.evidence import MAX_BYTES
        from tasks.storage import sha256_of

        try:
            body = await _read_bytes(request, MAX_BYTES + MAX_REQUEST)
            head, _, content = body.partition(b"\n")
            fields = _json_object(head)
            asked = {name: fields.get(name) for name in ("reference", "item", "key", "data", "name", "sha256")}
            reference, item, key, data, name = (asked[n] for n in ("reference", "item", "key", "data", "name"))
            if not (
                all(isinstance(v, str) for v in (reference, item, key, name, asked["sha256"]))
                and isinstance(data, dict)
            ):
                return _answer(400, 'the request needs "reference", "item", "key", "name", "sha256", "data", "token"')
            if asked["sha256"] != sha256_of(content):
                return _answer(400, "the document is not the one the request names")
            try:
                digest = identity.answer_digest(asked)
            except ValueError:
                return _answer(400, "the request holds text that is not valid Unicode")
            person = self._verified(fields.get("token"), EVIDENCE_RUN_ID, str(key), digest)
        except _Refused as refused:
            return refused.answer
        assert isinstance(reference, str) and isinstance(item, str) and isinstance(name, str) and isinstance(data, dict)
        try:
            outcome, document = await self._in_thread(
                self.store_evidence, reference, item, str(key), data, name, content, person
            )
        except Exception as exc:  # a fault: logged by its kind and where, never the document's name or a word typed
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("%s %s: the evidence could not be stored (%s)\n%s", reference, item, type(exc).__name__, where)
            return _answer(500, "the evidence document could not be stored")
        log.info("%s %s: evidence %s", reference, item, f"stored as {document}" if document else "refused")
        from starlette.responses import JSONResponse

        return JSONResponse({"accepted": outcome.accepted, "message": outcome.message, "document": document})

    async def open(self, request: Request) -> Response:
        """An action's evidence document, opened, for a person who may see the action: 200 and its bytes (its type as
        the content type, its download name in the ``x-cspr-document`` header, as JSON); 404 for anyone else, or when
        it has none."""
        import json

        from starlette.responses import Response

        from models.answer_check import EVIDENCE_OPEN_RUN_ID, NO_SUCH_ITEM

        try:
            reference, item, person = await self._item_request(request, EVIDENCE_OPEN_RUN_ID)
        except _Refused as refused:
            return refused.answer
        try:
            opened = await self._in_thread(self.open_evidence, reference, item, person)
        except Exception as exc:  # a fault: logged by its kind and where, never the document's name
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("%s %s: the evidence could not be opened (%s)\n%s", reference, item, type(exc).__name__, where)
            return _answer(500, "the evidence document could not be opened")
        if opened is None:
            return _answer(404, NO_SUCH_ITEM)
        about = json.dumps({"name": opened.name, "media_type": opened.media_type})  # ASCII: escapes any other
        return Response(opened.data, media_type=opened.media_type, headers={"x-cspr-document": about})

    async def _item_request(self, request: Request, purpose: str) -> tuple[str, str, Identity]:
        """A request about one item (``{"reference", "item", "token"}``), the token signed for ``purpose`` over the
        reference: its reference, item and person; else refused (400, or 403 from :meth:`_verified`)."""
        from models import identity

        fields = await _read(request)
        reference, item, token = (fields.get(name) for name in ("reference", "item", "token"))
        if not (isinstance(reference, str) and isinstance(item, str)):
            raise _Refused(_answer(400, 'the request needs "reference" and "item" (text) and "token"'))
        try:
            digest = identity.answer_digest(reference)
        except ValueError:  # a lone surrogate in the reference
            raise _Refused(_answer(400, '"reference" holds text that is not valid Unicode')) from None
        return reference, item, self._verified(token, purpose, item, digest)

    def _verified(self, token: object, purpose: str, form_key: str, digest: str) -> Identity:
        """The person the gate signed ``token`` for, for this purpose, form and request, a moment ago; else the
        request is refused (403)."""
        from models import identity

        now = self.clock()
        try:
            signed = identity.verify(self.gate_key, token, run_id=purpose, form_key=form_key, answer=digest, now=now)
        except identity.IdentityRefused as exc:
            raise _Refused(_answer(403, f"refused: the request is not the gate's ({exc})")) from None
        if signed.at < now - TOKEN_AGE:
            raise _Refused(
                _answer(403, f"refused: the request's token is older than {TOKEN_AGE.seconds // 60} minutes")
            )
        return signed.identity

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        import anyio.to_thread

        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(call, *args, limiter=self.limiter)


async def _read(request: Request) -> dict[str, Any]:
    """The request's JSON object (anything else: an empty one); refused when too large or not JSON."""
    return _json_object(await _read_bytes(request, MAX_REQUEST))


async def _read_bytes(request: Request, limit: int) -> bytes:
    """The request's body; refused when larger than ``limit``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused(_answer(413, f"the request is larger than {limit // (1024 * 1024)} MB"))
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    """``body`` as a JSON object (anything else: an empty one); refused when it is not JSON."""
    try:
        asked = json.loads(body)
    except (ValueError, RecursionError):
        raise _Refused(_answer(400, "the request is not JSON")) from None
    return asked if isinstance(asked, dict) else {}


def _answer(status: int, message: str, *, accepted: bool = False) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"accepted": accepted, "message": message}, status_code=status)


def warm_up() -> None:
    """Import what a check runs and connect the engine, so that the first person's Submit waits for neither."""
    import sqlalchemy as sa

    from models import answer_check, process  # noqa: F401  (every step's handler)
    from models.db import get_engine
    from tasks import archive  # noqa: F401  (the redaction gate, and Prefect under it)

    try:
        with get_engine().connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:  # the database may come up later; each check connects as it needs
        log.warning("the project database is not answering yet (%s)", type(exc).__name__)


def listen_on(path: Path) -> socket.socket:
    """A Unix socket listening at ``path``, in a folder only this user can enter: its folder is made 700, or, if it
    exists, must be this user's and 700 already (a shared folder such as /tmp is refused, never changed). A socket
    left by a checker that died is replaced; one a live checker listens on is refused."""
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise fail(f"the checker's socket path is longer than {SUN_PATH_MAX} bytes: {path}. Set CSPR_CHECKER_SOCKET")
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # whatever the umask left
    held = folder.stat()
    if held.st_uid != os.getuid() or stat.S_IMODE(held.st_mode) != 0o700:
        raise fail(
            f"the checker's socket must be in a folder of its own, owner-only: {folder} is mode "
            f"{stat.S_IMODE(held.st_mode):o}, owned by uid {held.st_uid}. Set CSPR_CHECKER_SOCKET to a path in "
            "a folder that does not exist yet"
        )
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise fail(f"{path} exists and is not a socket: the checker will not replace it")
        if listens_on(path):
            raise fail(f"a checker is listening on {path} already")
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    path.chmod(0o600)
    listener.listen(BACKLOG)  # requests queue from now on, until uvicorn takes the socket
    return listener


def _same_file(path: Path, made: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (made.st_dev, made.st_ino)


def _log_to_stderr() -> None:
    """The checker's lines in its log (``$CSPR_HOME/logs/checker.log`` under ``cspr up``), as the server writes its."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
