"""An agency's contact, in a real browser (Debian's Chromium, driven by Playwright) against the running gate of the
test system (tests/conftest.py ``deployed``): a review whose notification asked four of the demo partnership's
agencies for their information, the lifecycle and the items' runs run in this process (tests/utils/inprocess.py), its
email delivered to a real SMTP server on loopback (tests/utils/smtp.py).

- The school's contact reads the "information requested" email the system sent them, follows its link, signs in and
  lands on the request's page; their tasks list shows the request waiting, and nothing of the other agencies'.
- They fill in the return: a Submit with a part missing shows the error summary, which takes the focus; complete, it
  is accepted. The request's run, run on here, records it as returned, and their list no longer asks it of them.
- Nothing of other agencies is theirs: another agency's request page, and the review's own steps, are the same
  "no such page" as a page that does not exist; Prefect's API refuses them, and Prefect's pages send them back to
  their tasks. Every other page they opened was one of the gate's own.

axe-core checks the list and the request page (tests/e2e/accessibility.py). Screenshots at desktop and phone widths
go to ``test-output/browser/agency-contact/`` (or ``$CSPR_TEST_OUTPUT/browser/agency-contact``), with the email
followed: look at them.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session, col, select

from cli.system import LocalSystem
from models.db import get_engine, transaction
from models.people import reset_credentials
from models.process.demo_case import Case
from models.review.lookup import review_by_reference
from models.seed import DEMO_AGENCY_CONTACTS
from models.settings import get_settings
from models.stages import Stage
from models.tables import Agency, InformationRequest, RequestStatus
from models.task_ref import task_path
from models.work.items import ItemKind, ItemRef, item_path
from tests.e2e.accessibility import Accessibility
from tests.e2e.test_browser import DESKTOP, PHONE, Journey, sign_in
from tests.e2e.ui import CHROMIUM, CHROMIUM_FLAGS, PrefectUI, screenshots
from tests.utils import inprocess
from tests.utils.maildev import LINK
from tests.utils.signin import OPERATOR
from tests.utils.smtp import MailRelay, running_relay, use_relay

AGENCIES = tuple(agency for agency, _, _ in DEMO_AGENCY_CONTACTS)  # the four demo agencies with a contact
SCHOOL, _, CONTACT = DEMO_AGENCY_CONTACTS[0]  # the school, and its contact's address (Dana Brooks)
T = TypeVar("T")

# what the school's contact types, about the child by pseudonym as the page asks
INVOLVEMENT = "The school has known Child V since reception; the family asked the school for help twice."
CONTACT_ON = dt.date.today() - dt.timedelta(days=40)
CONTACT_WAS = "The class teacher noted Child V was often hungry."
ANALYSIS = "Concerns were written down but not shared with the health visitor."
LEARNING = "Share concerns about hunger with health the same day."


@dataclass(frozen=True)
class Asked:
    """The review whose notification asked the four agencies, and the school's contact's first password."""

    reference: str
    case: Case
    relay: MailRelay
    password: str
    numbers: dict[str, int]  # each agency's request, by its number

    def path(self, agency: str) -> str:
        return item_path(self.reference, ItemRef(ItemKind.REQUEST, self.numbers[agency]))

    def no_name(self, text: str) -> bool:
        child = self.case.child_name
        return child not in text and child.split()[-1] not in text and self.case.child_dob.isoformat() not in text


def requests_by_agency(reference: str) -> dict[str, InformationRequest]:
    with Session(get_engine()) as session:  # opened by the ORM: this process holds the keys
        review = review_by_reference(session, reference)
        rows = session.exec(
            select(InformationRequest, Agency.name)
            .join(Agency, col(Agency.id) == col(InformationRequest.agency_id))
            .where(InformationRequest.review_id == review.id)
        ).all()
        for row, _ in rows:
            session.expunge(row)
        return {name: row for row, name in rows}


@pytest.fixture(scope="module")
def asked(deployed: LocalSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asked]:
    """A review waiting at its rapid review, each agency's request waiting for its return, the email of each delivered
    to the relay. The school's demo contact is given a new first password, as an operator would reset it."""
    with running_relay(tmp_path_factory.mktemp("relay")) as relay, pytest.MonkeyPatch.context() as settings:
        use_relay(settings, relay)
        with transaction() as session:
            password = reset_credentials(session, CONTACT, by=OPERATOR).password
        assert password is not None
        case = Case(pseudonym="Child V", agencies=AGENCIES)
        reference, _ = inprocess.notify(case)
        inprocess.answer_until(reference, case, Stage.RAPID_REVIEW)
        inprocess.advance_items(reference)
        numbers = {agency: row.number for agency, row in requests_by_agency(reference).items()}
        assert sorted(numbers) == sorted(AGENCIES), numbers
        yield Asked(reference, case, relay, password, numbers)
    get_settings.cache_clear()  # the relay's settings are gone


@pytest.fixture
def journey(deployed: LocalSystem) -> Iterator[Journey]:
    """test_browser.py's Journey (the page, its screenshots, axe, every request with who made it), at the test
    system's gate."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(30_000)
        axe = Accessibility(browser, DESKTOP)
        axe.watch(page)
        j = Journey(PrefectUI(page, deployed.ui_url, screenshots("agency-contact")), axe)
        page.on("request", lambda r: j.requests.append((j.who, r.url)))
        yield j
        if axe.minor:
            print("accessibility, below serious:\n" + "\n".join(axe.minor))
        browser.close()


def off_the_browser(call: Callable[[], T]) -> T:
    """Run ``call`` (Prefect's engine) in a thread of its own: between its calls Playwright's sync API leaves its
    event loop marked as running in this thread, and asyncio.run() refuses to start there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def at_phone_width(j: Journey, name: str) -> Path:
    """The page as a small phone shows it, with nothing to scroll sideways; then back at desktop width."""
    j.page.set_viewport_size(PHONE)
    try:
        assert j.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{name} scrolls sideways"
        return j.ui.shot(name)
    finally:
        j.page.set_viewport_size(DESKTOP)


def email_to(asked: Asked, address: str, about: str) -> tuple[str, str]:
    """The subject and text of the one email to ``address`` whose subject holds ``about``."""
    found = [r.message for r in asked.relay.received if address in r.envelope_to and about in str(r.message["Subject"])]
    assert len(found) == 1, [(r.envelope_to, r.message["Subject"]) for r in asked.relay.received]
    body = found[0].get_body(preferencelist=("plain",))
    assert body is not None
    return str(found[0]["Subject"]), str(body.get_content())


def test_an_agency_contact_answers_from_the_email_and_sees_nothing_of_other_agencies(
    asked: Asked, journey: Journey
) -> None:
    j, page, ui, axe = journey, journey.page, journey.ui, journey.axe
    reference, own = asked.reference, asked.path(SCHOOL)
    title = f"Information request {asked.numbers[SCHOOL]}: {SCHOOL}"
    others = [asked.path(agency) for agency in AGENCIES if agency != SCHOOL]

    # 1. the email the system sent the school's contact, kept beside the screenshots to be read; its link followed
    subject, text = email_to(asked, CONTACT, f"information requested from {SCHOOL}")
    (ui.shots / "email.txt").write_text(f"To: {CONTACT}\nSubject: {subject}\n\n{text}")
    assert asked.no_name(subject + text)
    assert f"For: the contacts of {SCHOOL}" in text.splitlines()  # the email names the agency it is for
    told = [str(r.message["Subject"]) for r in asked.relay.received if CONTACT in r.envelope_to]
    assert all(SCHOOL in about for about in told), told  # told of their own agency's request alone
    assert all(asked.no_name(r.message.as_string()) for r in asked.relay.received)  # nor any email a name
    (link,) = [str(u) for u in LINK.findall(text) if "/tasks/" in u]
    assert urllib.parse.urlsplit(link).path == own
    page.goto(link)

    # 2. not signed in: the gate's sign-in page, which knows where they were going; then the request's page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    ui.shot("sign-in-from-the-email")
    sign_in(j, CONTACT, asked.password)
    page.wait_for_url(link)
    expect(page.get_by_role("heading", name=title)).to_be_visible()

    # their tasks: the school's request waiting, nothing of the other agencies'
    page.get_by_role("link", name="Back to your tasks").click()
    page.wait_for_url(f"{j.base}/")
    expect(page.get_by_role("heading", name="Your tasks")).to_be_visible()
    opens = page.get_by_role("link", name=f"Open Information request {asked.numbers[SCHOOL]} for {reference}")
    expect(opens).to_be_visible()
    items = page.locator("a[href*='/requests/'], a[href*='/actions/']")
    listed = [str(items.nth(n).get_attribute("href")) for n in range(items.count())]
    # the test system is shared: the school may have items of other reviews waiting too, never another agency's
    assert [path for path in listed if path.startswith(f"/tasks/{reference}/")] == [own]
    assert not set(listed) & set(others)
    shown = page.inner_text("main")
    assert "Child V" in shown and all(agency not in shown for agency in AGENCIES[1:])
    assert "Sign off" not in shown and asked.no_name(page.content())
    ui.shot("tasks")
    axe.check("the contact's tasks list", page)
    at_phone_width(j, "tasks-phone")

    # the request's page, from the list as they would open it
    opens.click()
    page.wait_for_url(f"{j.base}{own}")
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    assert asked.no_name(page.content())
    ui.shot("request")
    axe.check("the request page", page)
    at_phone_width(j, "request-phone")

    # the return, with what the agency has learnt left out: the error summary says so, and has the focus
    form = j.form()
    form.text("Your agency's involvement with the child and family", INVOLVEMENT)
    row = form.within("Chronology of your agency's contacts, Row 1")
    row.date("Date", CONTACT_ON)
    row.text("The agency's contact with the child or family", CONTACT_WAS)
    form.text("Your analysis of your agency's practice", ANALYSIS)
    form.press("Send the return")
    summary = form.error_summary()
    expect(summary).to_contain_text("what your agency has learnt")
    expect(summary).to_be_focused()
    ui.shot("request-errors")
    before = requests_by_agency(reference)[SCHOOL]
    assert before.status is RequestStatus.REQUESTED and before.answer_seq == 0  # nothing changed
    form.text("What your agency has learnt", LEARNING)
    form.press("Send the return")
    page.wait_for_url(f"{j.base}{own}/accepted")
    expect(page.get_by_role("heading", name="Your answer was accepted")).to_be_visible()
    ui.shot("accepted")

    # the request's run, run on here as a worker would, records the return
    off_the_browser(lambda: inprocess.advance_items(reference))
    returned = requests_by_agency(reference)[SCHOOL]
    assert returned.status is RequestStatus.RETURNED
    assert returned.answer["involvement"] == INVOLVEMENT
    assert returned.answer["chronology"] == [{"on": CONTACT_ON.isoformat(), "contact": CONTACT_WAS}]
    assert returned.answer["learning"] == LEARNING
    assert inprocess.item_run(reference, f"request-{asked.numbers[SCHOOL]}") is None  # its run has ended

    # back on their tasks: the request no longer waits for them; it is among what they did
    page.get_by_role("link", name="Back to your tasks").click()
    page.wait_for_url(f"{j.base}/")
    expect(opens).to_have_count(0)  # (other reviews' tests may have asked the same demo agency: those may be there)
    expect(page.locator(".cspr-done")).to_contain_text(f"Information request {asked.numbers[SCHOOL]} ({SCHOOL})")
    ui.shot("tasks-after-the-return")

    # 3. another agency's request is the same "no such page" as a request that does not exist; a step of the review
    # the same as a step of a review that does not exist
    unknown = "CSPR-1999-0001"
    for theirs, none in [
        *((path, item_path(reference, ItemRef(ItemKind.REQUEST, 99))) for path in others),
        (task_path(reference, Stage.RAPID_REVIEW), task_path(unknown, Stage.RAPID_REVIEW)),
    ]:
        said = []
        for path in (none, theirs):
            answer = page.goto(f"{j.base}{path}")
            assert answer is not None and answer.status == 404, path
            said.append(page.inner_text("main").replace(unknown, reference))
            assert all(agency not in page.content() for agency in AGENCIES[1:]) and "Child V" not in page.content()
        assert said[0] == said[1], theirs
        if theirs == others[0]:
            ui.shot("another-agencys-request")
    assert j.outside_the_gate(CONTACT) == []  # every page they opened was the gate's own

    # asked for on purpose (not counted as theirs): Prefect's API refuses them; its pages send them to their tasks
    j.who = ""
    for method, route in (("GET", "/api/version"), ("POST", "/api/flow_runs/filter")):
        assert page.request.fetch(f"{j.base}{route}", method=method).status == 403, route
    for prefects in ("/runs", "/dashboard", f"/artifacts/key/{reference.lower()}"):
        page.goto(f"{j.base}{prefects}")
        assert urllib.parse.urlsplit(page.url).path == "/", prefects
        expect(page.get_by_role("heading", name="Your tasks")).to_be_visible()

    assert axe.checked == ["the contact's tasks list", "the request page"]
