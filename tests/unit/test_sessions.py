"""Signed-in sessions (gate/sessions.py) on a clock the test moves: 30 minutes idle ends one, 12 hours ends one
however busy, sign-out ends one at once, and the table keeps only hashes of the cookies. Only a person's own actions
keep a session alive: the UI's polling, every few seconds while a page is open, does not."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.sessions import AT_MOST, IDLE_FOR, RECHECK_EVERY, Sessions, is_own_action
from models.identity import Identity
from models.roles import Role

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
SAM = Identity(person_id="2b7f3c1e-0000-4000-8000-000000000001", name="Sam Okoro", role="", signed_in_with="password")
ROLES = frozenset({Role.POLICE})


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def test_the_limits_are_the_issues_30_minutes_idle_and_12_hours_in_all() -> None:
    assert minutes(30) == IDLE_FOR
    assert dt.timedelta(hours=12) == AT_MOST


def test_a_new_session_is_found_with_who_signed_in() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=True, now=T0)
    found = sessions.find(token, T0 + minutes(1))
    assert found is not None and found.identity == SAM and found.roles == ROLES and found.demo


def test_a_session_idle_for_30_minutes_is_still_good_and_one_idle_longer_is_over() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    assert sessions.find(token, T0 + minutes(30)) is not None  # exactly the limit: still in
    assert sessions.find(token, T0 + minutes(60) + dt.timedelta(seconds=1)) is None  # 30 min and a second idle
    assert sessions.find(token, T0 + minutes(61)) is None  # and it stays over, even if asked again


def test_each_request_restarts_the_idle_clock() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    for step in range(1, 9):  # a request every 25 minutes for over three hours: never idle for 30
        assert sessions.find(token, T0 + minutes(25 * step)) is not None


def test_a_busy_session_still_ends_12_hours_after_signing_in() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    at = T0
    while at + minutes(20) <= T0 + AT_MOST:  # never idle for long, right up to the limit
        at += minutes(20)
        assert sessions.find(token, at) is not None
    assert sessions.find(token, T0 + AT_MOST + minutes(1)) is None


def test_signing_out_ends_the_session_at_once_and_only_that_one() -> None:
    sessions = Sessions()
    mine = sessions.start(SAM, ROLES, demo=False, now=T0)
    other_browser = sessions.start(SAM, ROLES, demo=False, now=T0)
    sessions.end(mine)
    assert sessions.find(mine, T0) is None
    assert sessions.find(other_browser, T0) is not None


def test_disabling_a_person_ends_every_session_of_theirs() -> None:
    sessions = Sessions()
    tokens = [sessions.start(SAM, ROLES, demo=False, now=T0) for _ in range(3)]
    someone_else = Identity("2b7f3c1e-0000-4000-8000-000000000002", "Alex Morgan", "", "password")
    theirs = sessions.start(someone_else, frozenset({Role.LOCAL_AUTHORITY}), demo=False, now=T0)
    assert sessions.end_for(SAM.person_id) == 3
    assert all(sessions.find(t, T0) is None for t in tokens)
    assert sessions.find(theirs, T0) is not None


def test_an_unknown_empty_or_oversized_cookie_is_no_session() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    for cookie in (None, "", "garbage", token + "x", token[:-1], "x" * 10_000, "é" * 40):
        assert sessions.find(cookie, T0) is None


def test_only_a_hash_of_each_cookie_is_held() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    held = repr(sessions.__dict__)
    assert token not in held and len(token) >= 40  # 32 random bytes, url-safe


def test_starting_a_session_forgets_the_expired_ones() -> None:
    sessions = Sessions()
    old = sessions.start(SAM, ROLES, demo=False, now=T0)
    sessions.start(SAM, ROLES, demo=False, now=T0 + dt.timedelta(hours=13))
    assert len(sessions._by_digest) == 1  # the table does not grow with everyone who ever signed in
    assert sessions.find(old, T0 + dt.timedelta(hours=13)) is None


def test_a_sessions_roles_are_due_for_the_register_again_after_a_minute() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    session = sessions.find(token, T0 + dt.timedelta(seconds=59))
    assert session is not None and not sessions.due_for_check(session, T0 + dt.timedelta(seconds=59))
    assert sessions.due_for_check(session, T0 + RECHECK_EVERY)
    later = T0 + RECHECK_EVERY
    moved = sessions.refresh(token, frozenset({Role.HEALTH}), later)  # the register says health now
    assert moved is not None and moved.roles == {Role.HEALTH} and not sessions.due_for_check(moved, later)
    found = sessions.find(token, later)
    assert found is not None and found.roles == {Role.HEALTH}  # kept: the next request acts in it


def test_a_session_whose_person_has_no_role_left_is_ended() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    assert sessions.refresh(token, frozenset(), T0 + RECHECK_EVERY) is None
    assert sessions.find(token, T0 + RECHECK_EVERY) is None


# what the UI sends on its own while a page stays open, and what only a person's doing sends
BROWSER_PAGE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SCRIPT = {"Sec-Fetch-Mode": "cors", "Accept": "application/json"}
RUN = "/api/flow_runs/0b7c3f1e-1d2a-4c55-8e2b-5a1f00000001"
POLLING = [
    ("POST", "/api/flow_runs/filter", SCRIPT),
    ("POST", "/api/flow_runs/count", SCRIPT),
    ("POST", "/api/flow_runs/paginate", SCRIPT),
    ("POST", "/api/flow_runs/history", SCRIPT),
    ("POST", "/api/flow_runs/lateness", SCRIPT),
    ("POST", "/api/task_runs/history/", SCRIPT),
    ("POST", "/api/work_pools/default/queues/filter", SCRIPT),
    ("POST", "/api/v2/concurrency_limits/filter", SCRIPT),
    ("POST", "/api/work_queues/abc/concurrency_status", SCRIPT),
    ("POST", "/api/ui/flow_runs/history", SCRIPT),
    ("POST", "/api/ui/schemas/validate", SCRIPT),
    ("POST", "/api/events/count-by/event", SCRIPT),
    ("POST", "/api/templates/validate", SCRIPT),
    ("POST", "/api/artifacts/latest/filter", SCRIPT),
    ("POST", "/api/artifacts/latest/count", SCRIPT),
    ("POST", f"{RUN}/input/filter", SCRIPT),
    ("GET", RUN, SCRIPT),
    ("GET", "/api/csrf-token", {}),
    ("GET", "/api/docs", BROWSER_PAGE),  # even opened as a page: under /api, a GET is never a change of anything
    ("GET", "/assets/index.js", {"Sec-Fetch-Mode": "no-cors", "Accept": "*/*"}),
    ("GET", "/runs", {"Accept": "*/*"}),  # no Sec-Fetch-Mode, and not asking for a page: a script's fetch
    ("GET", "/runs", {"Accept": "application/json, text/html;q=0.5"}),
    ("GET", "/runs", {}),
    ("HEAD", "/runs", BROWSER_PAGE),
]
OWN = [
    ("GET", "/runs", BROWSER_PAGE),
    ("GET", "/runs/flow-run/0b7c3f1e-1d2a-4c55-8e2b-5a1f00000001", {"sec-fetch-mode": "Navigate"}),
    ("GET", "/dashboard", {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}),
    ("POST", "/api/deployments/abc/create_flow_run", SCRIPT),
    ("POST", f"{RUN}/resume", SCRIPT),
    ("POST", f"{RUN}/set_state", SCRIPT),
    ("POST", f"{RUN}/input", SCRIPT),
    ("PATCH", "/api/deployments/abc", SCRIPT),
    ("PUT", "/api/block_documents/abc", SCRIPT),
    ("DELETE", f"{RUN}/input/answer", SCRIPT),
    ("DELETE", "/api/flow_runs/filter", SCRIPT),  # only POSTs to a read's address are reads
    ("post", "/api/flow_runs/abc/filter-me", SCRIPT),
]


@pytest.mark.parametrize(("method", "path", "headers"), POLLING, ids=[f"{m} {p}" for m, p, _ in POLLING])
def test_the_uis_polling_is_not_a_persons_own_action(method: str, path: str, headers: dict[str, str]) -> None:
    assert not is_own_action(method, path, headers)


@pytest.mark.parametrize(("method", "path", "headers"), OWN, ids=[f"{m} {p}" for m, p, _ in OWN])
def test_opening_a_page_or_changing_something_is_a_persons_own_action(
    method: str, path: str, headers: dict[str, str]
) -> None:
    assert is_own_action(method, path, headers)


def test_without_touching_the_idle_clock_runs_on_and_expiry_still_applies() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    found = sessions.find(token, T0 + minutes(10), touch=False)
    assert found is not None and found.last_seen == T0
    assert sessions.find(token, T0 + minutes(31), touch=False) is None


def request(sessions: Sessions, token: str, at: dt.datetime, method: str, path: str, headers: dict[str, str]) -> bool:
    """One request of the browser at ``at``, as the gate finds its session; whether the session was still live."""
    return sessions.find(token, at, touch=is_own_action(method, path, headers)) is not None


def test_a_page_left_open_and_polling_every_minute_ends_30_minutes_after_the_last_own_action() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    assert request(sessions, token, T0 + minutes(5), "GET", "/runs", BROWSER_PAGE)  # the last thing Sam did
    for minute in range(6, 36):  # then the page polls, every minute, with nobody at the computer
        assert request(sessions, token, T0 + minutes(minute), "POST", "/api/flow_runs/filter", SCRIPT)
        assert request(sessions, token, T0 + minutes(minute), "GET", RUN, SCRIPT)
    late = T0 + minutes(35) + dt.timedelta(seconds=1)  # 30 minutes and a second after opening the page
    assert not request(sessions, token, late, "POST", "/api/flow_runs/filter", SCRIPT)
    assert not request(sessions, token, late, "GET", "/runs", BROWSER_PAGE)  # over: it does not come back


def test_a_person_who_opens_pages_now_and_then_stays_signed_in_while_the_ui_polls() -> None:
    sessions = Sessions()
    token = sessions.start(SAM, ROLES, demo=False, now=T0)
    for minute in range(1, 120):
        assert request(sessions, token, T0 + minutes(minute), "POST", "/api/flow_runs/filter", SCRIPT)
        if minute % 25 == 0:  # a page opened every 25 minutes: never 30 without one
            assert request(sessions, token, T0 + minutes(minute), "GET", "/runs", BROWSER_PAGE)
    resumed = T0 + minutes(121)
    assert request(sessions, token, resumed, "POST", f"{RUN}/resume", SCRIPT)  # an answer given: their doing too
    assert request(sessions, token, resumed + minutes(29), "GET", RUN, SCRIPT)
