"""The UserInfo endpoint: OIDC Core §5.3 (request and response), §5.4 (claims by scope), and bearer
tokens as RFC 6750 §2.1 (header) and §2.2 (form body), with §3 errors and challenges.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from freezegun import freeze_time

from mockidp import KeyPool, MockIdP, ProviderConfig, User
from tests.flows import login

ADDRESS = {"street_address": "1 Main St", "locality": "Springfield", "country": "US"}
CAROL = User.named(
    "carol",
    birthdate="1990-01-01",
    address=ADDRESS,
    phone_number="+1 555 0100",
    phone_number_verified=True,
    groups=["admins"],
)
PROFILE = {
    "preferred_username": "carol",
    "name": "Carol Example",
    "given_name": "Carol",
    "family_name": "Example",
    "locale": "en",
    "birthdate": "1990-01-01",
}
EMAIL = {"email": "carol@example.com", "email_verified": True}
PHONE = {"phone_number": "+1 555 0100", "phone_number_verified": True}
ALWAYS = {"sub": "carol", "groups": ["admins"]}

Sender = Callable[[MockIdP, str], httpx2.Response]


def get(idp: MockIdP, token: str | None = None, **headers: str) -> httpx2.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo_endpoint"), headers=headers)


def post(idp: MockIdP, data: dict[str, str], **headers: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(idp.endpoint("userinfo_endpoint"), data=data, headers=headers)


def challenge(response: httpx2.Response, status: int = 401) -> dict[str, str]:
    """The parameters of the response's ``WWW-Authenticate: Bearer`` challenge."""
    assert response.status_code == status, response.text
    scheme, _, rest = response.headers["www-authenticate"].partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


def rejected(response: httpx2.Response) -> str:
    """The description of a 401 ``invalid_token`` answer, after checking its body and challenge."""
    params = challenge(response)
    assert params["error"] == "invalid_token"
    body = response.json()
    assert body["error"] == "invalid_token"
    description: str = body["error_description"]
    return description


def test_a_code_flow_access_token_gets_the_users_claims(provider: MockIdP) -> None:
    tokens = login(provider)

    response = get(provider, tokens["access_token"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "sub": "alice",
        "preferred_username": "alice",
        "name": "Alice Example",
        "given_name": "Alice",
        "family_name": "Example",
        "email": "alice@example.com",
        "email_verified": True,
        "locale": "en",
    }
    record = provider.requests.filter(endpoint="userinfo")[0]
    assert (record.client_id, record.user, record.status) == ("mockidp-client", "alice", 200)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", ALWAYS),
        ("openid profile", {**ALWAYS, **PROFILE}),
        ("openid email", {**ALWAYS, **EMAIL}),
        ("openid address", {**ALWAYS, "address": ADDRESS}),
        ("openid phone", {**ALWAYS, **PHONE}),
        ("openid profile email address phone", {**ALWAYS, **PROFILE, **EMAIL, **PHONE, "address": ADDRESS}),
    ],
)
def test_claims_are_released_by_scope(provider: MockIdP, scope: str, expected: dict[str, Any]) -> None:
    tokens = provider.issue_tokens(user=CAROL, scope=scope)
    assert get(provider, tokens.access_token).json() == expected


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda idp, token: post(idp, {}, Authorization=f"Bearer {token}"), id="POST header"),
        pytest.param(lambda idp, token: post(idp, {"access_token": token}), id="POST form body"),
        pytest.param(lambda idp, token: get(idp, Authorization=f"bearer  {token} "), id="lower-case scheme"),
    ],
)
def test_the_token_may_come_in_a_post_or_any_case_of_bearer(provider: MockIdP, send: Sender) -> None:
    tokens = provider.issue_tokens(scope="openid email")
    response = send(provider, tokens.access_token)
    assert response.json() == {"sub": "alice", "email": "alice@example.com", "email_verified": True}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"Authorization": "Basic YTpi"},
            "the Authorization header must be 'Bearer <access token>' (RFC 6750 section 2.1)",
        ),
        (
            {"Authorization": "Bearer "},
            "the Authorization header must be 'Bearer <access token>' (RFC 6750 section 2.1)",
        ),
        (
            {"Authorization": "Bearer not-a-jwt"},
            "the token is not a JWT signed by this provider (decode_error: Invalid JSON Web Signature)",
        ),
    ],
)
def test_a_missing_or_malformed_token_is_invalid_token(
    provider: MockIdP, headers: dict[str, str], message: str
) -> None:
    assert rejected(get(provider, **headers)) == message


def test_a_request_without_credentials_gets_a_bare_challenge(provider: MockIdP) -> None:
    # RFC 6750 section 3.1: a request that lacks any authentication information gets no error code.
    response = get(provider)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="mockidp"'
    assert response.json()["error_description"] == "no access token: send 'Authorization: Bearer <access token>'"


def test_the_query_parameter_is_not_supported(provider: MockIdP) -> None:
    token = provider.issue_tokens().access_token
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.get(provider.endpoint("userinfo_endpoint"), params={"access_token": token})
    assert rejected(response) == (
        "the access_token query parameter is not supported (RFC 6750 section 2.3):"
        " send 'Authorization: Bearer <access token>'"
    )


def test_a_token_in_the_header_and_the_body_is_an_invalid_request(provider: MockIdP) -> None:
    token = provider.issue_tokens().access_token

    response = post(provider, {"access_token": token}, Authorization=f"Bearer {token}")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the access token was sent twice (header and body, RFC 6750 section 2)",
    }


def test_an_expired_token_is_invalid_token(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(access_token_ttl=60), keys=key_pool)
    with freeze_time("2030-01-01") as frozen:
        token = idp.issue_tokens().access_token
        frozen.tick(59)
        assert get(idp, token).status_code == 200
        frozen.tick(1)
        assert rejected(get(idp, token)) == "the access token expired"


def test_a_revoked_token_is_invalid_token(provider: MockIdP) -> None:
    tokens = provider.issue_tokens()
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        revoked = client.post(
            provider.endpoint("revocation_endpoint"),
            data={"token": tokens.access_token},
            auth=("mockidp-client", "mockidp-secret"),
        )
    assert revoked.status_code == 200

    assert rejected(get(provider, tokens.access_token)) == "the access token was revoked"


def test_a_client_credentials_token_has_no_user(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        answer = client.post(
            provider.endpoint("token_endpoint"),
            data={"grant_type": "client_credentials", "scope": "openid"},
            auth=("mockidp-client", "mockidp-secret"),
        )

    response = get(provider, answer.json()["access_token"])

    assert rejected(response) == "the access token was issued to a client, not for a user (client_credentials)"


def test_an_id_token_is_not_an_access_token(provider: MockIdP) -> None:
    id_token = login(provider)["id_token"]
    assert rejected(get(provider, id_token)) == (
        "the token is not an access token (typ is not at+jwt, RFC 9068 section 2.1)"
    )


def test_another_providers_token_is_invalid_here(key_pool: KeyPool, provider: MockIdP) -> None:
    """Providers of one test session share signing keys; the token still belongs to one of them."""
    token = MockIdP(keys=key_pool).issue_tokens().access_token
    assert rejected(get(provider, token)) == "the access token was not issued by this provider instance"


def test_a_token_without_openid_is_insufficient_scope(provider: MockIdP) -> None:
    token = provider.issue_tokens(scope="profile email").access_token

    response = get(provider, token)

    assert challenge(response, 403) == {
        "realm": "mockidp",
        "error": "insufficient_scope",
        "scope": "openid",
    }
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "the access token lacks the openid scope (OIDC Core section 5.3)",
    }


def test_issued_extra_claims_are_returned_but_never_replace_sub(provider: MockIdP) -> None:
    token = provider.issue_tokens(scope="openid", claims={"tenant": "acme"}).access_token
    assert get(provider, token).json() == {"sub": "alice", "tenant": "acme"}


def test_the_challenge_uses_only_the_characters_rfc_6750_allows(provider: MockIdP) -> None:
    response = get(provider, Authorization="Basic YTpi")
    raw = dict(response.headers.raw)[b"www-authenticate"]
    description = re.search(rb'error_description="([^"]*)"', raw)
    assert description is not None
    assert all(0x20 <= c <= 0x7E and c not in b'"\\' for c in description.group(1))
