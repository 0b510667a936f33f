"""The identity the gate signs onto each answer: valid only with the gate's key, for that run, form and answer,
recently."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
from dataclasses import asdict

import orjson
import pytest

from models.identity import (
    MAX_AGE,
    Identity,
    IdentityRefused,
    answer_digest,
    new_key,
    sign,
    verify,
    who_answered,
)

KEY = new_key()
AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
POLICE = Identity("7f1c", "Sam Patel", "police", "password+totp")
RUN, FORM = "0b5e6a9c-run", "rapid-review-sign-off-3"
SIGNED_OFF = {"partner": "police", "decision": "sign off", "comments": "Agreed — Sam"}
ANSWER = answer_digest(SIGNED_OFF)


def token() -> str:
    return sign(KEY, POLICE, run_id=RUN, form_key=FORM, at=AT, answer=ANSWER)


def test_a_token_from_the_gate_names_who_answered() -> None:
    signed = verify(KEY, token(), run_id=RUN, form_key=FORM, answer=ANSWER, now=AT + dt.timedelta(seconds=5))
    assert signed.identity == POLICE and signed.run_id == RUN and signed.form_key == FORM and signed.at == AT
    assert signed.answer == ANSWER


def test_a_token_given_for_one_answer_does_not_take_another() -> None:
    """Another person who may answer the step stores their sign-in over the one beside someone else's answer (by
    sending an answer of their own, which the form refuses): it was given for their answer, not this one."""
    sent_back = {**SIGNED_OFF, "decision": "send back", "reasons": "The chronology is incomplete"}
    with pytest.raises(IdentityRefused, match="given for a different answer: open the form and submit it again"):
        verify(KEY, token(), run_id=RUN, form_key=FORM, answer=answer_digest(sent_back), now=AT)
    refused = who_answered(KEY, token(), run_id=RUN, form_key=FORM, answer=answer_digest(sent_back), now=AT)
    assert refused == "the answer's sign-in was given for a different answer: open the form and submit it again"


def test_a_token_made_before_answers_were_signed_is_refused_as_for_a_different_answer() -> None:
    claims = {**asdict(POLICE), "run_id": RUN, "form_key": FORM, "at": AT.isoformat()}  # no "answer"
    body = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    mac = hmac.new(KEY.encode(), body, hashlib.sha256).digest()
    old = ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (body, mac))
    with pytest.raises(IdentityRefused, match="given for a different answer"):
        verify(KEY, old, run_id=RUN, form_key=FORM, answer=ANSWER, now=AT)


def test_the_digest_is_of_the_answer_as_a_json_value_not_its_spelling() -> None:
    """The gate reads the answer from the request with json.loads; the flow reads what Prefect stored with orjson."""
    sent = json.loads('{"comments": "Agreed \\u2014 Sam", "decision": "sign off", "partner": "police"}')
    stored = orjson.loads(orjson.dumps({"partner": "police", "decision": "sign off", "comments": "Agreed — Sam"}))
    assert answer_digest(sent) == answer_digest(stored) == ANSWER
    assert answer_digest(json.loads("[1e2, -0.0, 0.1]")) == answer_digest(
        orjson.loads(orjson.dumps([100.0, -0.0, 0.1]))
    )
    assert answer_digest({"a": 1}) != answer_digest({"a": 1.0}) != answer_digest({"a": "1"})
    assert answer_digest({"a": None}) != answer_digest({}) != answer_digest(None)
    assert len(ANSWER) == 64 and int(ANSWER, 16) >= 0


@pytest.mark.parametrize("not_json", [math.nan, {"a": math.inf}, {"a": {1, 2}}, "\ud800", object()])
def test_what_is_not_a_json_value_has_no_digest(not_json: object) -> None:
    with pytest.raises(ValueError):
        answer_digest(not_json)


def test_a_token_signed_with_another_key_is_refused() -> None:
    forged = sign(new_key(), POLICE, run_id=RUN, form_key=FORM, at=AT, answer=ANSWER)
    with pytest.raises(IdentityRefused, match="not the gate's"):
        verify(KEY, forged, run_id=RUN, form_key=FORM, answer=ANSWER, now=AT)


def test_a_token_whose_claims_were_edited_is_refused() -> None:
    body, mac = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "health"  # the police representative tries to sign for health
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(IdentityRefused, match="not the gate's"):
        verify(KEY, f"{edited}.{mac}", run_id=RUN, form_key=FORM, answer=ANSWER, now=AT)


@pytest.mark.parametrize(("run_id", "form_key"), [("another-run", FORM), (RUN, "rapid-review-sign-off-4")])
def test_a_token_replayed_on_another_run_or_form_is_refused(run_id: str, form_key: str) -> None:
    with pytest.raises(IdentityRefused, match="another form"):
        verify(KEY, token(), run_id=run_id, form_key=form_key, answer=ANSWER, now=AT)


@pytest.mark.parametrize("offset", [MAX_AGE + dt.timedelta(seconds=1), dt.timedelta(minutes=-1)])
def test_an_expired_or_future_token_is_refused(offset: dt.timedelta) -> None:
    with pytest.raises(IdentityRefused, match="expired"):
        verify(KEY, token(), run_id=RUN, form_key=FORM, answer=ANSWER, now=AT + offset)


@pytest.mark.parametrize("queued", [dt.timedelta(minutes=11), dt.timedelta(days=3, hours=18)])
def test_an_answer_that_waited_for_a_worker_is_still_taken(queued: dt.timedelta) -> None:
    """A burst of notifications (the load test's 200 kept resumed runs queued 11 minutes), or the workers stopped
    over a long weekend: the person answered once and is not asked again."""
    assert verify(KEY, token(), run_id=RUN, form_key=FORM, answer=ANSWER, now=AT + queued).form_key == FORM


@pytest.mark.parametrize("bad", ["", "not-a-token", "a.b.c", "!!!.???", "x" * 100_000, "Sam Patel"])
def test_anything_else_is_refused_plainly(bad: str) -> None:
    with pytest.raises(IdentityRefused, match=r"no valid sign-in|not the gate's") as refused:
        verify(KEY, bad, run_id=RUN, form_key=FORM, answer=ANSWER, now=AT)
    assert bad[:20] not in str(refused.value) or not bad


@pytest.mark.parametrize("stored", [None, 42, {"person_id": "7f1c"}])
def test_no_token_at_all_is_refused(stored: object) -> None:
    """An answer posted straight to Prefect has no token beside it (None), or something else than the gate's."""
    with pytest.raises(IdentityRefused, match="without a sign-in"):
        verify(KEY, stored, run_id=RUN, form_key=FORM, answer=ANSWER, now=AT)


def test_who_answered_gives_the_person_or_why_not() -> None:
    assert who_answered(KEY, token(), run_id=RUN, form_key=FORM, answer=ANSWER, now=AT) == POLICE
    assert "another form" in str(who_answered(KEY, token(), run_id=RUN, form_key="another", answer=ANSWER, now=AT))
