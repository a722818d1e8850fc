"""PyJWT's ``PyJWKClient`` against the loopback server (``serve()``): it fetches the JWK Set (RFC 7517
§5) over a real socket with urllib, picks the key by ``kid`` (RFC 7515 §4.1.4) and verifies tokens
from ``issue_tokens()``; the discovery document (OIDC Discovery §3) served there names the loopback
issuer, and so do the tokens. Key rotation: an unknown ``kid`` makes PyJWKClient fetch the set again.
A client's ``id_token_signed_response_alg`` (OIDC Registration §2) picks the ID token's key.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from jwt import PyJWKClient, PyJWKClientError

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from mockidp._config import Algorithm

OIDC = "/.well-known/openid-configuration"
API = "https://api.example.test"
#: PyJWT knows EdDSA but not RFC 9864's fully specified "Ed25519", so that one is left out here.
ALGORITHMS: list[Algorithm] = ["RS256", "PS256", "ES256", "EdDSA"]


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url) as response:
        body: dict[str, Any] = json.load(response)
    return body


@pytest.fixture
def served(key_pool: KeyPool, request: pytest.FixtureRequest) -> Iterator[tuple[MockIdP, dict[str, Any]]]:
    """A provider (signing with the parametrized algorithm, RS256 by default) and its served metadata."""
    algorithm: Algorithm = getattr(request, "param", "RS256")
    idp = MockIdP(ProviderConfig(algorithm=algorithm), keys=key_pool)
    with idp.serve() as issuer:
        yield idp, fetch_json(issuer + OIDC)


@pytest.mark.parametrize("served", ALGORITHMS, indirect=True)
def test_pyjwkclient_verifies_issued_tokens_against_the_served_jwks(served: tuple[MockIdP, dict[str, Any]]) -> None:
    idp, metadata = served
    assert metadata["issuer"] == idp.issuer
    assert metadata["issuer"].startswith("http://127.0.0.1:")
    assert metadata["jwks_uri"] == idp.issuer + "/jwks"
    tokens = idp.issue_tokens(audience=API)
    assert tokens.id_token is not None
    keys = PyJWKClient(metadata["jwks_uri"])
    algorithms = metadata["id_token_signing_alg_values_supported"]

    id_token = jwt.decode(
        tokens.id_token,
        keys.get_signing_key_from_jwt(tokens.id_token),
        algorithms=algorithms,
        audience="mockidp-client",
        issuer=metadata["issuer"],
        options={"require": ["exp", "iat", "sub"]},
    )
    access_token = jwt.decode(
        tokens.access_token,
        keys.get_signing_key_from_jwt(tokens.access_token),
        algorithms=algorithms,
        audience=API,
        issuer=metadata["issuer"],
    )

    assert id_token["sub"] == access_token["sub"] == "alice"
    assert jwt.get_unverified_header(tokens.access_token)["typ"] == "at+jwt"
    assert jwt.get_unverified_header(tokens.id_token)["alg"] == idp.keys.alg
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(tokens.id_token, keys.get_signing_key_from_jwt(tokens.id_token), algorithms=algorithms, audience=API)


def test_tokens_name_the_loopback_issuer_only_while_serving(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    with idp.serve() as issuer:
        served_token = idp.issue_tokens().access_token
    configured_token = idp.issue_tokens().access_token

    assert jwt.decode(served_token, options={"verify_signature": False})["iss"] == issuer
    assert jwt.decode(configured_token, options={"verify_signature": False})["iss"] == "https://idp.mockidp.test"


def test_pyjwkclient_follows_a_key_rotation(served: tuple[MockIdP, dict[str, Any]]) -> None:
    idp, metadata = served
    # PyJWT (2.15 here) refetches for an unknown kid only after a cooldown since its last fetch (30 s by default).
    keys = PyJWKClient(metadata["jwks_uri"], cache_keys=True, cooldown_duration=0)
    before = idp.issue_tokens().access_token
    assert keys.get_signing_key_from_jwt(before).key_id == jwt.get_unverified_header(before)["kid"]

    new_kid = idp.rotate_keys("ES256")
    after = idp.issue_tokens().access_token
    key = keys.get_signing_key_from_jwt(after)  # an unknown kid: PyJWKClient fetches the set again

    assert key.key_id == new_kid
    claims = jwt.decode(after, key, algorithms=["ES256"], options={"verify_aud": False})
    assert claims["iss"] == metadata["issuer"]
    assert keys.get_signing_key_from_jwt(before).key_id != new_kid  # the old key is still published
    assert len(idp.requests.filter(endpoint="jwks")) == 2


def test_a_retired_key_is_gone_from_the_served_set(served: tuple[MockIdP, dict[str, Any]]) -> None:
    idp, metadata = served
    old = idp.issue_tokens().access_token
    old_kid = jwt.get_unverified_header(old)["kid"]
    idp.rotate_keys()

    assert idp.retire_keys() == [old_kid]
    with pytest.raises(PyJWKClientError, match=f'^Unable to find a signing key that matches: "{old_kid}"$'):
        PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(old)


def test_pyjwkclient_verifies_a_clients_rs256_id_token_from_an_es256_provider(key_pool: KeyPool) -> None:
    client = Client(client_id="web", client_secret="s", id_token_signed_response_alg="RS256")
    idp = MockIdP(ProviderConfig(algorithm="ES256", clients=(client,)), keys=key_pool)
    with idp.serve() as issuer:
        metadata = fetch_json(issuer + OIDC)
        keys = PyJWKClient(metadata["jwks_uri"])
        keys.get_jwk_set()  # fetched (and cached) before any token is issued
        tokens = idp.issue_tokens()
        assert tokens.id_token is not None
        id_key = keys.get_signing_key_from_jwt(tokens.id_token)
        access_key = keys.get_signing_key_from_jwt(tokens.access_token)

    algorithms = metadata["id_token_signing_alg_values_supported"]
    claims = jwt.decode(tokens.id_token, id_key, algorithms=algorithms, audience="web", issuer=issuer)

    assert algorithms == ["ES256", "RS256"]
    assert claims["sub"] == "alice"
    assert jwt.get_unverified_header(tokens.id_token)["alg"] == id_key.algorithm_name == "RS256"
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == access_key.algorithm_name == "ES256"
    assert len(idp.requests.filter(endpoint="jwks")) == 1  # both keys were in the set fetched first
