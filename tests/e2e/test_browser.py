"""A coordinator's first review, clicked through Prefect's UI in a real browser (Debian's Chromium, driven by
Playwright) against a live `cspr up`, each step by the person whose step it is, signed in at the gate: a coordinator
added with `cspr people add` signs in for the first time and sets up the authenticator app, then fills in the
notification form, the identity form, the notification and rapid review forms; each partner's representative signs
in (the demo people `cspr up` printed the passwords of) and signs off. Then the project database must show the review
with the Panel, each sign-off by its own person, and the UI must show the reference and never the child's name.

Screenshots of every step go to ``test-output/browser/`` (or ``$CSPR_TEST_OUTPUT/browser``): look at them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Locator, Page, Response, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cli.processes import dies_with_parent
from cli.seaweed import free_port
from models.roles import Role
from models.settings import PROJECT_ROOT
from models.system_credentials import SERVICE_FILE
from tests.e2e.ui import CHROMIUM, CHROMIUM_FLAGS, PrefectUI
from tests.utils.api import service_api
from tests.utils.maildev import LINK, MailDev, running_maildev
from tests.utils.signin import register_with_cli

CHILD, DOB = "Perpetua Windlesham-Achebe", dt.date(2017, 5, 14)  # invented
TODAY = dt.date.today()


def day(n: int) -> dt.date:
    """Dates of the scenario, counted back from today so that none is in the future."""
    return TODAY - dt.timedelta(days=30 - n)


DEMO_PASSWORD = re.compile(r"^  (\S+@\S+)  (\S+)$", re.MULTILINE)  # as `cspr up` prints each demo person's, once


@dataclass
class Live:
    base: str
    home: Path
    mail: MailDev
    passwords: dict[str, str] = field(default_factory=dict)  # the demo people's, from what `cspr up` printed

    def decisions(self, kind: str) -> list[tuple[str, str, str]]:
        """Who made the review's decisions of ``kind``: name, role, how they signed in."""
        with sqlite3.connect(self.home / "cspr.db") as db:
            rows = db.execute(
                "SELECT actor_name, actor_role, actor_signed_in_with FROM decision WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    @property
    def api(self) -> str:
        return f"{self.base}/api"

    def review(self) -> tuple[str, str, int] | None:
        """The one review in the project database: reference, stage, answer counter."""
        with sqlite3.connect(self.home / "cspr.db") as db:
            row = db.execute("SELECT reference, stage, step_seq FROM review").fetchone()
        return None if row is None else (str(row[0]), str(row[1]), int(row[2]))

    @property
    def http(self) -> httpx.Client:
        """Its API as the service, with the credential its `cspr up` made under its own CSPR_HOME."""
        return service_api(self.api, token=(self.home / "keys" / SERVICE_FILE).read_text().strip())

    def state(self, run_id: str) -> str:
        return str(self.http.get(f"/flow_runs/{run_id}").json()["state"]["type"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`cspr up` (what `make up` runs) on a port and a CSPR_HOME of its own, sending its email to MailDev."""
    with ExitStack() as stack:
        yield from _live(tmp_path_factory, stack)


def _live(tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> Iterator[Live]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium", pytrace=False)
    home = tmp_path_factory.mktemp("browser") / "cspr-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_"))}
    env["CSPR_HOME"] = str(home)
    mail = stack.enter_context(running_maildev(home.parent))  # the partnership's mail relay, read by the test
    env |= {"CSPR_SMTP_URL": mail.smtp_url, "CSPR_MAIL_FROM": "cspr@northshire-scp.example"}
    port = free_port()
    log_path = home.parent / "up.log"
    up = subprocess.Popen(
        [str(Path(sys.executable).parent / "cspr"), "up", "--port", str(port)],
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        **dies_with_parent(),
    )
    try:
        deadline = time.monotonic() + 240
        while "Prefect UI:" not in log_path.read_text():
            assert up.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(1)
        passwords = dict(DEMO_PASSWORD.findall(log_path.read_text()))
        assert len(passwords) == 5, log_path.read_text()  # the coordinator, the three partners, the Panel's contact
        yield Live(f"http://127.0.0.1:{port}", home, mail, passwords)
    finally:
        up.terminate()
        up.wait(timeout=60)


@pytest.fixture
def ui(live: Live) -> Iterator[PrefectUI]:
    shots = Path(os.environ.get("CSPR_TEST_OUTPUT") or PROJECT_ROOT / "test-output") / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        ui = PrefectUI(page, live.base, shots)
        # every API call the gate refused the UI: the UI shows each as "Something went wrong"
        page.on(
            "response", lambda r: ui.refused.append(f"{r.status} {r.request.method} {r.url}") if _refused(r) else None
        )
        yield ui
        browser.close()


def _refused(response: Response) -> bool:
    return "/api/" in response.url and response.status == 403  # (a 401 is a tab polling after its sign-out)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def sign_in(ui: PrefectUI, email: str, password: str, next_path: str | None, code: str = "") -> None:
    """The gate's sign-in page, filled in as a person does; it sends them on to ``next_path`` (None: the sign-in
    page is open already, where the gate sent them, and knows where they were going)."""
    page = ui.page
    if next_path is not None:
        page.goto(f"{ui.base}/sign-in?{urllib.parse.urlencode({'next': next_path})}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    if code:
        page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()


def sign_out(ui: PrefectUI, shot: bool = False) -> None:
    page = ui.page
    page.goto(f"{ui.base}/sign-out")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    if shot:
        ui.shot("signed-out")


def resume(ui: PrefectUI, live: Live, run_id: str, name: str, fill: Callable[[Locator], None]) -> None:
    """Open the suspended run's page, press Resume, fill the form in the dialog and submit it."""
    page: Page = ui.page
    page.goto(f"{ui.base}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog").or_(page.locator(".p-modal")).first
    expect(dialog).to_be_visible()
    try:
        fill(dialog)
    except Exception:
        ui.shot(f"{name}-FAILED")
        raise
    ui.shot(f"{name}-filled")
    # The dialog closes only when the server has answered the resume request, which takes seconds while the other
    # tests load both cores: wait for that answer itself, and say which of the two went wrong if one did.
    started = time.monotonic()
    try:
        with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/resume")) as sent:
            dialog.get_by_role("button", name="Submit").click()
    except PlaywrightTimeout:
        ui.shot(f"{name}-NOT-SENT")
        shown = dialog.inner_text()
        raise AssertionError(f"Submit sent no answer for the {name} form; the dialog reads: {shown}") from None
    answer = sent.value
    if not answer.ok:
        page.wait_for_timeout(500)  # so that the screenshot shows the UI's message
        ui.shot(f"{name}-REFUSED")
        raise AssertionError(f"the server refused the {name} answer: {answer.status} {answer.text()}")
    expect(dialog).to_be_hidden(timeout=30_000)
    print(f"{name}: answered in {time.monotonic() - started:.1f} s")


def lifecycle_run(live: Live, reference: str) -> str:
    body = {"flow_runs": {"tags": {"all_": [f"review:{reference}", "lifecycle"]}}, "sort": "START_TIME_DESC"}
    runs = live.http.post("/flow_runs/filter", json=body).json()
    return str(runs[0]["id"]) if runs else ""


def follow_the_email(ui: PrefectUI, live: Live, email: str, reference: str) -> None:
    """Read the person's "waiting for you" email as it arrived, follow its link, sign in where the gate sends them,
    and land on the run whose form waits for them. The email is kept beside the screenshots, to be read."""
    message = live.mail.wait_for(email, f"{reference}: waiting for you: Sign off the rapid review")
    text = str(message["text"])
    (ui.shots / "police-email.txt").write_text(f"To: {email}\nSubject: {message['subject']}\n\n{text}")
    assert CHILD not in text and "Windlesham" not in text and DOB.isoformat() not in text
    (link,) = [u for u in LINK.findall(text) if "/runs/flow-run/" in u]
    ui.page.goto(link)
    expect(ui.page.get_by_role("heading", name="Sign in")).to_be_visible()  # not signed in: the gate asks first
    ui.shot("email-link-sign-in")
    sign_in(ui, email, live.passwords[email], None)
    ui.page.wait_for_url(link)  # straight back to the run's page, where the form is
    assert link.endswith(f"/runs/flow-run/{lifecycle_run(live, reference)}")


def test_a_coordinators_first_review_clicked_through_the_ui(live: Live, ui: PrefectUI) -> None:
    page = ui.page
    # 0. a coordinator added by the operator signs in for the first time: the sign-in page, then the enrolment page
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_"))}
    dana = register_with_cli(
        {**env, "CSPR_HOME": str(live.home)}, "Dana Okafor", "dana.okafor@northshire-scp.example", Role.COORDINATOR
    )
    page.goto(f"{ui.base}/deployments")  # not signed in: the gate's sign-in page, not Prefect's UI
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "/sign-in?next=%2Fdeployments" in page.url
    ui.shot("sign-in")
    sign_in(ui, dana.email, dana.password, "/deployments")
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    ui.shot("enrolment")
    secret = pyotp.parse_uri(page.locator("code.uri").inner_text()).secret
    assert secret == dana.totp_secret  # the app set up from the page is the one `cspr people add` showed
    page.get_by_label("Type the 6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url(re.compile(r"/deployments(\?|$)"))

    # 1. the notification: Deployments -> notify-incident -> Run -> Custom run
    page.goto(f"{ui.base}/deployments")
    expect(page.get_by_role("link", name="deadline-sweep", exact=True).first).to_be_visible()
    ui.shot("deployments")
    page.get_by_role("link", name="notify-incident", exact=True).first.click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url(re.compile(r"/run(\?|$)"))
    ui.text("Safeguarding partnership", "northshire")
    ui.date("Date of the incident", day(0))
    ui.date("Date the local authority became aware", day(1))
    ui.choose("What happened to the child", "seriously harmed")
    ui.choose("Abuse or neglect", "suspected")
    child = ui.add_item("Children")
    ui.text("Pseudonym", "Child K", within=child)
    ui.choose("Age band", "5-9", within=child)
    ui.shot("notification-filled")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/deployments/deployment/[^/]+(\?|$)"))  # back on the deployment's page

    # 2. the identity form, on the notification's run
    runs: list[dict[str, object]] = []
    wait_for(
        "the notification run",
        lambda: bool(runs.extend(live.http.post("/flow_runs/filter", json={}).json()) or runs),
    )
    notify_id = str(runs[0]["id"])
    wait_for("the notification run to ask who the children are", lambda: live.state(notify_id) == "PAUSED")
    page.reload()
    expect(page.get_by_text("northshire · new incident").first).to_be_visible()
    ui.shot("notification-run-listed")

    def identity(form: Locator) -> None:
        entry = ui.add_item("Children", within=form)
        ui.text("Pseudonym (as notified)", "Child K", within=entry)
        ui.text("Full name", CHILD, within=entry)
        ui.date("Date of birth", DOB, within=entry)

    resume(ui, live, notify_id, "identity", identity)
    wait_for("the review to be recorded", lambda: live.review() is not None)
    reference = live.review()[0]  # type: ignore[index]

    # 3. each step of the review's own run
    def step(name: str, fill: Callable[[Locator], None], stage_after: str) -> None:
        wait_for(
            f"the {name} form", lambda: bool(run := lifecycle_run(live, reference)) and live.state(run) == "PAUSED"
        )
        before = live.review()
        resume(ui, live, lifecycle_run(live, reference), name, fill)
        wait_for(f"the {name} answer to be recorded", lambda: live.review() != before)
        review = live.review()
        assert review is not None and review[1] == stage_after, (name, review)

    def notified(form: Locator) -> None:
        ui.text("Reference from the national notification system", "SIN-2026-11-0042", within=form)
        ui.date("Date the notification was submitted", day(3), within=form)
        ui.date("Date the local safeguarding partners were told", day(3), within=form)

    def rapid_review(form: Locator) -> None:
        ui.text("The facts", "Child K was taken to hospital with injuries consistent with neglect.", within=form)
        ui.text("Immediate safeguarding action", "A strategy meeting; the sibling has a protection plan.", within=form)
        ui.text("Agencies involved", "Children's social care; police; health visiting; the school.", within=form)
        ui.text("Key practice episodes", "Missed health appointments; a school referral not followed up.", within=form)
        ui.text("Learning to share now", "Missed appointments were not shared between health and school.", within=form)
        for criterion in ("(a) It highlights", "(b) It highlights", "(c) It highlights"):
            ui.switch(criterion, within=form)
        ui.choose_many("Practice themes", ["neglect", "information sharing between agencies"], within=form)
        ui.choose("Recommendation", "local review", within=form)
        ui.text("The partners' view on a national review", "Not needed: the learning is local.", within=form)
        ui.date("Date the rapid review was completed", day(10), within=form)

    def sign_off(partner: str) -> Callable[[Locator], None]:
        def fill(form: Locator) -> None:
            ui.choose("You sign for", partner, within=form)
            ui.choose("Decision", "sign off", within=form)
            ui.date("Date of your decision", day(12), within=form)

        return fill

    step("notification-submitted", notified, "rapid_review")
    step("rapid-review", rapid_review, "rapid_review_sign_off")
    # each partner's own representative signs off, signed in as themselves; the coordinator signs out first
    sign_out(ui, shot=True)
    partners = [
        ("local authority", "alex.morgan@northshire-council.example", "rapid_review_sign_off"),
        ("police", "sam.patel@northshire-police.example", "rapid_review_sign_off"),
        ("health", "jo.evans@northshire-icb.example", "awaiting_panel"),
    ]
    for partner, email, stage_after in partners:
        if partner == "police":  # the police representative comes by the link in their "waiting for you" email
            follow_the_email(ui, live, email, reference)
        else:
            sign_in(ui, email, live.passwords[email], "/runs")
            page.wait_for_url(re.compile(r"/runs(\?|$)"))
        step(f"sign-off-{partner.replace(' ', '-')}", sign_off(partner), stage_after)
        sign_out(ui)
    assert live.decisions("sign_off") == [
        ("Alex Morgan", "local_authority", "password"),
        ("Sam Patel", "police", "password"),
        ("Jo Evans", "health", "password"),
    ]
    assert live.decisions("rapid_review") == [("Dana Okafor", "coordinator", "password+totp")]

    # 4. what the coordinator sees now: the run named by reference, its timeline artifact, and no name
    sign_in(ui, "chris.lee@northshire-scp.example", live.passwords["chris.lee@northshire-scp.example"], "/runs")
    page.wait_for_url(re.compile(r"/runs(\?|$)"))
    run_id = lifecycle_run(live, reference)
    wait_for("the run to wait for the Panel", lambda: live.state(run_id) == "PAUSED")
    page.goto(f"{ui.base}/runs/flow-run/{run_id}")
    expect(page.get_by_text(reference).first).to_be_visible()
    ui.shot("review-run")
    page.get_by_role("tab", name="Artifacts").or_(page.get_by_text("Artifacts", exact=True)).first.click()
    expect(page.get_by_text(reference.lower()).first).to_be_visible()
    ui.shot("review-artifacts")
    page.goto(f"{ui.base}/artifacts/key/{reference.lower()}")  # every version of it, newest first
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    expect(page.get_by_text("Rapid review with the Panel").first).to_be_visible()
    ui.shot("review-timeline")
    emails = [json.dumps(m) for m in live.mail.emails()]  # every field MailDev keeps: headers, subject, text
    assert emails  # "waiting for you" for each step, and the notices to the Panel
    for text in (page.content(), *(live.http.get(f"/flow_runs/{r}").text for r in (run_id, notify_id)), *emails):
        assert CHILD not in text and "Windlesham" not in text and DOB.isoformat() not in text
    assert len(ui.taken) >= 15
    assert ui.refused == []  # the gate let through every call the UI made for these people
