"""Local sign-in at the real server's gate, over HTTP as a browser does it: a wrong password or code, a code used
twice, failures slowed down (never a lock), the enrolment of the authenticator app, sign-out. Then hostile input:
nothing tells an unknown account from a wrong password, a flood of guesses from one address neither locks the
account's owner out nor stalls the server, no ``next`` sends anyone to another site, oversized and malformed input
is refused plainly (never a 500), nothing typed is echoed unescaped, and no password, TOTP secret or session cookie
reaches a log or Prefect's database.

The server listens on 127.0.0.1; a browser may connect from another loopback address (127.0.0.2 and so on), which
the gate counts as another client.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from cli.system import LocalSystem
from gate.asgi import MAX_BODY
from gate.sessions import COOKIE
from gate.throttle import PER_ACCOUNT, PER_ADDRESS
from models.roles import Role
from models.signin import REFUSED
from tests.unit.test_redirects import HOSTILE
from tests.utils.api import service_api
from tests.utils.search import search_files, search_sqlite
from tests.utils.signin import Browser, Person, account, hidden_fields, register, signed_in

TAG = uuid.uuid4().hex[:10]  # in everything typed here, so the search at the end looks for what this file typed
WRONG_PASSWORD = f"wrong-password-{TAG}"
USED: list[str] = []  # every password, TOTP secret, session cookie and hostile value sent: searched for at the end


def remember(*words: str | None) -> None:
    USED.extend(w for w in words if w)


def person(role: Role = Role.POLICE, *, demo: bool = True) -> Person:
    someone = register(role, demo=demo)
    remember(someone.password, someone.totp_secret)
    return someone


def enrolled(system: LocalSystem) -> Person:
    """A non-demo account whose authenticator app is set up (its first code, the current one, is spent)."""
    someone = person(demo=False)
    signed_in(system.ui_url, someone).close()
    return someone


@pytest.fixture(scope="module")
def system(deployed: LocalSystem) -> LocalSystem:
    return deployed


@pytest.fixture
def browser(system: LocalSystem) -> Iterator[Browser]:
    with Browser(system.ui_url) as fresh:
        yield fresh
        remember(fresh.session_cookie)


def refused(answer: httpx.Response) -> bool:
    """The sign-in page again, with the one refusal for every failure."""
    return answer.status_code == 401 and REFUSED in answer.text and COOKIE not in answer.cookies


def api_with(system: LocalSystem, cookie: str | bytes) -> httpx.Response:
    """An API read with the given session cookie and nothing else."""
    raw = cookie if isinstance(cookie, bytes) else cookie.encode()
    return httpx.get(f"{system.api_url}/version", headers={b"cookie": b"cspr_session=" + raw})


def tasks_with(system: LocalSystem, cookie: str) -> httpx.Response:
    """The person's tasks page (the site's home) with the given session cookie and nothing else: what a partner or the
    Panel's contact reads, who use no Prefect."""
    return httpx.get(f"{system.ui_url}/", headers={"cookie": f"{COOKIE}={cookie}"})


# --- local sign-in ------------------------------------------------------------------------------------------


def test_a_demo_account_signs_in_with_its_password_alone(system: LocalSystem, browser: Browser) -> None:
    someone = person(Role.COORDINATOR)
    answer = browser.sign_in(someone.email, someone.password, next_path="/runs")
    assert answer.status_code == 303 and answer.headers["location"] == "/runs"
    assert browser.http.get("/api/version").status_code == 200


def test_the_session_cookie_is_httponly_strict_for_the_whole_site_and_not_secure_over_plain_http(
    system: LocalSystem, browser: Browser
) -> None:
    someone = person()
    answer = browser.sign_in(someone.email, someone.password)
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert attributes == {"Path=/", "HttpOnly", "SameSite=Strict"}  # Secure once served over TLS (unit-tested)


def test_a_wrong_password_is_refused_and_changes_nothing_in_the_account(browser: Browser) -> None:
    someone = person()
    before = account(someone)
    remember(WRONG_PASSWORD)
    assert refused(browser.sign_in(someone.email, WRONG_PASSWORD))
    after = account(someone)
    assert after.updated_at == before.updated_at and after.locked_until is None  # failures are the gate's to count


def test_a_wrong_totp_code_is_refused_and_the_right_one_then_signs_in(system: LocalSystem, browser: Browser) -> None:
    someone = enrolled(system)
    assert refused(browser.sign_in(someone.email, someone.password, someone.wrong_code()))
    assert refused(browser.sign_in(someone.email, someone.password))  # nor the password without a code
    assert browser.sign_in(someone.email, someone.password, someone.code(1)).status_code == 303


def test_a_code_is_accepted_once_even_after_signing_out(system: LocalSystem, browser: Browser) -> None:
    someone = enrolled(system)
    code = someone.code(1)  # the next time step's: not the one enrolment spent
    assert browser.sign_in(someone.email, someone.password, code).status_code == 303
    remember(browser.session_cookie)
    assert browser.sign_out().status_code == 200
    assert refused(browser.sign_in(someone.email, someone.password, code))


def too_soon(answer: httpx.Response) -> int:
    """The sign-in page again, saying how long to wait: the seconds of its Retry-After (the attempt was not
    checked at all)."""
    assert answer.status_code == 429, (answer.status_code, answer.text[:300])
    wait = int(answer.headers["retry-after"])
    unit = "second" if wait == 1 else "seconds"
    assert f"Too many attempts. Wait {wait} {unit} and try again." in answer.text
    assert REFUSED not in answer.text and COOKIE not in answer.cookies and 'name="password"' in answer.text
    return wait


def test_failures_from_one_browser_slow_it_down_but_never_lock_the_account(system: LocalSystem) -> None:
    someone = person()
    remember(WRONG_PASSWORD)
    with Browser(system.ui_url, address="127.0.0.3") as guesser:  # an address of its own: only its failures count
        for _ in range(PER_ACCOUNT.free + 1):  # the first three cost nothing; the fourth is still checked at once
            assert refused(guesser.sign_in(someone.email, WRONG_PASSWORD))
        # the next attempt comes too soon: refused unchecked, even with the right password
        assert too_soon(guesser.sign_in(someone.email, someone.password)) == 1
        with Browser(system.ui_url) as owner:  # the owner, at their own computer, is not slowed at all
            assert owner.sign_in(someone.email, someone.password).status_code == 303
            remember(owner.session_cookie)
        assert account(someone).locked_until is None
        time.sleep(1.2)  # the wait the fourth failure set
        assert refused(guesser.sign_in(someone.email, WRONG_PASSWORD))  # checked again, and the wait doubles
        assert too_soon(guesser.sign_in(someone.email, someone.password)) == 2
        time.sleep(2.2)
        assert guesser.sign_in(someone.email, someone.password).status_code == 303  # a success starts afresh
        remember(guesser.session_cookie)
        assert refused(guesser.sign_in(someone.email, WRONG_PASSWORD))


def test_the_first_sign_in_of_a_new_account_shows_the_enrolment_page(system: LocalSystem, browser: Browser) -> None:
    someone = person(demo=False)
    page = browser.sign_in(someone.email, someone.password)
    assert page.status_code == 200 and browser.session_cookie is None
    assert "otpauth://" in page.text and "<svg" in page.text  # the address to type, and its QR code
    assert someone.totp_secret is not None and someone.totp_secret in page.text  # the secret of this account
    assert browser.http.get("/api/version").status_code == 401  # not signed in until the app's code is confirmed


def test_confirming_the_apps_code_at_enrolment_signs_in(system: LocalSystem, browser: Browser) -> None:
    someone = person(Role.COORDINATOR, demo=False)  # a person of Prefect's UI, to go on to its dashboard
    page = browser.sign_in(someone.email, someone.password, next_path="/dashboard")
    answer = browser.enrol(page, someone.code())
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    assert browser.http.get("/api/version").status_code == 200
    assert account(someone).totp_last_step >= 0  # enrolled: from now on every sign-in needs a code


def test_a_wrong_code_at_enrolment_shows_the_enrolment_page_again(system: LocalSystem, browser: Browser) -> None:
    someone = person(demo=False)
    page = browser.sign_in(someone.email, someone.password)
    again = browser.enrol(page, someone.wrong_code())
    assert again.status_code == 401 and "otpauth://" in again.text and browser.session_cookie is None
    assert browser.enrol(again, someone.code()).status_code == 303


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.POLICE])
def test_signing_out_ends_the_session(system: LocalSystem, browser: Browser, role: Role) -> None:
    # a coordinator's session read in Prefect's API; a partner's, who uses no Prefect, on their tasks page
    someone = person(role)
    browser.sign_in(someone.email, someone.password)
    cookie = browser.session_cookie
    assert cookie is not None
    if role is Role.COORDINATOR:
        assert api_with(system, cookie).status_code == 200
    else:
        assert tasks_with(system, cookie).status_code == 200
    remember(cookie)
    out = browser.sign_out()
    assert out.status_code == 200 and "signed out" in out.text
    assert api_with(system, cookie).status_code == 401  # the old cookie, kept by someone, no longer works
    page = tasks_with(system, cookie)  # nor on the tasks page: sent to sign in
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")


def test_sign_in_goes_on_to_a_path_of_this_server_never_to_another_site(system: LocalSystem) -> None:
    someone = person()
    for target, lands in [("/runs?tab=x", "/runs?tab=x"), ("//evil.example/x", "/"), ("https://evil.example", "/")]:
        with Browser(system.ui_url) as fresh:
            answer = fresh.sign_in(someone.email, someone.password, next_path=target)
            remember(fresh.session_cookie)
        assert answer.status_code == 303 and answer.headers["location"] == lands


def test_no_next_however_written_sends_the_person_to_another_site(system: LocalSystem) -> None:
    """Every hostile target of tests/unit/test_redirects.py, as the sign-in page's link gives it and as a form posted
    with it in place of the page's own: each lands on the site's home (the person's tasks) after signing in."""
    someone = person()
    landed: dict[str, str] = {}
    with Browser(system.ui_url) as browser:
        for name, target in HOSTILE.items():
            page = browser.http.get("/sign-in", params={"next": target})
            assert hidden_fields(page)["next"] == "/", name  # the link's target is not even kept for the form
            form = {**hidden_fields(page), "next": target, "email": someone.email, "password": someone.password}
            answer = browser.http.post("/sign-in", data=form)
            assert answer.status_code == 303, (name, answer.status_code, answer.text[:300])
            landed[name] = answer.headers["location"]
            remember(browser.session_cookie)
    assert {name: where for name, where in landed.items() if where != "/"} == {}


def test_a_sign_in_form_posted_without_its_token_is_refused(system: LocalSystem) -> None:
    # another site's page can post a form here, but cannot read the token the sign-in page set
    someone = person()
    answer = httpx.post(f"{system.ui_url}/sign-in", data={"email": someone.email, "password": someone.password})
    assert answer.status_code == 400 and COOKIE not in answer.cookies


# --- hostile input -----------------------------------------------------------------------------------------


def test_an_unknown_account_and_a_wrong_password_get_the_same_message_in_about_the_same_time(
    system: LocalSystem,
) -> None:
    someone = person()
    remember(WRONG_PASSWORD)
    with Browser(system.ui_url, address="127.0.1.1") as warm_up:  # the server's first unknown makes its hash
        warm_up.sign_in(f"warm-up-{TAG}@gate-test.example", WRONG_PASSWORD)
    times: dict[str, list[float]] = {"unknown": [], "wrong password": []}
    for n in range(5):  # taken in turn, so a slow moment of the machine falls on both
        # a browser per round, each from its own address: five failures in a row from one would be slowed down
        with Browser(system.ui_url, address=f"127.0.1.{n + 2}") as browser:
            browser.http.get("/sign-in")  # connected before timing
            for kind, email in (("unknown", f"nobody-{n}-{TAG}@gate-test.example"), ("wrong password", someone.email)):
                started = time.perf_counter()
                answer = browser.sign_in(email, WRONG_PASSWORD)
                times[kind].append(time.perf_counter() - started)
                assert refused(answer), (kind, answer.status_code)
    unknown, wrong = statistics.median(times["unknown"]), statistics.median(times["wrong password"])
    assert 0.5 < unknown / wrong < 2, times  # (the sign-in page's GET is in both: it costs the same)


def test_a_flood_of_guesses_from_one_address_neither_locks_the_owner_out_nor_stalls_the_server(
    system: LocalSystem,
) -> None:
    """Six browsers at 127.0.0.2 post wrong passwords as fast as they can, five for the owner's account and one for
    made-up ones (at most 600 attempts, at most 15 seconds). Meanwhile the owner signs in from 127.0.0.1 and the
    health check answers within two seconds; most of the flood is refused unchecked, and few of its attempts are
    hashed (each takes a good part of a second of a core)."""
    someone = person()
    remember(WRONG_PASSWORD)
    answers: list[httpx.Response] = []
    errors: list[BaseException] = []
    throttled, stop = threading.Event(), threading.Event()
    lock = threading.Lock()
    deadline = time.monotonic() + 15

    def flood(n: int) -> None:
        try:
            with Browser(system.ui_url, address="127.0.0.2") as attacker:
                form = hidden_fields(attacker.http.get("/sign-in"))
                for i in range(100):
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    email = f"guess-{n}-{i}-{TAG}@gate-test.example" if n == 0 else someone.email
                    answer = attacker.http.post("/sign-in", data={**form, "email": email, "password": WRONG_PASSWORD})
                    with lock:
                        answers.append(answer)
                    if answer.status_code == 429:
                        throttled.set()
                    form = hidden_fields(answer)  # each answer is the sign-in page again, with a new form token
        except BaseException as failed:  # said by the test, not lost in a thread
            errors.append(failed)

    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    try:
        assert throttled.wait(10), ("the flood was never slowed down", errors, Counter(a.status_code for a in answers))
        health_times = []
        for _ in range(3):
            started = time.perf_counter()
            assert httpx.get(f"{system.api_url}/health", timeout=10).status_code == 200
            health_times.append(time.perf_counter() - started)
        with Browser(system.ui_url) as owner:  # 127.0.0.1, while the flood goes on
            answer = owner.sign_in(someone.email, someone.password)
            remember(owner.session_cookie)
        assert not stop.is_set() and time.monotonic() < deadline, "the flood ended before the owner signed in"
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    assert max(health_times) < 2, health_times
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {401, 429, 503}, statuses  # never a 500, nor the form refused as expired
    assert all(too_soon(a) >= 1 for a in answers if a.status_code == 429)
    # hashed: the free failures of the owner's account at that address and those in flight as they ran out, the
    # one made-up account at a time, and the few the waits let through
    assert statuses[401] <= PER_ACCOUNT.free + len(threads) + PER_ADDRESS.free, statuses
    assert statuses[429] > 2 * statuses[401], statuses


def test_a_password_of_a_million_characters_is_refused_plainly(browser: Browser) -> None:
    someone = person()
    huge = f"huge-{TAG}-" + "a" * 1_000_000  # under the 1 MB limit, so it reaches the sign-in itself
    remember(huge[:40])
    started = time.perf_counter()
    answer = browser.sign_in(someone.email, huge)
    assert refused(answer)
    assert time.perf_counter() - started < 10  # refused before hashing, not after hashing a megabyte


def test_a_body_over_1_mb_with_its_length_is_refused_with_413_before_it_is_read(system: LocalSystem) -> None:
    big = b"email=x&password=" + b"a" * (MAX_BODY + 1)
    answer = httpx.post(f"{system.ui_url}/sign-in", content=big, headers={"content-type": "text/plain"})
    assert answer.status_code == 413
    assert httpx.post(f"{system.api_url}/flow_runs/filter", content=big).status_code == 413


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        sent += 64 * 1024
        yield b"b" * (64 * 1024)


def test_a_body_over_1_mb_without_its_length_is_refused_with_413(system: LocalSystem, browser: Browser) -> None:
    # chunked: no length to check first, so the gate counts as the body comes in
    form = {"content-type": "application/x-www-form-urlencoded"}
    answer = browser.http.post("/sign-in", content=_chunks(MAX_BODY + 128 * 1024), headers=form)
    assert (
        answer.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in answer.request.headers
    )
    assert answer.status_code == 413
    # and on the API, past the gate's sign-in check (the service's request is read by Prefect's app)
    api = service_api(system).post("/flow_runs/filter", content=_chunks(MAX_BODY + 128 * 1024))
    assert api.status_code == 413


@pytest.mark.parametrize(
    "email",
    [
        f'<script>alert("{TAG}")</script>@gate-test.example',
        f'"><img src=x onerror=alert("{TAG}")>',
        f"' OR '1'='1' -- {TAG}",
        f"nobody@gate-test.example'; DROP TABLE account; -- {TAG}",
        f"{TAG}\x00@gate-test.example",
    ],
    ids=["script", "attribute", "sql-or", "sql-drop", "nul"],
)
def test_markup_or_sql_in_the_email_is_refused_with_the_same_message_and_never_echoed(
    system: LocalSystem, browser: Browser, email: str
) -> None:
    remember(email, WRONG_PASSWORD)
    answer = browser.sign_in(email, WRONG_PASSWORD)
    assert refused(answer)
    assert TAG not in answer.text  # not shown back at all, escaped or not
    someone = person()  # the register is still there and still works
    with Browser(system.ui_url) as after:
        assert after.sign_in(someone.email, someone.password).status_code == 303
        remember(after.session_cookie)


def test_markup_in_the_next_path_is_escaped_on_the_sign_in_page(system: LocalSystem) -> None:
    target = f'/runs"><script>alert("{TAG}")</script>'
    page = httpx.get(f"{system.ui_url}/sign-in", params={"next": target})
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text  # kept for after sign-in, as text


MALFORMED = {
    "garbage": f"not-a-session-{TAG}".encode(),
    "very long": (f"long-{TAG}-" + "x" * 8000).encode(),
    "non-ascii": f"séssion-☃-{TAG}".encode(),
    "latin-1": b"\xe9\xff\xfe" + TAG.encode(),
    "quoted": f'"{TAG}"; cspr_session={TAG}'.encode(),
    "empty": b"",
}


@pytest.mark.parametrize("cookie", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_session_cookie_is_treated_as_signed_out(system: LocalSystem, cookie: bytes) -> None:
    remember(TAG)
    assert api_with(system, cookie).status_code == 401
    page = httpx.get(system.ui_url + "/runs", headers={b"cookie": b"cspr_session=" + cookie})
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
    sign_in = httpx.get(system.ui_url + "/sign-in", headers={b"cookie": b"cspr_session=" + cookie})
    assert sign_in.status_code == 200  # the way back in still works


# --- nothing secret kept -------------------------------------------------------------------------------------


def test_no_password_totp_secret_session_cookie_or_typed_value_is_in_any_log_or_prefects_database(
    system: LocalSystem, browser: Browser
) -> None:
    # its own sign-ins too, so that it searches for something even when run alone
    someone = enrolled(system)
    browser.sign_in(someone.email, WRONG_PASSWORD)
    assert browser.sign_in(someone.email, someone.password, someone.code(1)).status_code == 303
    remember(browser.session_cookie, WRONG_PASSWORD)
    service_api(system).post("/flow_runs/filter", json={})  # a request of ours that Prefect does keep a trace of

    words = sorted(set(USED))
    assert len(words) >= 5, words
    home = system.home
    log = home / "logs" / "server.log"
    database = home / "prefect" / "prefect.db"
    assert log.exists() and database.exists()
    # the controls: the searches find what is there in the clear (our CSRF client id in Prefect's database, the
    # person's address in the project's)
    assert search_sqlite(database, ["cspr-tests-"])
    assert search_files(home, [someone.email], skip=(home / "logs", home / "prefect"))
    hits = search_sqlite(database, words)
    hits += search_files(home / "logs", words)
    hits += search_files(home / "prefect", words)  # the database's files themselves, its WAL included
    hits += search_files(home, words, skip=(home / "logs", home / "prefect"))  # the project's database: hashes only
    assert hits == [], "\n".join(hits)
