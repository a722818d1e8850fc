"""Token revocation: RFC 7009 §2.1 (revoking a refresh token revokes its grant's access tokens; only
the client the token was issued to may revoke it) and §2.2 (200 for unknown or invalid tokens).
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mockidp import Client, MockIdP
from tests.flows import login

AUTH = ("mockidp-client", "mockidp-secret")


def revoke(idp: MockIdP, data: dict[str, str], *, auth: tuple[str, str] | None = AUTH) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(
            idp.endpoint("revocation_endpoint"),
            data=data,
            auth=auth if auth is not None else httpx2.USE_CLIENT_DEFAULT,
        )


def userinfo_status(idp: MockIdP, access_token: str) -> int:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


def refresh(idp: MockIdP, refresh_token: str, *, auth: tuple[str, str] = AUTH) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(
            idp.endpoint("token_endpoint"),
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=auth,
        )


def test_revoking_a_refresh_token_revokes_its_grants_access_tokens(provider: MockIdP) -> None:
    tokens = login(provider)
    rotated = refresh(provider, tokens["refresh_token"]).json()

    response = revoke(provider, {"token": rotated["refresh_token"], "token_type_hint": "refresh_token"})

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"
    assert userinfo_status(provider, tokens["access_token"]) == 401
    assert userinfo_status(provider, rotated["access_token"]) == 401
    assert refresh(provider, rotated["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_access_token_revokes_it_alone(provider: MockIdP) -> None:
    tokens = login(provider)
    other = login(provider)

    assert revoke(provider, {"token": tokens["access_token"]}).status_code == 200

    assert userinfo_status(provider, tokens["access_token"]) == 401
    assert userinfo_status(provider, other["access_token"]) == 200
    assert refresh(provider, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 500])
def test_an_unknown_token_is_answered_with_200(provider: MockIdP, token: str) -> None:
    assert revoke(provider, {"token": token}).status_code == 200


def test_revoking_twice_is_fine(provider: MockIdP) -> None:
    tokens = login(provider)
    assert revoke(provider, {"token": tokens["refresh_token"]}).status_code == 200
    assert revoke(provider, {"token": tokens["refresh_token"]}).status_code == 200
    assert revoke(provider, {"token": tokens["access_token"]}).status_code == 200


def test_revoking_an_id_token_does_nothing(provider: MockIdP) -> None:
    tokens = login(provider)
    assert revoke(provider, {"token": tokens["id_token"]}).status_code == 200
    assert userinfo_status(provider, tokens["access_token"]) == 200


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_another_clients_token_is_refused_and_survives(provider: MockIdP, kind: str) -> None:
    provider.add_client(Client(client_id="other", client_secret="other-secret"))
    tokens = login(provider)

    response = revoke(provider, {"token": tokens[kind]}, auth=("other", "other-secret"))

    assert response.status_code == 400
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "the token was issued to another client, not 'other' (RFC 7009 section 2.1)",
    }
    assert userinfo_status(provider, tokens["access_token"]) == 200
    assert refresh(provider, tokens["refresh_token"]).status_code == 200


def test_a_public_client_revokes_with_its_client_id(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="spa"))
    tokens = provider.issue_tokens(client="spa")

    response = revoke(provider, {"token": tokens.refresh_token or "", "client_id": "spa"}, auth=None)

    assert response.status_code == 200
    assert userinfo_status(provider, tokens.access_token) == 401
    record = provider.requests.filter(endpoint="revocation")[0]
    assert (record.client_id, record.client_auth_method) == ("spa", "none")


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "no client authentication: send Basic credentials, client_secret or client_id"),
        (("mockidp-client", "wrong"), "wrong client_secret for client 'mockidp-client'"),
    ],
)
def test_revocation_needs_client_authentication(provider: MockIdP, auth: tuple[str, str] | None, message: str) -> None:
    tokens = login(provider)

    response = revoke(provider, {"token": tokens["refresh_token"]}, auth=auth)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="mockidp"'
    assert response.json() == {"error": "invalid_client", "error_description": message}
    assert refresh(provider, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("POST", {"data": {"token_type_hint": "access_token"}}, "token is required (RFC 7009 section 2.1)"),
        ("GET", {"params": {"token": "x"}}, "the revocation endpoint takes POST only (RFC 7009 section 2.1)"),
    ],
)
def test_malformed_revocation_requests_are_invalid_requests(
    provider: MockIdP, method: str, kwargs: dict[str, Any], message: str
) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.request(method, provider.endpoint("revocation_endpoint"), auth=AUTH, **kwargs)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": message}
