"""The identity the gate signs onto each answer: valid only with the gate's key, for that run and form, recently."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from models.identity import MAX_AGE, Identity, IdentityRefused, new_key, sign, verify, who_answered

KEY = new_key()
AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
POLICE = Identity("7f1c", "Sam Patel", "police", "password+totp")
RUN, FORM = "0b5e6a9c-run", "rapid-review-sign-off-3"


def token() -> str:
    return sign(KEY, POLICE, run_id=RUN, form_key=FORM, at=AT)


def test_a_token_from_the_gate_names_who_answered() -> None:
    signed = verify(KEY, token(), run_id=RUN, form_key=FORM, now=AT + dt.timedelta(seconds=5))
    assert signed.identity == POLICE and signed.run_id == RUN and signed.form_key == FORM and signed.at == AT


def test_a_token_signed_with_another_key_is_refused() -> None:
    forged = sign(new_key(), POLICE, run_id=RUN, form_key=FORM, at=AT)
    with pytest.raises(IdentityRefused, match="not the gate's"):
        verify(KEY, forged, run_id=RUN, form_key=FORM, now=AT)


def test_a_token_whose_claims_were_edited_is_refused() -> None:
    body, mac = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "health"  # the police representative tries to sign for health
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(IdentityRefused, match="not the gate's"):
        verify(KEY, f"{edited}.{mac}", run_id=RUN, form_key=FORM, now=AT)


@pytest.mark.parametrize(("run_id", "form_key"), [("another-run", FORM), (RUN, "rapid-review-sign-off-4")])
def test_a_token_replayed_on_another_run_or_form_is_refused(run_id: str, form_key: str) -> None:
    with pytest.raises(IdentityRefused, match="another form"):
        verify(KEY, token(), run_id=run_id, form_key=form_key, now=AT)


@pytest.mark.parametrize("offset", [MAX_AGE + dt.timedelta(seconds=1), dt.timedelta(minutes=-1)])
def test_an_expired_or_future_token_is_refused(offset: dt.timedelta) -> None:
    with pytest.raises(IdentityRefused, match="expired"):
        verify(KEY, token(), run_id=RUN, form_key=FORM, now=AT + offset)


@pytest.mark.parametrize("queued", [dt.timedelta(minutes=11), dt.timedelta(days=3, hours=18)])
def test_an_answer_that_waited_for_a_worker_is_still_taken(queued: dt.timedelta) -> None:
    """A burst of notifications (the load test's 200 kept resumed runs queued 11 minutes), or the workers stopped
    over a long weekend: the person answered once and is not asked again."""
    assert verify(KEY, token(), run_id=RUN, form_key=FORM, now=AT + queued).form_key == FORM


@pytest.mark.parametrize("bad", ["", "not-a-token", "a.b.c", "!!!.???", "x" * 100_000, "Sam Patel"])
def test_anything_else_is_refused_plainly(bad: str) -> None:
    with pytest.raises(IdentityRefused, match=r"no valid sign-in|not the gate's") as refused:
        verify(KEY, bad, run_id=RUN, form_key=FORM, now=AT)
    assert bad[:20] not in str(refused.value) or not bad


@pytest.mark.parametrize("stored", [None, 42, {"person_id": "7f1c"}])
def test_no_token_at_all_is_refused(stored: object) -> None:
    """An answer posted straight to Prefect has no token beside it (None), or something else than the gate's."""
    with pytest.raises(IdentityRefused, match="without a sign-in"):
        verify(KEY, stored, run_id=RUN, form_key=FORM, now=AT)


def test_who_answered_gives_the_person_or_why_not() -> None:
    assert who_answered(KEY, token(), run_id=RUN, form_key=FORM, now=AT) == POLICE
    assert "another form" in str(who_answered(KEY, token(), run_id=RUN, form_key="another", now=AT))
