"""The pages of the work around a review (gate/tasks_app.py, models/work/), through the running system: the real
server's gate, the real checker (`cspr checker`, which alone opens an item's sealed words) and Prefect, each person
signed in over HTTP. Each item's run (flows/review_work.py) is run in this process, as the other flow tests run theirs
(tests/utils/inprocess.py), so nothing waits for a worker.

- An agency's contact sees their own agency's requests and actions, by pseudonym, and nothing else: not another
  agency's item (the same "no such page" as an item that does not exist), not a step of the review, not Prefect.
- They answer a return (refused first for a missing part, in the GOV.UK error summary, and nothing changes), or "no
  involvement" in one click; an action's progress, with evidence.
- The coordinator gives more time with a reason (a date before the one due now refused, in words) and closes a
  request as not needed; sends an action back, and accepts it; a partner accepts another.
- A child's name typed into a return and into an action's evidence is sealed in the database and found nowhere in
  Prefect once the runs have recorded the answers.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from sqlmodel import Session, select, text

from cli.demo import Case
from cli.system import LocalSystem
from gate.form_fields import as_posted
from gate.task_views import closing_path
from models.calendar import today_in_england
from models.db import get_engine, transaction
from models.people import add_person
from models.review import transitions
from models.review.lookup import review_by_reference
from models.roles import Role
from models.seed import DEMO_AGENCY_CONTACTS, DEMO_PARTNERSHIP
from models.settings import get_settings
from models.stages import Stage
from models.tables import Action, ActionStatus, InformationRequest, Partnership, RecommendationSource, RequestStatus
from models.task_ref import task_path
from models.work.actions import NewAction, record_actions
from models.work.forms import ActionProgress, ActionReview, AgencyReturn, RequestChange
from models.work.items import ItemKind, ItemRef, item_path
from tasks.work_tasks import start_item_runs
from tests.utils import inprocess
from tests.utils.search import search_files, search_sqlite
from tests.utils.signin import OPERATOR, Browser, Person, register, signed_in

SCHOOL, SURGERY, HOSPITAL = (agency for agency, _, _ in DEMO_AGENCY_CONTACTS[:3])
PLANTED = "Oriel Thistlewood-Banks"  # an invented child's name, typed where it must stay sealed
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def visible(page: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


@dataclass
class At:
    """One person's browser at the running gate."""

    browser: Browser

    def get(self, path: str) -> httpx.Response:
        return self.browser.http.get(path)

    def post(self, path: str, posted: dict[str, Any], action: str = "submit") -> httpx.Response:
        """The page's form sent back, as the browser sends it: its token and key, the fields, the button pressed."""
        page = self.get(path)
        assert page.status_code == 200, visible(page)[:500]
        token, key = FORM_TOKEN.search(page.text), FORM_KEY.search(page.text)
        assert token and key, visible(page)[:500]
        fields = {**posted, "form_token": html.unescape(token.group(1)), "form_key": key.group(1), "action": action}
        return self.browser.http.post(path, data=fields)


@dataclass(frozen=True)
class People:
    coordinator: At
    police: At
    school: At  # the school's contact
    surgery: At  # the GP practice's contact


def contact_of(agency: str) -> Person:
    """A new contact of one of the demo partnership's agencies, with a password of their own."""
    tag = uuid.uuid4().hex[:8]
    with transaction() as session:
        enrolment = add_person(
            session,
            name=f"Contact {tag}",
            email=f"contact.{tag}@agency-test.example",
            role=Role.AGENCY_CONTACT,
            partnership_code=DEMO_PARTNERSHIP,
            organisation=agency,
            by=OPERATOR,
            demo=True,
            agency=agency,
        )
    assert enrolment.password is not None
    return Person(f"Contact {tag}", enrolment.email, enrolment.password, None)


@pytest.fixture(scope="module")
def people(deployed: LocalSystem) -> Iterator[People]:
    browsers = [
        signed_in(deployed.ui_url, person)
        for person in (register(Role.COORDINATOR), register(Role.POLICE), contact_of(SCHOOL), contact_of(SURGERY))
    ]
    yield People(*(At(b) for b in browsers))
    for browser in browsers:
        browser.close()


# --- the review, its items and their runs ------------------------------------------------------------------------


def notified(pseudonym: str, agencies: tuple[str, ...]) -> tuple[str, Case]:
    """A review whose notification asked ``agencies`` for their information: its lifecycle waits at the rapid review,
    and each request's run waits for its answers."""
    case = Case(pseudonym=pseudonym, agencies=agencies)
    reference, _ = inprocess.notify(case)
    inprocess.give(reference, case.answer(Stage.INCIDENT_RECORDED))
    for number in range(1, len(agencies) + 1):
        waiting(reference, ItemRef(ItemKind.REQUEST, number))
    return reference, case


def with_actions(reference: str, *owners: str) -> list[ItemRef]:
    """An action for each of ``owners`` (agencies) on one recommendation of the review, each with its run waiting."""
    today = today_in_england()
    due = today + dt.timedelta(days=60)
    given = [
        NewAction("Schools and GPs share missed appointments.", f"Share them weekly ({agency}).", agency,
                  "Mr Owen Price", due, "A list is shared each week.")
        for agency in owners
    ]  # fmt: skip
    coordinator = transitions.Actor("Chris Lee", Role.COORDINATOR)
    with transaction() as session:
        review = review_by_reference(session, reference)
        source = RecommendationSource.RAPID_REVIEW
        made = record_actions(
            session, review, given, source, actor=coordinator, at=dt.datetime.now(dt.UTC), today=today
        )
        partnership = session.get_one(Partnership, review.partnership_id).code
        refs = [ItemRef(ItemKind.ACTION, row.number) for row in made]
    start_item_runs.fn(reference, partnership, Stage.RAPID_REVIEW)
    for ref in refs:
        waiting(reference, ref)
    return refs


def item_run(reference: str, ref: ItemRef) -> FlowRun:
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["work", f"item:{reference}:{ref}"]))
        )
    return run


def waiting(reference: str, ref: ItemRef) -> FlowRun:
    """The item's run, run on (it was started, or resumed with an answer) until it waits for its next answer."""
    run = item_run(reference, ref)
    if run.state is not None and not run.state.is_paused():
        inprocess.execute(run.id)
        run = item_run(reference, ref)
    assert run.state is not None and run.state.is_paused(), run.state
    return run


def recorded(reference: str, ref: ItemRef) -> None:
    """The answer handed to the item's run is recorded: the run goes on to its next question, or ends."""
    run = item_run(reference, ref)
    assert run.state is not None and not run.state.is_paused(), "the run was not resumed"
    inprocess.execute(run.id)


def request_row(reference: str, number: int) -> InformationRequest:
    with Session(get_engine()) as session:  # opened by the ORM: this process holds the keys
        review = review_by_reference(session, reference)
        row = session.exec(
            select(InformationRequest).where(
                InformationRequest.review_id == review.id, InformationRequest.number == number
            )
        ).one()
        session.expunge(row)
        return row


def action_row(reference: str, number: int) -> Action:
    with Session(get_engine()) as session:
        review = review_by_reference(session, reference)
        row = session.exec(select(Action).where(Action.review_id == review.id, Action.number == number)).one()
        session.expunge(row)
        return row


def path_of(reference: str, kind: ItemKind, number: int) -> str:
    return item_path(reference, ItemRef(kind, number))


def accepted(answer: httpx.Response) -> None:
    assert answer.status_code == 303 and answer.headers["location"].endswith("/accepted"), visible(answer)[:1500]


def nowhere_in_prefect(words: list[str]) -> list[str]:
    """Every place Prefect (and the logs) keep that holds any of ``words``; and the project's own files, where each
    is sealed."""
    home = get_settings().resolved_home
    hits = search_sqlite(home / "prefect" / "prefect.db", words)
    hits += search_files(home / "prefect", words) + search_files(home / "logs", words)
    return hits + search_files(home, words, skip=(home / "prefect", home / "logs"))


RETURN = {
    "involvement": "The school saw the child daily from September; the family asked for help twice.",
    "chronology": [
        {"on": "2026-10-02", "contact": "Class teacher noted the child was hungry."},
        {"on": "2026-09-14", "contact": "Welfare call to the family."},
    ],
    "analysis": "Concerns were recorded but not shared with the health visitor.",
    "actions_taken": "Daily check-ins started.",
    "learning": "Share concerns about hunger the same day.",
}


# --- what an agency's contact sees ----------------------------------------------------------------------------------


def test_an_agency_contact_sees_their_own_agencys_work_and_nothing_else(people: People) -> None:
    reference, case = notified("Child Scoped Agency", (SCHOOL, SURGERY))
    with_actions(reference, SCHOOL, SURGERY)  # action 1 the school's, action 2 the surgery's
    listed = people.school.get("/")
    assert listed.status_code == 200
    shown = visible(listed)
    assert "Your agency's requests and actions" in shown
    assert reference in shown and case.pseudonym in shown and SCHOOL in shown
    assert (
        path_of(reference, ItemKind.REQUEST, 1) in listed.text and path_of(reference, ItemKind.ACTION, 1) in listed.text
    )
    assert SURGERY not in shown and path_of(reference, ItemKind.REQUEST, 2) not in listed.text
    assert case.child_name not in listed.text  # pseudonyms only
    assert "Sign off" not in shown and "Record the rapid review" not in shown  # no step of the review is theirs
    due = request_row(reference, 1).due_on
    assert f"{due.day} {due:%B %Y}" in shown and "working days left" in shown

    page = people.school.get(path_of(reference, ItemKind.REQUEST, 1))
    assert page.status_code == 200 and "My agency had no involvement" in page.text
    assert "Send the return" in page.text and case.pseudonym in visible(page)
    action = people.school.get(path_of(reference, ItemKind.ACTION, 1))
    assert action.status_code == 200 and "Share them weekly (Northshire Primary School)" in visible(action)  # sealed

    # another agency's request and action are pages that do not exist, word for word; so is any step of the review
    nothing = people.school.get(path_of(reference, ItemKind.REQUEST, 99))
    assert nothing.status_code == 404
    others = [path_of(reference, ItemKind.REQUEST, 2), path_of(reference, ItemKind.ACTION, 2)]
    for other in [*others, f"{others[1]}/evidence"]:  # and its evidence document's download
        theirs = people.school.get(other)
        assert theirs.status_code == 404 and visible(theirs) == visible(nothing)
        assert SURGERY not in theirs.text
    step = people.school.get(task_path(reference, Stage.RAPID_REVIEW))
    assert step.status_code == 404 and case.pseudonym not in step.text
    before = request_row(reference, 2)
    refused = people.school.browser.http.post(
        path_of(reference, ItemKind.REQUEST, 2),
        data={"form_token": html.unescape(FORM_TOKEN.findall(page.text)[0]), "action": "no-involvement"},
    )
    assert refused.status_code == 404 and request_row(reference, 2).status is before.status

    # and no Prefect at all: not its pages, not its API
    for route in ("/api/version", "/api/flow_runs/filter"):
        method = "POST" if route.endswith("filter") else "GET"
        assert people.school.browser.http.request(method, route).status_code == 403
    dashboard = people.school.get("/dashboard")
    assert dashboard.status_code in (303, 403, 404) and reference not in dashboard.text


# --- a request, answered ----------------------------------------------------------------------------------------------


def test_a_return_is_refused_for_a_missing_part_then_accepted_and_a_typed_name_is_only_sealed(people: People) -> None:
    reference, _ = notified("Child Returned", (SCHOOL,))
    path = path_of(reference, ItemKind.REQUEST, 1)
    before, run = request_row(reference, 1), item_run(reference, ItemRef(ItemKind.REQUEST, 1))
    incomplete = as_posted(AgencyReturn, {**RETURN, "learning": ""})
    refused = people.school.post(path, incomplete)
    assert refused.status_code == 400, visible(refused)[:800]
    assert 'class="govuk-error-summary' in refused.text and "what your agency has learnt" in visible(refused)
    after = request_row(reference, 1)
    assert (after.status, after.answer_seq, after.answer) == (before.status, before.answer_seq, before.answer)
    again = item_run(reference, ItemRef(ItemKind.REQUEST, 1))
    assert again.state is not None and again.state.is_paused() and again.state_id == run.state_id  # not resumed

    planted = {
        **RETURN,
        "involvement": f"The school knew {PLANTED} from reception class.",
        "chronology": [{"on": "2026-10-02", "contact": f"{PLANTED} was hungry at school."}],
    }
    accepted(people.school.post(path, as_posted(AgencyReturn, planted)))
    recorded(reference, ItemRef(ItemKind.REQUEST, 1))
    done = request_row(reference, 1)
    assert done.status is RequestStatus.RETURNED and PLANTED in done.answer["involvement"]
    assert item_run(reference, ItemRef(ItemKind.REQUEST, 1)).state.is_completed()  # type: ignore[union-attr]
    with Session(get_engine()) as session:  # at rest, sealed
        stored = session.exec(text("SELECT answer FROM information_request")).all()  # type: ignore[call-overload]
        assert stored and all(PLANTED not in str(row) for row in stored)
    words = [PLANTED, PLANTED.split()[0]]
    assert nowhere_in_prefect(words) == []

    listed = visible(people.coordinator.get("/"))  # the coordinator reads where each return stands
    assert reference in listed and "Returned" in listed
    step = people.coordinator.get(task_path(reference, Stage.RAPID_REVIEW))  # and so does the rapid review's page
    assert step.status_code == 200 and f"{SCHOOL}: returned" in visible(step)


def test_no_involvement_is_answered_in_one_click(people: People) -> None:
    reference, _ = notified("Child Uninvolved", (SURGERY,))
    accepted(people.surgery.post(path_of(reference, ItemKind.REQUEST, 1), {}, action="no-involvement"))
    recorded(reference, ItemRef(ItemKind.REQUEST, 1))
    assert request_row(reference, 1).status is RequestStatus.NO_INVOLVEMENT
    listed = people.surgery.get("/").text
    assert path_of(reference, ItemKind.REQUEST, 1) not in listed  # nothing more is asked of them on this review
    assert f"{reference}</strong>" in listed and f"Information request 1 ({SURGERY})" in listed  # done


def test_the_coordinator_gives_more_time_with_a_reason_and_closes_a_request_as_not_needed(people: People) -> None:
    reference, _ = notified("Child Extended", (SCHOOL, SURGERY))
    path = path_of(reference, ItemKind.REQUEST, 1)
    due = request_row(reference, 1).due_on
    earlier = {"what": "extend", "due_on": (due - dt.timedelta(days=1)).isoformat(), "reason": "Half term."}
    refused = people.coordinator.post(path, as_posted(RequestChange, earlier))
    assert refused.status_code == 400 and "must be later than the date it is due now" in visible(refused)
    assert request_row(reference, 1).due_on == due
    no_reason = people.coordinator.post(path, as_posted(RequestChange, {"what": "extend", "due_on": due.isoformat()}))
    assert no_reason.status_code == 400 and "Give the reason" in visible(no_reason)

    later = due + dt.timedelta(days=7)
    extend = {"what": "extend", "due_on": later.isoformat(), "reason": "The school is closed for half term."}
    accepted(people.coordinator.post(path, as_posted(RequestChange, extend)))
    recorded(reference, ItemRef(ItemKind.REQUEST, 1))
    extended = request_row(reference, 1)
    assert (extended.status, extended.due_on) == (RequestStatus.REQUESTED, later)
    assert "The school is closed for half term." in visible(people.school.get(path))  # sealed, shown by the checker

    closing = {"what": "not needed", "reason": "The practice has no record of the family."}
    other = path_of(reference, ItemKind.REQUEST, 2)
    accepted(people.coordinator.post(other, as_posted(RequestChange, closing)))
    recorded(reference, ItemRef(ItemKind.REQUEST, 2))
    assert request_row(reference, 2).status is RequestStatus.NOT_NEEDED
    assert people.surgery.get(other).status_code == 200  # still theirs to see, with nothing more asked
    assert "nothing more is asked" in visible(people.surgery.get(other))


# --- actions, followed through -----------------------------------------------------------------------------------


def test_an_action_is_done_with_evidence_sent_back_and_accepted_and_a_partner_accepts_another(people: People) -> None:
    reference, _ = notified("Child Actioned", ())
    first, second = with_actions(reference, SCHOOL, SCHOOL)
    path = path_of(reference, ItemKind.ACTION, first.number)

    no_evidence = people.school.post(path, as_posted(ActionProgress, {"status": "done"}))
    assert no_evidence.status_code == 400 and "give the evidence" in visible(no_evidence).lower()
    done = {"status": "done", "evidence": f"Weekly list started; first sent about {PLANTED}."}
    accepted(people.school.post(path, as_posted(ActionProgress, done)))
    recorded(reference, first)
    assert action_row(reference, first.number).status is ActionStatus.DONE
    # among the actions for the partners to accept (other tests' reviews may have theirs there too)
    listed = people.police.get("/").text
    to_accept = listed.split("Actions for you to accept (", 1)[1].split("<h2", 1)[0]
    assert path in to_accept

    back = {"verdict": "send back", "reason": "Send the list to the school nurse too."}
    accepted(people.coordinator.post(path, as_posted(ActionReview, back)))
    recorded(reference, first)
    sent_back = action_row(reference, first.number)
    assert sent_back.status is ActionStatus.IN_PROGRESS and sent_back.reason == back["reason"]
    assert back["reason"] in visible(people.school.get(path))
    refused = people.coordinator.post(path, as_posted(ActionReview, {"verdict": "accept"}))
    assert refused.status_code == 400  # nothing to accept now: only closing it is offered

    accepted(people.school.post(path, as_posted(ActionProgress, {**done, "evidence": "The nurse has it too."})))
    recorded(reference, first)
    accepted(people.coordinator.post(path, as_posted(ActionReview, {"verdict": "accept"})))
    recorded(reference, first)
    assert action_row(reference, first.number).status is ActionStatus.ACCEPTED

    other = path_of(reference, ItemKind.ACTION, second.number)
    accepted(people.school.post(other, as_posted(ActionProgress, {"status": "done", "evidence": "Checks in place."})))
    recorded(reference, second)
    accepted(people.police.post(other, as_posted(ActionReview, {"verdict": "accept"})))
    recorded(reference, second)
    assert action_row(reference, second.number).status is ActionStatus.ACCEPTED

    with Session(get_engine()) as session:  # the evidence, at rest: sealed
        stored = session.exec(text("SELECT evidence FROM action")).all()  # type: ignore[call-overload]
        assert stored and all(PLANTED not in str(row) for row in stored)
    assert nowhere_in_prefect([PLANTED, PLANTED.split()[0]]) == []


def test_the_partnership_closes_every_open_action_together_with_one_reason(people: People) -> None:
    reference, _ = notified("Child Closed Together", ())
    first, second, third = with_actions(reference, SCHOOL, SURGERY, SCHOOL)
    accepted(people.school.post(path_of(reference, ItemKind.ACTION, third.number), as_posted(ActionProgress, {
        "status": "done", "evidence": "Done already."})))  # fmt: skip
    recorded(reference, third)
    accepted(people.coordinator.post(path_of(reference, ItemKind.ACTION, third.number), as_posted(ActionReview, {
        "verdict": "accept"})))  # fmt: skip
    recorded(reference, third)
    closing = closing_path(reference)
    # the link is on an open action's page for the partnership, and not for its owner's contact
    assert closing in people.police.get(path_of(reference, ItemKind.ACTION, first.number)).text
    assert closing not in people.school.get(path_of(reference, ItemKind.ACTION, first.number)).text
    # not the agencies' page: the same as a page that does not exist
    nothing = people.school.get(path_of(reference, ItemKind.ACTION, 99))
    theirs = people.school.get(closing)
    assert theirs.status_code == 404 and visible(theirs) == visible(nothing)
    own = people.school.get(path_of(reference, ItemKind.ACTION, first.number))
    token = html.unescape(FORM_TOKEN.findall(own.text)[0])
    forged = people.school.browser.http.post(closing, data={"form_token": token, "reason": "Not theirs."})
    assert forged.status_code == 404

    page = people.police.get(closing)
    assert page.status_code == 200
    shown = visible(page)
    assert "Action 1" in shown and "Action 2" in shown and "Action 3" not in shown  # the open ones only
    assert "Close 2 actions" in shown
    without = people.police.post(closing, {"reason": ""})
    assert without.status_code == 400 and "Enter the reason for closing them" in visible(without)
    assert [action_row(reference, r.number).status for r in (first, second)] == [ActionStatus.NOT_STARTED] * 2

    reason = "Both are taken into the partnership's neglect strategy."
    done = people.police.post(closing, {"reason": reason})
    assert done.status_code == 200, visible(done)[:1500]
    assert "Closed: action 1, action 2." in visible(done)
    for ref in (first, second):
        recorded(reference, ref)
        row = action_row(reference, ref.number)
        assert row.status is ActionStatus.CLOSED and row.reason == reason
    assert "nothing to close" in visible(people.police.get(closing))
