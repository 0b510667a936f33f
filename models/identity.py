"""Who gave an answer, in a form the flow can check: the gate signs the signed-in person onto each form answer it
passes to Prefect, and the lifecycle accepts the answer only with a valid signature for that very run, form and answer.

The token is an HMAC-SHA256 over the person, their role, how they signed in, the run, the form's key, the time and
the answer's digest, with a key that only the gate and the workers hold (never Prefect's server, never a run's
parameters). So:
- a typed name, or an answer posted straight to Prefect's API, carries no valid token;
- a token lifted from one answer fails on any other run or form (both are signed);
- a token fails on any other answer than the one it was given for (its digest is signed): the token is stored beside
  the answer, so another person who may answer the same step could otherwise put their sign-in over someone else's
  answer by sending answers of their own that the form refuses, each storing its token as it went;
- the form's key is single-use (the review's answer counter moves on as soon as it is answered), so a token is
  good for one answer only, and a token older than ``MAX_AGE`` fails as a last bound.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from models.refusals import Refused

# From the gate's signing to the lifecycle's check. A resumed run waits for a free worker, so this allows for a
# queue: 200 incidents at once on 2 cores kept resumed runs waiting 11 minutes (docs/benchmarks.md, 2026-12-06),
# and an answer given as the workers stop for a long weekend waits days. Ten minutes, as it was, refused those
# answers and asked the person again. The token's binding to one run and one single-use form is the real defence.
MAX_AGE = dt.timedelta(days=7)
CLOCK_SKEW = dt.timedelta(seconds=30)  # the gate's and a worker's clocks may differ a little
KEY_BYTES = 32
DIFFERENT_ANSWER = "the answer's sign-in was given for a different answer: open the form and submit it again"


class IdentityRefused(Refused):
    """An answer whose identity cannot be trusted; ``str()`` says why, in words for the person and the log."""


@dataclass(frozen=True)
class Identity:
    """A person who proved who they are at the gate."""

    person_id: str  # the account's id in the project's register
    name: str
    role: str  # a models.roles.Role value, from the register, never from the identity provider's token
    signed_in_with: str  # "password+totp", "password" (a demo account) or "oidc"


@dataclass(frozen=True)
class SignedAnswer:
    """What the lifecycle learns from a valid token: who answered, on which run and form, when, and what."""

    identity: Identity
    run_id: str
    form_key: str
    at: dt.datetime
    answer: str  # the answer's digest (answer_digest)


def new_key() -> str:
    """A new signing key, as text for a setting or an owner-only file."""
    return secrets.token_urlsafe(KEY_BYTES)


def _mac(key: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def answer_digest(answer: object) -> str:
    """SHA-256, in hex, of ``answer`` as canonical JSON (keys sorted, no spaces, UTF-8): the same for the answer the
    gate reads from the request and for the one the flow reads back from Prefect, whatever the order of their keys
    or the spelling of their numbers and strings in JSON text. ``answer`` is a JSON value (dict, list, str, int,
    float, bool, None); ValueError for anything else, NaN or infinity, or a string with a lone surrogate."""
    try:
        text = json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except TypeError as exc:
        raise ValueError(f"not a JSON value: {exc}") from None
    return hashlib.sha256(text.encode()).hexdigest()  # UnicodeEncodeError, a ValueError, for a lone surrogate


def sign(key: str, identity: Identity, *, run_id: str, form_key: str, at: dt.datetime, answer: str) -> str:
    """The token the gate attaches to the answer whose digest is ``answer`` (answer_digest), to form ``form_key`` of
    run ``run_id``, given at ``at``."""
    claims = {
        **asdict(identity),
        "run_id": run_id,
        "form_key": form_key,
        "at": at.astimezone(dt.UTC).isoformat(),
        "answer": answer,
    }
    body = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_mac(key, body))}"


def verify(key: str, token: object, *, run_id: str, form_key: str, answer: str, now: dt.datetime) -> SignedAnswer:
    """The identity in ``token`` if it was signed with ``key`` for this run and form, and for the answer whose digest
    is ``answer`` (answer_digest of the answer being recorded), recently; else IdentityRefused. A token made before
    answers were signed (it has no digest) is refused as one given for a different answer.
    A token may be tried against any number of keys by the caller (a key being rotated): each fails the same way.
    ``token`` is whatever was stored beside the answer: None (nothing was, the answer did not pass the gate) or any
    other value than a string is refused like a malformed one."""
    if not isinstance(token, str):
        raise IdentityRefused(
            "the answer came without a sign-in (not through cspr's sign-in page): sign in and submit the form again"
        )
    try:
        body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except ValueError:
        raise IdentityRefused("the answer carries no valid sign-in: sign in again and resubmit the form") from None
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise IdentityRefused("the answer's sign-in is not the gate's: sign in again and resubmit the form")
    claims = json.loads(body)
    if claims["run_id"] != run_id or claims["form_key"] != form_key:
        raise IdentityRefused("the answer's sign-in was given for another form: open this form and submit it again")
    if claims.get("answer") != answer:
        raise IdentityRefused(DIFFERENT_ANSWER)
    at = dt.datetime.fromisoformat(claims["at"])
    if not now - MAX_AGE <= at <= now + CLOCK_SKEW:
        raise IdentityRefused("the answer's sign-in has expired: sign in again and resubmit the form")
    identity = Identity(claims["person_id"], claims["name"], claims["role"], claims["signed_in_with"])
    return SignedAnswer(identity, run_id, form_key, at, answer)


def who_answered(
    key: str, token: object, *, run_id: str, form_key: str, answer: str, now: dt.datetime
) -> Identity | str:
    """The person who gave the answer whose digest is ``answer`` to form ``form_key`` of run ``run_id``, if ``token``
    is valid for it; else why the answer cannot be trusted, in words for the person (the lifecycle refuses the answer
    with them)."""
    try:
        return verify(key, token, run_id=run_id, form_key=form_key, answer=answer, now=now).identity
    except IdentityRefused as exc:
        return str(exc)


def input_key(form_key: str) -> str:
    """The flow-run input under which the gate stores the token for the answer to form ``form_key``, beside Prefect's
    own ``suspended-{form_key}-response`` (the form's schema forbids extra fields, so it cannot travel inside)."""
    return f"cspr-identity-{form_key}"


SUSPENDED = "suspended-"  # Prefect's prefix for a waiting form's schema, description and answer
FORM_INPUTS = (SUSPENDED, input_key(""))  # every input a run keeps for its forms: Prefect's own, and who answered
