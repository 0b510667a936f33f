"""What a flow run no longer pays at its start: a CA bundle per Prefect client, its flow's module run again, a first
import or a first document's set-up in a warm run. (How much each saved is in docs/benchmarks.md.)"""

from __future__ import annotations

import importlib
import importlib.util
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow

from cli.api_anchor import FILE_NAME, SETTING, api_trust
from cli.system import prefect_env
from cli.warm_runs import WARM_MODULES
from models.settings import PROJECT_ROOT
from tasks.storage import s3_client
from tests.utils.smtp import make_certificate


def test_a_plain_http_api_is_trusted_through_one_certificate_and_https_keeps_prefects_choice(tmp_path: Path) -> None:
    env = prefect_env("http://127.0.0.1:4321/api", home=tmp_path / "prefect")
    anchor = Path(env[SETTING])
    assert anchor == tmp_path / "prefect" / FILE_NAME
    context = ssl.create_default_context(cafile=str(anchor))
    assert context.cert_store_stats() == {"crl": 0, "x509_ca": 1, "x509": 1}
    assert "PRIVATE KEY" not in anchor.read_text()
    # made once: a second system start keeps the same file
    before = anchor.read_bytes()
    assert Path(api_trust("http://127.0.0.1:1/api", tmp_path / "prefect")[SETTING]).read_bytes() == before
    assert api_trust("https://prefect.example.org/api", tmp_path / "other") == {}
    assert not (tmp_path / "other").exists()


def test_the_anchor_verifies_no_server(tmp_path: Path) -> None:
    """Were the API's URL made https:// with the setting left in place, a server's certificate would be refused."""
    certificate, key = make_certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificate, key)
    anchor = api_trust("http://127.0.0.1:1/api", tmp_path)[SETTING]
    assert isinstance(_handshake(ssl.create_default_context(cafile=anchor), server), ssl.SSLCertVerificationError)
    assert _handshake(ssl.create_default_context(cafile=certificate), server) is None  # the same, trusting it


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> ssl.SSLError | None:
    """A TLS handshake between the two, in memory: the first error either side raised, or None if it completed."""
    client_in, client_out, server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    sides = (
        client.wrap_bio(client_in, client_out, server_hostname="localhost"),
        server.wrap_bio(server_in, server_out, server_side=True),
    )
    done: set[int] = set()
    for _ in range(10):  # hand each side's records to the other until both are through, or one gives up
        for number, side in enumerate(sides):
            try:
                side.do_handshake()
                done.add(number)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as error:
                return error
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if len(done) == 2:
            return None
    raise AssertionError("the handshake neither completed nor failed")


def test_every_deployment_names_its_flow_by_module_so_a_warm_run_takes_the_one_already_imported() -> None:
    config: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    for deployment in config["deployments"]:
        module, _, name = deployment["entrypoint"].partition(":")
        assert not module.endswith(".py"), deployment["entrypoint"]  # a file path is run again by every run
        assert module.startswith("flows.")
        assert isinstance(getattr(importlib.import_module(module), name), Flow)


def test_what_the_warm_process_does_ahead_starts_no_thread_and_leaves_prefects_models_built() -> None:
    probe = (
        "import threading\n"
        "from cli.warm_runs import warm_up\n"
        "warm_up()\n"
        "from prefect.client.schemas.objects import FlowRun\n"
        "from prefect.client.schemas.responses import DeploymentResponse\n"
        "import psycopg, botocore\n"
        "print(threading.active_count(), FlowRun.__pydantic_complete__, DeploymentResponse.__pydantic_complete__)\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["1", "True", "True"]
    assert all(importlib.util.find_spec(name) for name in WARM_MODULES)


def test_every_s3_client_of_a_process_reads_botocores_descriptions_through_one_loader() -> None:
    first, second = s3_client("http://127.0.0.1:9", "eu-west-2"), s3_client("http://127.0.0.1:9", "eu-west-2")
    assert first is not second and first.meta.region_name == "eu-west-2"
    loaders = {id(client._loader) for client in (first, second)}
    assert len(loaders) == 1
