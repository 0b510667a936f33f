"""Who may do what through the gate, route by route: one allowlist of Prefect's routes per role, and nothing else.

Pure, so every rule can be tested without a server. A request is first resolved to one of Prefect's own route
templates (gate/routes.py); the list below says, for that route, which roles may call it and under which rule (a run
of their own partnerships only, a start with parameters only...). A route that is not listed is refused to every
person, reads included, and a route a later Prefect adds stays closed until someone lists it here. The service (the
workers, the command line, the flows) is never subject to this list: it is the system itself.

docs/access.md, "Who can do what" by area and route by route, is generated from this list (``python -m gate.access``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gate.routes import API, Route
from models.roles import PARTNERS, Role


class Rule(StrEnum):
    """How a listed route is passed on: each is a check the gate makes before (or after) Prefect answers."""

    READ = "read"  # passed on as asked: nothing in it belongs to one partnership
    RUN = "run"  # the flow run in the path must be of the person's partnerships
    RUNS = "runs"  # a filter over flow runs (or what hangs off them), narrowed to the person's partnerships
    RUN_QUERY = "run in query"  # the flow run named by ``?flow_run_id=`` must be of the person's partnerships
    RUN_IDS = "runs named"  # every flow run the body names (``flow_run_ids``) must be of the person's partnerships
    LOGS = "logs"  # the logs of named flow runs only, each of the person's partnerships
    TASK_RUN = "task run"  # the task run in the path must belong to a flow run of the person's partnerships
    ARTIFACT = "artifact"  # the artifact must belong to a flow run of the person's partnerships
    FORM = "form"  # a run's input: only the waiting form's schema or description, to someone who may answer it
    ANSWER = (
        "answer"  # resuming a run with a form's answer: the person's role must fit the step (gate/who_may_answer.py)
    )
    START = "start"  # starting a run: only the deployments of the role's work, with their parameters alone
    CANCEL = "cancel"  # setting a run's state: cancelling it, nothing else
    FIELDS = "fields"  # a change of the listed fields only (a limit, a pause), never what a worker runs
    SETTINGS = "settings"  # the server's settings, scrubbed of every header, key, token and password
    OPERATORS_ONLY = "operators only"  # an operator's read; anyone else gets an empty answer (the UI asks every page)


class Audience(StrEnum):
    """The roles as the allowlist groups them: the three partners' representatives share one list."""

    OPERATOR = "operator"
    COORDINATOR = "coordinator"
    PARTNER = "partner"
    PANEL = "panel"
    AGENCY_CONTACT = "agency_contact"  # answers for an agency, on their tasks page alone

    @classmethod
    def of(cls, role: Role) -> Audience:
        return cls.PARTNER if role in PARTNERS else cls(role.value)


# Prefect's UI and API are for the people who run reviews and the system: coordinators start notifications and follow
# runs there, operators run the system. Partners, the Panel's contact and agencies' contacts answer their steps on
# their tasks page (gate/tasks_app.py) and have no route of Prefect's at all: a run names every agency asked, and an
# agency's contact may see their own agency's work alone.
EVERYONE = frozenset({Audience.COORDINATOR, Audience.OPERATOR})  # everyone who uses Prefect's UI
ANSWERERS = frozenset({Audience.COORDINATOR})  # the notification's identity step, answered in Prefect's UI
OPERATORS = frozenset({Audience.OPERATOR})
STARTERS = frozenset({Audience.COORDINATOR, Audience.OPERATOR})

# What each role may start, and which parameter names the partnership the run is for (None: the operator's own
# runs, for no one partnership). A coordinator starts only runs for their own partnerships.
STARTABLE: Mapping[Audience, Mapping[str, tuple[str, ...] | None]] = {
    Audience.COORDINATOR: {
        "notify-incident": ("notification", "partnership"),
        "partnership-report": ("partnership",),
    },
    Audience.OPERATOR: {
        "notify-incident": None,
        "partnership-report": None,
        "deadline-sweep": None,
        "retention": None,
        "review-lifecycle": None,  # picking up a review whose run failed (the run carries on from the record)
    },
}

# What a person other than an operator gets from an OPERATORS_ONLY route: Prefect's own shape, with nothing in it.
# Every run page of the UI asks for its events and related automations; events name every partnership's runs.
NOTHING: Mapping[Route, object] = {
    Route("POST", "/api/events/filter"): {"events": [], "total": 0, "next_page": None},
    Route("GET", "/api/automations/related-to/{resource_id}"): [],
}

# The fields a FIELDS route may change: limits and pauses, never a template, a command or a pull step.
FIELDS: Mapping[Route, frozenset[str]] = {
    Route("PATCH", "/api/work_pools/{name}"): frozenset({"concurrency_limit", "is_paused", "description"}),
    Route("PATCH", "/api/work_queues/{id}"): frozenset({"concurrency_limit", "is_paused", "priority", "description"}),
    Route("PATCH", "/api/work_pools/{work_pool_name}/queues/{name}"): frozenset(
        {"concurrency_limit", "is_paused", "priority", "description"}
    ),
    Route("PATCH", "/api/deployments/{id}/schedules/{schedule_id}"): frozenset({"active"}),
    Route("PATCH", "/api/v2/concurrency_limits/{id_or_name}"): frozenset(
        {"limit", "active", "slot_decay_per_second", "denied_slots"}
    ),
    Route("PATCH", "/api/automations/{id}"): frozenset({"enabled"}),
}

_LIST: tuple[tuple[str, Rule, frozenset[Audience]], ...] = (
    # the UI's own needs, for everyone it serves
    ("GET /api/csrf-token", Rule.READ, EVERYONE),
    ("GET /api/hello", Rule.READ, EVERYONE),
    ("GET /api/version", Rule.READ, EVERYONE),
    ("POST /api/ui/schemas/validate", Rule.READ, EVERYONE),
    ("POST /api/saved_searches/filter", Rule.READ, EVERYONE),
    ("GET /api/saved_searches/{id}", Rule.READ, EVERYONE),
    # the process: flows and deployments hold no review's data (a deployment's parameters are the form to fill)
    ("GET /api/flows/{id}", Rule.READ, EVERYONE),
    ("GET /api/flows/name/{name}", Rule.READ, EVERYONE),
    ("POST /api/flows/filter", Rule.READ, EVERYONE),
    ("POST /api/flows/count", Rule.READ, EVERYONE),
    ("POST /api/flows/paginate", Rule.READ, EVERYONE),
    ("GET /api/deployments/{id}", Rule.READ, EVERYONE),
    ("GET /api/deployments/name/{flow_name}/{deployment_name}", Rule.READ, EVERYONE),
    ("POST /api/deployments/filter", Rule.READ, EVERYONE),
    ("POST /api/deployments/count", Rule.READ, EVERYONE),
    ("POST /api/deployments/paginate", Rule.READ, EVERYONE),
    ("GET /api/deployments/{id}/schedules", Rule.READ, OPERATORS),
    ("GET /api/deployments/{id}/work_queue_check", Rule.READ, OPERATORS),
    ("POST /api/ui/flows/count-deployments", Rule.READ, EVERYONE),
    # where runs are taken up: a run's page names its work pool and queue (no review's data, no command or env)
    ("GET /api/work_pools/{name}", Rule.READ, EVERYONE),
    ("POST /api/work_pools/filter", Rule.READ, EVERYONE),
    ("GET /api/work_pools/{work_pool_name}/queues/{name}", Rule.READ, EVERYONE),
    # the runs of a review: each person reads those of their own partnerships (operators and the Panel, all)
    ("GET /api/flow_runs/{id}", Rule.RUN, EVERYONE),
    ("GET /api/flow_runs/{id}/graph", Rule.RUN, EVERYONE),
    ("GET /api/flow_runs/{id}/graph-v2", Rule.RUN, EVERYONE),
    ("GET /api/flow_runs/{id}/logs/download", Rule.RUN, OPERATORS),
    ("POST /api/flow_runs/filter", Rule.RUNS, EVERYONE),
    ("POST /api/flow_runs/count", Rule.RUNS, EVERYONE),
    ("POST /api/flow_runs/paginate", Rule.RUNS, EVERYONE),
    ("POST /api/flow_runs/history", Rule.RUNS, EVERYONE),
    ("POST /api/flow_runs/lateness", Rule.RUNS, EVERYONE),
    ("POST /api/ui/flow_runs/history", Rule.RUNS, EVERYONE),
    ("POST /api/ui/flow_runs/count-task-runs", Rule.RUN_IDS, EVERYONE),
    ("POST /api/ui/flows/next-runs", Rule.READ, OPERATORS),
    ("GET /api/flow_run_states/", Rule.RUN_QUERY, EVERYONE),
    ("GET /api/flow_runs/{id}/input/{key}", Rule.FORM, ANSWERERS),
    ("POST /api/flow_runs/{id}/resume", Rule.ANSWER, ANSWERERS),
    ("POST /api/task_runs/filter", Rule.RUNS, EVERYONE),
    ("POST /api/task_runs/count", Rule.RUNS, EVERYONE),
    ("POST /api/task_runs/paginate", Rule.RUNS, EVERYONE),
    ("POST /api/task_runs/history", Rule.RUNS, EVERYONE),
    ("POST /api/ui/task_runs/dashboard/counts", Rule.RUNS, EVERYONE),
    ("POST /api/ui/task_runs/count", Rule.RUNS, EVERYONE),
    ("GET /api/task_runs/{id}", Rule.TASK_RUN, EVERYONE),
    ("GET /api/ui/task_runs/{id}", Rule.TASK_RUN, EVERYONE),
    ("POST /api/logs/filter", Rule.LOGS, EVERYONE),
    ("POST /api/artifacts/filter", Rule.RUNS, EVERYONE),
    ("POST /api/artifacts/count", Rule.RUNS, EVERYONE),
    ("POST /api/artifacts/latest/filter", Rule.RUNS, EVERYONE),
    ("POST /api/artifacts/latest/count", Rule.RUNS, EVERYONE),
    ("GET /api/artifacts/{id}", Rule.ARTIFACT, EVERYONE),
    ("GET /api/artifacts/{key}/latest", Rule.ARTIFACT, EVERYONE),
    # starting a run: the coordinator's notification and report; the operator's sweep, report and retention
    ("POST /api/deployments/{id}/create_flow_run", Rule.START, STARTERS),
    # what operators read to run the system
    # every page of the UI reads it (its sidebar waits on it): operators get it scrubbed, everyone else only the one
    # setting those pages use
    ("GET /api/admin/settings", Rule.SETTINGS, EVERYONE),
    ("GET /api/admin/version", Rule.READ, OPERATORS),
    ("GET /api/task_run_states/", Rule.READ, OPERATORS),
    ("GET /api/task_run_states/{id}", Rule.READ, OPERATORS),
    ("GET /api/flow_run_states/{id}", Rule.READ, OPERATORS),
    ("POST /api/work_pools/count", Rule.READ, OPERATORS),
    ("POST /api/work_pools/{name}/concurrency_status", Rule.READ, OPERATORS),
    ("POST /api/work_pools/{work_pool_name}/queues/filter", Rule.READ, OPERATORS),
    ("POST /api/work_pools/{work_pool_name}/workers/filter", Rule.READ, OPERATORS),
    ("GET /api/work_queues/{id}", Rule.READ, OPERATORS),
    ("GET /api/work_queues/name/{name}", Rule.READ, OPERATORS),
    ("GET /api/work_queues/{id}/status", Rule.READ, OPERATORS),
    ("POST /api/work_queues/filter", Rule.READ, OPERATORS),
    ("POST /api/work_queues/{id}/concurrency_status", Rule.READ, OPERATORS),
    ("POST /api/task_workers/filter", Rule.READ, OPERATORS),
    ("GET /api/concurrency_limits/{id}", Rule.READ, OPERATORS),
    ("GET /api/concurrency_limits/tag/{tag}", Rule.READ, OPERATORS),
    ("POST /api/concurrency_limits/filter", Rule.READ, OPERATORS),
    ("GET /api/v2/concurrency_limits/{id_or_name}", Rule.READ, OPERATORS),
    ("POST /api/v2/concurrency_limits/filter", Rule.READ, OPERATORS),
    ("POST /api/automations/filter", Rule.READ, OPERATORS),
    ("POST /api/automations/count", Rule.READ, OPERATORS),
    ("GET /api/automations/{id}", Rule.READ, OPERATORS),
    ("GET /api/automations/related-to/{resource_id}", Rule.OPERATORS_ONLY, EVERYONE),
    ("POST /api/events/filter", Rule.OPERATORS_ONLY, EVERYONE),
    ("GET /api/events/filter/next", Rule.READ, OPERATORS),
    ("POST /api/events/count-by/{countable}", Rule.READ, OPERATORS),
    ("POST /api/variables/filter", Rule.READ, OPERATORS),
    ("POST /api/variables/count", Rule.READ, OPERATORS),
    ("GET /api/variables/{id}", Rule.READ, OPERATORS),
    ("GET /api/variables/name/{name}", Rule.READ, OPERATORS),
    ("POST /api/block_types/filter", Rule.READ, OPERATORS),
    ("GET /api/block_types/{id}", Rule.READ, OPERATORS),
    ("GET /api/block_types/slug/{slug}", Rule.READ, OPERATORS),
    ("POST /api/block_schemas/filter", Rule.READ, OPERATORS),
    ("GET /api/block_schemas/{id}", Rule.READ, OPERATORS),
    ("GET /api/block_capabilities/", Rule.READ, OPERATORS),
    ("GET /api/collections/views/{view}", Rule.READ, OPERATORS),
    # what operators change: pauses, limits and cancellations, never what a deployment or a worker runs
    ("POST /api/deployments/{id}/pause_deployment", Rule.READ, OPERATORS),
    ("POST /api/deployments/{id}/resume_deployment", Rule.READ, OPERATORS),
    ("PATCH /api/deployments/{id}/schedules/{schedule_id}", Rule.FIELDS, OPERATORS),
    ("POST /api/flow_runs/{id}/set_state", Rule.CANCEL, OPERATORS),
    ("PATCH /api/work_pools/{name}", Rule.FIELDS, OPERATORS),
    ("PATCH /api/work_queues/{id}", Rule.FIELDS, OPERATORS),
    ("PATCH /api/work_pools/{work_pool_name}/queues/{name}", Rule.FIELDS, OPERATORS),
    ("POST /api/v2/concurrency_limits/", Rule.READ, OPERATORS),
    ("PATCH /api/v2/concurrency_limits/{id_or_name}", Rule.FIELDS, OPERATORS),
    ("DELETE /api/v2/concurrency_limits/{id_or_name}", Rule.READ, OPERATORS),
    ("PATCH /api/automations/{id}", Rule.FIELDS, OPERATORS),
)


@dataclass(frozen=True)
class Grant:
    route: Route
    rule: Rule
    audiences: frozenset[Audience]


ALLOWLIST: Mapping[Route, Grant] = {
    (route := Route.parse(text)): Grant(route, rule, audiences) for text, rule, audiences in _LIST
}


@dataclass(frozen=True)
class Caller:
    """A signed-in person as the gate knows them: their roles from the register, and the partnerships whose runs
    they may read (None: every partnership, for an operator and the Panel's contact)."""

    roles: frozenset[Role]
    partnerships: frozenset[str] | None = frozenset()

    @property
    def audiences(self) -> frozenset[Audience]:
        return frozenset(Audience.of(role) for role in self.roles)


def reads_all(roles: frozenset[Role]) -> bool:
    """Operators run the system and the Panel's contact serves every partnership: both read every review's runs."""
    return bool(roles & {Role.OPERATOR, Role.PANEL})


def grant_for(route: Route | None, caller: Caller) -> Grant | None:
    """The grant under which the caller may call the route, or None: refused. Deny by default."""
    grant = ALLOWLIST.get(route) if route is not None else None
    if grant is None or not grant.audiences & caller.audiences:
        return None
    return grant


def startable(caller: Caller, deployment: str) -> tuple[str, ...] | bool | None:
    """Whether the caller may start a run of the deployment: False if not; else where its parameters name the
    partnership to check against the caller's (None: nothing to check, an operator's run)."""
    for audience in (Audience.OPERATOR, Audience.COORDINATOR):  # an operator's right is the wider one
        allowed = STARTABLE.get(audience, {}) if audience in caller.audiences else {}
        if deployment in allowed:
            return allowed[deployment]
    return False


# Static parts of Prefect's two UIs, fetched without the cookie (Chromium asks for favicons without it), and the
# two health checks `cspr up` polls. None holds anything about a review.
_OPEN_PATHS = frozenset({"/api/health", "/api/ready", "/ui-settings", "/v2/ui-settings", "/favicon.ico"})
_OPEN_PREFIXES = ("/assets/", "/v2/assets/", "/v2/fonts/", "/fonts/", "/ico/", "/img/")
# the API's own description, outside /api too: no review's data, but nobody's work needs it but an operator's
_API_DOCS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def is_open(path: str) -> bool:
    """Needs no sign-in: the health checks, the UI's settings and its static files."""
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def uses_prefect(caller: Caller) -> bool:
    """Whether the person uses Prefect's UI at all: anyone else is sent to their tasks page, and refused every route
    of Prefect's API."""
    return bool(caller.audiences & EVERYONE)


def is_page(method: str, path: str, caller: Caller) -> bool:
    """A page of Prefect's UI (its single-page app answers every other path with the same HTML), for anyone
    signed in; the API's description pages for operators only."""
    if method not in ("GET", "HEAD") or path == API or path.startswith(API + "/"):
        return False
    if path in _API_DOCS or path.startswith("/v2/docs"):
        return Audience.OPERATOR in caller.audiences
    return True
