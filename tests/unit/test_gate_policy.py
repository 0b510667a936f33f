"""The gate's allowlist (gate/policy.py) against Prefect's own routes (gate/routes.py), and the narrowing of reads to
a person's partnerships (gate/scope.py): pure, so every rule is checked without a server."""

from __future__ import annotations

import pytest

from gate import scope
from gate.policy import ALLOWLIST, FIELDS, Audience, Caller, Rule, grant_for, is_open, is_page, startable, uses_prefect
from gate.routes import Route, RouteTable, prefect_routes
from models.roles import Role

PREFECT = prefect_routes()
COORDINATOR = Caller(frozenset({Role.COORDINATOR}), frozenset({"northshire"}))
POLICE = Caller(frozenset({Role.POLICE}), frozenset({"northshire"}))
PANEL = Caller(frozenset({Role.PANEL}), None)
OPERATOR = Caller(frozenset({Role.OPERATOR}), None)


def test_every_listed_route_is_one_of_prefects_so_none_is_a_typo_or_gone() -> None:
    assert len(PREFECT.routes) > 150
    assert set(ALLOWLIST) <= PREFECT.routes, sorted(map(str, set(ALLOWLIST) - PREFECT.routes))
    assert set(FIELDS) <= PREFECT.routes


def test_a_parameter_matches_one_segment_so_a_queue_named_count_is_not_a_read_of_counts() -> None:
    for name in ("filter", "count"):
        resolved = PREFECT.resolve("PATCH", f"/api/work_queues/{name}")
        assert resolved is not None and resolved.route == Route("PATCH", "/api/work_queues/{id}")
        assert grant_for(resolved.route, POLICE) is None and grant_for(resolved.route, COORDINATOR) is None
        deleted = PREFECT.resolve("DELETE", f"/api/variables/name/{name}")
        assert deleted is not None and grant_for(deleted.route, POLICE) is None
    assert PREFECT.resolve("GET", "/api/flow_runs/a/b/c/d") is None  # no route spans segments
    assert PREFECT.resolve("GET", "/api/flow_runs//graph") is None  # an empty segment is no parameter


def test_a_literal_segment_wins_over_a_parameter() -> None:
    table = RouteTable([Route("GET", "/api/x/{id}"), Route("GET", "/api/x/latest")])
    found = table.resolve("GET", "/api/x/latest")
    assert found is not None and found.route.template == "/api/x/latest"


@pytest.mark.parametrize("caller", [COORDINATOR, POLICE, PANEL])
def test_what_only_the_system_or_an_operator_may_do_is_refused_to_every_other_role(caller: Caller) -> None:
    for text in (
        "GET /api/admin/version",
        "POST /api/flow_runs/{id}/input/filter",
        "POST /api/flow_runs/{id}/input",
        "DELETE /api/flow_runs/{id}/input/{key}",
        "POST /api/deployments/",
        "PATCH /api/deployments/{id}",
        "POST /api/flow_runs/{id}/set_state",
        "POST /api/events/count-by/{countable}",
        "PATCH /api/work_pools/{name}",
        "POST /api/work_pools/{name}/get_scheduled_flow_runs",
    ):
        assert grant_for(Route.parse(text), caller) is None, text


def test_no_person_may_change_what_a_deployment_or_worker_runs_not_even_an_operator() -> None:
    for text in (
        "POST /api/deployments/",
        "PATCH /api/deployments/{id}",
        "DELETE /api/deployments/{id}",
        "POST /api/work_pools/",
        "POST /api/flow_runs/",
        "POST /api/block_documents/",
        "PATCH /api/block_documents/{id}",
        "POST /api/variables/",
        "POST /api/automations/",
        "PUT /api/automations/{id}",
        "DELETE /api/flow_runs/{id}",
        "POST /api/flow_runs/bulk_delete",
        "POST /api/flow_runs/bulk_set_state",
        "GET /api/flow_runs/{id}/input/{key}",
        "PUT /api/admin/storage",
    ):
        assert grant_for(Route.parse(text), OPERATOR) is None, text
    assert "base_job_template" not in FIELDS[Route("PATCH", "/api/work_pools/{name}")]


def test_an_unlisted_route_is_refused_to_everyone_as_a_later_prefect_would_add_it() -> None:
    later = Route("GET", "/api/something_new/{id}")
    assert all(grant_for(later, caller) is None for caller in (COORDINATOR, POLICE, PANEL, OPERATOR))
    assert all(grant_for(None, caller) is None for caller in (COORDINATOR, OPERATOR))


def test_answers_in_prefect_are_the_coordinators_and_run_inputs_only_through_the_form_rule() -> None:
    resume = Route("POST", "/api/flow_runs/{id}/resume")
    form = Route("GET", "/api/flow_runs/{id}/input/{key}")
    assert grant_for(resume, COORDINATOR) is not None
    granted = grant_for(form, COORDINATOR)
    assert granted is not None and granted.rule is Rule.FORM
    for caller in (POLICE, PANEL, OPERATOR):  # partners and the Panel answer on their tasks pages
        assert grant_for(resume, caller) is None and grant_for(form, caller) is None


def test_partners_and_the_panel_use_no_prefect_at_all() -> None:
    assert uses_prefect(COORDINATOR) and uses_prefect(OPERATOR)
    assert not uses_prefect(POLICE) and not uses_prefect(PANEL)
    assert all(grant_for(grant.route, caller) is None for grant in ALLOWLIST.values() for caller in (POLICE, PANEL))


def test_coordinators_start_only_their_work_and_name_the_partnership_operators_start_the_systems_runs() -> None:
    assert startable(COORDINATOR, "notify-incident") == ("notification", "partnership")
    assert startable(COORDINATOR, "partnership-report") == ("partnership",)
    assert startable(COORDINATOR, "deadline-sweep") is False
    assert startable(COORDINATOR, "review-lifecycle") is False
    assert startable(POLICE, "notify-incident") is False
    assert startable(OPERATOR, "deadline-sweep") is None
    assert startable(OPERATOR, "check-unresponsive-run") is False


def test_pages_and_open_paths() -> None:
    assert is_open("/api/health") and is_open("/assets/app.js") and not is_open("/api/admin/settings")
    assert is_page("GET", "/runs/flow-run/x", POLICE) and not is_page("GET", "/api/flow_runs/x", POLICE)
    assert not is_page("POST", "/runs", POLICE)
    assert not is_page("GET", "/docs", POLICE) and is_page("GET", "/docs", OPERATOR)
    assert Audience.of(Role.HEALTH) is Audience.PARTNER


# --- narrowing reads -----------------------------------------------------------------------------------------


def test_a_filter_is_narrowed_to_the_one_partnership_whatever_else_it_asks() -> None:
    asked = {"flow_runs": {"tags": {"all_": ["stage:rapid_review"]}, "name": {"like_": "CSPR"}}, "limit": 5}
    narrowed = scope.narrow_runs(asked, frozenset({"northshire"}))
    assert narrowed["flow_runs"]["tags"]["all_"] == ["stage:rapid_review", "partnership:northshire"]
    assert narrowed["flow_runs"]["name"] == {"like_": "CSPR"} and narrowed["limit"] == 5
    assert scope.narrow_runs({}, frozenset({"a"}))["flow_runs"]["tags"]["all_"] == ["partnership:a"]
    assert scope.narrow_runs({"flow_runs": None}, frozenset())["flow_runs"]["tags"]["all_"] == [scope.NO_PARTNERSHIP]


def test_several_partnerships_are_any_of_their_tags() -> None:
    narrowed = scope.narrow_runs({"flow_runs": {"tags": {"all_": ["x"]}}}, frozenset({"b", "a"}))
    assert narrowed["flow_runs"]["tags"] == {"all_": ["x"], "any_": ["partnership:a", "partnership:b"]}
    with pytest.raises(scope.Unscopable):
        scope.narrow_runs({"flow_runs": {"tags": {"any_": ["x"]}}}, frozenset({"a", "b"}))


@pytest.mark.parametrize(
    "asked",
    [
        {"flow_runs": {"operator": "or_", "tags": {"all_": ["x"]}}},
        {"flow_runs": {"tags": {"operator": "or_", "all_": ["x"]}}},
        {"flow_runs": "everything"},
        {"flow_runs": {"tags": ["partnership:other"]}},
    ],
)
def test_a_filter_that_would_join_ours_by_or_is_refused(asked: dict[str, object]) -> None:
    with pytest.raises(scope.Unscopable):
        scope.narrow_runs(asked, frozenset({"northshire"}))


def test_logs_only_of_named_runs() -> None:
    assert scope.logs_runs({"logs": {"flow_run_id": {"any_": ["r1", "r2"]}}}) == ["r1", "r2"]
    for asked in ({}, {"logs": {}}, {"logs": {"flow_run_id": {"any_": []}}}, {"logs": {"operator": "or_"}}):
        with pytest.raises(scope.Unscopable):
            scope.logs_runs(asked)


def test_a_run_is_visible_by_its_partnership_tag() -> None:
    run = {"tags": ["cspr", "partnership:northshire", "stage:x"]}
    assert scope.run_visible(run, frozenset({"northshire"})) and scope.run_visible(run, None)
    assert not scope.run_visible(run, frozenset({"southshire"}))
    assert not scope.run_visible({"tags": ["deadline-sweep"]}, frozenset({"northshire"}))


def test_settings_are_scrubbed_of_every_credential() -> None:
    settings = {
        "api": {"key": "pnu_secret", "url": "http://127.0.0.1:4200/api"},
        "client": {"custom_headers": {"X-Cspr-Service": "s3rvice"}, "max_retries": 5},
        "server": {"database": {"connection_url": "postgresql+asyncpg://cspr:hunter2@db/cspr"}},
        "other": {"url": "postgresql://u:pw@host/db", "enabled": True},
    }
    scrubbed = scope.scrub(settings)
    text = repr(scrubbed)
    assert "pnu_secret" not in text and "s3rvice" not in text and "hunter2" not in text and ":pw@" not in text
    assert scrubbed["api"]["url"] == "http://127.0.0.1:4200/api" and scrubbed["client"]["max_retries"] == 5
    assert scrubbed["other"]["enabled"] is True


# --- the old route table, case by case, under the allowlist --------------------------------------------------------

RUN = "0b5c2f0e-3f6a-4c1b-9d2e-7a8b9c0d1e2f"
DEPLOYMENT = "6f1e2d3c-4b5a-4968-8776-655443322110"
CALLERS = {"coordinator": COORDINATOR, "police": POLICE, "panel": PANEL, "operator": OPERATOR}
NOBODY: frozenset[str] = frozenset()
# Prefect's UI and API are the coordinators' and the operators'; partners and the Panel work on their tasks pages
ALL = frozenset({"coordinator", "operator"})
OPS = frozenset({"operator"})
ANSWERING = frozenset({"coordinator"})  # the notification's identity step, in Prefect's UI
STARTING = frozenset({"coordinator", "operator"})

OPEN_OR_PAGE = [
    # open: health checks, the UIs' settings and static files
    ("GET", "/api/health", "open"),
    ("GET", "/api/ready", "open"),
    ("GET", "/ui-settings", "open"),
    ("GET", "/v2/ui-settings", "open"),
    ("GET", "/favicon.ico", "open"),
    ("GET", "/assets/index-abc123.js", "open"),
    ("GET", "/v2/assets/index.css", "open"),
    # the UI's pages need a sign-in; a path that only begins like the gate's own page is a page of the UI
    ("GET", "/", "page"),
    ("GET", "/runs", "page"),
    ("GET", "/v2/", "page"),
    ("GET", "/sign-inside", "page"),
]

API_ROUTES = [
    ("POST", "/api/healthy", NOBODY),  # no route of Prefect's
    ("GET", "/api/version", ALL),
    ("GET", "/api/openapi.json", NOBODY),
    ("GET", f"/api/flow_runs/{RUN}", ALL),
    ("GET", f"/api/flow_runs/{RUN}/input/cspr-identity", ANSWERING),  # under the form rule: schema and text only
    ("GET", "/api/work_pools/cspr-local", ALL),
    ("HEAD", "/api/flows/", NOBODY),
    ("OPTIONS", "/api/flows/filter", NOBODY),
    # POSTs that only read
    ("POST", "/api/flow_runs/filter", ALL),
    ("POST", "/api/flows/count", ALL),
    ("POST", "/api/deployments/paginate", ALL),
    ("POST", "/api/flow_runs/history", ALL),
    ("POST", "/api/flow_runs/lateness", ALL),
    ("POST", "/api/ui/flow_runs/history", ALL),
    ("POST", "/api/ui/schemas/validate", ALL),
    ("POST", "/api/events/filter", ALL),  # an empty answer for anyone but an operator (Rule.OPERATORS_ONLY)
    ("POST", "/api/events/count-by/day", OPS),
    ("POST", "/api/templates/validate", NOBODY),
    ("POST", "/api/automations/templates/validate", NOBODY),
    ("POST", "/api/artifacts/latest/filter", ALL),
    # answering a form, starting a run
    ("POST", f"/api/flow_runs/{RUN}/resume", ANSWERING),
    ("POST", f"/api/deployments/{DEPLOYMENT}/create_flow_run", STARTING),
    ("POST", f"/api/deployments/{DEPLOYMENT}/create_flow_run/", NOBODY),
    # what changes what a worker runs, or the record: nobody
    ("POST", "/api/deployments/", NOBODY),
    ("PATCH", f"/api/deployments/{DEPLOYMENT}", NOBODY),
    ("DELETE", f"/api/deployments/{DEPLOYMENT}", NOBODY),
    ("POST", "/api/work_pools/", NOBODY),
    ("PATCH", "/api/work_pools/cspr-local", OPS),  # its limit, pause and description only (Rule.FIELDS)
    ("POST", "/api/block_documents/", NOBODY),
    ("PATCH", f"/api/block_documents/{RUN}", NOBODY),
    ("POST", "/api/variables/", NOBODY),
    ("PATCH", "/api/variables/name/cspr", NOBODY),
    ("POST", "/api/automations/", NOBODY),
    ("PATCH", f"/api/automations/{RUN}", OPS),  # enabled only (Rule.FIELDS)
    ("POST", "/api/concurrency_limits/", NOBODY),
    ("POST", "/api/v2/concurrency_limits/", OPS),
    ("DELETE", f"/api/flow_runs/{RUN}", NOBODY),
    ("POST", "/api/flow_runs/bulk_delete", NOBODY),
    ("POST", "/api/events", NOBODY),
    ("POST", "/api/flow_runs/", NOBODY),  # a run straight from a flow, job variables and all
    ("PATCH", f"/api/flow_runs/{RUN}", NOBODY),  # a run's job variables changed after it was made
    ("POST", f"/api/flow_runs/{RUN}/set_state", OPS),  # cancelling only (Rule.CANCEL)
    ("POST", "/api/a_route_a_later_prefect_adds", NOBODY),
    # the system's own: the signed identities beside answers, and workers taking runs
    ("POST", f"/api/flow_runs/{RUN}/input", NOBODY),
    ("DELETE", f"/api/flow_runs/{RUN}/input/cspr-identity", NOBODY),
    ("POST", f"/api/flow_runs/{RUN}/input/filter", NOBODY),
    ("POST", "/api/deployments/get_scheduled_flow_runs", NOBODY),
    ("POST", "/api/work_pools/cspr-local/get_scheduled_flow_runs", NOBODY),
    ("POST", f"/api/work_queues/{RUN}/get_runs", NOBODY),
    ("POST", "/api/work_pools/cspr-local/workers/heartbeat", NOBODY),
]


@pytest.mark.parametrize(("method", "path", "kind"), OPEN_OR_PAGE, ids=[f"{m} {p}" for m, p, _ in OPEN_OR_PAGE])
def test_what_is_open_and_what_is_a_page(method: str, path: str, kind: str) -> None:
    assert is_open(path) is (kind == "open")
    if kind == "page":
        assert all(is_page(method, path, caller) for caller in CALLERS.values())


@pytest.mark.parametrize(("method", "path", "who"), API_ROUTES, ids=[f"{m} {p}" for m, p, _ in API_ROUTES])
def test_who_may_call_each_route(method: str, path: str, who: frozenset[str]) -> None:
    assert not is_open(path) and not any(is_page(method, path, caller) for caller in CALLERS.values())
    resolved = PREFECT.resolve(method, path)
    granted = {name for name, caller in CALLERS.items() if grant_for(resolved.route if resolved else None, caller)}
    assert granted == who
