"""Sign-in with the partnership's identity provider (OpenID Connect; for most councils Microsoft Entra ID): the
relying party's half of the authorization code flow, with PKCE (S256), state and nonce. No web framework here:

- ``start(provider)`` gives the address to send the person to, and a ``Pending`` for the gate to keep until they
  come back (in memory, or in a short-lived cookie that the gate signs: ``Pending.as_json``/``from_json``);
- ``finish(provider, pending, query)`` takes the callback's query parameters and returns who the provider says the
  person is (``Claims``), or raises ``OidcRefused`` with a message for them.

Who the person is in cspr, and their roles, come from the register (``models.people.match_oidc``), never from the
token. The calls block on HTTP to the provider: an async caller runs them in a thread (``anyio.to_thread``).
No message or exception raised here carries a code, a token or the client secret.

authlib builds the requests and checks the ID token's claims; joserfc (authlib's own JOSE library, which it now
recommends over ``authlib.jose``) checks its signature; httpx carries the HTTP (authlib's httpx client is
deprecated in favour of httpx2, a second HTTP library we do not need).
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from models.refusals import Refused
from models.settings import Settings, get_settings

SCOPE = "openid email profile"
PENDING_MAX_AGE = dt.timedelta(minutes=10)  # from start to callback: a person signs in within minutes
DISCOVERY_MAX_AGE = 3600.0  # seconds: re-read hourly, so a provider's moved endpoints and new keys are found
LEEWAY = 60  # seconds of clock difference allowed with the provider, on the ID token's exp and iat
TIMEOUT = httpx.Timeout(10.0)
# Asymmetric signatures only: "none" proves nothing, and an HS256 token is keyed with our own client secret
SIGNATURES = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")  # an OAuth error code, safe to show and log; anything else is not
LOOPBACK_NAMES = frozenset({"localhost"})

# Messages for the person: they say what to do next, and never which check failed (``OidcRefused.reason`` does,
# for the log).
START_AGAIN = "This sign-in has expired or was not started here. Please start again from the sign-in page."
NOT_CONFIRMED = (
    "Your organisation's sign-in did not confirm who you are. Please start again; if it happens again, ask an operator."
)
UNREACHABLE = "Your organisation's sign-in service could not be reached. Please try again in a few minutes."
MISCONFIGURED = "Sign-in with your organisation is not set up correctly here. Please ask an operator."


class OidcRefused(Refused):
    """A sign-in the provider did not confirm. ``str()`` is the message for the person; ``reason`` says which check
    failed, for the log. Neither holds a code, a token or a secret."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Provider:
    """The identity provider, and this gate as its registered client."""

    issuer: str  # exactly as the provider's tokens name it, e.g. https://login.microsoftonline.com/<tenant>/v2.0
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str  # the gate's callback address, as registered with the provider


@dataclass(frozen=True)
class Pending:
    """One sign-in between ``start`` and ``finish``: the gate keeps it, and uses it once."""

    state: str  # ties the callback to this browser's start (CSRF)
    nonce: str  # ties the ID token to this start (replay of another token)
    code_verifier: str = field(repr=False)  # PKCE: only the one who started can redeem the code
    started_at: float  # seconds since the epoch

    def as_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Pending:
        """The pending sign-in a cookie held; OidcRefused if it is not one (a cookie tampered with, or stale)."""
        try:
            data = json.loads(text)
            pending = cls(data["state"], data["nonce"], data["code_verifier"], float(data["started_at"]))
        except (ValueError, TypeError, KeyError):
            raise OidcRefused(START_AGAIN, "pending sign-in unreadable") from None
        if not all(isinstance(v, str) and v for v in (pending.state, pending.nonce, pending.code_verifier)):
            raise OidcRefused(START_AGAIN, "pending sign-in unreadable")
        return pending


@dataclass(frozen=True)
class Claims:
    """Who the provider says signed in. Only ``subject`` is stable; the rest is what the provider asserts now."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


@dataclass(frozen=True)
class Discovery:
    """What the provider's ``/.well-known/openid-configuration`` says this client needs."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signatures: tuple[str, ...]  # ID token algorithms both sides accept
    client_auth: str  # client_secret_basic or client_secret_post


_discovered: dict[str, tuple[float, Discovery]] = {}
_key_sets: dict[str, KeySet] = {}


def provider_from_settings(redirect_uri: str, settings: Settings | None = None) -> Provider | None:
    """The configured provider (``CSPR_OIDC_*``), or None when OpenID Connect sign-in is not set up."""
    settings = settings or get_settings()
    if not settings.oidc_issuer:
        return None
    if not (settings.oidc_client_id and settings.oidc_client_secret):
        raise ValueError("CSPR_OIDC_ISSUER is set: set CSPR_OIDC_CLIENT_ID and CSPR_OIDC_CLIENT_SECRET too")
    if not _safe_url(settings.oidc_issuer):
        raise ValueError("CSPR_OIDC_ISSUER must be an https:// address (plain http only to this machine)")
    return Provider(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret, redirect_uri)


def start(provider: Provider, *, now: float | None = None) -> tuple[str, Pending]:
    """The provider's address to send the person to, and the pending sign-in to keep until they come back."""
    discovery = discover(provider.issuer)
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),  # 64 characters, within PKCE's 43 to 128
        started_at=time.time() if now is None else now,
    )
    url = prepare_grant_uri(
        discovery.authorization_endpoint,
        client_id=provider.client_id,
        response_type="code",
        redirect_uri=provider.redirect_uri,
        scope=SCOPE,
        state=pending.state,
        nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.code_verifier),
        code_challenge_method="S256",
    )
    return url, pending


def finish(provider: Provider, pending: Pending, query: Mapping[str, str], *, now: float | None = None) -> Claims:
    """Who signed in, from the provider's callback ``query`` for ``pending``; OidcRefused on anything wrong. The
    caller must use ``pending`` once only (forget it whatever this returns)."""
    now = time.time() if now is None else now
    code = _checked_callback(provider, pending, query, now)
    discovery = discover(provider.issuer)
    tokens = _exchange(provider, discovery, code, pending.code_verifier)
    claims = _id_token_claims(provider, discovery, tokens, pending.nonce, now)
    name = claims.get("name")
    email = claims.get("email")
    return Claims(
        subject=claims["sub"],
        email=email if isinstance(email, str) and email else None,
        email_verified=_email_verified(claims),
        name=name if isinstance(name, str) and name.strip() else None,
    )


def _email_verified(claims: Mapping[str, Any]) -> bool:
    """Whether the provider vouches for the address. Some send "true" as a string. Entra ID sends no
    ``email_verified`` for work accounts; its optional claim ``xms_edov`` says the address is in a domain the tenant
    has proved it owns, which, with the tenant's own issuer (checked on the token), is the same assurance."""
    if "email_verified" in claims:
        return claims["email_verified"] in (True, "true")
    return claims.get("xms_edov") in (True, "true")


def _checked_callback(provider: Provider, pending: Pending, query: Mapping[str, str], now: float) -> str:
    """The authorization code, once the callback is shown to answer this very start; else OidcRefused."""
    if "error" in query:
        error = query["error"] if ERROR_CODE.match(query["error"]) else "unreadable"
        raise OidcRefused(NOT_CONFIRMED, f"the provider answered {error}")
    # compare_digest: how much of the state matched must not show in the time taken
    if not hmac.compare_digest(query.get("state", "").encode(), pending.state.encode()):
        raise OidcRefused(START_AGAIN, "state does not match")
    if not 0 <= now - pending.started_at <= PENDING_MAX_AGE.total_seconds():
        raise OidcRefused(START_AGAIN, "pending sign-in expired")
    # RFC 9207: a provider that names itself must name ours, or the code came from another (a mix-up attack)
    if "iss" in query and query["iss"] != provider.issuer:
        raise OidcRefused(NOT_CONFIRMED, "callback from another issuer")
    code = query.get("code", "")
    if not code:
        raise OidcRefused(NOT_CONFIRMED, "no code in the callback")
    return code


def discover(issuer: str, *, refresh: bool = False) -> Discovery:
    """The provider's configuration, read from its discovery document and kept for ``DISCOVERY_MAX_AGE``."""
    cached = _discovered.get(issuer)
    if cached and not refresh and time.monotonic() - cached[0] < DISCOVERY_MAX_AGE:
        return cached[1]
    document = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
    discovery = _read_discovery(issuer, document)
    _discovered[issuer] = (time.monotonic(), discovery)
    _key_sets.pop(discovery.jwks_uri, None)  # read the keys afresh with the configuration
    return discovery


def forget_discovery() -> None:
    """Drop every cached configuration and key set (tests; a provider reconfigured while the gate runs)."""
    _discovered.clear()
    _key_sets.clear()


def _read_discovery(issuer: str, document: dict[str, Any]) -> Discovery:
    # OpenID Connect Discovery 1.0 section 4.3: the document must name the very issuer it was fetched for
    if document.get("issuer") != issuer:
        raise OidcRefused(MISCONFIGURED, "discovery names another issuer")
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str):
            raise OidcRefused(MISCONFIGURED, f"discovery has no {name}")
        if not _safe_url(value):
            raise OidcRefused(MISCONFIGURED, f"discovery's {name} is not an https address")
        endpoints[name] = value
    # providers that list their PKCE methods must list S256; Entra ID lists none and supports it
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise OidcRefused(MISCONFIGURED, "the provider does not offer PKCE with S256")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    signatures = tuple(alg for alg in SIGNATURES if alg in offered)
    if not signatures:
        raise OidcRefused(MISCONFIGURED, "the provider signs ID tokens with no algorithm accepted here")
    auth_methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    client_auth = next((m for m in ("client_secret_basic", "client_secret_post") if m in auth_methods), None)
    if client_auth is None:
        raise OidcRefused(MISCONFIGURED, "the provider takes no client secret at its token endpoint")
    return Discovery(signatures=signatures, client_auth=client_auth, **endpoints)


def _safe_url(url: str) -> bool:
    """Whether ``url`` is https, or http to this machine (the tests' provider): a sign-in over plain HTTP to another
    host could be read and changed on the way."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (parts.scheme == "https" and bool(host)) or (parts.scheme == "http" and _is_loopback(host))


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused(UNREACHABLE, f"{what}: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise OidcRefused(UNREACHABLE, f"{what}: not a JSON object")
    return document


def _exchange(provider: Provider, discovery: Discovery, code: str, code_verifier: str) -> dict[str, Any]:
    """The token endpoint's answer for ``code``, redeemed with the PKCE verifier and the client's secret."""
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=provider.redirect_uri, code_verifier=code_verifier
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    auth = ClientAuth(provider.client_id, provider.client_secret, discovery.client_auth)
    url, headers, body = auth.prepare("POST", discovery.token_endpoint, headers, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
        tokens = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused(UNREACHABLE, f"token endpoint: {type(exc).__name__}") from None
    if not isinstance(tokens, dict):
        raise OidcRefused(NOT_CONFIRMED, f"token endpoint: HTTP {response.status_code}, not a JSON object")
    if response.status_code != 200 or "error" in tokens:
        error = tokens.get("error")
        shown = error if isinstance(error, str) and ERROR_CODE.match(error) else "unreadable"
        raise OidcRefused(NOT_CONFIRMED, f"token endpoint: HTTP {response.status_code}, {shown}")
    return tokens


def _id_token_claims(
    provider: Provider, discovery: Discovery, tokens: dict[str, Any], nonce: str, now: float
) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, times and nonce are shown to be right."""
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused(NOT_CONFIRMED, "no ID token")
    registry = JWSRegistry(algorithms=list(discovery.signatures))
    try:
        try:
            token = jwt.decode(id_token, _key_set(discovery), registry=registry)
        except InvalidKeyIdError:  # the provider has rolled its keys since we read them
            token = jwt.decode(id_token, _key_set(discovery, refresh=True), registry=registry)
    except JoseError as exc:
        raise OidcRefused(NOT_CONFIRMED, f"ID token signature: {exc.error}") from None
    options = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    access_token = tokens.get("access_token")
    params = {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now), leeway=LEEWAY)
    except JoseError as exc:
        raise OidcRefused(NOT_CONFIRMED, f"ID token: {exc.error} ({exc.description})") from None
    if not 0 < len(claims["sub"]) <= 255:  # the register keeps a subject in 255 characters
        raise OidcRefused(NOT_CONFIRMED, "ID token: subject too long")
    return dict(claims)


def _key_set(discovery: Discovery, *, refresh: bool = False) -> KeySet:
    if refresh or discovery.jwks_uri not in _key_sets:
        document = _get_json(discovery.jwks_uri, "key set")
        try:
            _key_sets[discovery.jwks_uri] = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise OidcRefused(UNREACHABLE, "key set unreadable") from None
    return _key_sets[discovery.jwks_uri]
