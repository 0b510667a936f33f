"""The gate's route rules (gate/policy.py), as a table: what each Prefect route needs, and who may go on."""

from __future__ import annotations

import pytest

from gate.policy import SERVICE, Access, Caller, access, allowed, may_set_job_variables
from models.roles import Role

RUN = "0b5c2f0e-3f6a-4c1b-9d2e-7a8b9c0d1e2f"
DEPLOYMENT = "6f1e2d3c-4b5a-4968-8776-655443322110"

ROUTES = [
    # open: health checks, the UIs' settings and static files, the gate's own pages
    ("GET", "/api/health", Access.OPEN),
    ("GET", "/api/ready", Access.OPEN),
    ("GET", "/ui-settings", Access.OPEN),
    ("GET", "/v2/ui-settings", Access.OPEN),
    ("GET", "/favicon.ico", Access.OPEN),
    ("GET", "/assets/index-abc123.js", Access.OPEN),
    ("GET", "/v2/assets/index.css", Access.OPEN),
    ("GET", "/sign-in", Access.OPEN),
    ("POST", "/sign-in", Access.OPEN),
    ("POST", "/sign-in/enrol", Access.OPEN),
    ("GET", "/sign-in/oidc/callback", Access.OPEN),
    ("POST", "/sign-out", Access.OPEN),
    # a Prefect path that only begins like the gate's page is not the gate's page
    ("GET", "/sign-inside", Access.SIGNED_IN),
    ("POST", "/api/healthy", Access.OPERATOR),
    # every read, pages included, needs a sign-in
    ("GET", "/", Access.SIGNED_IN),
    ("GET", "/runs", Access.SIGNED_IN),
    ("GET", "/v2/", Access.SIGNED_IN),
    ("GET", "/api/version", Access.SIGNED_IN),
    ("GET", "/api/openapi.json", Access.SIGNED_IN),
    ("GET", f"/api/flow_runs/{RUN}", Access.SIGNED_IN),
    ("GET", f"/api/flow_runs/{RUN}/input/cspr-identity", Access.SIGNED_IN),
    ("GET", "/api/work_pools/cspr-local", Access.SIGNED_IN),
    ("HEAD", "/api/flows/", Access.SIGNED_IN),
    ("OPTIONS", "/api/flows/filter", Access.SIGNED_IN),
    # POSTs that only read
    ("POST", "/api/flow_runs/filter", Access.SIGNED_IN),
    ("POST", "/api/flows/count", Access.SIGNED_IN),
    ("POST", "/api/deployments/paginate", Access.SIGNED_IN),
    ("POST", "/api/flow_runs/history", Access.SIGNED_IN),
    ("POST", "/api/flow_runs/lateness", Access.SIGNED_IN),
    ("POST", "/api/task_runs/concurrency_status", Access.SIGNED_IN),
    ("POST", "/api/ui/flow_runs/history", Access.SIGNED_IN),
    ("POST", "/api/ui/schemas/validate", Access.SIGNED_IN),
    ("POST", "/api/events/filter", Access.SIGNED_IN),
    ("POST", "/api/events/count-by/day", Access.SIGNED_IN),
    ("POST", "/api/templates/validate", Access.SIGNED_IN),
    ("POST", "/api/automations/templates/validate", Access.SIGNED_IN),
    ("POST", "/api/artifacts/latest/filter", Access.SIGNED_IN),
    # answering a form, starting a run
    ("POST", f"/api/flow_runs/{RUN}/resume", Access.ANSWER),
    ("POST", "/api/flow_runs/not-a-run/resume", Access.OPERATOR),
    ("POST", f"/api/deployments/{DEPLOYMENT}/create_flow_run", Access.START),
    ("POST", f"/api/deployments/{DEPLOYMENT}/create_flow_run/", Access.OPERATOR),
    # operators only: the list, and whatever is not listed
    ("POST", "/api/deployments/", Access.OPERATOR),
    ("PATCH", f"/api/deployments/{DEPLOYMENT}", Access.OPERATOR),
    ("DELETE", f"/api/deployments/{DEPLOYMENT}", Access.OPERATOR),
    ("POST", "/api/work_pools/", Access.OPERATOR),
    ("PATCH", "/api/work_pools/cspr-local", Access.OPERATOR),
    ("POST", "/api/block_documents/", Access.OPERATOR),
    ("PATCH", f"/api/block_documents/{RUN}", Access.OPERATOR),
    ("POST", "/api/variables/", Access.OPERATOR),
    ("PATCH", "/api/variables/name/cspr", Access.OPERATOR),
    ("POST", "/api/automations/", Access.OPERATOR),
    ("PATCH", f"/api/automations/{RUN}", Access.OPERATOR),
    ("POST", "/api/concurrency_limits/", Access.OPERATOR),
    ("POST", "/api/v2/concurrency_limits/", Access.OPERATOR),
    ("DELETE", f"/api/flow_runs/{RUN}", Access.OPERATOR),
    ("POST", "/api/flow_runs/bulk_delete", Access.OPERATOR),
    ("POST", "/api/events", Access.OPERATOR),
    ("POST", "/api/flow_runs/", Access.OPERATOR),  # a run straight from a flow, job variables and all
    ("PATCH", f"/api/flow_runs/{RUN}", Access.OPERATOR),  # a run's job variables changed after it was made
    ("POST", f"/api/flow_runs/{RUN}/set_state", Access.OPERATOR),  # a pause resumed without its form
    ("POST", "/api/a_route_a_later_prefect_adds", Access.OPERATOR),
    # the system's own: the signed identities beside answers, and workers taking runs
    ("POST", f"/api/flow_runs/{RUN}/input", Access.SERVICE),
    ("DELETE", f"/api/flow_runs/{RUN}/input/cspr-identity", Access.SERVICE),
    # (a filter of a run's inputs is the system's too: the UI never asks for one, and it holds the signed identities)
    ("POST", f"/api/flow_runs/{RUN}/input/filter", Access.SERVICE),
    ("POST", "/api/deployments/get_scheduled_flow_runs", Access.SERVICE),
    ("POST", "/api/work_pools/cspr-local/get_scheduled_flow_runs", Access.SERVICE),
    ("POST", f"/api/work_queues/{RUN}/get_runs", Access.SERVICE),
    ("POST", "/api/work_pools/cspr-local/workers/heartbeat", Access.SERVICE),
]


@pytest.mark.parametrize(("method", "path", "needed"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_each_route_needs_its_access(method: str, path: str, needed: Access) -> None:
    assert access(method, path) is needed


OPERATOR = Caller(service=False, roles=frozenset({Role.OPERATOR}))
COORDINATOR = Caller(service=False, roles=frozenset({Role.COORDINATOR}))
POLICE = Caller(service=False, roles=frozenset({Role.POLICE}))
PANEL = Caller(service=False, roles=frozenset({Role.PANEL}))
NOBODY = Caller(service=False)  # signed in, but no registration left
PARTNER_AND_COORDINATOR = Caller(service=False, roles=frozenset({Role.HEALTH, Role.COORDINATOR}))

CALLERS = {
    "service": SERVICE,
    "operator": OPERATOR,
    "coordinator": COORDINATOR,
    "police": POLICE,
    "panel": PANEL,
    "no role": NOBODY,
    "health+coordinator": PARTNER_AND_COORDINATOR,
}
# who may go on to each rule's own checks (an answer's step, a run's job variables)
MAY = {
    Access.OPEN: set(CALLERS),
    Access.SIGNED_IN: set(CALLERS),
    Access.ANSWER: set(CALLERS),  # the step's roles decide next (gate/answers.py)
    Access.START: {"service", "operator", "coordinator", "health+coordinator"},
    Access.OPERATOR: {"service", "operator"},
    Access.SERVICE: {"service"},
}


@pytest.mark.parametrize("needed", list(Access))
@pytest.mark.parametrize("who", list(CALLERS))
def test_who_may_go_on(needed: Access, who: str) -> None:
    assert allowed(needed, CALLERS[who]) is (who in MAY[needed])


def test_every_access_has_a_row_in_the_table() -> None:
    assert set(MAY) == set(Access)


@pytest.mark.parametrize("who", list(CALLERS))
def test_only_the_system_and_operators_may_give_a_run_job_variables(who: str) -> None:
    assert may_set_job_variables(CALLERS[who]) is (who in {"service", "operator"})
