"""Signing keys and the JWK Set: RFC 7517 §4-§5, RFC 7518 §3 (RS256, PS256, ES256), RFC 8037 and
RFC 9864 (EdDSA, Ed25519); key rotation as OIDC Core §10.1 describes it (publish the new key, keep
the old one until the tokens it signed have expired, then retire it).
"""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import KeySet

from mockidp import ConfigError, KeyPool, MockIdP, ProviderConfig

ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"]
KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP", "Ed25519": "OKP"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def decode(token: str, jwks: dict[str, Any], alg: str) -> jwt.Token:
    """Verify ``token`` as a relying party would: against the published JWKS, for one algorithm."""
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc's own note that EdDSA is deprecated
        return jwt.decode(token, keys, algorithms=[alg])


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


def served_jwks(idp: MockIdP) -> dict[str, Any]:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.get(idp.jwks_uri)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def userinfo_status(idp: MockIdP, access_token: str) -> int:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(
            idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"}
        ).status_code


@pytest.fixture(params=ALGORITHMS)
def any_alg(request: pytest.FixtureRequest, key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(algorithm=request.param), keys=key_pool)


def test_the_default_algorithm_is_rs256(provider: MockIdP) -> None:
    [key] = served_jwks(provider)["keys"]

    assert (key["kty"], key["alg"]) == ("RSA", "RS256")


def test_the_served_jwks_is_the_public_key_set(any_alg: MockIdP) -> None:
    jwks = served_jwks(any_alg)
    alg = any_alg.config.algorithm

    assert jwks == any_alg.jwks()
    [key] = jwks["keys"]
    assert key["kid"] == any_alg.keys.current.kid
    assert (key["kty"], key["alg"], key["use"]) == (KEY_TYPES[alg], alg, "sig")
    assert not PRIVATE_MEMBERS & set(key)


def test_the_jwks_is_not_cached_for_long(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        assert client.get(provider.jwks_uri).headers["cache-control"] == "no-cache"


def test_tokens_verify_against_the_jwks_for_every_algorithm(any_alg: MockIdP) -> None:
    alg = any_alg.config.algorithm
    tokens = any_alg.issue_tokens()
    assert tokens.id_token is not None

    id_token = decode(tokens.id_token, any_alg.jwks(), alg)
    access = decode(tokens.access_token, any_alg.jwks(), alg)

    assert id_token.header == {"alg": alg, "kid": any_alg.keys.current.kid, "typ": "JWT"}
    assert access.header == {"alg": alg, "kid": any_alg.keys.current.kid, "typ": "at+jwt"}
    assert userinfo_status(any_alg, tokens.access_token) == 200


def test_a_token_signed_with_another_key_does_not_verify(key_pool: KeyPool) -> None:
    rs = MockIdP(keys=key_pool)
    other = MockIdP(keys=key_pool)
    other.rotate_keys()
    token = other.issue_tokens().access_token

    with pytest.raises(JoseError):
        decode(token, rs.jwks(), "RS256")
    assert userinfo_status(rs, token) == 401


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_edwards_keys_sign_without_warnings(key_pool: KeyPool, alg: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idp = MockIdP(ProviderConfig(algorithm=alg), keys=key_pool)  # type: ignore[arg-type]
        tokens = idp.issue_tokens()
        status = userinfo_status(idp, tokens.access_token)

    assert status == 200
    assert [str(w.message) for w in caught] == []


# -- rotation -----------------------------------------------------------------------------------


def test_rotation_signs_with_a_new_key_and_keeps_the_old_one_published(provider: MockIdP) -> None:
    old_kid = provider.keys.current.kid
    before = provider.issue_tokens()

    new_kid = provider.rotate_keys()
    after = provider.issue_tokens()

    assert new_kid != old_kid
    assert [k["kid"] for k in served_jwks(provider)["keys"]] == [new_kid, old_kid]
    assert decode(after.access_token, provider.jwks(), "RS256").header["kid"] == new_kid
    assert decode(before.access_token, provider.jwks(), "RS256").header["kid"] == old_kid
    assert userinfo_status(provider, before.access_token) == 200
    assert userinfo_status(provider, after.access_token) == 200


def test_rotation_may_switch_the_algorithm(provider: MockIdP) -> None:
    before = provider.issue_tokens()

    provider.rotate_keys("ES256")
    after = provider.issue_tokens()

    assert decode(after.access_token, provider.jwks(), "ES256").header["alg"] == "ES256"
    assert [k["alg"] for k in provider.jwks()["keys"]] == ["ES256", "RS256"]
    assert userinfo_status(provider, before.access_token) == 200
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        meta = client.get(provider.metadata_url).json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]

    provider.retire_keys()

    assert [k["alg"] for k in provider.jwks()["keys"]] == ["ES256"]
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        meta = client.get(provider.metadata_url).json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]  # OIDC Discovery §3: always RS256


def test_rotating_to_an_unknown_algorithm_is_refused(provider: MockIdP) -> None:
    with pytest.raises(ConfigError) as caught:
        provider.rotate_keys("HS256")

    assert str(caught.value) == (
        "unknown algorithm 'HS256' (did you mean 'RS256'?); choose one of RS256, PS256, ES256, EdDSA, Ed25519"
    )
    assert len(provider.jwks()["keys"]) == 1


def test_retiring_stops_old_tokens_from_verifying(provider: MockIdP) -> None:
    old_kid = provider.keys.current.kid
    before = provider.issue_tokens()
    new_kid = provider.rotate_keys()

    assert provider.retire_keys() == [old_kid]

    assert [k["kid"] for k in served_jwks(provider)["keys"]] == [new_kid]
    with pytest.raises(JoseError):
        decode(before.access_token, provider.jwks(), "RS256")
    assert userinfo_status(provider, before.access_token) == 401
    assert userinfo_status(provider, provider.issue_tokens().access_token) == 200


def test_retiring_one_kid_keeps_the_others(provider: MockIdP) -> None:
    first = provider.keys.current.kid
    second = provider.rotate_keys()
    third = provider.rotate_keys("ES256")

    assert provider.retire_keys(second) == [second]

    assert provider.keys.kids == [third, first]
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        meta = client.get(provider.metadata_url).json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


def test_retiring_with_nothing_old_retires_nothing(provider: MockIdP) -> None:
    assert provider.retire_keys() == []
    assert len(provider.jwks()["keys"]) == 1


def test_retiring_the_current_key_is_refused(provider: MockIdP) -> None:
    kid = provider.keys.current.kid

    with pytest.raises(ConfigError) as caught:
        provider.retire_keys(kid)

    assert str(caught.value) == f"key {kid!r} is the current signing key; rotate_keys() before retiring it"


def test_retiring_an_unknown_kid_is_refused_with_the_published_kids(provider: MockIdP) -> None:
    old = provider.keys.current.kid
    new = provider.rotate_keys()

    with pytest.raises(ConfigError) as caught:
        provider.retire_keys("no-such-kid")

    assert str(caught.value) == f"no published key has kid 'no-such-kid'; published: {new}, {old}"


def test_a_retired_key_is_never_signed_with_again(provider: MockIdP) -> None:
    """Else a token signed before the retirement would verify again after a later rotation."""
    old_kid = provider.keys.current.kid
    before = provider.issue_tokens()
    provider.rotate_keys()
    provider.retire_keys()

    provider.rotate_keys()

    assert old_kid not in provider.keys.kids
    assert userinfo_status(provider, before.access_token) == 401


# -- the key pool -------------------------------------------------------------------------------


def test_providers_from_one_pool_share_keys(key_pool: KeyPool) -> None:
    first = MockIdP(keys=key_pool)
    second = MockIdP(keys=key_pool)

    assert first.keys.current is second.keys.current


def test_rotation_takes_a_key_the_ring_has_not_used(key_pool: KeyPool) -> None:
    first = MockIdP(keys=key_pool)
    second = MockIdP(keys=key_pool)

    kid = first.rotate_keys()

    assert kid != second.keys.current.kid
    assert second.rotate_keys() == kid  # the pool lends the key it made for the first rotation


def test_a_pool_refuses_an_unknown_algorithm(key_pool: KeyPool) -> None:
    with pytest.raises(ConfigError, match=r"^unknown algorithm 'none'; choose one of RS256, PS256, "):
        key_pool.take("none")


def test_a_token_with_a_forged_signature_is_refused(provider: MockIdP) -> None:
    token = provider.issue_tokens().access_token
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"

    with pytest.raises(BadSignatureError):
        decode(forged, provider.jwks(), "RS256")
    assert userinfo_status(provider, forged) == 401


def test_a_stranger_key_is_never_published(provider: MockIdP) -> None:
    """``sign_as_stranger`` (for ``unknown_kid`` forgeries) signs with a key no rotation will publish."""
    access = provider.issue_tokens().access_token
    _, claims = provider.keys.verify(access)

    forged = provider.keys.sign_as_stranger(claims, typ="at+jwt")
    again = provider.keys.sign_as_stranger(claims, typ="at+jwt")
    stranger = header_of(forged)["kid"]
    for _ in range(3):
        provider.rotate_keys()

    assert header_of(again)["kid"] == stranger  # one stranger key per algorithm
    assert stranger not in provider.keys.kids
    assert userinfo_status(provider, forged) == 401
    assert userinfo_status(provider, access) == 200


ALTERED = "the access token was altered: its jti belongs to another token this provider issued"


def test_every_forgery_kind_is_covered_here() -> None:
    from mockidp.testing import FORGE_KINDS

    covered = {"unknown_kid", "bad_signature", "alg_none", "hs256_public_key", "expired", "not_yet_valid"}
    assert set(FORGE_KINDS) == covered | {"missing_exp", "wrong_issuer", "wrong_audience", "missing_sub"}


@pytest.mark.parametrize(
    ("kind", "description"),
    [
        ("unknown_kid", None),
        ("bad_signature", None),
        ("alg_none", None),
        ("hs256_public_key", None),
        ("expired", "the access token expired"),
        ("not_yet_valid", "the access token is not valid yet (nbf)"),
        ("missing_exp", "the access token has no whole-number exp (RFC 9068 section 2.2)"),
        ("wrong_issuer", ALTERED),
        ("wrong_audience", ALTERED),
        ("missing_sub", ALTERED),
    ],
)
def test_the_provider_refuses_forged_access_tokens(provider: MockIdP, kind: str, description: str | None) -> None:
    """Even tokens signed with the provider's own key, with a valid jti, are refused when their claims say so."""
    forged = provider.forge(kind)

    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.get(provider.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {forged}"})

    assert forged.kind == kind
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    if description is not None:
        assert response.json()["error_description"] == description
