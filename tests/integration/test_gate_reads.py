"""Nothing a person reads through the gate holds a secret of the system or a child's name: as every role, every GET
route of Prefect's OpenAPI document (walked from the document, so a route a later Prefect adds is read too), the UI's
settings and the server's settings are read, with the path's parameters filled with the real ids of a run whose
identity form has been answered, and every answer (body and headers, whatever its status) is searched for the
service credential, the gate, audit and encryption keys, the mail relay's password, the identity provider's client
secret, the S3 secret key, a secret kept in a Prefect block, and the child's name and date of birth. None is found.
Partners' representatives, the Panel's contact and agencies' contacts use no Prefect (they answer their steps on their
tasks page): they make the same reads, and every one but the few open to anyone without a session (the health checks,
the UI's settings) is refused by the gate in the words that send them to their tasks.

On a server of this module's own (as test_gate_roles.py's), set up as `cspr up` does it, whose environment holds
every one of those secrets as the team set-up gives them (the keys the session already uses, so that nothing it
wrote becomes unreadable; fresh values for the others). A worker runs the notification up to its identity form and
is stopped; the coordinator then answers the form through the gate, so the child's name sits in Prefect's run inputs
exactly where an answer sits until a worker runs the flow on and it reads the answer (and deletes it).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from benchmarks.step import children_alive
from cli.demo import Case
from cli.seaweed import free_port
from cli.system import SERVICE_DIGEST, WORK_POOL, LocalSystem
from gate import scope
from gate.guard import NOT_PREFECT
from gate.policy import Caller, is_open, uses_prefect
from gate.scope import SCRUBBED
from models import master_key
from models.roles import Role
from models.settings import get_settings
from models.system_credentials import audit_key, digest, gate_key, service_token
from tests.integration.test_gate_roles import register_any
from tests.utils.api import service_api
from tests.utils.search import needles
from tests.utils.servers import deployed_system, seed_register
from tests.utils.signin import Browser, signed_in
from tests.utils.waiting import wait_until

ROLES = {
    "coordinator": Role.COORDINATOR,
    "police": Role.POLICE,
    "health": Role.HEALTH,
    "local_authority": Role.LOCAL_AUTHORITY,
    "panel": Role.PANEL,
    "agency_contact": Role.AGENCY_CONTACT,
    "operator": Role.OPERATOR,
}
CASE = Case()  # Rowan Ashcombe, born 17 May 2019; the mother Morwenna Ashcombe
FORM = "identity-1"  # the notification's first identity form
ANSWER_KEY = f"suspended-{FORM}-response"  # where Prefect keeps the answer until the flow reads it
UI_SETTINGS = ("/ui-settings", "/v2/ui-settings")  # outside /api, open to all (Prefect 3.8: 404 to the second)
NOTIFY = "notify-incident"
BLOCK = "gate-reads-secret"


@dataclass(frozen=True)
class Held:
    """The secrets this module's server and its workers hold, by what each is."""

    secrets: dict[str, str]

    @property
    def service_token(self) -> str:
        return self.secrets["service credential"]


@pytest.fixture(scope="module")
def held() -> Iterator[Held]:
    """Every secret of the system in the environment, as the team set-up gives them. The keys are the ones this test
    session already holds (under its CSPR_HOME): accounts' second factors are sealed with the gate's key, and
    personal data with the encryption key, so a new one would make the session's records unreadable."""
    seed_register()  # before the environment changes: the demo people are registered as the session does it
    master_key.cipher()  # makes the development key if the session has none yet
    values = {
        "service credential": ("CSPR_SERVICE_TOKEN", service_token()),
        "gate key": ("CSPR_GATE_KEY", gate_key()),
        "audit key": ("CSPR_AUDIT_KEY", audit_key()),
        "encryption key": (
            "CSPR_ENCRYPTION_KEY",
            get_settings().encryption_key or master_key.development_key_path().read_text().strip(),
        ),
        "SMTP password": ("CSPR_SMTP_PASSWORD", f"smtp-{secrets.token_urlsafe(24)}"),
        "OIDC client secret": ("CSPR_OIDC_CLIENT_SECRET", f"oidc-{secrets.token_urlsafe(24)}"),
        "S3 secret key": ("AWS_SECRET_ACCESS_KEY", f"s3-{secrets.token_urlsafe(24)}"),
    }
    Fernet(values["encryption key"][1].split(",")[0].encode())  # a real key, as the workers need it
    nowhere = free_port()  # nothing listens there: nothing is ever sent to the relay or the provider
    settings = {
        **{name: value for name, value in values.values()},
        "CSPR_SMTP_URL": f"smtp+starttls://cspr@127.0.0.1:{nowhere}",
        "CSPR_OIDC_ISSUER": f"http://127.0.0.1:{nowhere}/identity-provider",
        "CSPR_OIDC_CLIENT_ID": "cspr-gate-reads",
        "AWS_ACCESS_KEY_ID": "cspr-gate-reads",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield Held({what: value for what, (_, value) in values.items()})
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def system(held: Held, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    with deployed_system(tmp_path_factory.mktemp("gate-reads")) as system:
        yield system


@pytest.fixture(scope="module")
def api(system: LocalSystem) -> httpx.Client:
    return service_api(system)


@pytest.fixture(scope="module")
def browsers(system: LocalSystem) -> Iterator[dict[str, Browser]]:
    signed = {who: signed_in(system.ui_url, register_any(role)) for who, role in ROLES.items()}
    yield signed
    for browser in signed.values():
        browser.close()


def form_saved(api: httpx.Client, run_id: str, details: dict[str, Any]) -> bool:
    """Whether the run's form is saved: Prefect marks a run paused a moment before it saves it (cli/demo.py
    ``is_suspended``), and an answer given in between is refused."""
    keyset = details.get("run_input_keyset") or {}
    return "schema" not in keyset or api.get(f"/flow_runs/{run_id}/input/{keyset['schema']}").status_code == 200


def wait_for_form(api: httpx.Client, run_id: str, system: LocalSystem, timeout: float = 240) -> dict[str, Any]:
    def at_the_form() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/flow_runs/{run_id}").raise_for_status().json()
        state = run.get("state") or {}
        details = state.get("state_details") or {}
        if state.get("type") == "PAUSED" and details.get("pause_key") == FORM and form_saved(api, run_id, details):
            return run
        assert state.get("type") not in {"FAILED", "CRASHED", "CANCELLED", "COMPLETED"}, (
            state,
            (system.home / "logs" / "worker-1.log").read_text()[-3000:],
        )
        return None

    return wait_until("the notification to reach its identity form", at_the_form, timeout=timeout)


@pytest.fixture(scope="module")
def planted(system: LocalSystem, api: httpx.Client, browsers: dict[str, Browser]) -> dict[str, Any]:
    """The coordinator starts the notification at the gate; a worker runs it to its identity form and is stopped;
    the coordinator answers the form at the gate. The run, resumed, waits for a worker: the answer stays."""
    notify = api.get(f"/deployments/name/{NOTIFY}/{NOTIFY}").raise_for_status().json()
    coordinator = browsers["coordinator"]
    started = coordinator.http.post(
        f"/api/deployments/{notify['id']}/create_flow_run",
        json={"parameters": {"notification": CASE.notification()}},
        headers=coordinator.csrf(),
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    worker = system.start_worker(1)
    try:
        wait_for_form(api, run_id, system)
        # and its process ended, as a suspended run's does: stopping the worker before would terminate it mid-exit
        deadline = time.monotonic() + 60
        while children_alive([worker.pid]) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        system.stop([worker])
    answered = coordinator.http.post(
        f"/api/flow_runs/{run_id}/resume", json={"run_input": CASE.identity()}, headers=coordinator.csrf()
    )
    assert answered.is_success and answered.json().get("status") == "ACCEPT", answered.text
    run: dict[str, Any] = api.get(f"/flow_runs/{run_id}").raise_for_status().json()
    return run


@pytest.fixture(scope="module")
def block_secret(held: Held, api: httpx.Client) -> str:
    """A secret an operator might keep in Prefect itself (a Secret block): none of cspr's, but a place one could sit,
    so that the block routes (``include_secrets=true``) are read with a real document."""
    deadline = time.monotonic() + 60
    while (found := api.get("/block_types/slug/secret")).status_code == 404 and time.monotonic() < deadline:
        time.sleep(1)  # Prefect registers its block types as it starts
    block_type = found.raise_for_status().json()
    schemas = api.post("/block_schemas/filter", json={"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}})
    value = f"block-{secrets.token_urlsafe(24)}"
    made = api.post(
        "/block_documents/",
        json={
            "name": BLOCK,
            "block_type_id": block_type["id"],
            "block_schema_id": schemas.raise_for_status().json()[0]["id"],
            "data": {"value": value},
        },
    )
    made.raise_for_status()
    held.secrets["Prefect Secret block"] = value
    return value


@dataclass
class Ids:
    """The real values to fill each route's path parameters with, by the resource (the path's first segment) and the
    parameter's name; and the query parameters to send."""

    by_resource: dict[tuple[str, str], list[str]]
    query: dict[str, str]
    fallbacks: set[str] = field(default_factory=set)  # templates some parameter of which had no real value

    def paths(self, template: str, operation: dict[str, Any]) -> list[str]:
        parts = template.split("/")
        resource = parts[2] if parts[1] in {"ui", "v2"} else parts[1]
        params = re.findall(r"\{([^}]+)\}", template)
        choices = []
        for name in params:
            if "work_pool_name" in params and name == "name":  # a queue's name, in its pool's path
                choices.append(self.by_resource[("work_queues", "name")])
            elif (resource, name) in self.by_resource:
                choices.append(self.by_resource[(resource, name)])
            else:
                self.fallbacks.add(template)
                choices.append([str(uuid.uuid4()) if name == "id" or name.endswith("_id") else f"gate-test-{name}"])
        query = {
            p["name"]: self.query[p["name"]]
            for p in operation.get("parameters", [])
            if p.get("in") == "query" and p["name"] in self.query
        }
        suffix = "?" + str(httpx.QueryParams(query)) if query else ""
        filled = []
        for values in itertools.product(*choices):
            path = template
            for name, value in zip(params, values, strict=True):
                path = path.replace("{" + name + "}", value, 1)
            filled.append(f"/api{path}{suffix}")
        return filled


@pytest.fixture(scope="module")
def ids(api: httpx.Client, planted: dict[str, Any], block_secret: str) -> Ids:
    run_id = planted["id"]
    keys = [i["key"] for i in api.post(f"/flow_runs/{run_id}/input/filter", json={"prefix": "", "limit": 100}).json()]
    assert ANSWER_KEY in keys
    task_runs = [t["id"] for t in api.post("/task_runs/filter", json={"flow_runs": {"id": {"any_": [run_id]}}}).json()]
    run_states = [s["id"] for s in api.get("/flow_run_states/", params={"flow_run_id": run_id}).json()]
    assert task_runs and run_states  # the notification ran tasks before its form, and went through states
    task_states = [s["id"] for s in api.get("/task_run_states/", params={"task_run_id": task_runs[0]}).json()]
    flow = api.get(f"/flows/{planted['flow_id']}").raise_for_status().json()
    queue = api.get(f"/work_pools/{WORK_POOL}/queues/default").raise_for_status().json()
    automations = [a["id"] for a in api.post("/automations/filter", json={}).raise_for_status().json()]
    block_type = api.get("/block_types/slug/secret").raise_for_status().json()
    document = api.get(f"/block_types/slug/secret/block_documents/name/{BLOCK}").raise_for_status().json()
    schema = api.get(f"/block_schemas/{document['block_schema_id']}").raise_for_status().json()
    return Ids(
        by_resource={
            ("flows", "id"): [flow["id"]],
            ("flows", "name"): [flow["name"]],
            ("flow_runs", "id"): [run_id],
            ("flow_runs", "key"): keys,
            ("task_runs", "id"): task_runs,
            ("flow_run_states", "id"): run_states,
            ("task_run_states", "id"): task_states,
            ("deployments", "id"): [planted["deployment_id"]],
            ("deployments", "flow_name"): [flow["name"]],
            ("deployments", "deployment_name"): [NOTIFY],
            ("work_pools", "name"): [WORK_POOL],
            ("work_pools", "work_pool_name"): [WORK_POOL],
            ("work_queues", "id"): [queue["id"]],
            ("work_queues", "name"): [queue["name"]],
            ("block_types", "id"): [block_type["id"]],
            ("block_types", "slug"): [block_type["slug"]],
            ("block_types", "block_document_name"): [BLOCK],
            ("block_documents", "id"): [document["id"]],
            ("block_schemas", "id"): [schema["id"]],
            ("block_schemas", "checksum"): [schema["checksum"]],
            ("automations", "id"): automations,
            ("automations", "resource_id"): [
                f"prefect.flow-run.{run_id}",
                f"prefect.deployment.{planted['deployment_id']}",
            ],
            ("concurrency_limits", "tag"): ["partnership:northshire"],
            ("collections", "view"): ["gate-test-view"],  # not one of Prefect's: a known view is fetched from GitHub
        },
        query={
            "flow_run_id": run_id,
            "task_run_id": task_runs[0],
            "client": f"gate-reads-{uuid.uuid4()}",
            "page-token": "gate-test",
            "include_secrets": "true",
        },
    )


@pytest.fixture(scope="module")
def spec(api: httpx.Client) -> dict[str, Any]:
    document: dict[str, Any] = api.get("/openapi.json").raise_for_status().json()
    return document


@pytest.fixture(scope="module")
def reads(spec: dict[str, Any], ids: Ids) -> list[str]:
    every = [
        path for template, item in spec["paths"].items() if "get" in item for path in ids.paths(template, item["get"])
    ]
    return [*every, *UI_SETTINGS]


@dataclass(frozen=True)
class Read:
    path: str
    status: int
    body: str
    headers: str = ""

    @property
    def text(self) -> str:
        """All of the answer that is searched: the body, and the headers after it."""
        return f"{self.body}\n{self.headers}"


def read_all(browser: Browser, paths: list[str]) -> dict[str, Read]:
    answers = {}
    for path in paths:
        answer = browser.http.get(path)
        headers = "\n".join(f"{k}: {v}" for k, v in answer.headers.multi_items())
        answers[path] = Read(path, answer.status_code, answer.content.decode("utf-8", "replace"), headers)
    return answers


def found_in(answers: dict[str, Read], held: Held) -> list[str]:
    words = [*needles(CASE.child_name, CASE.child_dob), *needles(CASE.family_name, CASE.child_dob)[:3]]
    hits = []
    for read in answers.values():
        lowered = read.text.lower()
        hits += [
            f"{read.path} (HTTP {read.status}): the {what}"
            for what, value in held.secrets.items()
            if value in read.text
        ]
        hits += [
            f"{read.path} (HTTP {read.status}): {word!r}" for word in dict.fromkeys(words) if word.lower() in lowered
        ]
    return hits


@pytest.fixture(scope="module")
def walked(browsers: dict[str, Browser], reads: list[str]) -> dict[str, dict[str, Read]]:
    return {who: read_all(browser, reads) for who, browser in browsers.items()}


# --- the control: the name and the secrets are there to be found -------------------------------------------------


def test_the_childs_name_sits_in_prefect_where_an_answer_waits_for_its_flow(
    api: httpx.Client, planted: dict[str, Any]
) -> None:
    assert planted["state"]["type"] == "SCHEDULED"  # resumed, waiting for a worker to run the flow on
    stored = api.get(f"/flow_runs/{planted['id']}/input/{ANSWER_KEY}")
    assert stored.status_code == 200 and CASE.child_name in stored.text and CASE.child_dob.isoformat() in stored.text
    assert "partnership:northshire" in planted["tags"]  # a run the partners of Northshire read


def test_the_search_finds_the_name_and_a_secret_where_the_system_itself_reads_them(
    api: httpx.Client, planted: dict[str, Any], held: Held, ids: Ids
) -> None:
    # the control for the walk: the same search, on what the service (not a person) is answered
    document = ids.by_resource[("block_documents", "id")][0]
    paths = [f"/flow_runs/{planted['id']}/input/{ANSWER_KEY}", f"/block_documents/{document}?include_secrets=true"]
    answers = {path: Read(path, 200, api.get(path).raise_for_status().text) for path in paths}
    hits = found_in(answers, held)
    assert any(CASE.child_name in hit for hit in hits) and any("Prefect Secret block" in hit for hit in hits), hits


def test_the_secrets_searched_for_are_the_ones_the_system_holds(system: LocalSystem, held: Held) -> None:
    assert service_api(system).get("/version").status_code == 200  # the service credential is the server's
    assert get_settings().smtp_password == held.secrets["SMTP password"]
    assert get_settings().oidc_client_secret == held.secrets["OIDC client secret"]
    assert get_settings().encryption_key == held.secrets["encryption key"]
    assert get_settings().gate_key == held.secrets["gate key"] and gate_key() == held.secrets["gate key"]
    assert get_settings().audit_key == held.secrets["audit key"]
    assert len(set(held.secrets.values())) == len(held.secrets) and all(len(v) >= 32 for v in held.secrets.values())


def in_prefect(who: str) -> bool:
    """Whether the role uses Prefect's UI and API at all: partners, the Panel's contact and agencies' contacts do
    not."""
    return uses_prefect(Caller(frozenset({ROLES[who]})))


def refused_as_partner(read: Read) -> bool:
    """The gate's answer to a partner or the Panel's contact on any route of Prefect's API: refused in the words that
    send them to their tasks; nothing reached Prefect."""
    return read.path.startswith("/api/") and read.status == 403 and json.loads(read.body) == {"detail": NOT_PREFECT}


# --- the walk ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", list(ROLES))
def test_nothing_any_get_route_answers_holds_a_secret_or_the_childs_name(
    walked: dict[str, dict[str, Read]], held: Held, block_secret: str, who: str
) -> None:
    assert "Prefect Secret block" in held.secrets
    assert found_in(walked[who], held) == []


@pytest.mark.parametrize("who", list(ROLES))
def test_the_walk_read_the_run_itself_and_not_its_answer(
    walked: dict[str, dict[str, Read]], planted: dict[str, Any], who: str
) -> None:
    answers = walked[who]
    if not in_prefect(who):  # no Prefect at all: not the run either, nor anything else the walk read
        closed = [read for read in answers.values() if not is_open(read.path.split("?")[0])]
        assert [read.path for read in closed if not refused_as_partner(read)] == []
        assert len(closed) >= 50
        assert answers["/ui-settings"].status == 200  # open to anyone, signed in or not (as to the others below)
        return
    assert answers[f"/api/flow_runs/{planted['id']}"].status == 200  # the run whose input holds the name: readable
    answer = answers[f"/api/flow_runs/{planted['id']}/input/{ANSWER_KEY}"]
    assert answer.status in {403, 404}, answer
    ok = [read.path for read in answers.values() if read.status == 200]
    assert len(ok) >= (40 if who == "operator" else 14), ok  # real reads (44 and 16 in Prefect 3.8), not refusals
    assert answers["/ui-settings"].status == 200  # (Prefect 3.8 serves no /v2/ui-settings: 404, read all the same)


@pytest.mark.parametrize("who", list(ROLES))
def test_the_servers_settings_are_the_operators_alone_and_scrubbed(
    walked: dict[str, dict[str, Read]], who: str
) -> None:
    settings = walked[who]["/api/admin/settings"]
    if who == "operator":
        assert settings.status == 200 and f'"{SCRUBBED}"' in settings.text, settings.text[:500]
    elif not in_prefect(who):  # partners and the Panel's contact have no page of the UI to read it
        assert refused_as_partner(settings), settings.text
    else:  # the one setting every page of the UI reads, nothing else
        assert settings.status == 200 and json.loads(settings.body) == scope.UI_SETTINGS, settings.text


def test_the_walk_used_real_ids_wherever_the_server_has_one(ids: Ids, reads: list[str]) -> None:
    assert len(reads) >= 50
    # no saved search, artifact, variable or concurrency limit exists on this server: those alone get a made-up id
    assert {t.split("/")[2 if t.startswith("/v2/") else 1] for t in ids.fallbacks} <= {
        "saved_searches",
        "concurrency_limits",
        "artifacts",
        "variables",
    }, sorted(ids.fallbacks)


# --- what the server's process holds ---------------------------------------------------------------------------


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode("utf-8", "replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def test_the_servers_process_holds_no_service_credential_nor_the_keys_it_does_not_need(
    system: LocalSystem, held: Held
) -> None:
    server = system.processes[0]
    assert server.poll() is None and "cli.prefect_server" in map(str, server.args)  # type: ignore[arg-type]
    environ = environ_of(server.pid)
    assert environ[SERVICE_DIGEST] == digest(held.service_token)  # the right process: it holds the digest alone
    for name in ("CSPR_SERVICE_TOKEN", "PREFECT_CLIENT_CUSTOM_HEADERS", "CSPR_ENCRYPTION_KEY", "CSPR_AUDIT_KEY"):
        assert name not in environ, name
    everything = "\n".join(f"{k}={v}" for k, v in environ.items())
    for what in ("service credential", "encryption key", "audit key"):
        assert held.secrets[what] not in everything, what
    assert environ.get("CSPR_GATE_KEY") == held.secrets["gate key"]  # the control: it holds what it needs
