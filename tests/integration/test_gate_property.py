"""Property-based, from Prefect's own OpenAPI document (schemathesis): as a partner's representative and as a
coordinator, signed in at the real gate, whatever request is made to whatever route (valid by the document or not:
schemathesis generates both), a route outside the role's allowlist answers 401 or 403, and nothing answers 5xx. A
partner's representative uses no Prefect at all (their steps are answered on their tasks page): for them every route
but the open health checks is outside, refused by the gate in the words that send them to their tasks.

The oracle is the pure policy (gate/policy.py: the allowlist, the open paths and the UI's pages) applied to each request
as it reached the server, its path resolved to Prefect's route template as the gate resolves it; what is under test is
the gate's enforcement of it and everything behind it (the rules that narrow or check a granted request, and Prefect).

The document is the running server's ``/api/openapi.json``. Each operation is driven through schemathesis's Python API
(``APIOperation.as_strategy`` under Hypothesis's ``@given``) rather than its pytest plugin, whose lazy loading from a
fixture (``schemathesis.pytest.from_fixture``) fails on pytest 9.2 (it sets ``Function._nodeid``, which pytest 9.2 no
longer has). Bounded for CI: a few valid and a few invalid requests per operation, derandomized, no shrinking, every
request to this module's own server on 127.0.0.1 (deployed as `cspr up` does it: the work pool and deployments exist).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis import Case as _Case
from schemathesis.core.result import Err

from cli.system import LocalSystem
from gate.guard import NOT_PREFECT, NOT_YOURS
from gate.policy import Caller, grant_for, is_open, is_page, uses_prefect
from gate.routes import API, RouteTable
from gate.sessions import COOKIE
from models.roles import Role
from models.seed import DEMO_PARTNERSHIP
from tests.utils.api import service_api
from tests.utils.servers import deployed_system, seed_register
from tests.utils.signin import register, signed_in

Case = _Case[Any]  # a request schemathesis made for one of the document's operations
Operation = APIOperation[Any, Any, Any, Any]
# a partner's representative (refused all of Prefect's API), and a coordinator (refused what is outside their list)
ROLES = {"police": Role.POLICE, "coordinator": Role.COORDINATOR}
METHODS = {"get", "post", "put", "patch", "delete"}
MAX_EXAMPLES = 3  # per operation and per mode (valid, invalid): at most 6 requests to each of Prefect's routes
EXAMPLES = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same requests on every run: CI is stable, and a failure can be run again
    deadline=None,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: every problem is reported as met
    suppress_health_check=list(hypothesis.HealthCheck),
    verbosity=hypothesis.Verbosity.quiet,
)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    seed_register()  # the accounts live in this session's project database, which the server reads too
    with deployed_system(tmp_path_factory.mktemp("gate-property")) as system:
        yield system


@pytest.fixture(scope="module")
def document(system: LocalSystem) -> dict[str, Any]:
    found: dict[str, Any] = service_api(system).get("/openapi.json").raise_for_status().json()
    assert [s["url"] for s in found.get("servers", [])] == [API]  # the document's paths are under /api
    return found


@dataclass
class Walk:
    """One signed-in person's requests, and what came of them."""

    caller: Caller
    session: requests.Session
    routes: RouteTable
    api_url: str
    operations: set[str] = field(default_factory=set)
    outcomes: Counter[tuple[str, int]] = field(default_factory=Counter)  # (what the list says, status)
    refused_by_the_gate: int = 0  # answered with the gate's own refusal (NOT_YOURS; NOT_PREFECT to a partner)
    not_sent: Counter[str] = field(default_factory=Counter)  # invalid requests the HTTP client would not send
    not_generated: dict[str, str] = field(default_factory=dict)  # "label (mode)": why no request could be made
    problems: list[str] = field(default_factory=list)

    @property
    def refusal(self) -> str:
        """The gate's words for a route refused to this person."""
        return NOT_YOURS if uses_prefect(self.caller) else NOT_PREFECT

    def decision(self, method: str, path: str) -> str:
        """How the policy takes this request, on the path as the server received it (percent-decoded)."""
        if is_open(path):
            return "open"
        if not uses_prefect(self.caller):  # a page of Prefect's sends them to their tasks; any other route is refused
            return "open" if not path.startswith(API) and method in ("GET", "HEAD") else "refused"
        if is_page(method, path, self.caller):
            return "open"
        resolved = self.routes.resolve(method, path) if path.startswith(API + "/") else None
        return "granted" if resolved and grant_for(resolved.route, self.caller) else "refused"

    def check(self, case: Case) -> None:
        self.operations.add(case.operation.label)
        try:
            response = case.call(base_url=self.api_url, session=self.session, timeout=60)
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.problems.append(f"{case.operation.label}: no answer: {exc!r}\n{case.as_curl_command()}")
            return
        except (requests.RequestException, ValueError) as exc:  # an invalid header or URL: never left this process
            self.not_sent[type(exc).__name__] += 1
            return
        sent = urlsplit(response.request.url)
        assert (sent.scheme, sent.hostname, sent.port) == ("http", "127.0.0.1", urlsplit(self.api_url).port)
        decision = self.decision(case.method.upper(), unquote(sent.path))
        status = response.status_code
        self.outcomes[(decision, status)] += 1
        if status >= 500 or (decision == "refused" and status not in {401, 403}):
            self.problems.append(told(case, response, decision))
        elif decision == "refused" and status == 403 and _detail(response.content) == self.refusal:
            self.refused_by_the_gate += 1


def _detail(content: bytes) -> object:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None


def told(case: Case, response: Any, decision: str) -> str:
    """The request and the answer, to reproduce a problem by hand."""
    sent = response.request
    body = sent.body.decode("utf-8", "replace") if isinstance(sent.body, bytes) else str(sent.body)
    answer = response.content[:2000].decode("utf-8", "replace")
    whose = ""
    if response.status_code >= 500:  # Prefect's handler answers JSON; an exception in the gate, uvicorn's plain text
        whose = " [Prefect's own error]" if answer.startswith('{"exception_message"') else " [raised in the gate]"
    return (
        f"{case.operation.label} ({decision}){whose}: {sent.method} {sent.url}\n  body: {body[:2000]}\n"
        f"  -> HTTP {response.status_code}: {answer}"
    )


def drive(operation: Operation, mode: GenerationMode, check: Callable[[Case], None]) -> None:
    @EXAMPLES
    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    def requests_of(case: Case) -> None:
        check(case)

    requests_of()


@pytest.fixture(scope="module", params=list(ROLES))
def walk(request: pytest.FixtureRequest, system: LocalSystem, document: dict[str, Any]) -> Iterator[Walk]:
    """The whole document walked by one person of the role, signed in as the UI is (the cookie, and Prefect's CSRF
    token on every request). A partner has no CSRF token: Prefect's is refused to them like the rest of its API."""
    role = ROLES[request.param]
    with signed_in(system.ui_url, register(role)) as browser, requests.Session() as session:
        csrf = browser.csrf() if uses_prefect(Caller(frozenset({role}))) else {}
        session.headers.update({"Cookie": f"{COOKIE}={browser.session_cookie}", **csrf})
        walk = Walk(
            Caller(frozenset({role}), frozenset({DEMO_PARTNERSHIP})),
            session,
            RouteTable.from_openapi(document),
            system.api_url,
        )
        schema = schemathesis.openapi.from_dict(document)
        for result in schema.get_all_operations():
            if isinstance(result, Err):  # an operation schemathesis cannot read: none in Prefect 3.8's document
                walk.not_generated[str(result.err())] = "the operation could not be read"
                continue
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    drive(operation, mode, walk.check)
                except Unsatisfiable as exc:  # e.g. no invalid request exists for an operation without parameters
                    walk.not_generated[f"{operation.label} ({mode.value})"] = str(exc).splitlines()[0]
        yield walk


def test_outside_the_roles_list_every_request_is_refused_and_nothing_answers_5xx(walk: Walk) -> None:
    assert walk.problems == [], "\n\n".join(walk.problems)


def test_the_walk_covered_the_whole_document_and_the_person_stayed_signed_in(
    walk: Walk, document: dict[str, Any]
) -> None:
    every = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item if m in METHODS}
    assert walk.operations == every, sorted(every - walk.operations)
    assert not [label for label in walk.not_generated if "(negative)" not in label], walk.not_generated
    refused = sum(n for (decision, _), n in walk.outcomes.items() if decision == "refused")
    assert walk.refused_by_the_gate == refused > 500, walk.outcomes  # each refused by the gate itself, never Prefect
    granted = Counter({status: n for (decision, status), n in walk.outcomes.items() if decision == "granted"})
    assert sum(walk.not_sent.values()) < sum(walk.outcomes.values()) / 10, walk.not_sent
    still = walk.session.get(f"{walk.api_url}/version", timeout=30)
    if uses_prefect(walk.caller):
        assert sum(n for status, n in granted.items() if status < 300) >= 10, granted  # granted routes answered too
        assert still.status_code == 200  # signed in throughout: each refusal was the list's, not a lost session
    else:
        assert granted == Counter(), granted  # nothing of Prefect's API is a partner's
        # signed in throughout (a lost session would be told 401 and sent to sign in): refused as a partner, and their
        # own tasks page answers
        assert (still.status_code, _detail(still.content)) == (403, NOT_PREFECT)
        tasks = walk.session.get(walk.api_url.removesuffix(API) + "/", timeout=30, allow_redirects=False)
        assert tasks.status_code == 200, tasks.status_code
