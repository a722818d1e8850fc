"""The items API with a sync TestClient (``app_client``): bearer tokens (RFC 6750) from the provider,
verified through its JWKS (RFC 9068 §4), with scopes: items:read to list, items:write to add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from freezegun import freeze_time
from mockidp import MockIdP, User
from starlette.testclient import TestClient

from tests._support import REALM, REFUSALS, bearer, insufficient_scope

if TYPE_CHECKING:
    from mockidp._forgery import ForgedToken  # the type of the forged_token fixture's values


def test_read_and_write_with_the_right_scopes(idp: MockIdP, app_client: TestClient) -> None:
    token = idp.issue_tokens(scope="items:read items:write").access_token

    created = app_client.post("/items", json={"name": "tea"}, headers=bearer(token))
    listed = app_client.get("/items", headers=bearer(token))

    assert created.status_code == 201
    assert created.json() == {"id": 1, "name": "tea", "owner": "alice"}
    assert listed.status_code == 200
    assert listed.json() == [{"id": 1, "name": "tea", "owner": "alice"}]


@pytest.mark.mockidp(users=[User.named("alice"), User.named("bob")])
def test_each_item_belongs_to_the_token_subject(idp: MockIdP, app_client: TestClient) -> None:
    for user in ("alice", "bob"):
        token = idp.issue_tokens(user=user, scope="items:write").access_token
        assert app_client.post("/items", json={"name": f"{user}'s"}, headers=bearer(token)).status_code == 201

    reader = idp.issue_tokens(scope="items:read").access_token
    owners = {item["name"]: item["owner"] for item in app_client.get("/items", headers=bearer(reader)).json()}

    assert owners == {"alice's": "alice", "bob's": "bob"}


@pytest.mark.parametrize(
    ("method", "needed", "granted"),
    [
        ("GET", "items:read", "items:write"),
        ("GET", "items:read", "openid profile"),
        ("POST", "items:write", "items:read"),
        ("POST", "items:write", "items:writer"),
    ],
)
def test_a_token_without_the_scope_gets_403_insufficient_scope(
    idp: MockIdP, app_client: TestClient, method: str, needed: str, granted: str
) -> None:
    token = idp.issue_tokens(scope=granted).access_token

    response = app_client.request(method, "/items", json={"name": "tea"}, headers=bearer(token))

    body, challenge = insufficient_scope(needed)
    assert response.status_code == 403
    assert response.json() == body
    assert response.headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_forged_token_is_refused(app_client: TestClient, forged_token: ForgedToken, method: str) -> None:
    response = app_client.request(method, "/items", json={"name": "tea"}, headers=bearer(forged_token))

    description = REFUSALS[forged_token.kind]
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": description}
    assert response.headers["WWW-Authenticate"] == f'{REALM}, error="invalid_token", error_description="{description}"'


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Basic YWxpY2U6cGFzc3dvcmQ="])
def test_no_bearer_token_gets_401_with_a_bare_challenge(app_client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = app_client.get("/items", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == REALM


def test_a_token_is_refused_once_it_expires(idp: MockIdP, app_client: TestClient) -> None:
    with freeze_time() as clock:
        token = idp.issue_tokens(scope="items:read", expires_in=60).access_token
        clock.tick(59)
        assert app_client.get("/items", headers=bearer(token)).status_code == 200

        clock.tick(1)
        response = app_client.get("/items", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token has expired."


def test_a_token_for_another_api_is_refused(idp: MockIdP, app_client: TestClient) -> None:
    token = idp.issue_tokens(scope="items:read", audience="https://billing.example.test").access_token

    response = app_client.get("/items", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token's aud claim is not accepted."


def test_health_needs_no_token(app_client: TestClient) -> None:
    assert app_client.get("/health").json() == {"okay": True}


def test_an_unreachable_issuer_is_a_503(idp: MockIdP, app_client: TestClient) -> None:
    idp.fail("jwks", status=503)

    response = app_client.get("/items", headers=bearer(idp.issue_tokens(scope="items:read").access_token))

    assert response.status_code == 503
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The token issuer cannot be reached.",
    }


def test_the_openapi_document_declares_the_bearer_scheme(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert document["paths"]["/items"]["get"]["security"] == [{"HTTPBearer": ["items:read"]}]
    assert document["paths"]["/items"]["post"]["security"] == [{"HTTPBearer": ["items:write"]}]
    assert "security" not in document["paths"]["/health"]["get"]
