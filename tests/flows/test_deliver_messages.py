"""`deliver-messages` through Prefect, against a real SMTP server on loopback (tests/utils/smtp.py): prefect.yaml runs
it every five minutes, one at a time, which with the outbox's first backoff tries a failed message again within 15
minutes even when one run is lost; a message that failed while the relay was down is delivered by it once the relay
is back, without the review moving and without the sweep, and its run's name, parameters and logs hold a reference
and counts, never a name; two of its runs at once send each message once."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from prefect.client.schemas.objects import State
from prefect.logging.handlers import APILogWorker
from sqlmodel import Session, col, select

from cli.system import WORK_POOL, LocalSystem
from flows.deliver_messages import deliver_messages
from models.calendar import today_in_england
from models.db import get_engine, transaction
from models.messages import message_id
from models.recipients import NationalBody, Recipient
from models.review import creation, transitions
from models.review.lookup import review_by_reference
from models.review.outbox import Occasion, Purpose, enqueue
from models.settings import PROJECT_ROOT, get_settings
from models.tables import Delivery, DeliveryState, Outbox, utcnow
from tasks.notices import BACKOFF_MINUTES, deliver
from tests.utils.api import service_api
from tests.utils.factories import PLANTED_DOB, PLANTED_NAME, incident
from tests.utils.servers import deployed_system, seed_register
from tests.utils.smtp import MailRelay, running_relay, use_relay

PANEL, OFSTED, DFE = "notices@panel.example", "notices@ofsted.example", "notices@dfe.example"
BODIES: tuple[Recipient, ...] = (NationalBody.PANEL, NationalBody.OFSTED, NationalBody.DFE)
SENDER = "cspr@northshire-scp.example"  # use_relay's CSPR_MAIL_FROM
PROMISED = dt.timedelta(minutes=15)  # issue 30: a failed message tried again within 15 minutes


@pytest.fixture
def relay(deployed: LocalSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailRelay]:
    with running_relay(tmp_path) as running:
        use_relay(monkeypatch, running, PANEL=PANEL, OFSTED=OFSTED, DFE=DFE)
        yield running
    get_settings.cache_clear()


def deployment(name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    (found,) = [d for d in config["deployments"] if d["name"] == name]
    return dict(found)


def review_with_messages(pseudonym: str, to: tuple[Recipient, ...] = BODIES) -> str:
    """A review (its child's name recorded, as every review's is) with a message waiting for each of ``to``."""
    with transaction() as session:
        review, _ = creation.create_review(
            session,
            incident(aware_on=today_in_england(), incident_on=today_in_england(), pseudonyms=(pseudonym,)),
            actor=transitions.Actor("Chris Lee", "coordinator"),
        )
        enqueue(session, review, Occasion(Purpose.REVIEWER_NAMED), to, f"{review.reference}: reviewer named")
        return review.reference


def message_ids(*references: str) -> set[str]:
    with Session(get_engine()) as session:
        ids = [review_by_reference(session, r).id for r in references]
        rows = session.exec(select(Outbox.id).where(col(Outbox.review_id).in_(ids))).all()
    return {message_id(row, SENDER) for row in rows}


def arrived(relay: MailRelay, ids: set[str]) -> Counter[str]:
    """How often each of ``ids`` reached the relay (other tests' messages, delivered too, left out)."""
    return Counter(str(r.message["Message-ID"]) for r in relay.received if str(r.message["Message-ID"]) in ids)


def a_minute_passes(reference: str) -> None:
    """The review's emails waiting for their next try are due now (the first backoff, a minute, has passed)."""
    with transaction() as session:
        outbox = select(Outbox.id).where(Outbox.review_id == review_by_reference(session, reference).id)
        session.execute(
            sa.update(Delivery)
            .where(col(Delivery.outbox_id).in_(outbox), col(Delivery.state) == DeliveryState.PENDING)
            .values(next_try_at=utcnow() - dt.timedelta(seconds=1))
        )


def test_prefect_yaml_runs_it_every_five_minutes_one_at_a_time_within_the_promised_quarter_hour() -> None:
    found = deployment("deliver-messages")
    module, _, name = found["entrypoint"].partition(":")
    assert getattr(importlib.import_module(module), name) is deliver_messages
    assert deliver_messages.name == found["name"] and deliver_messages.parameters.properties == {}
    assert found["work_pool"] == deployment("deadline-sweep")["work_pool"] and found["enforce_parameter_schema"]
    assert "digest" in found["description"] and "cspr" in found["tags"]
    assert found["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    (schedule,) = found["schedules"]
    every = dt.timedelta(seconds=schedule["interval"])
    assert every == dt.timedelta(minutes=5)
    # a failed try's next falls due BACKOFF_MINUTES[0] later and is made by the next run, or the one after if that
    # run is lost: within the promise even then
    assert dt.timedelta(minutes=BACKOFF_MINUTES[0]) + 2 * every <= PROMISED


def test_cspr_up_deploys_it_with_its_schedule_and_its_limit(tmp_path: Path) -> None:
    seed_register()  # the accounts the server's gate reads
    with deployed_system(tmp_path) as system:  # as `cspr up` deploys prefect.yaml
        found = service_api(system).get("/deployments/name/deliver-messages/deliver-messages").raise_for_status()
    deployed = found.json()
    (schedule,) = deployed["schedules"]
    assert schedule["active"] and schedule["schedule"]["interval"] == 300
    assert deployed["global_concurrency_limit"]["limit"] == 1  # (Prefect's own "concurrency_limit" is None)
    assert deployed["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert deployed["work_pool_name"] == WORK_POOL and deployed["description"].startswith("Every five minutes")
    assert deployed["parameters"] == {} and "cspr" in deployed["tags"]


def test_a_message_that_failed_is_delivered_by_the_delivery_run_once_the_relay_is_back(
    relay: MailRelay, deployed: LocalSystem
) -> None:
    reference = review_with_messages("Child Relay Down", (NationalBody.PANEL,))
    with Session(get_engine()) as session:
        before = review_by_reference(session, reference)
    relay.stop()  # the review's run tries it, and the relay is down
    assert deliver(reference).retrying == 1
    relay.start()
    ids = message_ids(reference)
    early = deliver_messages(return_state=True)  # its next try is not due yet
    assert early.is_completed() and arrived(relay, ids) == Counter()
    a_minute_passes(reference)
    state: State[dict[str, int]] = deliver_messages(return_state=True)
    assert state.is_completed() and state.result()["sent"] >= 1
    assert arrived(relay, ids) == Counter(dict.fromkeys(ids, 1))
    deliver_messages()
    assert arrived(relay, ids) == Counter(dict.fromkeys(ids, 1))  # never again
    with Session(get_engine()) as session:  # the review did not move, and the email says where it stands
        after = review_by_reference(session, reference)
    assert (after.stage, after.version) == (before.stage, before.version)

    run_id = state.state_details.flow_run_id
    api = service_api(deployed)
    run = api.get(f"/flow_runs/{run_id}").raise_for_status().json()
    assert run["name"] == "deliver-messages" and run["parameters"] == {}
    APILogWorker.drain_all(timeout=10)
    logs = api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [str(run_id)]}}}).json()
    said = "\n".join(line["message"] for line in logs)
    assert reference in said and "1 email(s) sent" in said  # the positive control: it logged what it did
    kept = f"{run['name']} {run['parameters']} {state.result()} {said}".lower()
    for planted in (PLANTED_NAME, *PLANTED_NAME.split()[1].split("-"), PLANTED_DOB.isoformat()):
        assert planted.lower() not in kept, planted


def test_two_delivery_runs_at_once_send_each_message_once(
    relay: MailRelay, deployed: LocalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    references = [review_with_messages(f"Child At Once {n}") for n in (1, 2, 3)]
    ids = message_ids(*references)
    handler: Any = relay._handler  # a slow relay: the two runs overlap for certain
    taken = handler.handle_DATA

    async def slowly(server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.1)
        said: str = await taken(server, session, envelope)
        return said

    monkeypatch.setattr(handler, "handle_DATA", slowly)
    go = threading.Barrier(2)
    states: list[State[dict[str, int]]] = []

    def a_run() -> None:
        go.wait()
        states.append(deliver_messages(return_state=True))

    threads = [threading.Thread(target=a_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(states) == 2 and all(s.is_completed() for s in states)
    assert len(ids) == 3 * len(BODIES)
    assert arrived(relay, ids) == Counter(dict.fromkeys(ids, 1))  # each message once
    assert len({s.state_details.flow_run_id for s in states}) == 2  # two runs, not one
