"""The tasks pages: where every signed-in person answers the steps waiting for them, a small Starlette app the gate
mounts at ``/`` and ``/tasks`` (gate/app.py), like the sign-in pages.

``/`` lists the person's tasks (models/your_tasks.py); ``/tasks/<reference>/<step>`` is one step's form, drawn
from the step's own form model (gate/form_fields.py) with the GOV.UK Design System's styles. On Submit the answer
is checked there and then: first the form's own rules, then, by the checker (gate/checker_client.py), every rule of
the step that reads the record, by the very code the lifecycle records it with. Only an answer the checker accepts
is handed to the review's run, signed with who gave it (gate/signer.py), exactly as an answer through Prefect's API
was. A person's draft, their "I'm on it" and their own follow-up date are kept in the project database
(models/drafts.py, models/claims.py); a draft is sealed with a key derived from the gate's, so this process still
holds no review's key.

Every page needs a session; every POST carries a token derived from the session's own cookie, so a page of another
site cannot post one and a page from an earlier sign-in is refused as expired (its draft is kept). A page shows a
step's form with the form's key of the moment: a page answered already, or replayed, finds the key moved on and
changes nothing.

``/tasks/<reference>/requests/<n>`` and ``/tasks/<reference>/actions/<n>`` are the pages of the work around a review
(models/work/): an agency's information request, an action on a recommendation. Each is answered as a step is (the
form's own rules, the checker's check, then the item's own run, found by its tag), by whoever it is for: the agency's
contact, the coordinator, the partners (gate/task_views.py ``Part``). An item's words are sealed, so the page has
them from the checker, which shows them only to the coordinator and partners of the review's partnership and to the
contacts of the item's own agency; anyone else is told there is no such page, never whether it exists. An agency's
contact sees only these pages and their list: no step of a review.

An action's progress may come with an evidence document (a file input, so that page alone is posted as
multipart/form-data and may send more than 1 MB): checked here (size, type by content), then handed to the checker,
which stores it sealed only if the answer would be recorded; the run gets its id alone.
``/tasks/<reference>/actions/<n>/evidence`` downloads it, through the checker, for whoever may see the action's page.
``/tasks/<reference>/actions/close`` is the partnership's page closing every open action of a review with one reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import Session as DbSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gate import evidence as uploads
from gate import form_fields, register
from gate import task_views as views
from gate.asgi import MAX_BODY, Answer, BodyTooLarge, cookies, header, read_body
from gate.checker_client import Checker, Shown
from gate.notification_task import PATH as IDENTITY
from gate.notification_task import IdentityTask, identity_task, still_waiting, waiting_for
from gate.pages import render
from gate.prefect_client import PrefectClient
from gate.redirects import SIGN_IN, SIGN_OUT
from gate.sessions import COOKIE, Session, Sessions
from gate.signer import Signer
from gate.task_views import NotOpen, Opened, OpenedItem
from gate.who_may_answer import AnswerRefused, Waiting, waiting
from models import claims, drafts, task_ref
from models.calendar import today_in_england
from models.db import transaction
from models.identity import Identity
from models.process import STEPS, step_key
from models.refusals import Refused
from models.roles import Role
from models.stages import Stage
from models.task_ref import TASKS, task_path
from models.work import evidence
from models.work.forms import (
    ONLY_WHEN_DONE,
    ActionChoice,
    ActionProgressWithDocument,
    CloseRemaining,
    Progress,
    RequestChoice,
    Verdict,
)
from models.work.items import ItemKind, ItemRef, item_key
from models.worklist import ItemWaiting
from models.your_tasks import your_tasks

log = logging.getLogger("cspr.gate")
T = TypeVar("T")

HOME = "/"
ASSETS = f"{TASKS}/assets"
STATIC = Path(__file__).resolve().parent / "static" / "build"
NOTIFY_DEPLOYMENT = "notify-incident/notify-incident"  # the coordinator starts a review there, in Prefect's UI
MAX_FIELDS = 2000  # a form's fields: the longest (a timeline of many rows) stays far below this
_PAGE_HEADERS = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
]
_ASSET_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}
EXPIRED = "The page had expired, so nothing was sent. Your typing is kept as a draft: open the task again."
ANSWERED_SINCE = (
    "This step was answered, or asked again, since you opened the page, so nothing was sent. Check the form as it is "
    "now and submit it again; your typing is kept."
)
COORDINATING = frozenset({Role.COORDINATOR})
NOT_WAITING = (
    "The review is not waiting for this answer just now: its run is moving on or starting again. Your answer is "
    "kept as a draft and nothing was sent; try again in a minute."
)
ITEM_ANSWERED_SINCE = (
    "Someone answered this, or changed it, since you opened the page, so nothing was sent. Check the page as it is "
    "now and submit it again; your typing is kept."
)
NO_INVOLVEMENT = "no-involvement"  # the button that answers a request "no involvement" in one click
# an item's page (its answer accepted; an action's evidence document)
_ITEM_PATH = re.compile(rf"/({'|'.join(kind.value for kind in ItemKind)})s/\d+(?:/accepted|/evidence)?$")
_ACTION_PAGE = re.compile(rf"^{TASKS}/[^/]+/{ItemKind.ACTION.value}s/\d+$")  # the one page that may send a document
# a page with a document: the largest allowed twice over, so that one a little larger is told its size on the page
# rather than cut off (gate/app.py refuses a body over the limit before reading it), and room for what is typed
EVIDENCE_BODY = 2 * evidence.MAX_BYTES + MAX_BODY


def serves(path: str) -> bool:
    """Whether a path is the tasks pages' (the gate sends every other one through its guard)."""
    return path in (HOME, TASKS) or path.startswith(TASKS + "/")


def body_limit(scope: Any) -> int:
    """The most a request to the tasks pages may send: 1 MB, as everywhere; an action's page, which may send an
    evidence document with its answer, more (``EVIDENCE_BODY``)."""
    return EVIDENCE_BODY if scope.get("method") == "POST" and _ACTION_PAGE.match(scope["path"]) else MAX_BODY


def slug(stage: Stage) -> str:
    return stage.value.replace("_", "-")


def _stage_of(slug_: str) -> Stage | None:
    try:
        return Stage(slug_.replace("-", "_"))
    except ValueError:
        return None


@dataclass
class TasksPages:
    sessions: Sessions
    prefect: PrefectClient
    signer: Signer
    checker: Checker
    gate_key: str  # seals drafts (per person, models/drafts.py) and signs the checker's requests
    clock: Callable[[], dt.datetime]
    secure: bool = False
    app: Starlette = field(init=False)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(HOME, self._list, methods=["GET"]),
                Route(TASKS, self._to_list, methods=["GET"]),
                Route(ASSETS + "/{name}", self._asset, methods=["GET"]),
                # before the review's routes, which the same paths would match
                Route(IDENTITY + "/{run_id}", self._identity_form, methods=["GET"]),
                Route(IDENTITY + "/{run_id}", self._identity_post, methods=["POST"]),
                Route(IDENTITY + "/{run_id}/accepted", self._identity_accepted, methods=["GET"]),
                # the work around a review: before the steps' routes, which "/{reference}/{step}/accepted" would match
                *(
                    route
                    for kind in ItemKind
                    for route in (
                        Route(f"{TASKS}/{{reference}}/{kind.value}s/{{number:int}}", self._item_form, methods=["GET"]),
                        Route(f"{TASKS}/{{reference}}/{kind.value}s/{{number:int}}", self._item_post, methods=["POST"]),
                        Route(
                            f"{TASKS}/{{reference}}/{kind.value}s/{{number:int}}/accepted",
                            self._item_accepted,
                            methods=["GET"],
                        ),
                    )
                ),
                Route(
                    f"{TASKS}/{{reference}}/{ItemKind.ACTION.value}s/{{number:int}}/evidence",
                    self._evidence,
                    methods=["GET"],
                ),
                # a review's open actions closed together, by its partnership
                Route(f"{TASKS}/{{reference}}/{ItemKind.ACTION.value}s/close", self._closing, methods=["GET"]),
                Route(f"{TASKS}/{{reference}}/{ItemKind.ACTION.value}s/close", self._close_all, methods=["POST"]),
                Route(TASKS + "/{reference}/{step}", self._form, methods=["GET"]),
                Route(TASKS + "/{reference}/{step}", self._post, methods=["POST"]),
                Route(TASKS + "/{reference}/{step}/accepted", self._accepted, methods=["GET"]),
                Route(TASKS + "/{reference}/{step}/claim", self._claim, methods=["POST"]),
                Route(TASKS + "/{reference}/{step}/follow-up", self._follow_up, methods=["POST"]),
            ],
            exception_handlers={404: self._no_such_page, 405: self._no_such_page},
        )
        self.app.router.redirect_slashes = False

    # --- who is asking --------------------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"].startswith(ASSETS + "/"):  # the styles and scripts: nothing of anyone's
            await self.app(scope, receive, send)
            return
        token = cookies(scope).get(COOKIE)
        session = self.sessions.find(token, self.clock())
        if session is not None and token is not None and self.sessions.due_for_check(session, self.clock()):
            roles, partnerships = await register.held_now(uuid.UUID(session.identity.person_id))
            session = self.sessions.refresh(token, roles, self.clock(), partnerships)
        if session is None or token is None:
            if scope["method"] == "GET":
                query = scope.get("query_string", b"").decode("latin-1")
                target = scope["path"] + (f"?{query}" if query else "")
                location = f"{SIGN_IN}?{urllib.parse.urlencode({'next': target})}"
                await _answer(303, b"", "text/plain", [("location", location)])(scope, receive, send)
            else:
                html = self._message("You have been signed out", EXPIRED, link=(SIGN_IN, "Sign in again"))
                await _html(401, html)(scope, receive, send)
            return
        scope["cspr.session"] = session
        scope["cspr.form_token"] = form_token(token)
        if scope["method"] == "POST":
            try:
                body = await read_body(receive, body_limit(scope))
            except BodyTooLarge:
                await self.too_large(scope, receive, send)
                return
            content_type = header(scope, "content-type")
            if uploads.is_multipart(content_type):
                assert content_type is not None
                posted, files = uploads.read_multipart(body, content_type, max_fields=MAX_FIELDS)
                upload = files.get(evidence.FIELD)
                if upload is not None and _ACTION_PAGE.match(scope["path"]) and (upload.name or upload.data):
                    scope["cspr.upload"] = upload  # a file is never kept as a draft: it is not among the fields
            else:
                posted = _parse(body)
            sent = (posted.get("form_token") or [""])[0]
            if not hmac.compare_digest(sent.encode(), scope["cspr.form_token"].encode()):
                await _html(400, self._message("Please try again", EXPIRED))(scope, receive, send)
                return
            scope["cspr.posted"] = posted
        await self.app(scope, receive, send)

    async def too_large(self, scope: Any, receive: Any, send: Any) -> None:
        """A page sent with more than 1 MB (an action's page, more than room for its document), refused before it is
        read in full: nothing of it is kept."""
        if body_limit(scope) > MAX_BODY:
            length = header(scope, "content-length") or ""
            size = f"it is {evidence.shown_size(int(length))}, and " if length.isdigit() else ""
            html = self._message(
                "The evidence document is too large",
                f"The page and its evidence document were too large: {size}the largest document allowed is "
                f"{evidence.MAX_BYTES // evidence.MB} MB, so nothing was sent or saved. Attach a smaller document (a "
                "PDF of the pages that show the action is done), or give the evidence as text.",
                link=(_referred(scope), "Back to the action"),
            )
            await _html(413, html)(scope, receive, send)
            return
        html = self._message(
            "Your answer is too long",
            "A page may send at most 1 MB (about a million characters), and this one sent more, so nothing was sent "
            "or saved. Shorten the longest answer (paste a summary, not a whole document) and submit it again.",
            link=(_referred(scope), "Back to the task"),
        )
        await _html(413, html)(scope, receive, send)

    # --- the list ------------------------------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        session = _session(request)
        person = uuid.UUID(session.identity.person_id)
        today = today_in_england()
        operator = Role.OPERATOR in session.roles

        query = dict(urllib.parse.parse_qsl(request.url.query))

        def read() -> dict[str, Any]:
            with transaction() as db:
                found = your_tasks(db, person, today, operator=operator)
                return views.list_page(db, found, person, query, today)

        values = await register.in_thread(read)
        start = await self._start_url() if Role.COORDINATOR in session.roles else None
        identities = [
            {
                "href": task.path,
                "title": task.title,
                "pseudonyms": list(task.pseudonyms),
                "partnership": task.partnership,
            }
            for task in await waiting_for(self.prefect, frozenset(values.pop("coordinates")))
        ]
        return self._page(
            200,
            "tasks/list.html",
            request,
            title="Your tasks",
            notification_href=start,
            identities=identities,
            **values,
        )

    async def _start_url(self) -> str:
        """Where a coordinator starts a notification: the notification's run form in Prefect's UI."""
        async with self.prefect.client() as client:
            found = await client.get(f"/api/deployments/name/{NOTIFY_DEPLOYMENT}")
        if found.status_code != 200:
            return "/deployments"
        return f"/deployments/deployment/{found.json()['id']}/run"

    async def _to_list(self, request: Request) -> Response:
        return _answer(303, b"", "text/plain", [("location", HOME)])

    # --- one task ------------------------------------------------------------------------------------------

    async def _form(self, request: Request) -> Response:
        reference, stage = request.path_params["reference"], _stage_of(request.path_params["step"])
        session = _session(request)
        person = uuid.UUID(session.identity.person_id)
        today = today_in_england()

        def read() -> tuple[Opened, views.Fields | None, dt.datetime | None]:
            with transaction() as db:
                opened = views.open_task(db, reference, stage, person, today)
                return (opened, *views.draft_of(db, self.gate_key, person, opened))

        try:
            opened, draft, saved = await register.in_thread(read)
        except NotOpen as refused:
            return _html(
                404,
                self._said(
                    request, "This task is not open to you", _full_stop(str(refused)), link=(HOME, "Your tasks")
                ),
            )
        notice = "saved" if request.query_params.get("saved") else ""
        return await self._show(request, opened, posted=draft, restored=saved, notice=notice)

    async def _show(
        self,
        request: Request,
        opened: Opened,
        *,
        posted: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
        refusal: str = "",
        restored: dt.datetime | None = None,
        notice: str = "",
        status: int = 200,
    ) -> Response:
        review, step = opened.review, opened.step

        person = uuid.UUID(_session(request).identity.person_id)

        def read() -> dict[str, Any]:
            with transaction() as db:
                return views.task_page(db, opened, person, today_in_england())

        about = await register.in_thread(read)
        fields = form_fields.fields_for(
            step.form, opened.roles, posted=posted, errors=errors or {}, offered=opened.offered
        )
        shown_errors = dict(errors or {})
        if refusal:
            shown_errors[form_fields.FORM_ERROR] = _full_stop(refusal)
        return self._page(
            status,
            "tasks/form.html",
            request,
            title=step.title,
            error=bool(shown_errors),
            fields=fields,
            errors=form_fields.error_summary(fields, shown_errors),
            action=task_path(review.reference, Stage(review.stage)),
            form_key=step_key(review),
            answerable=bool(opened.roles),
            restored_draft=restored is not None,
            draft_saved=views.shown_at(restored) if restored else "",
            notice=notice,
            **about,
        )

    async def _post(self, request: Request) -> Response:
        reference, stage = request.path_params["reference"], _stage_of(request.path_params["step"])
        session = _session(request)
        person = uuid.UUID(session.identity.person_id)
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        action = (posted.get("action") or ["submit"])[0]
        today = today_in_england()
        kept = {k: v for k, v in posted.items() if k not in ("form_token", "action", "form_key")}

        def open_and_keep(save: bool) -> Opened:
            with transaction() as db:
                opened = views.open_task(db, reference, stage, person, today)
                if save and opened.roles:
                    drafts.save(db, self.gate_key, person, opened.task, kept, self.clock())
                return opened

        try:
            opened = await register.in_thread(lambda: open_and_keep(True))
        except NotOpen as refused:
            return _html(
                409,
                self._said(
                    request, "This task is not open to you", _full_stop(str(refused)), link=(HOME, "Your tasks")
                ),
            )
        if not opened.roles:
            return await self._show(request, opened, refusal=views.not_yours(opened), status=403)
        path = task_path(reference, opened.task.stage)
        if action == "save":
            return _answer(303, b"", "text/plain", [("location", f"{path}?saved=1")])
        if action == "autosave":  # the page's own script, while the person types (gate/static/cspr.js)
            return _answer(204, b"", "text/plain")
        if action == "discard":
            await register.in_thread(lambda: _discard(person, opened.task))
            return _answer(303, b"", "text/plain", [("location", path)])
        if (posted.get("form_key") or [""])[0] != step_key(opened.review):
            return await self._show(
                request,
                opened,
                posted=kept,
                refusal=ANSWERED_SINCE,
                status=409,
            )
        if form_fields.adds_row(opened.step.form, kept):  # "Add another row": the page again, a row longer
            return await self._show(request, opened, posted=kept)
        answer, errors = form_fields.read_form(opened.step.form, kept, opened.roles, opened.offered)
        if answer is None or errors:
            return await self._show(request, opened, posted=kept, errors=errors, status=400)
        who = session.identity
        role = next(iter(opened.roles)).value if len(opened.roles) == 1 else ""
        checked = await self.checker.check(
            reference, step_key(opened.review), answer, Identity(who.person_id, who.name, role, who.signed_in_with)
        )
        if not checked.accepted:
            return await self._show(request, opened, posted=kept, refusal=checked.message, status=400)
        refusal = await self._hand_over(opened, who, role, answer)
        if refusal:
            return await self._show(request, opened, posted=kept, refusal=refusal, status=409)
        await register.in_thread(lambda: _accepted_now(opened.task))
        return _answer(303, b"", "text/plain", [("location", f"{path}/accepted")])

    async def _hand_over(self, opened: Opened, who: Identity, role: str, answer: dict[str, Any]) -> str:
        """Give the checked answer to the review's run, signed with who gave it: "" once Prefect took it, else why
        not, in the person's words."""
        tags = ["lifecycle", f"review:{opened.review.reference}"]
        return await self._hand_to_run(tags, step_key(opened.review), who, role, answer)

    async def _hand_to_run(self, tags: list[str], key: str, who: Identity, role: str, answer: dict[str, Any]) -> str:
        """Give the checked answer to the paused run with ``tags`` that waits on the form ``key``, signed with who gave
        it: "" once Prefect took it, else why not, in the person's words."""
        wanted = {"flow_runs": {"tags": {"all_": tags}, "state": {"type": {"any_": ["PAUSED"]}}}, "limit": 5}
        async with self.prefect.client() as client:
            found = await client.post("/api/flow_runs/filter", json=wanted)
        runs: list[dict[str, Any]] = found.json() if found.status_code == 200 else []
        for candidate in runs:
            try:
                run = waiting(candidate)
            except AnswerRefused:
                continue
            if run.form_key == key:
                return await self._resume(run, who, role, answer)
        return NOT_WAITING

    async def _resume(self, run: Waiting, who: Identity, role: str, answer: dict[str, Any]) -> str:
        """Resume ``run`` with ``answer``, signed with who gave it, if it still waits for that very form: "" once
        Prefect took it, else why not, in the person's words. One answer at a time per run (the signer's lock)."""
        body = json.dumps({"run_input": answer}).encode()
        async with self.signer.locked(run.run_id), self.prefect.client() as client:
            if not await still_waiting(client, run):
                return NOT_WAITING
            answered = await self.signer.hand_over(client, run, who, role, body)
        if answered is None:
            return "Your answer could not be sent just now, and nothing was recorded; try again in a moment."
        if not answered.is_success or (answered.json() or {}).get("status") != "ACCEPT":
            log.warning("Prefect refused a checked answer to run %s: HTTP %s", run.run_id, answered.status_code)
            return (
                "The run did not take your answer, and nothing was recorded. Check each answer and submit it again; "
                "if this goes on, tell the partnership's cspr operator."
            )
        return ""

    # --- an item of the work around a review ---------------------------------------------------------------

    def _item_of(self, request: Request) -> tuple[str, ItemKind, int]:
        """The review, the item's kind and its number, as the item's routes name them ("/requests/2")."""
        found = _ITEM_PATH.search(request.url.path)
        assert found is not None  # the item's routes match nothing else
        return request.path_params["reference"], ItemKind(found[1]), int(request.path_params["number"])

    async def _open_item(self, request: Request) -> OpenedItem | Response:
        """The item as the signed-in person may see it, or the page saying there is no such page: the same for an item
        that is not theirs and one that does not exist."""
        reference, kind, number = self._item_of(request)
        person = uuid.UUID(_session(request).identity.person_id)
        today = today_in_england()
        try:
            return await register.in_thread(
                lambda: _with_db(lambda db: views.open_item(db, reference, kind, number, person, today))
            )
        except NotOpen:
            return _html(
                404, self._said(request, "Page not found", "There is no such page.", link=(HOME, "Your tasks"))
            )

    async def _item_form(self, request: Request) -> Response:
        opened = await self._open_item(request)
        if isinstance(opened, Response):
            return opened
        person = uuid.UUID(_session(request).identity.person_id)
        draft, saved = await register.in_thread(
            lambda: _with_db(lambda db: views.item_draft_of(db, self.gate_key, person, opened))
        )
        notice = "saved" if request.query_params.get("saved") else ""
        return await self._show_item(request, opened, posted=draft, restored=saved, notice=notice)

    async def _show_item(
        self,
        request: Request,
        opened: OpenedItem,
        *,
        posted: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
        refusal: str = "",
        restored: dt.datetime | None = None,
        notice: str = "",
        status: int = 200,
    ) -> Response:
        """The item's page: the item whole, from the checker (which holds its key), and the form the person may give."""
        who = _session(request).identity
        shown = await self.checker.show(opened.review.reference, str(opened.ref), who)
        if shown.refused:  # the register changed since the page was opened: not theirs to see after all
            return _html(
                404, self._said(request, "Page not found", "There is no such page.", link=(HOME, "Your tasks"))
            )
        part = opened.part
        roles = frozenset({opened.role}) if opened.role else frozenset()
        fields = (
            form_fields.fields_for(
                part.form, roles, posted=posted, errors=errors or {}, offered=part.offered, needed=part.needed
            )
            if part
            else []
        )
        shown_errors = {**(errors or {}), **({form_fields.FORM_ERROR: _full_stop(refusal)} if refusal else {})}
        about = views.item_page(opened, shown.lines or _unshown(shown), today_in_england())
        file_error = shown_errors.pop(evidence.FIELD, "")
        summary = form_fields.error_summary(fields, shown_errors)
        if file_error:  # the file input is the page's, not the form's: linked to it here
            summary.append(form_fields.ErrorLink(f"#{evidence.FIELD}", file_error))
        download = await register.in_thread(lambda: _with_db(lambda db: views.evidence_href(db, opened)))
        return self._page(
            status,
            "tasks/form.html",
            request,
            title=f"{opened.item.title}: {opened.item.agency}",
            error=bool(summary),
            fields=fields,
            errors=summary,
            evidence_file=views.evidence_input(file_error) if part is views.PROGRESS else None,
            evidence_href=download,
            action=opened.path,
            form_key=opened.key,
            answerable=part is not None,
            restored_draft=restored is not None,
            draft_saved=views.shown_at(restored) if restored else "",
            notice=notice,
            no_involvement_value=NO_INVOLVEMENT,
            **about,
        )

    async def _item_post(self, request: Request) -> Response:
        who = _session(request).identity
        person = uuid.UUID(who.person_id)
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        action = (posted.get("action") or ["submit"])[0]
        # (a file is never among them: whatever the page's script sends under its name, saving a draft, is not kept)
        kept = {k: v for k, v in posted.items() if k not in ("form_token", "action", "form_key", evidence.FIELD)}
        opened = await self._open_item(request)
        if isinstance(opened, Response):
            return opened
        part = opened.part
        if part is None:
            return await self._show_item(request, opened, refusal=views.not_answerable(opened), status=403)
        quick = action == NO_INVOLVEMENT and part.no_involvement  # one click: nothing typed, and no draft touched
        if not quick:
            at = self.clock()
            await register.in_thread(
                lambda: _with_db(lambda db: drafts.save(db, self.gate_key, person, opened.draft, kept, at))
            )
        if action == "save":
            return _answer(303, b"", "text/plain", [("location", f"{opened.path}?saved=1")])
        if action == "autosave":  # the page's own script, while the person types (gate/static/cspr.js)
            return _answer(204, b"", "text/plain")
        if action == "discard":
            await register.in_thread(lambda: _with_db(lambda db: drafts.discard(db, person, opened.draft)))
            return _answer(303, b"", "text/plain", [("location", opened.path)])
        if (posted.get("form_key") or [""])[0] != opened.key:
            return await self._show_item(request, opened, posted=kept, refusal=ITEM_ANSWERED_SINCE, status=409)
        document: evidence.Examined | None = None
        if quick:
            answer: dict[str, Any] | None = {"what": RequestChoice.NO_INVOLVEMENT.value}
        else:
            if form_fields.adds_row(part.form, kept):  # "Add another row": the page again, a row longer
                return await self._show_item(request, opened, posted=kept)
            roles = frozenset({opened.role}) if opened.role else frozenset()
            document, file_error = _document(request, part)
            form = ActionProgressWithDocument if document is not None else part.form
            answer, errors = form_fields.read_form(form, kept, roles, part.offered)
            if file_error:
                errors = {**errors, evidence.FIELD: file_error}
            if answer is None or errors:
                return await self._show_item(request, opened, posted=kept, errors=errors, status=400)
            if part.what is not None:
                answer = {**answer, "what": part.what}
        assert answer is not None
        role = opened.role.value if opened.role else ""
        signer = Identity(who.person_id, who.name, role, who.signed_in_with)
        item = str(opened.ref)
        reference = opened.review.reference
        if document is not None:  # checked with the answer by the checker, which stores it only if it would be taken
            stored = await self.checker.store_evidence(
                reference, item, opened.key, answer, document.name, document.data, signer
            )
            if not stored.accepted:
                return await self._show_item(request, opened, posted=kept, refusal=stored.message, status=400)
            answer = {**answer, "evidence_document": stored.document}  # the run is given its id alone
        else:
            checked = await self.checker.check_item(reference, item, opened.key, answer, signer)
            if not checked.accepted:
                return await self._show_item(request, opened, posted=kept, refusal=checked.message, status=400)
        tags = ["work", f"item:{opened.review.reference}:{item}"]
        refusal = await self._hand_to_run(tags, opened.key, who, role, answer)
        if refusal:
            return await self._show_item(request, opened, posted=kept, refusal=refusal, status=409)
        everyone = part.closes(answer)

        def accepted(db: DbSession) -> None:
            if everyone:
                drafts.discard_task(db, opened.draft)
            else:
                drafts.discard(db, person, opened.draft)

        await register.in_thread(lambda: _with_db(accepted))
        return _answer(303, b"", "text/plain", [("location", f"{opened.path}/accepted")])

    async def _item_accepted(self, request: Request) -> Response:
        reference, kind, number = self._item_of(request)
        ref = ItemRef(kind, number)
        html = self._said(
            request,
            "Your answer was accepted",
            f"Your answer to {reference}, {ref.label}, was checked and handed on. It is recorded within a minute; "
            "your tasks page shows where it stands.",
            link=(HOME, "Back to your tasks"),
            panel=True,
        )
        return _html(200, html)

    async def _evidence(self, request: Request) -> Response:
        """An action's evidence document, downloaded: by whoever may see the action's page, from the checker, which
        alone opens it; anyone else, as for an action that has none, is told there is no such page."""
        opened = await self._open_item(request)
        if isinstance(opened, Response):
            return opened
        found = await self.checker.open_evidence(opened.review.reference, str(opened.ref), _session(request).identity)
        if found.refused:
            return _html(
                404, self._said(request, "Page not found", "There is no such page.", link=(HOME, "Your tasks"))
            )
        if not found.data:
            text = "The evidence document could not be opened just now. Try again in a minute."
            return _html(503, self._said(request, "Please try again", text, link=(opened.path, "Back to the action")))
        media_type = (
            f"{found.media_type}; charset=utf-8" if found.media_type == evidence.Kind.TEXT else found.media_type
        )
        return _answer(200, found.data, media_type, uploads.download_headers(found.name, found.media_type))

    # --- a review's open actions, closed together ----------------------------------------------------------

    async def _open_actions(self, request: Request) -> views.OpenActions | Response:
        """The review's open actions, for its coordinator or a partner; else the page saying there is no such page."""
        reference = request.path_params["reference"]
        person = uuid.UUID(_session(request).identity.person_id)
        today = today_in_england()
        try:
            return await register.in_thread(
                lambda: _with_db(lambda db: views.open_actions_of(db, reference, person, today))
            )
        except NotOpen:
            return _html(
                404, self._said(request, "Page not found", "There is no such page.", link=(HOME, "Your tasks"))
            )

    async def _closing(self, request: Request) -> Response:
        opened = await self._open_actions(request)
        return opened if isinstance(opened, Response) else self._show_closing(request, opened)

    def _show_closing(
        self,
        request: Request,
        opened: views.OpenActions,
        *,
        posted: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
        refusal: str = "",
        status: int = 200,
    ) -> Response:
        """The page: the review's open actions as lists show them, and the one reason that closes them all."""
        roles = frozenset({opened.role})
        fields = form_fields.fields_for(CloseRemaining, roles, posted=posted, errors=errors or {})
        shown_errors = {**(errors or {}), **({form_fields.FORM_ERROR: _full_stop(refusal)} if refusal else {})}
        summary = form_fields.error_summary(fields, shown_errors)
        return self._page(
            status,
            "tasks/form.html",
            request,
            title="Close the open actions",
            error=bool(summary),
            fields=fields,
            errors=summary,
            action=opened.path,
            form_key=opened.key,
            answerable=bool(opened.actions),
            **views.closing_page(opened),
        )

    async def _close_all(self, request: Request) -> Response:
        """Close each open action with the one reason: each checked by the checker and handed to its own run, signed
        as the person, as on its own page; what could not be closed is said, and the rest stay closed."""
        who = _session(request).identity
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        kept = {k: v for k, v in posted.items() if k not in ("form_token", "action", "form_key")}
        opened = await self._open_actions(request)
        if isinstance(opened, Response):
            return opened
        if not opened.actions:
            return self._show_closing(request, opened, refusal=views.NOTHING_TO_CLOSE, status=409)
        if (posted.get("form_key") or [""])[0] != opened.key:
            return self._show_closing(request, opened, posted=kept, refusal=ITEM_ANSWERED_SINCE, status=409)
        read, errors = form_fields.read_form(CloseRemaining, kept, frozenset({opened.role}))
        if read is None or errors:
            return self._show_closing(request, opened, posted=kept, errors=errors, status=400)
        answer = {"what": ActionChoice.REVIEW.value, "verdict": Verdict.CLOSE.value, "reason": read["reason"]}
        signer = Identity(who.person_id, who.name, opened.role.value, who.signed_in_with)
        reference = opened.review.reference
        closed: list[ItemWaiting] = []
        not_closed: list[tuple[ItemWaiting, str]] = []
        for action in opened.actions:
            item, key = str(action.item), item_key(action.item, action.answer_seq)
            checked = await self.checker.check_item(reference, item, key, answer, signer)
            refusal = checked.message if not checked.accepted else ""
            if not refusal:
                tags = ["work", f"item:{reference}:{item}"]
                refusal = await self._hand_to_run(tags, key, who, opened.role.value, answer)
                # this page keeps no draft: its own words for a run not waiting just then
                refusal = views.RUN_NOT_WAITING if refusal == NOT_WAITING else refusal
            if refusal:
                not_closed.append((action, refusal))
            else:
                closed.append(action)
        # closed for everyone: nobody's half-typed answer to any of them is kept, as when one is closed on its page
        gone = [drafts.ItemDraft(opened.review.id, str(action.item)) for action in closed]

        def discard(db: DbSession) -> None:
            for draft in gone:
                drafts.discard_task(db, draft)

        await register.in_thread(lambda: _with_db(discard))
        told = views.closed_together(closed, not_closed)
        title = "The actions were closed" if not not_closed else "Not every action was closed"
        page = self._said(request, title, told, link=(HOME, "Back to your tasks"), panel=not not_closed)
        return _html(200 if closed else 409, page)

    # --- the notification's identity step ----------------------------------------------------------------

    async def _identity_form(self, request: Request) -> Response:
        try:
            task = await identity_task(self.prefect, request.path_params["run_id"], _session(request).identity)
        except AnswerRefused as refused:
            return _html(
                404,
                self._said(
                    request, "This task is not open to you", _full_stop(str(refused)), link=(HOME, "Your tasks")
                ),
            )
        return self._identity_page(request, task)

    def _identity_page(
        self,
        request: Request,
        task: IdentityTask,
        *,
        posted: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
        refusal: str = "",
        status: int = 200,
    ) -> Response:
        fields = form_fields.fields_for(task.form, COORDINATING, posted=posted, errors=errors or {})
        shown_errors = {**(errors or {}), **({form_fields.FORM_ERROR: _full_stop(refusal)} if refusal else {})}
        return self._page(
            status,
            "tasks/form.html",
            request,
            title=task.title,
            error=bool(shown_errors),
            fields=fields,
            errors=form_fields.error_summary(fields, shown_errors),
            action=task.path,
            form_key=task.run.form_key,
            can_save=False,  # children's names: kept nowhere but the review's sealed record
            review={
                "reference": "New notification",
                "pseudonyms": list(task.pseudonyms),
                "partnership": task.partnership,
            },
            guidance=task.guidance,
            back_href=HOME,
        )

    async def _identity_post(self, request: Request) -> Response:
        who = _session(request).identity
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        kept = {k: v for k, v in posted.items() if k not in ("form_token", "action", "form_key")}
        try:
            task = await identity_task(self.prefect, request.path_params["run_id"], who)
        except AnswerRefused as refused:
            return _html(
                409,
                self._said(
                    request, "This task is not open to you", _full_stop(str(refused)), link=(HOME, "Your tasks")
                ),
            )
        if (posted.get("form_key") or [""])[0] != task.run.form_key:
            return self._identity_page(request, task, posted=kept, refusal=ANSWERED_SINCE, status=409)
        if form_fields.adds_row(task.form, kept):
            return self._identity_page(request, task, posted=kept)
        answer, errors = form_fields.read_form(task.form, kept, COORDINATING)
        if answer is None or errors:
            return self._identity_page(request, task, posted=kept, errors=errors, status=400)
        problem = task.check(answer)
        if problem:
            return self._identity_page(request, task, posted=kept, refusal=problem, status=400)
        refusal = await self._resume(task.run, who, Role.COORDINATOR.value, answer)
        if refusal:
            return self._identity_page(request, task, posted=kept, refusal=refusal, status=409)
        return _answer(303, b"", "text/plain", [("location", f"{task.path}/accepted")])

    async def _identity_accepted(self, request: Request) -> Response:
        html = self._said(
            request,
            "The children's identities were accepted",
            "They were handed to the notification, which records the review and seals them in the partnership's "
            "database. The review's first step appears on your tasks page within a minute.",
            link=(HOME, "Back to your tasks"),
            panel=True,
        )
        return _html(200, html)

    async def _accepted(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        stage = _stage_of(request.path_params["step"])
        step = STEPS.get(stage) if stage else None
        title = step.title if step else "this step"
        html = self._said(
            request,
            "Your answer was accepted",
            f"Your answer to {reference} ({title}) was checked and handed to the review. It is recorded in the "
            "review's history within a minute; nothing more is needed from you for this step.",
            link=(HOME, "Back to your tasks"),
            panel=True,
        )
        return _html(200, html)

    # --- taking a task, and looking again ------------------------------------------------------------------

    async def _claim(self, request: Request) -> Response:
        reference, stage = request.path_params["reference"], _stage_of(request.path_params["step"])
        session = _session(request)
        person = uuid.UUID(session.identity.person_id)
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        taking = (posted.get("action") or [""])[0] == "take"
        today = today_in_england()

        def change() -> None:
            with transaction() as db:
                opened = views.open_task(db, reference, stage, person, today)
                if taking:
                    if not opened.roles:
                        raise NotOpen(views.not_yours(opened))
                    claims.take(db, opened.task, person, self.clock())
                else:
                    claims.release(db, opened.task, person, coordinator=opened.coordinator)

        return await self._changed(request, change)

    async def _follow_up(self, request: Request) -> Response:
        reference, stage = request.path_params["reference"], _stage_of(request.path_params["step"])
        session = _session(request)
        person = uuid.UUID(session.identity.person_id)
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        today = today_in_england()
        on, problem = form_fields.read_date(posted, "follow_up", required=False, title="The date to look again")
        if problem:
            return _html(400, self._said(request, "Check the date", problem, link=(_back(request), "Back to the task")))

        def change() -> None:
            with transaction() as db:
                opened = views.open_task(db, reference, stage, person, today)
                claims.set_follow_up(db, opened.task, person, on)

        return await self._changed(request, change)

    async def _changed(self, request: Request, change: Callable[[], None]) -> Response:
        """Make a change of the person's own (taking a task, a date), then back to where they made it."""
        posted: dict[str, list[str]] = request.scope["cspr.posted"]
        back = HOME if (posted.get("back") or [""])[0] == "list" else _back(request)
        try:
            await register.in_thread(change)
        except Refused as refused:
            return _html(409, self._said(request, "That was not done", str(refused), link=(back, "Back")))
        return _answer(303, b"", "text/plain", [("location", back)])

    # --- the pages themselves --------------------------------------------------------------------------------

    async def _asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = STATIC / name
        kind = _ASSET_TYPES.get(path.suffix)
        if kind is None or "/" in name or name.startswith(".") or not path.is_file():
            return _answer(404, b"there is no such file", "text/plain")
        return _answer(200, path.read_bytes(), kind)

    async def _no_such_page(self, request: Request, exc: Exception) -> Response:
        return _html(404, self._said(request, "Page not found", "There is no such page.", link=(HOME, "Your tasks")))

    def _page(self, status: int, template: str, request: Request, **values: Any) -> Response:
        session = _session(request)
        html = render(
            template,
            person=session.identity.name,
            form_token=request.scope["cspr.form_token"],
            sign_out=SIGN_OUT,
            home=HOME,
            **values,
        )
        return _html(status, html)

    def _message(
        self, title: str, text: str, *, link: tuple[str, str] | None = None, panel: bool = False, person: str = ""
    ) -> bytes:
        """A short page: what happened, and where to go on to. ``person``: who is signed in, named in the header."""
        return render(
            "tasks/message.html",
            title=title,
            text=text,
            link={"href": link[0], "label": link[1]} if link else None,
            panel=panel,
            person=person,
            sign_out=SIGN_OUT,
            home=HOME,
        )

    def _said(
        self, request: Request, title: str, text: str, *, link: tuple[str, str] | None = None, panel: bool = False
    ) -> bytes:
        """``_message``, to the person signed in."""
        session: Session | None = request.scope.get("cspr.session")  # none on an asset's 404
        return self._message(title, text, link=link, panel=panel, person=session.identity.name if session else "")


def _with_db(call: Callable[[DbSession], T]) -> T:
    """``call`` in a transaction of its own (run in a thread: register.in_thread)."""
    with transaction() as db:
        return call(db)


def _document(request: Request, part: views.Part) -> tuple[evidence.Examined | None, str]:
    """The evidence document posted with an action's progress, if it may be given, or why not (an error of the file
    input); (None, "") when none was posted, or the page's part takes none."""
    upload: uploads.Upload | None = request.scope.get("cspr.upload")
    if upload is None or part is not views.PROGRESS:
        return None, ""
    posted: dict[str, list[str]] = request.scope["cspr.posted"]
    if (posted.get("status") or [""])[0] != Progress.DONE.value:
        return None, ONLY_WHEN_DONE
    try:
        return evidence.examine(upload.name, upload.data), ""
    except evidence.Unacceptable as exc:
        return None, str(exc)


def _unshown(shown: Shown) -> list[str]:
    """What the page says in place of the item's words when the checker could not be asked."""
    return [f"> {_full_stop(shown.message)}"] if shown.message else []


def _discard(person: uuid.UUID, task: task_ref.TaskRef) -> None:
    with transaction() as db:
        drafts.discard(db, person, task)


def _accepted_now(task: task_ref.TaskRef) -> None:
    """The answer is the run's now: every draft of it goes, and so does who had taken it."""
    with transaction() as db:
        drafts.discard_task(db, task)
        claims.release_task(db, task)


def form_token(session_token: str) -> str:
    """The token every POST of these pages carries: derived from the session's cookie, which no other site's page
    can read, so it needs no cookie of its own; a new sign-in makes every page shown before it expire."""
    return hmac.new(session_token.encode(), b"cspr tasks form", hashlib.sha256).hexdigest()


def _full_stop(text: str) -> str:
    """A refusal as a sentence of the page: it begins with a capital and ends with a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _referred(scope: Any) -> str:
    """The page the person was on: the task's own (a POST's path), or their list."""
    parts = str(scope.get("path", HOME)).split("/")  # "", "tasks", reference, step, and perhaps "claim"
    if len(parts) < 4 or parts[1] != TASKS.strip("/"):
        return HOME
    return "/".join(parts[:5] if _ITEM_PATH.search("/".join(parts[:5])) else parts[:4])  # an item: its kind, number


def _session(request: Request) -> Session:
    session: Session = request.scope["cspr.session"]
    return session


def _back(request: Request) -> str:
    return task_path(request.path_params["reference"], _stage_of(request.path_params["step"]) or Stage.CLOSED)


def _parse(body: bytes) -> dict[str, list[str]]:
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        return {}
    posted: dict[str, list[str]] = {}
    for key, value in pairs:
        posted.setdefault(key, []).append(value)
    return posted


def _answer(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Answer(status, body, content_type, headers)


def _html(status: int, html: bytes) -> Response:
    return _answer(status, html, "text/html; charset=utf-8", _PAGE_HEADERS)
