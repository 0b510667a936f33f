"""A coordinator's first review, clicked through Prefect's UI in a real browser (Debian's Chromium, driven by
Playwright) against a live `cspr up`: the notification form, the identity form, the notification and rapid
review forms, and the three partners' sign-offs. Then the project database must show the review with the Panel,
and the UI must show the reference and never the child's name.

Screenshots of every step go to ``test-output/browser/`` (or ``$CSPR_TEST_OUTPUT/browser``): look at them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cli.processes import dies_with_parent
from cli.seaweed import free_port
from models.settings import PROJECT_ROOT
from tests.e2e.ui import CHROMIUM, CHROMIUM_FLAGS, PrefectUI

CHILD, DOB = "Perpetua Windlesham-Achebe", dt.date(2017, 5, 14)  # invented
TODAY = dt.date.today()


def day(n: int) -> dt.date:
    """Dates of the scenario, counted back from today so that none is in the future."""
    return TODAY - dt.timedelta(days=30 - n)


@dataclass
class Live:
    base: str
    home: Path

    @property
    def api(self) -> str:
        return f"{self.base}/api"

    def review(self) -> tuple[str, str, int] | None:
        """The one review in the project database: reference, stage, answer counter."""
        with sqlite3.connect(self.home / "cspr.db") as db:
            row = db.execute("SELECT reference, stage, step_seq FROM review").fetchone()
        return None if row is None else (str(row[0]), str(row[1]), int(row[2]))

    def state(self, run_id: str) -> str:
        return str(httpx.get(f"{self.api}/flow_runs/{run_id}").json()["state"]["type"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`cspr up` (what `make up` runs) on a port and a CSPR_HOME of its own."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium", pytrace=False)
    home = tmp_path_factory.mktemp("browser") / "cspr-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CSPR_"))}
    env["CSPR_HOME"] = str(home)
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
        yield Live(f"http://127.0.0.1:{port}", home)
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
        yield PrefectUI(page, live.base, shots)
        browser.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


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
    runs = httpx.post(f"{live.api}/flow_runs/filter", json=body).json()
    return str(runs[0]["id"]) if runs else ""


def test_a_coordinators_first_review_clicked_through_the_ui(live: Live, ui: PrefectUI) -> None:
    page = ui.page
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
        lambda: bool(runs.extend(httpx.post(f"{live.api}/flow_runs/filter", json={}).json()) or runs),
    )
    notify_id = str(runs[0]["id"])
    wait_for("the notification run to ask who the children are", lambda: live.state(notify_id) == "PAUSED")
    page.reload()
    expect(page.get_by_text("northshire · new incident").first).to_be_visible()
    ui.shot("notification-run-listed")

    def identity(form: Locator) -> None:
        ui.text("Your name", "Chris Lee", within=form)
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
        ui.text("Your name", "Chris Lee", within=form)
        ui.text("Reference from the national notification system", "SIN-2026-11-0042", within=form)
        ui.date("Date the notification was submitted to the Panel", day(3), within=form)
        ui.date("Date the local safeguarding partners were told", day(3), within=form)

    def rapid_review(form: Locator) -> None:
        ui.text("Your name", "Chris Lee", within=form)
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

    def sign_off(partner: str, name: str) -> Callable[[Locator], None]:
        def fill(form: Locator) -> None:
            ui.text("Your name", name, within=form)
            ui.choose("You sign for", partner, within=form)
            ui.choose("Decision", "sign off", within=form)
            ui.date("Date of your decision", day(12), within=form)

        return fill

    step("notification-submitted", notified, "rapid_review")
    step("rapid-review", rapid_review, "rapid_review_sign_off")
    step("sign-off-local-authority", sign_off("local authority", "Alex Morgan"), "rapid_review_sign_off")
    step("sign-off-police", sign_off("police", "Sam Patel"), "rapid_review_sign_off")
    step("sign-off-health", sign_off("health", "Jo Evans"), "awaiting_panel")

    # 4. what the coordinator sees now: the run named by reference, its timeline artifact, and no name
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
    for text in (page.content(), *(httpx.get(f"{live.api}/flow_runs/{r}").text for r in (run_id, notify_id))):
        assert CHILD not in text and "Windlesham" not in text and DOB.isoformat() not in text
    assert len(ui.taken) >= 12
