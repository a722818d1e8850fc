"""DPoP, RFC 9449: proofs at the token endpoint (§4, §5), DPoP-bound access tokens (§6: ``cnf.jkt``,
``token_type`` DPoP) and a public client's refresh tokens, nonces (§8, §9), and DPoP-bound tokens at the
userinfo endpoint (§7). joserfc signs the proofs; raw HTTP drives the negative matrices.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params
from tests.proofs import dpop_key, dpop_proof, request_object

TOKEN = "https://idp.mockidp.test/token"
USERINFO = "https://idp.mockidp.test/userinfo"
CREDENTIALS = ("mockidp-client", "mockidp-secret")
SPA = Client(client_id="spa")
TLS = ssl.create_default_context()
ALGS = 'algs="ES256 RS256 PS256 EdDSA Ed25519"'


def make(key_pool: KeyPool, **config: Any) -> MockIdP:
    return MockIdP(ProviderConfig(**config), keys=key_pool)


def post(
    idp: MockIdP, data: dict[str, str], proof: str | list[str] | None, auth: tuple[str, str] | None = CREDENTIALS
) -> httpx2.Response:
    headers = [("DPoP", p) for p in ([proof] if isinstance(proof, str) else proof or [])]
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(
            TOKEN.replace("https://idp.mockidp.test", idp.issuer),
            data=data,
            headers=headers,
            auth=auth if auth is not None else httpx2.USE_CLIENT_DEFAULT,
        )


def userinfo(idp: MockIdP, authorization: str, proof: str | None = None) -> httpx2.Response:
    headers = {"Authorization": authorization, **({"DPoP": proof} if proof is not None else {})}
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo"), headers=headers)


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


def client_credentials(idp: MockIdP, key: ECKey | RSAKey) -> dict[str, Any]:
    response = post(idp, {"grant_type": "client_credentials"}, dpop_proof(key, "POST", TOKEN))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code_flow(idp: MockIdP, key: ECKey, client_id: str = "spa") -> dict[str, Any]:
    """The code flow of a public client whose token request carries a proof of ``key``."""
    request = auth_request(idp, client_id=client_id)
    code = callback_params(Browser(idp).authorize(request))["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": request.verifier or "",
        "client_id": client_id,
    }
    response = post(idp, data, dpop_proof(key, "POST", TOKEN), auth=None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(idp: MockIdP, token: str, proof: str | None, client_id: str = "spa") -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
    return post(idp, data, proof, auth=None)


@pytest.fixture
def spa(provider: MockIdP) -> MockIdP:
    provider.add_client(SPA)
    return provider


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time("2030-01-01T00:00:00Z") as frozen:
        assert isinstance(frozen, FrozenDateTimeFactory)
        yield frozen


# -- the token endpoint (§5, §6) ---------------------------------------------------------------


@pytest.mark.parametrize("key", [ECKey.generate_key("P-256"), RSAKey.generate_key(2048)], ids=["ES256", "RS256"])
def test_a_proof_binds_the_access_token_to_its_key(provider: MockIdP, key: ECKey | RSAKey) -> None:
    body = client_credentials(provider, key)

    assert body["token_type"] == "DPoP"
    assert claims_of(provider, body["access_token"])["cnf"] == {"jkt": key.thumbprint()}
    assert provider.requests[-1].dpop_jkt == key.thumbprint()


def test_without_a_proof_tokens_stay_bearer(provider: MockIdP) -> None:
    response = post(provider, {"grant_type": "client_credentials"}, None)

    assert response.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(provider, response.json()["access_token"])
    assert provider.requests[-1].dpop_jkt is None


def test_a_public_clients_refresh_token_is_bound_to_the_key(spa: MockIdP) -> None:
    key, other = dpop_key(), dpop_key()
    tokens = code_flow(spa, key)

    unproven = refresh(spa, tokens["refresh_token"], None)
    stranger = refresh(spa, tokens["refresh_token"], dpop_proof(other, "POST", TOKEN))
    proven = refresh(spa, tokens["refresh_token"], dpop_proof(key, "POST", TOKEN))

    assert tokens["token_type"] == "DPoP"
    assert unproven.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "the refresh token is bound to a DPoP key: send a proof signed with it"
        " (RFC 9449 section 5)",
    }
    assert stranger.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "the DPoP proof is signed with another key than the one the refresh token is bound to"
        " (RFC 9449 section 5)",
    }
    assert proven.status_code == 200
    again = refresh(spa, proven.json()["refresh_token"], dpop_proof(key, "POST", TOKEN))
    assert claims_of(spa, again.json()["access_token"])["cnf"] == {"jkt": key.thumbprint()}


def test_a_confidential_clients_refresh_token_is_not_bound(provider: MockIdP) -> None:
    key = dpop_key()
    request = auth_request(provider)
    code = callback_params(Browser(provider).authorize(request))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = post(provider, {**data, "code_verifier": request.verifier or ""}, dpop_proof(key, "POST", TOKEN)).json()

    refreshed = post(provider, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, None)

    assert tokens["token_type"] == "DPoP"
    assert refreshed.json()["token_type"] == "Bearer"


def test_a_client_registered_with_dpop_bound_access_tokens_must_send_a_proof(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="bound", client_secret="s", dpop_bound_access_tokens=True))

    refused = post(provider, {"grant_type": "client_credentials"}, None, auth=("bound", "s"))
    bound = post(provider, {"grant_type": "client_credentials"}, dpop_proof(dpop_key(), "POST", TOKEN), ("bound", "s"))

    assert (refused.status_code, refused.json()) == (
        400,
        {
            "error": "invalid_dpop_proof",
            "error_description": "client 'bound' is registered with dpop_bound_access_tokens: send a DPoP proof"
            " (RFC 9449 section 5.2)",
        },
    )
    assert bound.json()["token_type"] == "DPoP"


KEY = ECKey.generate_key("P-256")
OTHER = ECKey.generate_key("P-256")


def signed_by_other() -> str:
    """A proof whose jwk header names KEY, signed by OTHER."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.as_dict(private=False)}
    return jwt.encode(header, {"jti": "j", "htm": "POST", "htu": TOKEN, "iat": int(time.time())}, OTHER)


def hs256() -> str:
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}
    return jwt.encode(
        header, {"jti": "j", "htm": "POST", "htu": TOKEN, "iat": int(time.time())}, OctKey.import_key("s" * 32)
    )


BAD_PROOFS: list[tuple[str, Any, str]] = [
    ("not-a-jwt", lambda: "abc", "the DPoP proof is not a signed JWT in compact form (decode_error: Invalid JSON Web"
     " Signature); see RFC 9449 section 4.2"),
    ("two-headers", lambda: [dpop_proof(KEY, "POST", TOKEN), dpop_proof(KEY, "POST", TOKEN)],
     "send one DPoP header, got 2 (RFC 9449 section 4.3)"),
    ("typ", lambda: dpop_proof(KEY, "POST", TOKEN, header={"typ": "JWT"}),
     "the DPoP proof's typ must be 'dpop+jwt', got 'JWT' (RFC 9449 section 4.2)"),
    ("hs256", hs256, "DPoP proof alg 'HS256' is not supported; use one of ES256, RS256, PS256, EdDSA, Ed25519"),
    ("no-jwk", lambda: dpop_proof(KEY, "POST", TOKEN, header={"jwk": None}),
     "the DPoP proof has no jwk header: put the public key that verifies it there (RFC 9449 section 4.2)"),
    ("private-jwk", lambda: dpop_proof(KEY, "POST", TOKEN, header={"jwk": dict(KEY.as_dict(private=True))}),
     "the DPoP proof's jwk carries a private key: send the public key only (RFC 9449 section 4.2)"),
    ("bad-jwk", lambda: dpop_proof(KEY, "POST", TOKEN, header={"jwk": {"kty": "EC", "crv": "P-256"}}),
     "the DPoP proof could not be verified with the jwk in its header (key_parameter: 'x' is required)"),
    ("signature", signed_by_other, "the DPoP proof's signature does not verify with the jwk in its header"),
    ("no-jti", lambda: dpop_proof(KEY, "POST", TOKEN, jti=None),
     "the DPoP proof has no valid jti claim (RFC 9449 section 4.2)"),
    ("iat-string", lambda: dpop_proof(KEY, "POST", TOKEN, iat="now"),
     "the DPoP proof has no valid iat claim (RFC 9449 section 4.2)"),
    ("htm", lambda: dpop_proof(KEY, "GET", TOKEN), "the DPoP proof's htm is 'GET', but the request is a POST"),
    ("htu", lambda: dpop_proof(KEY, "POST", "https://idp.mockidp.test/userinfo"),
     "the DPoP proof's htu is 'https://idp.mockidp.test/userinfo', but the request went to"
     " 'https://idp.mockidp.test/token' (RFC 9449 section 4.3)"),
    ("ipv6", lambda: dpop_proof(KEY, "POST", "https://[::1]:8443/token"),
     "the DPoP proof's htu is 'https://[::1]:8443/token', but the request went to 'https://idp.mockidp.test/token'"
     " (RFC 9449 section 4.3)"),
    ("old", lambda: dpop_proof(KEY, "POST", TOKEN, iat=int(time.time()) - 301),
     "the DPoP proof is too old: its iat is more than 300 s before the provider's clock"),
    ("ahead", lambda: dpop_proof(KEY, "POST", TOKEN, iat=int(time.time()) + 61),
     "the DPoP proof's iat is more than 60 s ahead of the provider's clock"),
]  # fmt: skip


@pytest.mark.parametrize(("proof", "description"), [c[1:] for c in BAD_PROOFS], ids=[c[0] for c in BAD_PROOFS])
def test_bad_proofs_are_refused_at_the_token_endpoint(provider: MockIdP, proof: Any, description: str) -> None:
    response = post(provider, {"grant_type": "client_credentials"}, proof())

    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_dpop_proof", "error_description": description},
    )
    assert provider.state.access_tokens == {}


def test_a_proof_is_good_for_one_request(provider: MockIdP) -> None:
    proof = dpop_proof(KEY, "POST", TOKEN)

    first = post(provider, {"grant_type": "client_credentials"}, proof)
    replayed = post(provider, {"grant_type": "client_credentials"}, proof)

    assert first.status_code == 200
    assert replayed.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "the DPoP proof was already used (its jti was seen before): make a new proof for each"
        " request",
    }


def test_htu_is_compared_without_query_case_or_default_port(provider: MockIdP) -> None:
    proof = dpop_proof(KEY, "POST", "HTTPS://IDP.mockidp.test:443/token?x=1#f")

    assert post(provider, {"grant_type": "client_credentials"}, proof).json()["token_type"] == "DPoP"


# -- nonces (§8, §9) -------------------------------------------------------------------------


def test_a_provider_that_wants_nonces_hands_one_out(key_pool: KeyPool) -> None:
    idp = make(key_pool, dpop_nonce=True)

    challenged = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN))
    nonce = challenged.headers["dpop-nonce"]
    answered = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN, nonce=nonce))
    made_up = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN, nonce="made-up"))

    assert (challenged.status_code, challenged.json()) == (
        400,
        {
            "error": "use_dpop_nonce",
            "error_description": "the provider requires a nonce in DPoP proofs: make a new proof with the nonce in the"
            " DPoP-Nonce header (RFC 9449 section 8)",
        },
    )
    assert answered.json()["token_type"] == "DPoP"
    assert made_up.json()["error_description"] == (
        "the DPoP proof's nonce is not one the provider issued, or it expired: make a new proof with the nonce in"
        " the DPoP-Nonce header (RFC 9449 section 8)"
    )
    assert made_up.headers["dpop-nonce"] not in ("", nonce)


def test_a_nonce_expires(key_pool: KeyPool, clock: FrozenDateTimeFactory) -> None:
    idp = make(key_pool, dpop_nonce=True)
    nonce = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN)).headers["dpop-nonce"]

    clock.tick(299)
    in_time = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN, nonce=nonce))
    clock.tick(1)
    late = post(idp, {"grant_type": "client_credentials"}, dpop_proof(KEY, "POST", TOKEN, nonce=nonce))

    assert in_time.status_code == 200
    assert late.json()["error"] == "use_dpop_nonce"


def test_the_userinfo_endpoint_asks_for_a_nonce_with_a_dpop_challenge(key_pool: KeyPool) -> None:
    idp = make(key_pool, dpop_nonce=True)
    key = dpop_key()
    nonce = post(idp, {"grant_type": "client_credentials"}, dpop_proof(key, "POST", TOKEN)).headers["dpop-nonce"]
    tokens = idp.issue_tokens()  # a bearer token: no proof needed
    del tokens
    request = auth_request(idp)
    code = callback_params(Browser(idp).authorize(request))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    proof = dpop_proof(key, "POST", TOKEN, nonce=nonce)
    access = post(idp, {**data, "code_verifier": request.verifier or ""}, proof).json()["access_token"]

    response = userinfo(idp, f"DPoP {access}", dpop_proof(key, "GET", USERINFO, access_token=access))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'DPoP {ALGS}, error="use_dpop_nonce", error_description="the provider requires a nonce in DPoP proofs:'
        ' make a new proof with the nonce in the DPoP-Nonce header (RFC 9449 section 8)"'
    )
    fresh = response.headers["dpop-nonce"]
    retried = userinfo(idp, f"DPoP {access}", dpop_proof(key, "GET", USERINFO, access_token=access, nonce=fresh))
    assert retried.json()["sub"] == "alice"


# -- the userinfo endpoint (§7) ------------------------------------------------------------------


@pytest.fixture
def bound(provider: MockIdP) -> tuple[MockIdP, ECKey, str]:
    """A provider, a DPoP key and an access token for alice bound to it."""
    key = dpop_key()
    request = auth_request(provider)
    code = callback_params(Browser(provider).authorize(request))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    tokens = post(provider, {**data, "code_verifier": request.verifier or ""}, dpop_proof(key, "POST", TOKEN)).json()
    return provider, key, tokens["access_token"]


def test_userinfo_answers_a_bound_token_with_its_proof(bound: tuple[MockIdP, ECKey, str]) -> None:
    idp, key, access = bound

    response = userinfo(idp, f"DPoP {access}", dpop_proof(key, "GET", USERINFO, access_token=access))

    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert idp.requests[-1].dpop_jkt == key.thumbprint()


def test_a_bearer_token_is_not_sent_with_the_dpop_scheme(provider: MockIdP) -> None:
    access = provider.issue_tokens().access_token

    response = userinfo(provider, f"DPoP {access}", dpop_proof(KEY, "GET", USERINFO, access_token=access))

    assert response.status_code == 401
    assert response.json()["error_description"] == (
        "the access token is not DPoP-bound: send it as 'Authorization: Bearer <access token>'"
    )


RESOURCE_ERRORS: list[tuple[str, str, str, str]] = [
    ("bearer", "Bearer", "", "invalid_token"),
    ("no-proof", "DPoP", "none", "invalid_dpop_proof"),
    ("no-ath", "DPoP", "no-ath", "invalid_dpop_proof"),
    ("wrong-ath", "DPoP", "wrong-ath", "invalid_dpop_proof"),
    ("other-key", "DPoP", "other-key", "invalid_dpop_proof"),
    ("htm", "DPoP", "htm", "invalid_dpop_proof"),
]
RESOURCE_DESCRIPTIONS = {
    "bearer": "the access token is DPoP-bound: send it as 'Authorization: DPoP <access token>' with a DPoP proof"
    " (RFC 9449 section 7.1)",
    "no-proof": "no DPoP header: a DPoP-bound access token comes with a proof (RFC 9449 section 7.1)",
    "no-ath": "the DPoP proof has no ath: a proof sent with an access token carries its hash (RFC 9449 section 4.2)",
    "wrong-ath": "the DPoP proof's ath is not the hash of this access token (RFC 9449 section 4.3)",
    "other-key": "the DPoP proof is signed with another key than the one the access token is bound to (cnf.jkt)",
    "htm": "the DPoP proof's htm is 'POST', but the request is a GET",
}


@pytest.mark.parametrize(("case", "scheme", "proof", "error"), RESOURCE_ERRORS, ids=[c[0] for c in RESOURCE_ERRORS])
def test_userinfo_refuses_a_bound_token_without_its_proof(
    bound: tuple[MockIdP, ECKey, str], case: str, scheme: str, proof: str, error: str
) -> None:
    idp, key, access = bound
    proofs = {
        "": dpop_proof(key, "GET", USERINFO, access_token=access),
        "none": None,
        "no-ath": dpop_proof(key, "GET", USERINFO),
        "wrong-ath": dpop_proof(key, "GET", USERINFO, access_token="another token"),
        "other-key": dpop_proof(OTHER, "GET", USERINFO, access_token=access),
        "htm": dpop_proof(key, "POST", USERINFO, access_token=access),
    }

    response = userinfo(idp, f"{scheme} {access}", proofs[proof])

    description = RESOURCE_DESCRIPTIONS[case]
    assert (response.status_code, response.json()) == (401, {"error": error, "error_description": description})
    assert response.headers["www-authenticate"] == (f'DPoP {ALGS}, error="{error}", error_description="{description}"')


def test_a_bound_token_in_the_form_body_is_refused(bound: tuple[MockIdP, ECKey, str]) -> None:
    idp, key, access = bound
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(
            idp.endpoint("userinfo"), data={"access_token": access}, headers={"DPoP": dpop_proof(key, "POST", USERINFO)}
        )

    assert response.json()["error"] == "invalid_token"


def test_introspection_shows_the_binding(bound: tuple[MockIdP, ECKey, str]) -> None:
    idp, key, access = bound
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        body = client.post(idp.endpoint("introspection"), data={"token": access}, auth=CREDENTIALS).json()

    assert (body["active"], body["token_type"], body["cnf"]) == (True, "DPoP", {"jkt": key.thumbprint()})


def test_discovery_lists_the_dpop_algorithms(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        meta = client.get(provider.metadata_url).json()

    assert meta["dpop_signing_alg_values_supported"] == ["ES256", "RS256", "PS256", "EdDSA", "Ed25519"]


# -- end to end -----------------------------------------------------------------------------------


def test_par_request_object_code_dpop_and_userinfo_over_a_socket(key_pool: KeyPool) -> None:
    """A public client pushes a signed request object, logs in, gets DPoP-bound tokens with a nonce, and
    reads userinfo, all over a real socket."""
    idp = make(key_pool, dpop_nonce=True, require_pushed_authorization_requests=True)
    confidential = idp.client
    key = dpop_key()
    with idp.serve() as issuer, httpx2.Client(verify=TLS) as http:
        meta = http.get(issuer + "/.well-known/openid-configuration").json()
        request = auth_request(idp)
        signed = request_object(confidential, issuer, request.params)
        pushed = http.post(
            meta["pushed_authorization_request_endpoint"],
            data={"request": signed},
            auth=CREDENTIALS,
        )
        redirect = http.get(
            meta["authorization_endpoint"],
            params={"client_id": confidential.client_id, "request_uri": pushed.json()["request_uri"]},
        )
        code = callback_params(redirect)["code"]
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": request.verifier or "",
        }
        token_url = meta["token_endpoint"]
        challenged = http.post(
            token_url, data=data, auth=CREDENTIALS, headers={"DPoP": dpop_proof(key, "POST", token_url)}
        )
        nonce = challenged.headers["dpop-nonce"]
        proof = dpop_proof(key, "POST", token_url, nonce=nonce)
        tokens = http.post(token_url, data=data, auth=CREDENTIALS, headers={"DPoP": proof}).json()
        access = tokens["access_token"]
        info_proof = dpop_proof(key, "GET", meta["userinfo_endpoint"], access_token=access, nonce=nonce)
        info = http.get(meta["userinfo_endpoint"], headers={"Authorization": f"DPoP {access}", "DPoP": info_proof})

    assert pushed.status_code == 201
    assert callback_params(redirect)["state"] == request.state
    assert challenged.json()["error"] == "use_dpop_nonce"
    assert tokens["token_type"] == "DPoP"
    assert (info.status_code, info.json()["sub"]) == (200, "alice")
    assert [r.endpoint for r in idp.requests][-5:] == ["par", "authorize", "token", "token", "userinfo"]
    assert idp.requests.filter(endpoint="par")[0].request_object is True


def test_a_browser_may_send_proofs_and_read_nonces(key_pool: KeyPool) -> None:
    idp = make(key_pool, cors_origins=("https://spa.example",), dpop_nonce=True)
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        preflight = client.options(
            TOKEN,
            headers={
                "Origin": "https://spa.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, dpop",
            },
        )
        challenged = client.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            auth=CREDENTIALS,
            headers={"Origin": "https://spa.example", "DPoP": dpop_proof(KEY, "POST", TOKEN)},
        )

    assert preflight.status_code == 200
    assert "DPoP" in preflight.headers["access-control-allow-headers"]
    assert challenged.headers["access-control-expose-headers"] == "DPoP-Nonce, WWW-Authenticate"
    assert challenged.headers["dpop-nonce"]
