"""What only operators may do, through the real gate: create a deployment, change a work pool, start a run with a
``command`` job variable. A coordinator, a partner's representative and the Panel's contact are refused (and nothing
changes); an operator is not. A coordinator starts a run without job variables. And the work pool `cspr up` makes
offers no ``command``, ``env`` or ``working_dir`` at all.

On a server of this module's own, set up as `cspr up` does it (LocalSystem.deploy: the locked work pool, prefect.yaml's
deployments and automations): the session's shared server is not deployed that way, and these runs and changes
would be seen by the other tests' filters there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cli.seaweed import free_port
from cli.system import LOCKED_JOB_VARIABLES, WORK_POOL, LocalSystem
from models.db import get_engine, migrate, transaction
from models.roles import Role
from models.seed import seed_demo
from tests.utils.api import service_api
from tests.utils.search import search_files, search_sqlite
from tests.utils.signin import Browser, Person, register, signed_in

PWNED = {"command": "echo pwned"}
PEOPLE = {
    "coordinator": (Role.COORDINATOR, True),
    "police": (Role.POLICE, True),
    "panel": (Role.PANEL, True),
    "operator": (Role.OPERATOR, False),  # an operator's account as in production: password and authenticator app
}
REFUSED_ALWAYS = ["coordinator", "police", "panel"]
Signed = dict[str, tuple[Browser, dict[str, str]]]  # each person's browser, and its CSRF headers


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    migrate(get_engine())  # the accounts live in this session's project database, which the server reads too
    with transaction() as session:
        seed_demo(session)
    system = LocalSystem(port=free_port(), home=tmp_path_factory.mktemp("gate-roles"))
    try:
        system.start_server()
        system.deploy()
        yield system
    finally:
        system.stop()


@pytest.fixture(scope="module")
def people() -> dict[str, Person]:
    return {who: register(role, demo=demo) for who, (role, demo) in PEOPLE.items()}


@pytest.fixture(scope="module")
def browsers(system: LocalSystem, people: dict[str, Person]) -> Iterator[Signed]:
    """Each person signed in, with Prefect's CSRF headers for their changes (as the UI holds them)."""
    signed = {who: signed_in(system.ui_url, person) for who, person in people.items()}
    yield {who: (browser, browser.csrf()) for who, browser in signed.items()}
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
        assert name not in template["job_configuration"], name
        assert name not in template["variables"]["properties"], name


def test_prefect_yamls_deployments_are_on_that_pool(api: httpx.Client) -> None:
    # the pool above is the one whose worker runs the reviews
    deployments = api.post("/deployments/filter", json={}).raise_for_status().json()
    lifecycle = next(d for d in deployments if d["name"] == "review-lifecycle")
    assert lifecycle["work_pool_name"] == WORK_POOL


# --- operators only -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", REFUSED_ALWAYS)
def test_only_an_operator_creates_a_deployment(browsers: Signed, api: httpx.Client, who: str) -> None:
    flow_id = api.post("/flows/", json={"name": "gate-probe"}).raise_for_status().json()["id"]
    name = f"by-{who}-{uuid.uuid4().hex[:6]}"
    assert as_(browsers, who, "POST", "/deployments/", json={"name": name, "flow_id": flow_id}) == 403
    assert api.get(f"/deployments/name/gate-probe/{name}").status_code == 404  # nothing made
    assert as_(browsers, "operator", "POST", "/deployments/", json={"name": name, "flow_id": flow_id}) == 201


@pytest.mark.parametrize("who", REFUSED_ALWAYS)
def test_only_an_operator_changes_a_work_pool(browsers: Signed, api: httpx.Client, who: str) -> None:
    change = {"description": f"changed by {who}"}
    assert as_(browsers, who, "PATCH", f"/work_pools/{WORK_POOL}", json=change) == 403
    assert api.get(f"/work_pools/{WORK_POOL}").json()["description"] != change["description"]
    assert as_(browsers, who, "PATCH", f"/work_pools/{WORK_POOL}", json={"base_job_template": {}}) == 403
    by_operator = {"description": f"changed by the operator instead of {who}"}
    assert as_(browsers, "operator", "PATCH", f"/work_pools/{WORK_POOL}", json=by_operator) == 204
    assert api.get(f"/work_pools/{WORK_POOL}").json()["description"] == by_operator["description"]


@pytest.mark.parametrize("who", REFUSED_ALWAYS)
def test_only_an_operator_starts_a_run_with_a_command_job_variable(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any], who: str
) -> None:
    before = runs_of(api, deployment)
    start = f"/deployments/{deployment['id']}/create_flow_run"
    assert as_(browsers, who, "POST", start, json={"job_variables": PWNED}) == 403
    assert runs_of(api, deployment) == before  # refused before Prefect made anything
    assert as_(browsers, "operator", "POST", start, json={"job_variables": PWNED}) == 201
    assert runs_of(api, deployment) == before + 1


def test_a_coordinator_starts_a_run_without_job_variables(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any]
) -> None:
    before = runs_of(api, deployment)
    start = f"/deployments/{deployment['id']}/create_flow_run"
    assert as_(browsers, "coordinator", "POST", start, json={}) == 201
    assert as_(browsers, "coordinator", "POST", start, json={"job_variables": {}, "parameters": {}}) == 201
    assert runs_of(api, deployment) == before + 2


@pytest.mark.parametrize("who", ["police", "panel"])
def test_a_partner_or_the_panel_starts_no_run_at_all(
    browsers: Signed, api: httpx.Client, deployment: dict[str, Any], who: str
) -> None:
    before = runs_of(api, deployment)
    assert as_(browsers, who, "POST", f"/deployments/{deployment['id']}/create_flow_run", json={}) == 403
    assert runs_of(api, deployment) == before


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


def test_every_signed_in_person_reads_the_work_pool(browsers: Signed) -> None:
    # the control for the refusals above: the same people get past the gate for reads
    for who in PEOPLE:
        assert as_(browsers, who, "GET", f"/work_pools/{WORK_POOL}") == 200


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
