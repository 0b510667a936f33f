"""A signed-in session is held to the register: within a minute of `cspr people disable`, the person's session is
over, and a change of registration changes what the session may do. Through the gate's ASGI interface on a clock the
test moves, in front of a stand-in for Prefect, with the test session's project database as the register."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from cli.system import LocalSystem
from gate.app import Gate
from gate.asgi import Receive, Scope, Send, respond_json
from gate.sessions import COOKIE, IDLE_FOR, RECHECK_EVERY
from models import accounts
from models.db import transaction
from models.people import disable_person
from models.roles import Role
from models.signin import Factor
from models.system_credentials import digest
from tests.utils.signin import OPERATOR, account, register

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


async def prefect_stand_in(scope: Scope, receive: Receive, send: Send) -> None:
    await respond_json(send, 200, "reached Prefect")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def get(app: Gate, path: str, token: str, headers: dict[str, str] | None = None) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
            response = await client.get(path, headers={"cookie": f"{COOKIE}={token}", **(headers or {})})
            return response.status_code

    return asyncio.run(go())


# what each person reads, and how the gate answers it once they are signed out: a coordinator in Prefect's API (401);
# a partner, who uses no Prefect, on their tasks page (sent to sign in)
READS = {Role.COORDINATOR: ("/api/version", 401), Role.POLICE: ("/", 303)}


@pytest.mark.parametrize("role", list(READS))
def test_a_disabled_person_is_signed_out_within_a_minute(deployed: LocalSystem, role: Role) -> None:
    clock = Clock()
    app = Gate(prefect_stand_in, service_digest=digest("service"), gate_key="gate-key", clock=clock)
    someone = register(role)
    path, signed_out = READS[role]
    with transaction() as session:
        roles = accounts.roles_of(session, account(someone))
    token = app.sessions.start(accounts.identity_of(account(someone), Factor.PASSWORD), roles, demo=True, now=T0)
    assert get(app, path, token) == 200

    with transaction() as session:
        disable_person(session, someone.email, by=OPERATOR)
    clock.now = T0 + RECHECK_EVERY - SECOND
    assert get(app, path, token) == 200  # taken as read for at most a minute
    clock.now = T0 + RECHECK_EVERY
    assert get(app, path, token) == signed_out  # the register asked again: signed out
    clock.now += SECOND
    assert get(app, path, token) == signed_out  # and it stays over
    assert get(app, "/api/version", token) == 401
    assert app.sessions.find(token, clock.now) is None


def test_a_session_takes_the_registers_roles_of_today(deployed: LocalSystem) -> None:
    clock = Clock()
    app = Gate(prefect_stand_in, service_digest=digest("service"), gate_key="gate-key", clock=clock)
    operator = register(Role.OPERATOR)
    token = app.sessions.start(
        accounts.identity_of(account(operator), Factor.PASSWORD), frozenset({Role.POLICE}), demo=True, now=T0
    )
    operators_read = "/api/admin/version"
    assert get(app, operators_read, token) == 403  # an operator's read: not open to the police role it started with
    # (nor is anything of Prefect's: a partner uses none)
    clock.now = T0 + RECHECK_EVERY
    session = app.sessions.find(token, clock.now)
    assert session is not None and session.roles == {Role.POLICE}  # what the session was started with
    assert get(app, operators_read, token) == 200  # read again as an operator
    session = app.sessions.find(token, clock.now)
    assert session is not None and session.roles == {Role.OPERATOR}  # what the register says


def test_an_open_tab_that_only_polls_is_signed_out_after_30_minutes_idle(deployed: LocalSystem) -> None:
    clock = Clock()
    app = Gate(prefect_stand_in, service_digest=digest("service"), gate_key="gate-key", clock=clock)
    someone = register(Role.COORDINATOR)
    with transaction() as session:
        roles = accounts.roles_of(session, account(someone))
    token = app.sessions.start(accounts.identity_of(account(someone), Factor.PASSWORD), roles, demo=True, now=T0)
    page = {"sec-fetch-mode": "navigate", "accept": "text/html"}
    for minute in range(1, 31):  # the UI polls every minute; the person does nothing
        clock.now = T0 + dt.timedelta(minutes=minute)
        assert get(app, "/api/version", token) == 200, minute
    clock.now = T0 + IDLE_FOR + SECOND
    assert get(app, "/api/version", token) == 401  # 30 minutes after the last page the person opened
    assert get(app, "/runs", token, page) == 303  # and their next page goes to sign-in

    # the control: a page opened at minute 20 keeps the session alive until minute 50
    token = app.sessions.start(accounts.identity_of(account(someone), Factor.PASSWORD), roles, demo=True, now=T0)
    clock.now = T0 + dt.timedelta(minutes=20)
    assert get(app, "/runs", token, page) == 200
    clock.now = T0 + dt.timedelta(minutes=49)
    assert get(app, "/api/version", token) == 200
