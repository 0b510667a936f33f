"""Where sign-in sends a person next (gate/redirects.py): a page of this site, never another site, whatever the
``next`` parameter holds. Each hostile target below is one a browser (or a server decoding once more) could read as
another site's address; each is sent home instead."""

from __future__ import annotations

import pytest

from gate.redirects import MAX_LENGTH, local_path

RUN = "/runs/flow-run/0b7c3f1e-1d2a-4c55-8e2b-5a1f00000001"

HOSTILE = {
    "scheme-relative": "//evil.example/x",
    "absolute": "https://evil.example/x",
    "no leading slash": "evil.example/x",
    "javascript": "javascript:alert(1)",
    "backslash": "/\\evil.example/x",
    "backslash later": "/runs\\..\\..\\evil",
    "tab between slashes": "/\t/evil.example/x",
    "encoded tab between slashes": "/%09/evil.example/x",
    "line feed": "/\n/evil.example",
    "encoded line feed": "/%0a/evil.example",
    "carriage return": "/\r/evil.example",
    "encoded carriage return": "/%0D/evil.example",
    "nul": "/\x00/evil.example",
    "encoded nul": "/%00/evil.example",
    "delete": "/\x7f/evil.example",
    "other control": "/runs\x1b",
    "c1 control": "/runs\x85",
    "zero-width space": "/\u200b/evil.example",
    "line separator": "/\u2028/evil.example",
    "leading space": " //evil.example",
    "space between slashes": "/ /evil.example",
    "ideographic space between slashes": "/\u3000/evil.example",
    "encoded slash": "/%2fevil.example",
    "encoded slash upper case": "/%2Fevil.example",
    "encoded slash later": "/runs/%2F%2Fevil.example",
    "encoded backslash": "/%5cevil.example",
    "encoded backslash upper case": "/%5Cevil.example",
    "double-encoded slash": "/%252fevil.example",
    "double-encoded tab": "/%2509/evil.example",
    "encoded twice over the limit": "/%25252525252f",
    "dot segments": "/..//evil.example",
    "encoded dot segments": "/%2e%2e//evil.example",
    "dot segment": "/runs/./x",
    "sign-in": "/sign-in",
    "sign-in with a next": "/sign-in?next=//evil.example",
    "sign-out": "/sign-out",
    "encoded sign-in": "/%73ign-in",
    "too long": "/" + "a" * MAX_LENGTH,
    "empty": "",
}


@pytest.mark.parametrize("target", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_target_that_could_leave_the_site_sends_the_person_home(target: str) -> None:
    assert local_path(target) == "/"


def test_no_target_sends_the_person_home() -> None:
    assert local_path(None) == "/"


@pytest.mark.parametrize(
    "target",
    [
        RUN,
        "/?a=b",
        "/deployments",
        "/runs?tab=Logs&page=2",
        "/runs/flow-run/abc#logs",
        "/flows?q=a%20b",
        "/dashboard?next=https://example.org",  # another site in the query is only text to the page
        "/" + "a" * (MAX_LENGTH - 1),
    ],
)
def test_a_page_of_this_site_is_kept_exactly(target: str) -> None:
    assert local_path(target) == target
