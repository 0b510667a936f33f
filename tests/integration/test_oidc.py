"""Sign-in with OpenID Connect against a real provider on loopback (`oidc-provider` from npm, tests/utils/oidc.py):
the authorization code flow of gate/oidc.py with PKCE, state and nonce, then the match to the register
(models.people.match_oidc), whose roles are the only ones a person gets. Every person here is invented."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.engine import Engine

from gate import oidc
from gate.oidc import Claims, OidcRefused, Pending
from models.db import transaction
from models.people import NotMatched, add_person, match_oidc, people
from models.review.transitions import Actor
from models.roles import Role
from models.settings import Settings
from tests.utils.factories import make_partnership
from tests.utils.oidc import LoopbackProvider, ProviderAccount, running_provider, sign_in_at_provider

OPERATOR = Actor("an operator (command line)", Role.OPERATOR)
DANA = ProviderAccount("5b0e7d4e-0c55-4d4a-9d55-dana00000001", "dana.okafor@northshire-police.example", "Dana Okafor")
# has an account at her organisation's provider, and none in cspr
ROBIN = ProviderAccount(
    "5b0e7d4e-0c55-4d4a-9d55-robin0000002", "robin.ashdown@northshire-police.example", "Robin Ashdown"
)

# as Entra ID sends a work account: no email_verified; with and without the optional claim xms_edov
ENTRA = ProviderAccount(
    "5b0e7d4e-0c55-4d4a-9d55-entra0000003", "kit.morrow@northshire.example", "Kit Morrow", None, xms_edov=True
)
UNVOUCHED = ProviderAccount("5b0e7d4e-0c55-4d4a-9d55-plain0000004", "lee.vance@northshire.example", "Lee Vance", None)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc"), [DANA, ROBIN, ENTRA, UNVOUCHED]) as server:
        yield server
    oidc.forget_discovery()


@pytest.fixture
def register(engine: Engine) -> Engine:
    """Dana registered as the police representative of two partnerships (never through the provider)."""
    with transaction(engine) as session:
        for code in ("northshire", "southmoor"):
            make_partnership(session, code)
            add_person(
                session,
                name=DANA.name,
                email=DANA.email,
                role=Role.POLICE,
                partnership_code=code,
                organisation=f"{code.title()} Police",
                by=OPERATOR,
            )
    return engine


def signed_in_at_provider(idp: LoopbackProvider, person: ProviderAccount) -> tuple[Pending, dict[str, str]]:
    """A sign-in started by the gate, completed by the person at the provider: the callback the browser brings."""
    authorization_url, pending = oidc.start(idp.provider)
    return pending, sign_in_at_provider(authorization_url, person.sub)


def refused(idp: LoopbackProvider, pending: Pending, callback: dict[str, str]) -> OidcRefused:
    with pytest.raises(OidcRefused) as caught:
        oidc.finish(idp.provider, pending, callback)
    for shown in (str(caught.value), caught.value.reason):  # what the person sees and what the gate logs
        assert callback["code"] not in shown and idp.client_secret not in shown
    return caught.value


class TestSignIn:
    def test_a_registered_person_gets_in_with_the_registers_roles(
        self, idp: LoopbackProvider, register: Engine
    ) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        claims = oidc.finish(idp.provider, pending, callback)
        assert claims == Claims(DANA.sub, DANA.email, True, DANA.name)
        with transaction(register) as session:
            account = match_oidc(
                session, subject=claims.subject, email=claims.email, email_verified=claims.email_verified
            )
            roles = {(p.role, p.partnership) for p in people(session) if p.email == account.email and p.active}
        assert account.oidc_subject == DANA.sub
        assert roles == {("police", "northshire"), ("police", "southmoor")}

        pending, callback = signed_in_at_provider(idp, DANA)  # the next time, her subject alone finds her
        claims = oidc.finish(idp.provider, pending, callback)
        with transaction(register) as session:
            assert match_oidc(session, subject=claims.subject, email=None, email_verified=False).id == account.id

    def test_an_unregistered_person_is_refused_with_a_clear_message(
        self, idp: LoopbackProvider, register: Engine
    ) -> None:
        pending, callback = signed_in_at_provider(idp, ROBIN)
        claims = oidc.finish(idp.provider, pending, callback)  # the provider knows him
        with pytest.raises(NotMatched) as caught, transaction(register) as session:
            match_oidc(session, subject=claims.subject, email=claims.email, email_verified=claims.email_verified)
        assert str(caught.value) == (
            "You signed in as robin.ashdown@northshire-police.example at your organisation, but you are not "
            "registered in cspr; ask an operator to add you."
        )

    @pytest.mark.parametrize(("person", "verified"), [(ENTRA, True), (UNVOUCHED, False)], ids=["xms_edov", "neither"])
    def test_entra_ids_domain_claim_vouches_for_an_address_when_email_verified_is_not_sent(
        self, idp: LoopbackProvider, person: ProviderAccount, verified: bool
    ) -> None:
        pending, callback = signed_in_at_provider(idp, person)
        assert oidc.finish(idp.provider, pending, callback).email_verified is verified


class TestRefusals:
    def test_a_tampered_state_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        refusal = refused(idp, pending, {**callback, "state": "x" + callback["state"]})
        assert (str(refusal), refusal.reason) == (oidc.START_AGAIN, "state does not match")

    def test_a_wrong_nonce_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        refusal = refused(idp, dataclasses.replace(pending, nonce="a-nonce-from-another-start"), callback)
        assert (str(refusal), refusal.reason) == (
            oidc.NOT_CONFIRMED,
            "ID token: invalid_claim (Invalid claim: 'nonce')",
        )

    def test_an_id_token_signed_with_another_key_is_refused(
        self, idp: LoopbackProvider, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        discovery = oidc.discover(idp.issuer)
        (real,) = httpx.get(discovery.jwks_uri).json()["keys"]
        # the provider's key id, someone else's key: as if the token had been forged and the key set swapped
        impostor = KeySet([RSAKey.generate_key(2048, parameters={"kid": real["kid"]})])
        monkeypatch.setitem(oidc._key_sets, discovery.jwks_uri, impostor)
        refusal = refused(idp, pending, callback)
        assert (str(refusal), refusal.reason) == (oidc.NOT_CONFIRMED, "ID token signature: bad_signature")

    def test_an_expired_id_token_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        later = time.time() + 3600  # the ID token lives 5 minutes; the sign-in itself is made to look fresh
        with pytest.raises(OidcRefused) as caught:
            oidc.finish(idp.provider, dataclasses.replace(pending, started_at=later - 1), callback, now=later)
        assert caught.value.reason == "ID token: expired_token (The token is expired)"

    def test_a_code_replayed_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        assert oidc.finish(idp.provider, pending, callback).subject == DANA.sub
        refusal = refused(idp, pending, callback)
        assert (str(refusal), refusal.reason) == (oidc.NOT_CONFIRMED, "token endpoint: HTTP 400, invalid_grant")

    def test_a_code_without_its_pkce_verifier_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)  # as if someone else had caught the code on its way
        refusal = refused(idp, dataclasses.replace(pending, code_verifier="v" * 64), callback)
        assert refusal.reason == "token endpoint: HTTP 400, invalid_grant"

    def test_a_sign_in_left_too_long_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        stale = dataclasses.replace(pending, started_at=pending.started_at - oidc.PENDING_MAX_AGE.total_seconds() - 1)
        assert refused(idp, stale, callback).reason == "pending sign-in expired"

    def test_a_callback_from_another_issuer_is_refused(self, idp: LoopbackProvider) -> None:
        pending, callback = signed_in_at_provider(idp, DANA)
        refusal = refused(idp, pending, {**callback, "iss": "https://login.example"})
        assert refusal.reason == "callback from another issuer"

    def test_a_provider_that_names_another_issuer_is_refused(self, idp: LoopbackProvider) -> None:
        impostor = dataclasses.replace(idp.provider, issuer=idp.issuer + "/")  # its discovery names the real one
        with pytest.raises(OidcRefused) as caught:
            oidc.start(impostor)
        assert (str(caught.value), caught.value.reason) == (oidc.MISCONFIGURED, "discovery names another issuer")


def test_a_pending_sign_in_survives_a_cookie_and_a_tampered_one_is_refused() -> None:
    pending = Pending("state", "nonce", "verifier", 1.5)
    assert Pending.from_json(pending.as_json()) == pending
    for bad in ("", "{}", '{"state": 1, "nonce": "n", "code_verifier": "v", "started_at": 0}', "[]"):
        with pytest.raises(OidcRefused, match="start again"):
            Pending.from_json(bad)


def test_the_provider_is_configured_whole_and_over_https_or_not_at_all() -> None:
    redirect = "https://cspr.northshire.example/sign-in/oidc/callback"
    entra = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"
    assert oidc.provider_from_settings(redirect, Settings(oidc_issuer=None)) is None  # not set up: local accounts only
    whole = Settings(oidc_issuer=entra, oidc_client_id="app-id", oidc_client_secret="s3cret-value")
    provider = oidc.provider_from_settings(redirect, whole)
    assert provider == oidc.Provider(entra, "app-id", "s3cret-value", redirect)
    assert "s3cret-value" not in repr(provider)
    with pytest.raises(ValueError, match="set CSPR_OIDC_CLIENT_ID and CSPR_OIDC_CLIENT_SECRET too"):
        oidc.provider_from_settings(redirect, whole.model_copy(update={"oidc_client_secret": None}))
    with pytest.raises(ValueError, match="must be an https:// address"):
        oidc.provider_from_settings(redirect, whole.model_copy(update={"oidc_issuer": "http://idp.northshire.example"}))
