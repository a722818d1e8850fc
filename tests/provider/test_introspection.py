"""Token introspection: RFC 7662 §2.1 (the request, by an authenticated confidential client) and §2.2
(the response: claims of an active token, ``{"active": false}`` for anything else).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from freezegun import freeze_time

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from tests.flows import login

AUTH = ("mockidp-client", "mockidp-secret")


def introspect(idp: MockIdP, token: str, *, auth: tuple[str, str] | None = AUTH, **extra: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(
            idp.endpoint("introspection_endpoint"),
            data={"token": token, **extra},
            auth=auth if auth is not None else httpx2.USE_CLIENT_DEFAULT,
        )


def revoke(idp: MockIdP, token: str) -> None:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(idp.endpoint("revocation_endpoint"), data={"token": token}, auth=AUTH)
    assert response.status_code == 200


def refresh(idp: MockIdP, refresh_token: str) -> None:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(
            idp.endpoint("token_endpoint"),
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=AUTH,
        )
    assert response.status_code == 200


def test_an_active_access_token_shows_its_claims(provider: MockIdP) -> None:
    with freeze_time("2030-01-01"):
        tokens = login(provider, scope="openid email")
        response = introspect(provider, tokens["access_token"], token_type_hint="access_token")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["username"] == "alice"
    assert (body["sub"], body["client_id"], body["aud"], body["scope"]) == (
        "alice",
        "mockidp-client",
        "mockidp-client",
        "openid email",
    )
    assert (body["iss"], body["iat"], body["exp"]) == ("https://idp.mockidp.test", 1893456000, 1893456000 + 3600)
    assert body["email"] == "alice@example.com"


def test_a_client_credentials_token_has_no_username(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        answer = client.post(provider.endpoint("token_endpoint"), data={"grant_type": "client_credentials"}, auth=AUTH)

    body = introspect(provider, answer.json()["access_token"]).json()

    assert (body["active"], body["sub"], body["token_type"]) == (True, "mockidp-client", "Bearer")
    assert "username" not in body


def test_an_active_refresh_token_shows_its_grant(provider: MockIdP) -> None:
    with freeze_time("2030-01-01"):
        tokens = login(provider)
        response = introspect(provider, tokens["refresh_token"], token_type_hint="refresh_token")

    assert response.json() == {
        "active": True,
        "token_type": "refresh_token",
        "client_id": "mockidp-client",
        "scope": "openid profile email",
        "exp": 1893456000 + 86400,
        "iss": "https://idp.mockidp.test",
        "sub": "alice",
        "username": "alice",
    }


def revoked_access(idp: MockIdP) -> str:
    tokens = login(idp)
    revoke(idp, tokens["access_token"])
    return str(tokens["access_token"])


def revoked_refresh(idp: MockIdP) -> str:
    tokens = login(idp)
    revoke(idp, tokens["refresh_token"])
    return str(tokens["refresh_token"])


def rotated_refresh(idp: MockIdP) -> str:
    tokens = login(idp)
    refresh(idp, tokens["refresh_token"])
    return str(tokens["refresh_token"])


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(revoked_access, id="revoked access token"),
        pytest.param(revoked_refresh, id="revoked refresh token"),
        pytest.param(rotated_refresh, id="rotated refresh token"),
        pytest.param(lambda idp: login(idp)["id_token"], id="ID token"),
        pytest.param(lambda idp: "garbage", id="garbage"),
        pytest.param(lambda idp: "a.b.c", id="three dots of garbage"),
    ],
)
def test_anything_but_a_live_token_is_inactive(provider: MockIdP, make: Callable[[MockIdP], str]) -> None:
    response = introspect(provider, make(provider))
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_another_providers_token_is_inactive_here(key_pool: KeyPool, provider: MockIdP) -> None:
    """Providers of one test session share signing keys; a token still belongs to one of them."""
    other = MockIdP(keys=key_pool).issue_tokens()
    assert introspect(provider, other.access_token).json() == {"active": False}
    assert introspect(provider, other.refresh_token or "").json() == {"active": False}


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_an_expired_token_is_inactive(key_pool: KeyPool, kind: str) -> None:
    idp = MockIdP(ProviderConfig(access_token_ttl=60, refresh_token_ttl=120), keys=key_pool)
    lifetime = 60 if kind == "access_token" else 120
    with freeze_time("2030-01-01") as frozen:
        token = login(idp)[kind]
        frozen.tick(lifetime - 1)
        assert introspect(idp, token).json()["active"] is True
        frozen.tick(1)
        assert introspect(idp, token).json() == {"active": False}


def test_a_public_client_may_not_introspect(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="spa"))
    token = provider.issue_tokens().access_token

    response = introspect(provider, token, auth=None, client_id="spa")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="mockidp"'
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client 'spa' is public and may not introspect tokens (RFC 7662 section 2.1)",
    }


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "no client authentication: send Basic credentials, client_secret or client_id"),
        (("mockidp-client", "wrong"), "wrong client_secret for client 'mockidp-client'"),
    ],
)
def test_introspection_needs_client_authentication(
    provider: MockIdP, auth: tuple[str, str] | None, message: str
) -> None:
    token = provider.issue_tokens().access_token

    response = introspect(provider, token, auth=auth)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": message}
    assert provider.requests[-1].error == "invalid_client"


def test_the_token_parameter_is_required(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.post(provider.endpoint("introspection_endpoint"), data={"foo": "bar"}, auth=AUTH)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "token is required (RFC 7662 section 2.1)",
    }


def test_introspection_takes_post_only(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.get(provider.endpoint("introspection_endpoint"), params={"token": "x"}, auth=AUTH)
    assert response.status_code == 400
    assert response.json()["error_description"] == "the introspection endpoint takes POST only (RFC 7662 section 2.1)"


def test_the_request_log_names_the_introspecting_client(provider: MockIdP) -> None:
    introspect(provider, "garbage")
    record = provider.requests.filter(endpoint="introspection")[0]
    assert (record.client_id, record.client_auth_method, record.status) == (
        "mockidp-client",
        "client_secret_basic",
        200,
    )
