"""What only operators may do, through the real gate: create a deployment, change a work pool, start a run with a
``command`` job variable. A coordinator is refused (and nothing changes); an operator is not. A partner's
representative, the Panel's contact and an agency's contact use no Prefect at all (they answer their steps on their
tasks page): every one of these is refused to them by the gate, in the words that send them to their tasks, before
anything reaches Prefect.
A coordinator starts a run without job variables. And the work pool `cspr up` makes offers no ``command``, ``env`` or
``working_dir`` at all.

On a server of this module's own, set up as `cspr up` does it (LocalSystem.deploy: the locked work pool, prefect.yaml's
deployments and automations): the session's shared server is not deployed that way, and these runs and changes
would be seen by the other tests' filters there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from prefect.utilities.processutils import command_to_string

from cli.demo import Case
from cli.system import LOCKED_JOB_VARIABLES, RUN_COMMAND, WORK_POOL, LocalSystem
from gate.guard import NOT_PREFECT
from models.db import transaction
from models.people import add_person
from models.roles import Role
from models.seed import DEMO_AGENCIES, DEMO_PARTNERSHIP
from tests.utils.api import service_api
from tests.utils.search import search_files, search_sqlite
from tests.utils.servers import deployed_system, seed_register
from tests.utils.signin import OPERATOR, Browser, Person, register, signed_in

PWNED = {"command": "echo pwned"}
PEOPLE = {
    "coordinator": (Role.COORDINATOR, True),
    "police": (Role.POLICE, True),
    "panel": (Role.PANEL, True),
    "agency_contact": (Role.AGENCY_CONTACT, True),  # answers for the demo partnership's school
    "operator": (Role.OPERATOR, False),  # an operator's account as in production: password and authenticator app
}
REFUSED_ALWAYS = ["coordinator", "police", "panel", "agency_contact"]
# no Prefect at all: every route of its API refused, with NOT_PREFECT (partners, the Panel, agencies' contacts)
PARTNERS = ["police", "panel", "agency_contact"]
Signed = dict[str, tuple[Browser, dict[str, str]]]  # each person's browser, and its CSRF headers


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    seed_register()  # the accounts live in this session's project database, which the server reads too
    with deployed_system(tmp_path_factory.mktemp("gate-roles")) as system:
        yield system


def register_any(role: Role, *, demo: bool = True) -> Person:
    """A new person in the demo partnership, as tests.utils.signin.register makes them; an agency's contact for the
    demo partnership's first agency (seeded with it), which a contact must name."""
    if role is not Role.AGENCY_CONTACT:
        return register(role, demo=demo)
    tag = uuid.uuid4().hex[:8]
    with transaction() as session:
        enrolment = add_person(
            session,
            name=f"Agency Contact {tag}",
            email=f"agency_contact.{tag}@gate-test.example",
            role=role,
            partnership_code=DEMO_PARTNERSHIP,
            organisation="",
            by=OPERATOR,
            demo=demo,
            agency=DEMO_AGENCIES[0][0],
        )
    assert enrolment.password is not None
    secret = None if enrolment.totp_uri is None else pyotp.parse_uri(enrolment.totp_uri).secret
    return Person(f"Agency Contact {tag}", enrolment.email, enrolment.password, secret)


@pytest.fixture(scope="module")
def people() -> dict[str, Person]:
    return {who: register_any(role, demo=demo) for who, (role, demo) in PEOPLE.items()}


@pytest.fixture(scope="module")
def browsers(system: LocalSystem, people: dict[str, Person]) -> Iterator[Signed]:
    """Each person signed in, with Prefect's CSRF headers for their changes (as the UI holds them). A partner or the
    Panel's contact has none: Prefect's CSRF token is refused to them like the rest of its API (see the test below)."""
    signed = {who: signed_in(system.ui_url, person) for who, person in people.items()}
    yield {who: (browser, {} if who in PARTNERS else browser.csrf()) for who, browser in signed.items()}
    for browser in signed.values():
        browser.close()


@pytest.fixture(scope="module")
def api(system: LocalSystem) -> httpx.Client:
    return service_api(system)


@pytest.fixture(scope="module")
def deployment(api: httpx.Client) -> dict[str, Any]:
    """A deployment with no parameters on the locked work pool: what a person may start, and how."""
    flow = api.post("/flows/", json={"name": "gate-probe"}).raise_for_status().json()
    made = api.post("/deployments/", json={"name": "gate-probe", "flow_id": flow["id"], "work_pool_name": WORK_POOL})
    found: dict[str, Any] = made.raise_for_status().json()
    return found


def as_(browsers: Signed, who: str, method: str, path: str, **body: Any) -> int:
    browser, csrf = browsers[who]
    return browser.http.request(method, f"/api{path}", headers=csrf, **body).status_code


def refused(browsers: Signed, who: str, method: str, path: str, **body: Any) -> bool:
    """Refused by the gate (403); to a partner or the Panel's contact in the words that send them to their tasks page,
    so it is the gate's refusal of all of Prefect's API to them, not a route's."""
    browser, csrf = browsers[who]
    answer = browser.http.request(method, f"/api{path}", headers=csrf, **body)
    if answer.status_code != 403:
        return False
    return who not in PARTNERS or answer.json()["detail"] == NOT_PREFECT


def runs_of(api: httpx.Client, deployment: dict[str, Any]) -> int:
    count = api.post("/flow_runs/count", json={"deployments": {"id": {"any_": [deployment["id"]]}}})
    return int(count.raise_for_status().json())


# --- the work pool -------------------------------------------------------------------------------------------


def test_the_work_pool_cspr_up_makes_offers_no_command_env_or_working_dir(api: httpx.Client) -> None:
    pool = api.get(f"/work_pools/{WORK_POOL}").raise_for_status().json()
    template = pool["base_job_template"]
    assert pool["type"] == "process" and template["job_configuration"]  # the real template, not an empty one
    assert set(LOCKED_JOB_VARIABLES) == {"command", "env", "working_dir"}
    for name in LOCKED_JOB_VARIABLES:
        assert name not in template["variables"]["properties"], name
    assert "env" not in template["job_configuration"] and "working_dir" not in template["job_configuration"]
    # the command is fixed (the warm start), not a template a run's job variables could fill
    assert template["job_configuration"]["command"] == command_to_string(list(RUN_COMMAND))
    assert "{{" not in template["job_configuration"]["command"]


def test_prefect_yamls_deployments_are_on_that_pool(api: httpx.Client) -> None:
    # the pool above is the one whose worker runs the reviews
    deployments = api.post("/deployments/filter", json={}).raise_for_status().json()
    lifecycle = next(d for d in deployments if d["name"] == "review-lifecycle")
    assert lifecycle["work_pool_name"] == WORK_POOL


# --- nobody changes what a worker runs ------------------------------------------------------------------------


@pytest.mark.parametrize("who", list(PEOPLE))
def test_nobody_creates_or_changes_a_deployment_not_even_an_operator(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any], who: str
) -> None:
    # deployments, their pull steps and job templates come from prefect.yaml through `cspr up` (the service) alone
    flow_id = deployment["flow_id"]
    name = f"by-{who}-{uuid.uuid4().hex[:6]}"
    assert refused(browsers, who, "POST", "/deployments/", json={"name": name, "flow_id": flow_id})
    assert api.get(f"/deployments/name/gate-probe/{name}").status_code == 404  # nothing made
    pull = {"pull_steps": [{"prefect.deployments.steps.run_shell_script": {"script": "echo pwned"}}]}
    assert refused(browsers, who, "PATCH", f"/deployments/{deployment['id']}", json=pull)
    assert not api.get(f"/deployments/{deployment['id']}").json().get("pull_steps")


@pytest.mark.parametrize("who", REFUSED_ALWAYS)
def test_only_an_operator_changes_a_work_pools_limits_and_never_its_template(
    browsers: Signed, api: httpx.Client, who: str
) -> None:
    change = {"description": f"changed by {who}"}
    assert refused(browsers, who, "PATCH", f"/work_pools/{WORK_POOL}", json=change)
    assert api.get(f"/work_pools/{WORK_POOL}").json()["description"] != change["description"]
    by_operator = {"description": f"changed by the operator instead of {who}", "concurrency_limit": 4}
    assert as_(browsers, "operator", "PATCH", f"/work_pools/{WORK_POOL}", json=by_operator) == 204
    assert api.get(f"/work_pools/{WORK_POOL}").json()["description"] == by_operator["description"]
    template = api.get(f"/work_pools/{WORK_POOL}").json()["base_job_template"]
    assert as_(browsers, "operator", "PATCH", f"/work_pools/{WORK_POOL}", json={"base_job_template": {}}) == 403
    assert api.get(f"/work_pools/{WORK_POOL}").json()["base_job_template"] == template


# --- starting runs --------------------------------------------------------------------------------------------


def deployment_named(api: httpx.Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = api.get(f"/deployments/name/{name}/{name}").raise_for_status().json()
    return found


def notification(partnership: str = "northshire") -> dict[str, Any]:
    return {"notification": Case(partnership=partnership).notification()}


def test_a_coordinator_starts_a_notification_named_and_tagged_by_the_system(
    browsers: Signed, api: httpx.Client
) -> None:
    notify = deployment_named(api, "notify-incident")
    asked = {
        "parameters": notification(),
        "name": "CSPR-2026-9999 · rapid-review-sign-off",
        "tags": ["review:CSPR-2026-9999", "partnership:southshire", "stage:rapid_review_sign_off"],
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "2030-01-01T00:00:00Z"}},
        "work_queue_name": "elsewhere",
        "job_variables": PWNED,
        "idempotency_key": "chosen",
    }
    browser, csrf = browsers["coordinator"]
    made = browser.http.post(f"/api/deployments/{notify['id']}/create_flow_run", json=asked, headers=csrf)
    assert made.status_code == 201, made.text
    run = api.get(f"/flow_runs/{made.json()['id']}").json()
    assert run["name"] != asked["name"] and "review:CSPR-2026-9999" not in run["tags"]
    assert "partnership:northshire" in run["tags"] and "partnership:southshire" not in run["tags"]
    assert run["work_queue_name"] == "default" and run["job_variables"] == {}
    assert run["idempotency_key"] != "chosen"
    assert not run["state"]["state_details"].get("scheduled_time", "").startswith("2030")
    assert run["parameters"] == asked["parameters"]


def test_a_coordinator_starts_nothing_for_another_partnership_and_none_of_the_systems_runs(
    browsers: Signed, api: httpx.Client
) -> None:
    notify, sweep = deployment_named(api, "notify-incident"), deployment_named(api, "deadline-sweep")
    before = int(api.post("/flow_runs/count", json={}).json())
    other = {"parameters": notification("southshire")}
    assert as_(browsers, "coordinator", "POST", f"/deployments/{notify['id']}/create_flow_run", json=other) == 403
    as_of = {"parameters": {"as_of": "2030-01-07"}}
    assert as_(browsers, "coordinator", "POST", f"/deployments/{sweep['id']}/create_flow_run", json=as_of) == 403
    for who in PARTNERS:  # not even for their own partnership: they start nothing in Prefect
        mine = {"parameters": notification()}
        assert refused(browsers, who, "POST", f"/deployments/{notify['id']}/create_flow_run", json=mine)
    assert int(api.post("/flow_runs/count", json={}).json()) == before  # refused before Prefect made anything


def test_an_operators_run_carries_no_job_variables_either(browsers: Signed, api: httpx.Client) -> None:
    sweep = deployment_named(api, "deadline-sweep")
    asked = {"parameters": {"dry_run": True}, "job_variables": PWNED}
    browser, csrf = browsers["operator"]
    made = browser.http.post(f"/api/deployments/{sweep['id']}/create_flow_run", json=asked, headers=csrf)
    assert made.status_code == 201, made.text
    assert api.get(f"/flow_runs/{made.json()['id']}").json()["job_variables"] == {}


def test_a_coordinator_cannot_reach_job_variables_another_way(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any]
) -> None:
    # a run made straight from the flow with the deployment's id, or a run's job variables changed afterwards
    made = {"flow_id": deployment["flow_id"], "deployment_id": deployment["id"], "job_variables": PWNED}
    assert as_(browsers, "coordinator", "POST", "/flow_runs/", json=made) == 403
    run = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={}).raise_for_status().json()
    assert as_(browsers, "coordinator", "PATCH", f"/flow_runs/{run['id']}", json={"job_variables": PWNED}) == 403
    assert api.get(f"/flow_runs/{run['id']}").json()["job_variables"] == {}


@pytest.mark.parametrize("who", ["coordinator", "operator"])
def test_nobody_signed_in_writes_a_runs_inputs_not_even_an_operator(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any], who: str
) -> None:
    # the gate's signed identities are stored as run inputs: only the system itself writes them
    run = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={}).raise_for_status().json()
    forged = {"key": "cspr-identity-forged", "value": '"forged"'}
    assert as_(browsers, who, "POST", f"/flow_runs/{run['id']}/input", json=forged) == 403
    assert api.get(f"/flow_runs/{run['id']}/input/cspr-identity-forged").status_code == 404


def test_an_operator_cancels_a_run_and_sets_no_other_state(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any]
) -> None:
    run = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={}).raise_for_status().json()
    path = f"/flow_runs/{run['id']}/set_state"
    completed = {"state": {"type": "COMPLETED"}, "force": True}
    assert as_(browsers, "operator", "POST", path, json=completed) == 403
    assert as_(browsers, "coordinator", "POST", path, json={"state": {"type": "CANCELLED"}}) == 403
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "SCHEDULED"
    assert as_(browsers, "operator", "POST", path, json={"state": {"type": "CANCELLED"}}) == 201
    assert api.get(f"/flow_runs/{run['id']}").json()["state"]["type"] == "CANCELLED"


def test_everyone_in_prefects_ui_reads_the_work_pool_a_runs_page_names_and_partners_reach_their_tasks(
    browsers: Signed,
) -> None:
    # the control for the refusals above: the same people get past the gate for this read; partners and the Panel's
    # contact, who use no Prefect, are refused it too, and their sessions are good for their own tasks page
    for who in PEOPLE:
        if who in PARTNERS:
            assert refused(browsers, who, "GET", f"/work_pools/{WORK_POOL}")
            assert refused(browsers, who, "GET", "/csrf-token", params={"client": str(uuid.uuid4())})
            assert browsers[who][0].http.get("/").status_code == 200  # their tasks
        else:
            assert as_(browsers, who, "GET", f"/work_pools/{WORK_POOL}") == 200


def test_events_are_an_operators_and_a_coordinator_gets_an_empty_page_of_them(browsers: Signed) -> None:
    # every run page of the UI asks for its events: events name every partnership's runs. Partners and the Panel's
    # contact have no run pages: they are refused the events outright
    browser, csrf = browsers["coordinator"]
    answer = browser.http.post("/api/events/filter", json={}, headers=csrf)
    assert answer.status_code == 200 and answer.json() == {"events": [], "total": 0, "next_page": None}
    for who in PARTNERS:
        assert refused(browsers, who, "POST", "/events/filter", json={})
    browser, csrf = browsers["operator"]
    assert browser.http.post("/api/events/filter", json={}, headers=csrf).json()["total"] > 0


@pytest.mark.parametrize("who", REFUSED_ALWAYS)
def test_nothing_named_filter_or_count_can_be_changed_or_deleted_by_a_person(
    browsers: Signed, api: httpx.Client, who: str
) -> None:
    for name in ("filter", "count"):
        api.post("/variables/", json={"name": name, "value": "kept"})
        assert refused(browsers, who, "PATCH", f"/variables/name/{name}", json={"value": "changed"})
        assert refused(browsers, who, "DELETE", f"/variables/name/{name}")
        assert api.get(f"/variables/name/{name}").json()["value"] == "kept"
        assert refused(browsers, who, "PATCH", f"/work_queues/{name}", json={"is_paused": True})
        assert refused(browsers, who, "DELETE", f"/work_queues/{name}")


def test_nothing_secret_of_these_people_is_in_this_servers_log_or_database(
    system: LocalSystem, people: dict[str, Person], browsers: Signed
) -> None:
    cookies = [browser.session_cookie for browser, _ in browsers.values()]
    words = [w for p in people.values() for w in (p.password, p.totp_secret) if w] + [c for c in cookies if c]
    assert len(words) >= 9
    assert (system.home / "logs" / "server.log").exists()
    hits = search_sqlite(system.home / "prefect" / "prefect.db", words)
    hits += search_files(system.home, words)  # its log, its Prefect home (the project database is the session's)
    assert hits == [], "\n".join(hits)
