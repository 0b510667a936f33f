"""Email from the lifecycle, through a real relay on loopback: when a step starts waiting, the people who may answer
it are told, once, with a link straight to the run's form (a refused answer, or a partner's sign-off, tells nobody
again; a partner who signed is not told again); and a message that could not be delivered is told to the operators
by `message-failed` (started by its trigger in prefect.yaml on the event `cspr.message.failed`): never twice, and
never about a message to the operators themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.events import DeploymentEventTrigger, emit_event
from typer.testing import CliRunner

from cli.demo import Case
from cli.main import app
from cli.system import LocalSystem
from flows.message_failed import message_failed
from models.messages import OPERATORS, failure_subject
from models.recipients import RECIPIENTS
from models.roles import Role
from models.settings import PROJECT_ROOT, get_settings
from models.stages import Stage
from models.task_ref import task_path
from tasks.notices import FAILED_EVENT
from tasks.worklist_artifacts import key_for, publish_changed_worklists
from tests.flows.test_report_flow import runs_for, wait_for_runs
from tests.utils import inprocess
from tests.utils.api import service_api
from tests.utils.signin import register
from tests.utils.smtp import MailRelay, running_relay, use_relay


@pytest.fixture
def relay(deployed: LocalSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailRelay]:
    with running_relay(tmp_path) as running:
        use_relay(monkeypatch, running)
        yield running
    get_settings.cache_clear()


COORDINATOR, LA, POLICE, HEALTH = (
    "chris.lee@northshire-scp.example",
    "alex.morgan@northshire-council.example",
    "sam.patel@northshire-police.example",
    "jo.evans@northshire-icb.example",
)


def told(relay: MailRelay, address: str, reference: str) -> list[str]:
    """The subjects of the "waiting for you" emails ``address`` got about the review."""
    return [
        str(r.message["Subject"])
        for r in relay.received
        if address in r.envelope_to and str(r.message["Subject"]).startswith(f"{reference}: waiting for you")
    ]


def test_whoever_must_act_is_told_once_with_a_link_to_the_task(relay: MailRelay) -> None:
    case = Case(pseudonym="Child Waiting")
    reference, _ = inprocess.notify(case)
    inprocess.suspended_run(reference)  # the review's run, up to its first form
    (email,) = [r for r in relay.received if COORDINATOR in r.envelope_to]
    assert email.message["Subject"].startswith(f"{reference}: waiting for you: Record the notification, due by ")
    assert task_path(reference, Stage.INCIDENT_RECORDED) in email.message.get_content()
    assert case.child_name not in email.message.as_string()
    inprocess.give(reference, {**case.answer(Stage.INCIDENT_RECORDED), "notified_on": "2001-01-01"})  # refused
    assert inprocess.suspended_run(reference) and len(told(relay, COORDINATOR, reference)) == 1  # not again
    inprocess.give(reference, case.answer(Stage.INCIDENT_RECORDED))
    inprocess.give(reference, case.answer(Stage.RAPID_REVIEW))
    assert [len(told(relay, a, reference)) for a in (LA, POLICE, HEALTH)] == [1, 1, 1]
    inprocess.give(reference, case.answer(Stage.RAPID_REVIEW_SIGN_OFF))  # the local authority signs
    assert [len(told(relay, a, reference)) for a in (LA, POLICE, HEALTH)] == [1, 1, 1]  # nobody told twice
    assert "Sign off the rapid review" in told(relay, POLICE, reference)[0]


def test_the_worklist_links_each_waiting_step_to_its_task_page(deployed: LocalSystem) -> None:
    case = Case(pseudonym="Child Worklist")
    reference, _ = inprocess.notify(case)
    inprocess.suspended_run(reference)  # the review's run, up to its first form
    publish_changed_worklists()  # what a turn within a minute of another refresh leaves to the next look
    worklists = {"artifacts": {"key": {"any_": [key_for(case.partnership)]}}}
    newest = max(service_api(deployed).post("/artifacts/filter", json=worklists).json(), key=lambda a: a["created"])
    table = json.loads(newest["data"])  # a table artifact's rows, as JSON
    (row,) = [r for r in table if r["reference"] == reference]
    assert row["step"] == "Record the notification" and row["who may answer"] == "coordinator"
    assert row["link"].endswith(task_path(reference, Stage.INCIDENT_RECORDED))
    listed = CliRunner().invoke(app, ["tasks", "--role", "coordinator", "--json"])
    assert listed.exit_code == 0, listed.output
    (same,) = [r for r in json.loads(listed.output) if r["reference"] == reference]
    assert same == row
    police = CliRunner().invoke(app, ["tasks", "--role", "police", "--json"])
    assert reference not in police.output
    assert case.child_name not in listed.output and case.child_name not in newest["data"]


def test_the_operators_are_told_once_by_email(relay: MailRelay) -> None:
    operator = register(Role.OPERATOR, demo=False)
    case = Case(pseudonym="Child Undelivered")
    reference, _ = inprocess.notify(case)
    inprocess.give(reference, case.answer(Stage.INCIDENT_RECORDED))
    message_failed(reference, "rapid_review", "panel")
    message_failed(reference, "rapid_review", "panel")  # the event seen twice: told once
    told = [r for r in relay.received if operator.email in r.envelope_to]
    assert len(told) == 1
    assert told[0].message["Subject"] == failure_subject(reference, "rapid_review", "panel")
    assert "Child Undelivered" in told[0].message.get_content() and case.child_name not in told[0].message.as_string()
    message_failed(reference, "not_delivered:rapid_review:panel", OPERATORS)  # about the operators' own: nothing
    assert len([r for r in relay.received if operator.email in r.envelope_to]) == 1


def message_failed_trigger() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "message-failed"]
    (trigger,) = deployment["triggers"]
    return dict(trigger)


def emit_failed(reference: str, recipient: str) -> None:
    """What tasks/notices.py emits when a message to ``recipient`` is given up on."""
    emit_event(
        event=FAILED_EVENT,
        resource={
            "prefect.resource.id": f"cspr.review.{reference}",
            "prefect.resource.name": reference,
            "cspr.recipient": recipient,
        },
        payload={"reference": reference, "purpose": "rapid_review", "recipient": recipient, "answer": "550 no"},
    )


@pytest.fixture
def trigger_live(deployed: LocalSystem) -> Iterator[None]:
    """message-failed with prefect.yaml's trigger applied, and live: probe events (as the overdue automation's test
    does, tests/flows/test_report_flow.py) until one starts a run. Put back as it was afterwards."""
    trigger = DeploymentEventTrigger(**message_failed_trigger())
    message_failed.to_deployment(name="message-failed", enforce_parameter_schema=True, triggers=[trigger]).apply()
    probes: list[str] = []
    for attempt in range(9):
        probes.append(f"CSPR-2031-080{attempt}")
        emit_failed(probes[-1], "panel")
        if wait_for_runs(deployed, probes[-1], 10):
            break
    try:
        yield
    finally:
        message_failed.to_deployment(name="message-failed", enforce_parameter_schema=True).apply()  # drops it
        for probe in [*probes, "CSPR-2031-0818"]:  # no worker will run them
            for run in runs_for(deployed, probe):
                service_api(deployed).delete(f"/flow_runs/{run['id']}").raise_for_status()


def test_a_failed_message_starts_message_failed_but_one_to_the_operators_does_not(
    deployed: LocalSystem, trigger_live: None
) -> None:
    emit_failed("CSPR-2031-0819", OPERATORS)  # first: had it matched, its run would be there by the next one's
    emit_failed("CSPR-2031-0818", "ofsted")
    (run,) = wait_for_runs(deployed, "CSPR-2031-0818", 90)
    assert run["parameters"] == {"reference": "CSPR-2031-0818", "purpose": "rapid_review", "recipient": "ofsted"}
    assert run["created_by"]["display_value"] == "cspr-message-failed-tells-operators"
    assert runs_for(deployed, "CSPR-2031-0819") == []


def test_the_trigger_starts_it_for_every_recipient_but_the_operators() -> None:
    trigger = message_failed_trigger()
    assert trigger["expect"] == ["cspr.message.failed"]
    assert set(trigger["match"]["cspr.recipient"]) == set(RECIPIENTS) - {OPERATORS}
    assert set(trigger["parameters"]) == {"reference", "purpose", "recipient"}
