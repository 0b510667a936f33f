"""A coordinator's first review in a real browser (Debian's Chromium, driven by Playwright) against a live `cspr up`
sending its email to MailDev, each step answered on the gate's tasks pages by the person whose step it is:

- a coordinator added with `cspr people add` signs in for the first time and sets up the authenticator app, lands on
  "Your tasks", starts a notification in Prefect's UI (the one thing left to do there), then gives the children's
  identities, the notification and the rapid review on their tasks pages: a Submit with fields missing shows the
  error summary, "I'm on it" takes the rapid review, and the draft saved before signing out is there after signing in
  again;
- each partner's representative follows the link in their "waiting for you" email, signs in, lands on the sign-off
  page and signs off there (the local authority's first answer, dated before the rapid review was completed, is
  refused with the lifecycle's own reason);
- the Panel's contact signs in and finds the Panel's step on their tasks page.

The partners and the Panel's contact never reach a page of Prefect's; each decision is recorded with its own
person's identity; the child's name and date of birth are in no Prefect page, email or run record. axe-core checks
the sign-in, enrolment, task list and form pages (tests/e2e/accessibility.py).

Screenshots go to ``test-output/browser/`` (or ``$CSPR_TEST_OUTPUT/browser``), with the emails followed: look at
them. docs/screenshots/ holds copies of a few, for the README.
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
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Page, Response, ViewportSize, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cli.processes import dies_with_parent
from cli.seaweed import free_port
from models.process import STEPS
from models.roles import Role
from models.settings import PROJECT_ROOT
from models.stages import Stage
from models.system_credentials import SERVICE_FILE
from models.task_ref import task_path
from tests.e2e.accessibility import Accessibility
from tests.e2e.ui import CHROMIUM, CHROMIUM_FLAGS, PrefectUI, TaskPage
from tests.utils.api import service_api
from tests.utils.maildev import LINK, MailDev, running_maildev
from tests.utils.signin import register_with_cli
from tests.utils.waiting import wait_until

CHILD, DOB = "Perpetua Windlesham-Achebe", dt.date(2017, 5, 14)  # invented
TODAY = dt.date.today()
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 360, "height": 800}  # a small phone, GOV.UK's narrowest
# The gate's own pages: the only ones a partner or the Panel's contact may reach (the tasks pages, their styles and
# scripts, signing in and out). Anything else is Prefect's.
GATE_PAGES = re.compile(r"^/(tasks(/.*)?|sign-in(/.*)?|sign-out)?$")
RUN_SECONDS = 120  # how long the journey waits for a run or the server to act on what a person did


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
        # the coordinator, the three partners, the Panel's contact and the four agencies' contacts
        assert len(passwords) == 9, log_path.read_text()
        yield Live(f"http://127.0.0.1:{port}", home, mail, passwords)
    finally:
        up.terminate()
        up.wait(timeout=60)


@dataclass
class Journey:
    """The browser the people take turns at: its page and screenshots (``ui``), the accessibility checks, and every
    request it made, with who was signed in then."""

    ui: PrefectUI
    axe: Accessibility
    who: str = ""  # the address of the person signed in now
    requests: list[tuple[str, str]] = field(default_factory=list)  # (who, URL)

    @property
    def page(self) -> Page:
        return self.ui.page

    @property
    def base(self) -> str:
        return self.ui.base

    def form(self) -> TaskPage:
        return TaskPage(self.page)

    def outside_the_gate(self, email: str) -> list[str]:
        """The requests made while ``email`` was signed in that went anywhere but the gate's own pages."""
        paths = [urllib.parse.urlsplit(url).path for who, url in self.requests if who == email]
        assert paths, f"no request was made as {email}"
        return [path for path in paths if not GATE_PAGES.match(path)]


@pytest.fixture
def journey(live: Live) -> Iterator[Journey]:
    shots = Path(os.environ.get("CSPR_TEST_OUTPUT") or PROJECT_ROOT / "test-output") / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    for old in [*shots.glob("*.png"), *shots.glob("*.txt")]:
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(30_000)
        ui = PrefectUI(page, live.base, shots)
        # every API call the gate refused Prefect's UI: the UI shows each as "Something went wrong"
        page.on(
            "response", lambda r: ui.refused.append(f"{r.status} {r.request.method} {r.url}") if _refused(r) else None
        )
        axe = Accessibility(browser, DESKTOP)
        axe.watch(page)
        journey = Journey(ui, axe)
        page.on("request", lambda r: journey.requests.append((journey.who, r.url)))
        yield journey
        if axe.minor:
            print("accessibility, below serious:\n" + "\n".join(axe.minor))
        browser.close()


def _refused(response: Response) -> bool:
    return "/api/" in response.url and response.status == 403  # (a 401 is a tab polling after its sign-out)


def no_name(text: str) -> bool:
    return CHILD not in text and "Windlesham" not in text and DOB.isoformat() not in text


# --- signing in and out ------------------------------------------------------------------------------------------


def sign_in(j: Journey, email: str, password: str, code: str = "") -> None:
    """The gate's sign-in page, open where the gate sent the person (it knows where they were going), filled in."""
    page = j.page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    if code:
        page.get_by_label("Code from your authenticator app").fill(code)
    j.who = email
    page.get_by_role("button", name="Sign in").click()


def sign_out(j: Journey, shot: bool = False) -> None:
    page = j.page
    page.goto(f"{j.base}/sign-out")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    j.who = ""
    if shot:
        j.ui.shot("signed-out")


@dataclass
class App:
    """An authenticator app: each code is taken once, so a second sign-in uses a later time step's code (the gate
    takes the next step's too, for a phone a little ahead, so no test waits 30 s for it)."""

    secret: str
    spent: int = -1  # the time step of the last code used

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        while (step := max(int(time.time()) // totp.interval, self.spent + 1)) > int(time.time()) // totp.interval + 1:
            time.sleep(1)
        self.spent = step
        return totp.generate_otp(step)


# --- the tasks pages -----------------------------------------------------------------------------------------------


def lifecycle_run(live: Live, reference: str) -> str:
    body = {"flow_runs": {"tags": {"all_": [f"review:{reference}", "lifecycle"]}}, "sort": "START_TIME_DESC"}
    runs = live.http.post("/flow_runs/filter", json=body).json()
    return str(runs[0]["id"]) if runs else ""


def run_waits(live: Live, reference: str, what: str) -> None:
    """The review's run waits on a form again: an answer handed to it now is taken (the page would say to try
    again in a minute otherwise)."""

    def paused() -> bool:
        run = lifecycle_run(live, reference)
        return bool(run) and live.state(run) == "PAUSED"

    wait_until(f"the run to wait for {what}", paused, timeout=RUN_SECONDS)


def open_task(j: Journey, reference: str, stage: Stage) -> TaskPage:
    """From the person's list of tasks, as they would: the task's Open link."""
    j.page.goto(f"{j.base}/")
    j.page.get_by_role("link", name=f"Open {STEPS[stage].title} for {reference}").click()
    j.page.wait_for_url(f"{j.base}{task_path(reference, stage)}")
    return j.form()


def submit(j: Journey, name: str) -> None:
    """Submit, and see the answer accepted; else say what the page says is wrong."""
    j.form().press("Submit")
    try:
        j.page.wait_for_url(re.compile(r"/accepted$"), timeout=60_000)  # checked, then handed to the run: seconds
    except PlaywrightTimeout:
        j.ui.shot(f"{name}-REFUSED")
        summary = j.page.locator(".govuk-error-summary")
        said = summary.inner_text() if summary.count() else j.page.inner_text("main")
        raise AssertionError(f"the {name} answer was not accepted; the page says: {said}") from None
    expect(j.page.get_by_role("heading", name=re.compile("accepted$"))).to_be_visible()


def answered(live: Live, before: tuple[str, str, int] | None, name: str, stage_after: str) -> None:
    """The answer handed to the run is recorded in the project database, and the review is at ``stage_after``."""
    wait_until(f"the {name} answer to be recorded", lambda: live.review() != before, timeout=RUN_SECONDS)
    review = live.review()
    assert review is not None and review[1] == stage_after, (name, review)


def follow_the_email(j: Journey, live: Live, email: str, partner: str, reference: str) -> str:
    """Read the person's "waiting for you" email as it arrived (kept beside the screenshots, to be read), follow its
    link, sign in where the gate sends them, and land on the task's page. Returns the link."""
    message = live.mail.wait_for(email, f"{reference}: waiting for you: {STEPS[Stage.RAPID_REVIEW_SIGN_OFF].title}")
    text = str(message["text"])
    (j.ui.shots / f"{partner.replace(' ', '-')}-email.txt").write_text(
        f"To: {email}\nSubject: {message['subject']}\n\n{text}"
    )
    assert no_name(text)
    (link,) = [str(u) for u in LINK.findall(text) if "/tasks/" in u]
    assert urllib.parse.urlsplit(link).path == task_path(reference, Stage.RAPID_REVIEW_SIGN_OFF)
    j.page.goto(link)
    expect(j.page.get_by_role("heading", name="Sign in")).to_be_visible()  # not signed in: the gate asks first
    return link


# --- the journey ---------------------------------------------------------------------------------------------------


def test_a_coordinators_first_review_on_the_tasks_pages(live: Live, journey: Journey) -> None:
    j, page, ui, axe = journey, journey.page, journey.ui, journey.axe
    # 0. a coordinator added by the operator signs in for the first time: the sign-in page, then the enrolment page
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_"))}
    dana = register_with_cli(
        {**env, "CSPR_HOME": str(live.home)}, "Dana Okafor", "dana.okafor@northshire-scp.example", Role.COORDINATOR
    )
    page.goto(f"{j.base}/")  # not signed in: the gate's sign-in page, which knows where she was going
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "/sign-in?next=%2F" in page.url
    ui.shot("sign-in")
    axe.check("the sign-in page", page)
    sign_in(j, dana.email, dana.password)
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    ui.shot("enrolment")
    axe.check("the enrolment page", page)
    secret = pyotp.parse_uri(page.locator("code.uri").inner_text()).secret
    assert secret == dana.totp_secret  # the app set up from the page is the one `cspr people add` showed
    app = App(secret)
    page.get_by_label("Type the 6-digit code").fill(app.code())
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_url(f"{j.base}/")  # her tasks: none yet
    expect(page.get_by_role("heading", name="Your tasks")).to_be_visible()

    # 1. the notification, started from her tasks page in Prefect's UI (its run form, drawn from the flow's model)
    page.get_by_role("button", name="Start a notification").click()
    page.wait_for_url(re.compile(r"/deployments/deployment/[^/]+/run(\?|$)"))
    ui.text("Safeguarding partnership", "northshire")
    ui.date("Date of the incident", day(0))
    ui.date("Date the local authority became aware", day(1))
    ui.choose("What happened to the child", "seriously harmed")
    ui.choose("Abuse or neglect", "suspected")
    child = ui.add_item("Children")
    ui.text("Pseudonym", "Child K", within=child)
    ui.choose("Age at the incident", "6 to 10", within=child)
    ui.shot("notification-filled")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/deployments/deployment/[^/]+(\?|$)"))  # back on the deployment's page

    # 2. the children's identities: a task on her list as soon as the notification's run waits for them
    wait_until(
        "the notification run", lambda: bool(live.http.post("/flow_runs/filter", json={}).json()), timeout=RUN_SECONDS
    )
    notify_id = str(live.http.post("/flow_runs/filter", json={}).json()[0]["id"])  # the only run yet
    wait_until(
        "the notification run to ask who the children are",
        lambda: live.state(notify_id) == "PAUSED",
        timeout=RUN_SECONDS,
    )
    page.goto(f"{j.base}/")
    page.get_by_role("link", name=re.compile("^Who the children are")).click()
    page.wait_for_url(f"{j.base}/tasks/notification/{notify_id}")
    expect(page.get_by_role("button", name="Save draft")).to_have_count(0)  # children's names are never kept as drafts
    child_k = j.form().within("Children, Row 1")
    child_k.text("Pseudonym (as notified)", "Child K")
    child_k.text("Full name", CHILD)
    child_k.date("Date of birth", DOB)
    ui.shot("identity-filled")
    submit(j, "identity")
    wait_until("the review to be recorded", lambda: live.review() is not None, timeout=RUN_SECONDS)
    reference = live.review()[0]  # type: ignore[index]

    # 3. the notification to the Panel, on her tasks page
    run_waits(live, reference, "the notification")
    form = open_task(j, reference, Stage.INCIDENT_RECORDED)
    form.text("Reference from the national notification system", "SIN-2026-11-0042")
    form.date("Date the notification was submitted", day(3))
    form.date("Date the local safeguarding partners were told", day(3))
    before = live.review()
    submit(j, "notification-submitted")
    answered(live, before, "notification", "rapid_review")

    # 4. the rapid review: her list (wide and narrow), "I'm on it", a Submit with answers missing, a draft
    run_waits(live, reference, "the rapid review")
    page.goto(f"{j.base}/")
    expect(page.get_by_role("link", name=f"Open {STEPS[Stage.RAPID_REVIEW].title} for {reference}")).to_be_visible()
    ui.shot("tasks")
    axe.check("the task list", page)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    ui.shot("tasks-phone")
    page.set_viewport_size(DESKTOP)
    form = open_task(j, reference, Stage.RAPID_REVIEW)
    axe.check("a task's form", page)
    form.press("I'm on it")
    expect(page.get_by_text("You said you are on it")).to_be_visible()
    form.text("The facts", "Child K was taken to hospital with injuries consistent with neglect.")
    form.text("Immediate safeguarding action", "A strategy meeting; the sibling has a protection plan.")
    form.press("Submit")  # the rest is missing: the page says what, above the form and at each field
    summary = form.error_summary()
    expect(summary.get_by_role("link")).not_to_have_count(0)
    expect(summary).to_contain_text("Enter the agencies involved")
    ui.shot("rapid-review-errors")
    axe.check("a form with errors", page)
    form.press("Save draft")
    expect(page.get_by_text("Your draft is saved. Nothing has been submitted yet.")).to_be_visible()
    sign_out(j)
    page.goto(f"{j.base}/")
    sign_in(j, dana.email, dana.password, app.code())
    page.wait_for_url(f"{j.base}/")
    form = open_task(j, reference, Stage.RAPID_REVIEW)
    expect(page.get_by_text(re.compile(r"^This is the draft you saved on "))).to_be_visible()
    expect(page.get_by_label("The facts", exact=True)).to_have_value(re.compile("^Child K was taken to hospital"))
    expect(page.get_by_text("You said you are on it")).to_be_visible()  # still hers, after signing in again
    ui.shot("rapid-review-draft-restored")
    form.text("Agencies involved", "Children's social care; police; health visiting; the school.")
    form.text("Key practice episodes", "Missed health appointments; a school referral not followed up.")
    form.text("Learning to share now", "Missed appointments were not shared between health and school.")
    for criterion in ("(a) It highlights", "(b) It highlights", "(c) It highlights"):
        form.tick(criterion)
    form.choose_many("Practice themes", ["Neglect", "Information sharing between agencies"])
    form.choose("Recommendation", "Local review")
    form.text("The partners' view on a national review", "Not needed: the learning is local.")
    form.date("Date the rapid review was completed", day(10))
    before = live.review()
    submit(j, "rapid-review")
    answered(live, before, "rapid review", "rapid_review_sign_off")
    sign_out(j, shot=True)

    # 5. each partner's own representative, from the link in their email, signs off on the task's page
    partners = [
        ("local authority", "alex.morgan@northshire-council.example", "rapid_review_sign_off"),
        ("police", "sam.patel@northshire-police.example", "rapid_review_sign_off"),
        ("health", "jo.evans@northshire-icb.example", "awaiting_panel"),
    ]
    for partner, email, stage_after in partners:
        link = follow_the_email(j, live, email, partner, reference)
        if partner == "local authority":
            ui.shot("email-link-sign-in")
        sign_in(j, email, live.passwords[email])
        page.wait_for_url(link)  # straight back to the task's page, where the form is
        expect(page.get_by_text("You sign for:")).to_be_visible()  # given by who they are, not asked
        form = j.form()
        form.choose("Decision", "Sign off")
        run_waits(live, reference, f"the {partner} sign-off")
        if partner == "local authority":  # dated before the rapid review was completed: the lifecycle says no
            form.date("Date of your decision", day(9))
            form.press("Submit")
            expect(form.error_summary()).to_contain_text("rapid review's completion")
            ui.shot("sign-off-refused")
        form.date("Date of your decision", day(12))
        if partner == "police":
            ui.shot("sign-off")
        before = live.review()
        submit(j, f"sign-off-{partner.replace(' ', '-')}")
        if partner == "police":
            ui.shot("sign-off-accepted")
            axe.check("the accepted page", page)
        assert no_name(page.content())
        answered(live, before, f"{partner} sign-off", stage_after)
        sign_out(j)
    assert live.decisions("sign_off") == [
        ("Alex Morgan", "local_authority", "password"),
        ("Sam Patel", "police", "password"),
        ("Jo Evans", "health", "password"),
    ]
    assert live.decisions("rapid_review") == [("Dana Okafor", "coordinator", "password+totp")]

    # 6. the Panel's contact finds the Panel's step waiting on their tasks page
    run_waits(live, reference, "the Panel's response")
    panel = "secretariat@panel.example"
    page.goto(f"{j.base}/")
    sign_in(j, panel, live.passwords[panel])
    page.wait_for_url(f"{j.base}/")
    ui.shot("panel-tasks")
    open_task(j, reference, Stage.AWAITING_PANEL)
    expect(page.get_by_role("heading", name=STEPS[Stage.AWAITING_PANEL].title)).to_be_visible()
    ui.shot("panel-task")
    assert no_name(page.content())
    j.who = ""  # not counted as theirs: Prefect's runs page asked for on purpose, which the gate answers with /
    page.goto(f"{j.base}/runs")
    assert urllib.parse.urlsplit(page.url).path == "/"
    sign_out(j)
    for _, email, _ in partners:
        assert j.outside_the_gate(email) == [], f"{email} reached pages outside the gate's own"
    assert j.outside_the_gate(panel) == []

    # 7. what a coordinator sees in Prefect's UI now: the run named by reference, its timeline artifact, and no name
    coordinator = "chris.lee@northshire-scp.example"
    page.goto(f"{j.base}/runs")
    sign_in(j, coordinator, live.passwords[coordinator])
    page.wait_for_url(re.compile(r"/runs(\?|$)"))
    run_id = lifecycle_run(live, reference)
    page.goto(f"{j.base}/runs/flow-run/{run_id}")
    expect(page.get_by_text(reference).first).to_be_visible()
    ui.shot("review-run")
    page.get_by_role("tab", name="Artifacts").or_(page.get_by_text("Artifacts", exact=True)).first.click()
    expect(page.get_by_text(reference.lower()).first).to_be_visible()
    page.goto(f"{j.base}/artifacts/key/{reference.lower()}")  # every version of it, newest first
    page.locator("a[href*='/artifacts/artifact/']").first.click()
    expect(page.get_by_text("Rapid review with the Panel").first).to_be_visible()
    ui.shot("review-timeline")
    emails = [json.dumps(m) for m in live.mail.emails()]  # every field MailDev keeps: headers, subject, text
    assert emails  # "waiting for you" for each step, and the notices to the Panel
    for text in (page.content(), *(live.http.get(f"/flow_runs/{r}").text for r in (run_id, notify_id)), *emails):
        assert no_name(text)
    assert axe.checked == [
        "the sign-in page",
        "the enrolment page",
        "the task list",
        "a task's form",
        "a form with errors",
        "the accepted page",
    ]
    assert ui.refused == []  # the gate let through every call Prefect's UI made for the coordinators
