"""Local sign-in at the real server's gate, over HTTP as a browser does it: a wrong password or code, a code used
twice, the lock after 5 failures, the enrolment of the authenticator app, sign-out. Then hostile input: nothing tells
an unknown account from a wrong password, oversized and malformed input is refused plainly (never a 500), nothing
typed is echoed unescaped, and no password, TOTP secret or session cookie reaches a log or Prefect's database.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cli.system import LocalSystem
from gate.asgi import MAX_BODY
from gate.sessions import COOKIE
from models.roles import Role
from models.signin import REFUSED
from tests.utils.api import service_api
from tests.utils.search import search_files, search_sqlite
from tests.utils.signin import Browser, Person, account, register, signed_in

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


def test_a_wrong_password_is_refused(browser: Browser) -> None:
    someone = person()
    remember(WRONG_PASSWORD)
    assert refused(browser.sign_in(someone.email, WRONG_PASSWORD))
    assert account(someone).failures == 1


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


def test_five_failures_lock_the_account_even_against_the_right_password_and_code(
    system: LocalSystem, browser: Browser
) -> None:
    someone = enrolled(system)
    remember(WRONG_PASSWORD)
    for _ in range(5):
        assert refused(browser.sign_in(someone.email, WRONG_PASSWORD, someone.code(1)))
    assert account(someone).locked_until is not None
    sixth = browser.sign_in(someone.email, someone.password, someone.code(1))
    assert refused(sixth)  # the same words as any failure: "locked" would tell that the address has an account


def test_the_first_sign_in_of_a_new_account_shows_the_enrolment_page(system: LocalSystem, browser: Browser) -> None:
    someone = person(demo=False)
    page = browser.sign_in(someone.email, someone.password)
    assert page.status_code == 200 and browser.session_cookie is None
    assert "otpauth://" in page.text and "<svg" in page.text  # the address to type, and its QR code
    assert someone.totp_secret is not None and someone.totp_secret in page.text  # the secret of this account
    assert browser.http.get("/api/version").status_code == 401  # not signed in until the app's code is confirmed


def test_confirming_the_apps_code_at_enrolment_signs_in(system: LocalSystem, browser: Browser) -> None:
    someone = person(demo=False)
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


def test_signing_out_ends_the_session(system: LocalSystem, browser: Browser) -> None:
    someone = person()
    browser.sign_in(someone.email, someone.password)
    cookie = browser.session_cookie
    assert cookie is not None and api_with(system, cookie).status_code == 200
    remember(cookie)
    out = browser.sign_out()
    assert out.status_code == 200 and "signed out" in out.text
    assert api_with(system, cookie).status_code == 401  # the old cookie, kept by someone, no longer works


def test_sign_in_goes_on_to_a_path_of_this_server_never_to_another_site(system: LocalSystem) -> None:
    someone = person()
    for target, lands in [("/runs?tab=x", "/runs?tab=x"), ("//evil.example/x", "/"), ("https://evil.example", "/")]:
        with Browser(system.ui_url) as fresh:
            answer = fresh.sign_in(someone.email, someone.password, next_path=target)
            remember(fresh.session_cookie)
        assert answer.status_code == 303 and answer.headers["location"] == lands


def test_a_sign_in_form_posted_without_its_token_is_refused(system: LocalSystem) -> None:
    # another site's page can post a form here, but cannot read the token the sign-in page set
    someone = person()
    answer = httpx.post(f"{system.ui_url}/sign-in", data={"email": someone.email, "password": someone.password})
    assert answer.status_code == 400 and COOKIE not in answer.cookies


# --- hostile input -----------------------------------------------------------------------------------------


def test_an_unknown_account_and_a_wrong_password_get_the_same_message_in_about_the_same_time(
    browser: Browser,
) -> None:
    someone = person()
    remember(WRONG_PASSWORD)
    browser.sign_in(f"warm-up-{TAG}@gate-test.example", WRONG_PASSWORD)  # the server's first unknown makes its hash
    times: dict[str, list[float]] = {"unknown": [], "wrong password": []}
    for n in range(5):  # taken in turn, so a slow moment of the machine falls on both
        for kind, email in (("unknown", f"nobody-{n}-{TAG}@gate-test.example"), ("wrong password", someone.email)):
            started = time.perf_counter()
            answer = browser.sign_in(email, WRONG_PASSWORD)
            times[kind].append(time.perf_counter() - started)
            assert refused(answer), (kind, answer.status_code)
    unknown, wrong = statistics.median(times["unknown"]), statistics.median(times["wrong password"])
    assert 0.5 < unknown / wrong < 2, times  # (the sign-in page's GET is in both: it costs the same)


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
