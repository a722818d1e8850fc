"""Token contents: the ID token (OIDC Core §2, ``at_hash`` §3.1.3.6), JWT access tokens (RFC 9068 §2),
claims released by scope (OIDC Core §5.4), and ``MockIdP.issue_tokens``, which mints them without a flow.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from typing import Any

import httpx2
import pytest
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet

from mockidp import Client, KeyPool, MockIdP, NotRegisteredError, ProviderConfig, TokenSet, User
from mockidp._state import Grant
from tests.flows import client_auth, login, token_request

STANDARD_PROFILE = {"name", "given_name", "family_name", "preferred_username", "locale"}


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    decoded = decode(idp, token)
    return dict(decoded.claims)


def decode(idp: MockIdP, token: str) -> jwt.Token:
    keys = KeySet.import_key_set(idp.jwks())  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.decode(token, keys, algorithms=idp.keys.algorithms())


def userinfo(idp: MockIdP, access_token: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})


def id_claims(idp: MockIdP, tokens: TokenSet) -> dict[str, Any]:
    assert tokens.id_token is not None
    return claims_of(idp, tokens.id_token)


@pytest.fixture
def rich(key_pool: KeyPool) -> MockIdP:
    """A provider whose user has a claim for every scope, and one no scope governs."""
    carol = User.named(
        "carol",
        address={"country": "NL"},
        phone_number="+31 20 000 0000",
        phone_number_verified=False,
        groups=["admins"],
    )
    return MockIdP(ProviderConfig(users=(carol,)), keys=key_pool)


# -- the ID token -------------------------------------------------------------------------------


def test_the_id_token_of_a_code_flow(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(id_token_ttl=300, access_token_ttl=120), keys=key_pool)

    tokens = login(idp, nonce="n-0S6_WzA2Mj")
    claims = claims_of(idp, tokens["id_token"])

    assert claims["iss"] == "https://idp.mockidp.test"
    assert claims["sub"] == "alice"
    assert claims["aud"] == "mockidp-client"
    assert claims["azp"] == "mockidp-client"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["exp"] == claims["iat"] + 300
    assert claims["iat"] - 5 <= claims["auth_time"] <= claims["iat"]
    assert claims["sid"] == next(iter(idp.state.sessions))
    assert claims["at_hash"] == create_half_hash(tokens["access_token"], "RS256").decode()
    assert tokens["expires_in"] == 120


def test_an_id_token_without_a_nonce_in_the_request_has_none(provider: MockIdP) -> None:
    tokens = login(provider, nonce=None)

    assert "nonce" not in claims_of(provider, tokens["id_token"])


def by_hand(value: str, hash_name: str) -> str:
    digest = hashlib.new(hash_name, value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("alg", "hash_name"),
    [("RS256", "sha256"), ("PS256", "sha256"), ("ES256", "sha256"), ("EdDSA", "sha512"), ("Ed25519", "sha512")],
)
def test_at_hash_is_the_left_half_of_the_access_tokens_hash(key_pool: KeyPool, alg: str, hash_name: str) -> None:
    idp = MockIdP(ProviderConfig(algorithm=alg), keys=key_pool)  # type: ignore[arg-type]

    tokens = idp.issue_tokens()
    at_hash = id_claims(idp, tokens)["at_hash"]

    assert at_hash == by_hand(tokens.access_token, hash_name)
    if alg != "Ed25519":  # authlib does not know the RFC 9864 name yet
        assert at_hash == create_half_hash(tokens.access_token, alg).decode()


def test_at_hash_follows_the_algorithm_after_a_rotation(provider: MockIdP) -> None:
    provider.rotate_keys("EdDSA")

    tokens = provider.issue_tokens()

    assert decode(provider, tokens.access_token).header["alg"] == "EdDSA"
    assert id_claims(provider, tokens)["at_hash"] == by_hand(tokens.access_token, "sha512")


# -- the access token (RFC 9068) ----------------------------------------------------------------


def test_the_access_token_is_an_rfc_9068_jwt(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(scope="openid email", expires_in=90)
    decoded = decode(provider, tokens.access_token)
    claims = decoded.claims

    assert decoded.header["typ"] == "at+jwt"
    assert claims["iss"] == "https://idp.mockidp.test"
    assert claims["sub"] == "alice"
    assert claims["aud"] == "mockidp-client"
    assert claims["client_id"] == "mockidp-client"
    assert claims["scope"] == "openid email"
    assert claims["exp"] == claims["iat"] + 90
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    assert claims["auth_time"] <= claims["iat"]
    assert (tokens.expires_in, tokens.scope, tokens.token_type) == (90, "openid email", "Bearer")


def test_every_access_token_has_its_own_jti(provider: MockIdP) -> None:
    jtis = {claims_of(provider, provider.issue_tokens().access_token)["jti"] for _ in range(5)}

    assert len(jtis) == 5


def test_the_access_token_audience_is_configurable(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(access_token_audience="https://api.example"), keys=key_pool)

    tokens = idp.issue_tokens()

    assert claims_of(idp, tokens.access_token)["aud"] == "https://api.example"
    assert id_claims(idp, tokens)["aud"] == "mockidp-client"  # the ID token is always for the client


@pytest.mark.parametrize(
    ("audience", "aud"),
    [("https://api.example", "https://api.example"), (["https://a.example", "b"], ["https://a.example", "b"])],
)
def test_issue_tokens_sets_the_audience_per_call(
    key_pool: KeyPool, audience: str | list[str], aud: str | list[str]
) -> None:
    idp = MockIdP(ProviderConfig(access_token_audience="https://configured.example"), keys=key_pool)

    assert claims_of(idp, idp.issue_tokens(audience=audience).access_token)["aud"] == aud


def test_a_client_credentials_token_is_about_the_client(provider: MockIdP) -> None:
    response = token_request(
        provider, {"grant_type": "client_credentials", "scope": "api"}, auth=("mockidp-client", "mockidp-secret")
    )
    body = response.json()
    claims = claims_of(provider, body["access_token"])

    assert "id_token" not in body
    assert "refresh_token" not in body
    assert claims["sub"] == claims["client_id"] == "mockidp-client"
    assert claims["scope"] == "api"
    assert "auth_time" not in claims
    assert "email" not in claims


def test_tokens_carry_the_issuer_the_provider_serves_as(provider: MockIdP) -> None:
    with provider.serve() as issuer:
        tokens = provider.issue_tokens()

    assert issuer.startswith("http://127.0.0.1:")
    assert claims_of(provider, tokens.access_token)["iss"] == issuer
    assert id_claims(provider, tokens)["iss"] == issuer


# -- issue_tokens -------------------------------------------------------------------------------


def test_issue_tokens_defaults_to_the_default_user_and_client(provider: MockIdP) -> None:
    tokens = provider.issue_tokens()

    assert tokens.refresh_token is not None
    assert tokens.scope == "openid profile email"
    assert id_claims(provider, tokens)["email"] == "alice@example.com"
    assert userinfo(provider, tokens.access_token).json()["sub"] == "alice"


@pytest.mark.parametrize("name", ["alice", "alice@example.com"])
def test_issue_tokens_finds_a_user_by_username_or_email(provider: MockIdP, name: str) -> None:
    assert id_claims(provider, provider.issue_tokens(user=name))["sub"] == "alice"


def test_issue_tokens_registers_a_new_user_object(provider: MockIdP) -> None:
    bob = User.named("bob")

    tokens = provider.issue_tokens(user=bob)

    assert provider.find_user("bob") is bob
    assert id_claims(provider, tokens)["name"] == "Bob Example"
    assert userinfo(provider, tokens.access_token).json()["email"] == "bob@example.com"


def test_issue_tokens_takes_claims_for_an_ad_hoc_user(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(user={"sub": "svc-7", "email": "svc@example.com", "roles": ["reader"]})

    claims = id_claims(provider, tokens)
    assert (claims["sub"], claims["email"], claims["roles"]) == ("svc-7", "svc@example.com", ["reader"])
    assert "svc-7" in provider.users


def test_issue_tokens_may_use_the_same_ad_hoc_user_twice(provider: MockIdP) -> None:
    provider.issue_tokens(user={"sub": "svc-7", "email": "svc@example.com"})

    tokens = provider.issue_tokens(user={"sub": "svc-7", "email": "svc@example.com"})

    assert id_claims(provider, tokens)["sub"] == "svc-7"


def test_an_ad_hoc_user_needs_a_sub(provider: MockIdP) -> None:
    message = r"^a user needs a 'sub' claim; got the keys \['email'\]\nsee: python -m mockidp docs configuration$"
    with pytest.raises(ValueError, match=message):
        provider.issue_tokens(user={"email": "x@example.com"})


def test_issue_tokens_refuses_an_unknown_username(provider: MockIdP) -> None:
    with pytest.raises(NotRegisteredError) as caught:
        provider.issue_tokens(user="mallory")

    assert isinstance(caught.value, LookupError)
    assert str(caught.value) == (
        "mockidp: no user named 'mallory'; the nearest is 'alice' (known users: alice).\n"
        "To log in a new user, give its claims: idp.login(client, path, user='mallory', email='mallory@example.com');\n"
        "or register it: idp.add_user('mallory', email='mallory@example.com'), or for the test"
        " @pytest.mark.mockidp(users=[User.named('alice'), User.named('mallory', email='mallory@example.com')])"
        " (users= replaces the default users)"
    )
    assert caught.value.__notes__ == ["see: python -m mockidp docs users-and-clients"]


def test_issue_tokens_for_another_client(provider: MockIdP) -> None:
    spa = provider.add_client(Client(client_id="spa"))

    by_id = provider.issue_tokens(client="spa")
    by_object = provider.issue_tokens(client=spa)

    for tokens in (by_id, by_object):
        assert id_claims(provider, tokens)["aud"] == "spa"
        assert claims_of(provider, tokens.access_token)["client_id"] == "spa"


def test_issue_tokens_registers_a_new_client_object(provider: MockIdP) -> None:
    provider.issue_tokens(client=Client(client_id="batch", client_secret="s"))

    assert "batch" in provider.clients


def test_issue_tokens_refuses_an_unknown_client_id(provider: MockIdP) -> None:
    with pytest.raises(NotRegisteredError) as caught:
        provider.issue_tokens(client="mockidp-clint")

    assert str(caught.value) == (
        "mockidp: no client 'mockidp-clint'; the nearest is 'mockidp-client' (registered: mockidp-client);"
        " register it with idp.add_client(Client(...)), pass a Client, or list it in"
        " @pytest.mark.mockidp(clients=[...])"
    )


def test_extra_claims_go_into_both_tokens_and_userinfo(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(claims={"tenant": "acme", "roles": ["admin"]})

    for claims in (id_claims(provider, tokens), claims_of(provider, tokens.access_token)):
        assert (claims["tenant"], claims["roles"]) == ("acme", ["admin"])
    assert userinfo(provider, tokens.access_token).json()["tenant"] == "acme"


@pytest.mark.parametrize(
    ("claims", "named"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"sub": "root", "aud": "x"}, "aud, sub"),
        ({"exp": 0, "scope": "admin", "jti": "1"}, "exp, jti, scope"),
        ({"client_id": "other", "azp": "other"}, "azp, client_id"),
        ({"auth_time": 0, "at_hash": "x", "sid": "s", "nbf": 0, "iat": 0}, "at_hash, auth_time, iat, nbf, sid"),
    ],
)
def test_reserved_claims_are_refused(provider: MockIdP, claims: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=r"^claims may not set ") as caught:
        provider.issue_tokens(claims=claims)

    assert str(caught.value) == f"claims may not set {named}: mockidp sets them itself"
    assert provider.state.access_tokens == {}


def test_scope_may_be_a_list_and_without_openid_there_is_no_id_token(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(scope=["api:read", "api:write"])

    assert tokens.id_token is None
    assert tokens.scope == "api:read api:write"
    assert claims_of(provider, tokens.access_token)["scope"] == "api:read api:write"


def test_issue_tokens_without_a_refresh_token(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(refresh_token=False)

    assert tokens.refresh_token is None
    assert "refresh_token" not in tokens.as_dict()


@pytest.mark.parametrize("expires_in", [1.5, "60", True])
def test_expires_in_must_be_whole_seconds(provider: MockIdP, expires_in: Any) -> None:
    with pytest.raises(TypeError) as caught:
        provider.issue_tokens(expires_in=expires_in)

    assert str(caught.value) == f"expires_in must be a whole number of seconds, got {expires_in!r}"


def test_issued_tokens_work_at_the_token_endpoint(provider: MockIdP) -> None:
    tokens = provider.issue_tokens()
    assert tokens.refresh_token is not None

    response = token_request(
        provider,
        {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        auth=("mockidp-client", "mockidp-secret"),
    )

    assert response.status_code == 200
    assert claims_of(provider, response.json()["id_token"])["sub"] == "alice"


def test_a_token_set_as_the_token_endpoint_returns_it(provider: MockIdP) -> None:
    tokens = provider.issue_tokens(expires_in=60)

    assert tokens.as_dict() == {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": "openid profile email",
        "id_token": tokens.id_token,
        "refresh_token": tokens.refresh_token,
    }


# -- claims by scope (OIDC Core §5.4) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "released"),
    [
        ("openid", set()),
        ("openid email", {"email", "email_verified"}),
        ("openid profile", STANDARD_PROFILE),
        ("openid address", {"address"}),
        ("openid phone", {"phone_number", "phone_number_verified"}),
        (
            "openid profile email address phone",
            STANDARD_PROFILE | {"email", "email_verified", "address", "phone_number", "phone_number_verified"},
        ),
    ],
)
def test_claims_are_released_by_scope(rich: MockIdP, scope: str, released: set[str]) -> None:
    tokens = rich.issue_tokens(scope=scope)
    protocol = {"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "at_hash"}

    id_token = id_claims(rich, tokens)
    info = userinfo(rich, tokens.access_token).json()

    # Claims no scope governs (here ``groups``) are always released.
    assert set(id_token) == protocol | released | {"groups"}
    assert set(info) == {"sub", "groups"} | released
    assert info["sub"] == "carol"


def test_userinfo_needs_the_openid_scope(rich: MockIdP) -> None:
    response = userinfo(rich, rich.issue_tokens(scope="email").access_token)

    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "the access token lacks the openid scope (OIDC Core section 5.3)",
    }


def test_the_minter_needs_a_user_for_an_id_token(provider: MockIdP) -> None:
    grant = Grant(client=provider.client, user=None, scopes=("openid",))

    with pytest.raises(ValueError, match=r"^an ID token needs a user; this grant has none$"):
        provider.minter.id_token(grant, 0)


def test_an_id_token_without_a_login_time_or_access_token_has_no_auth_time_or_at_hash(provider: MockIdP) -> None:
    grant = Grant(client=provider.client, user=provider.user, scopes=("openid",))

    claims = claims_of(provider, provider.minter.id_token(grant, int(provider.now())))

    assert "auth_time" not in claims
    assert "at_hash" not in claims


def id_token_of(idp: MockIdP, pool: KeyPool) -> str:
    return idp.issue_tokens().id_token or ""


def another_providers_token(idp: MockIdP, pool: KeyPool) -> str:
    """Signed with the same key (one pool), but minted by another provider instance."""
    return MockIdP(keys=pool).issue_tokens().access_token


def revoked_token(idp: MockIdP, pool: KeyPool) -> str:
    token = idp.issue_tokens().access_token
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        client.post(idp.endpoint("revocation_endpoint"), data={"token": token}, auth=client_auth(idp))
    return token


def resigned(**changes: Any) -> Any:
    """A maker of an access token re-signed by the provider with ``changes`` to its claims."""

    def make(idp: MockIdP, pool: KeyPool) -> str:
        header, claims = idp.keys.verify(idp.issue_tokens().access_token)
        return idp.keys.sign({**claims, **changes}, typ=header["typ"])

    return make


@pytest.mark.parametrize(
    ("make", "description"),
    [
        (id_token_of, "the token is not an access token (typ is not at+jwt, RFC 9068 section 2.1)"),
        (another_providers_token, "the access token was not issued by this provider instance"),
        (revoked_token, "the access token was revoked"),
        (resigned(exp="soon"), "the access token has no whole-number exp (RFC 9068 section 2.2)"),
        (resigned(nbf=1.5), "the access token's nbf is not a whole number (RFC 7519 section 4.1.5)"),
    ],
    ids=["id-token", "other-provider", "revoked", "exp-not-a-number", "nbf-not-a-number"],
)
def test_userinfo_refuses_what_is_not_a_live_access_token(
    provider: MockIdP, key_pool: KeyPool, make: Any, description: str
) -> None:
    response = userinfo(provider, make(provider, key_pool))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": description}
