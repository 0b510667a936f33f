"""Who may do what through the gate, request by request: pure, so every rule can be tested without a server.

Prefect's API has no notion of a person; these rules give it one. The default for a change is "operators only",
so a route a later Prefect adds is closed to everyone else until someone decides otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models.roles import Role

API = "/api"


class Access(StrEnum):
    OPEN = "open"  # no sign-in: health checks, the UI's settings and static files, the gate's own pages
    SIGNED_IN = "signed in"  # anyone signed in: every read
    ANSWER = "answer"  # resuming a run with a form's answer: the person's role must fit the step (gate/answers.py)
    START = "start"  # starting a run of a deployment: coordinators and operators, job variables for operators only
    OPERATOR = "operator"  # every other change: deployments, work pools, blocks, variables, automations, limits...
    SERVICE = "service"  # the system's own traffic: writing run inputs (the signed identities), workers' polling


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the service credential, or a signed-in person with their registered roles."""

    service: bool
    roles: frozenset[Role] = frozenset()

    @property
    def operator(self) -> bool:
        return Role.OPERATOR in self.roles


SERVICE = Caller(service=True)

# Static parts of Prefect's two UIs, fetched without the cookie (Chromium asks for favicons without it), and the
# two health checks `cspr up` polls. None holds anything about a review.
_OPEN_PATHS = {"/api/health", "/api/ready", "/ui-settings", "/v2/ui-settings", "/favicon.ico", "/sign-in"}
_OPEN_PREFIXES = ("/assets/", "/v2/assets/", "/v2/fonts/", "/fonts/", "/ico/", "/img/", "/sign-in/", "/sign-out")
# POSTs that only read: Prefect's filters and counts, and the UI's own summaries
_READS = re.compile(
    r"^/api/(?:ui/.*|.*/(?:filter|count|paginate|history|lateness|concurrency_status)|events/count-by/[^/]+"
    r"|(?:automations/)?templates/validate|flow_runs/[^/]+/input/filter|artifacts/latest/(?:filter|count))$"
)
_RESUME = re.compile(r"^/api/flow_runs/[0-9a-fA-F-]{36}/resume$")
_START = re.compile(r"^/api/deployments/[0-9a-fA-F-]{36}/create_flow_run$")
# the signed identities beside each answer, and what workers do when they take a run: never a person's doing
_SERVICE_ONLY = re.compile(
    r"^/api/(?:flow_runs/[^/]+/input(?:/[^/]+)?|deployments/get_scheduled_flow_runs"
    r"|work_pools/[^/]+/get_scheduled_flow_runs|work_queues/[^/]+/get_runs|work_pools/[^/]+/workers/heartbeat)$"
)
_CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def access(method: str, path: str) -> Access:
    """The access a request needs, from its method and path alone."""
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return Access.OPEN
    if method not in _CHANGES:
        return Access.SIGNED_IN
    if _SERVICE_ONLY.match(path):
        return Access.SERVICE
    if _READS.match(path):
        return Access.SIGNED_IN
    if _RESUME.match(path):
        return Access.ANSWER
    if _START.match(path):
        return Access.START
    return Access.OPERATOR


def allowed(needed: Access, caller: Caller) -> bool:
    """Whether the caller may go on to the rule's own checks (the answer's step, a run's job variables)."""
    if caller.service:
        return True
    match needed:
        case Access.OPEN | Access.SIGNED_IN | Access.ANSWER:
            return True
        case Access.START:
            return caller.operator or Role.COORDINATOR in caller.roles
        case Access.OPERATOR:
            return caller.operator
        case Access.SERVICE:
            return False


def may_set_job_variables(caller: Caller) -> bool:
    """A run's job variables reach the worker that runs it: only the system and operators may give any."""
    return caller.service or caller.operator
