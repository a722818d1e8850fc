"""/v1/me: a bearer access token (RFC 6750) from the provider, checked through its JWKS (RFC 9068 §4,
RFC 8725): signature, alg, typ, iss, aud, exp, nbf, sub. Refusals carry RFC 6750 §3's challenge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from freezegun import freeze_time
from mockidp import MockIdP, User
from mockidp.testing import preflight
from starlette.testclient import TestClient

from tests._support import ALLOWED_ORIGIN, bearer

if TYPE_CHECKING:
    from mockidp._forgery import ForgedToken  # the type of the forged_token fixture's values

# Why the app refuses each forged token: the error_description it sends, verbatim.
REFUSALS = {
    "expired": "The token has expired.",
    "not_yet_valid": "The token is not valid yet.",
    "wrong_issuer": "The token's iss claim is not accepted.",
    "wrong_audience": "The token's aud claim is not accepted.",
    "bad_signature": "The token's signature does not verify.",
    "alg_none": "The token's algorithm 'none' is not accepted.",
    "unknown_kid": "The token is signed by a key the issuer does not publish.",
    "hs256_public_key": "The token's algorithm 'HS256' is not accepted.",
    "missing_sub": "The token has no sub claim.",
    "missing_exp": "The token has no exp claim.",
}


def test_a_token_from_the_provider_is_accepted(idp: MockIdP, app_client: TestClient) -> None:
    tokens = idp.issue_tokens(user="alice", scope="openid profile api:read")

    response = app_client.get("/v1/me", headers=bearer(tokens.access_token))

    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "scope": "openid profile api:read"}


@pytest.mark.mockidp(users=[User.named("alice"), User.named("bob")])
@pytest.mark.parametrize("user", ["alice", "bob"])
def test_the_answer_is_the_token_subject(idp: MockIdP, app_client: TestClient, user: str) -> None:
    tokens = idp.issue_tokens(user=user, scope="api:read")

    assert app_client.get("/v1/me", headers=bearer(tokens.access_token)).json() == {"sub": user, "scope": "api:read"}


def test_every_forged_token_is_refused(app_client: TestClient, forged_token: ForgedToken) -> None:
    kind = forged_token.kind
    response = app_client.get("/v1/me", headers=bearer(forged_token))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": REFUSALS[kind]}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="app_factories", error="invalid_token", error_description="{REFUSALS[kind]}"'
    )


def test_a_token_is_refused_once_it_expires(idp: MockIdP, app_client: TestClient) -> None:
    with freeze_time() as clock:
        token = idp.issue_tokens(expires_in=300).access_token
        clock.tick(299)
        assert app_client.get("/v1/me", headers=bearer(token)).status_code == 200

        clock.tick(1)
        response = app_client.get("/v1/me", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token has expired."


def test_an_id_token_is_not_an_access_token(idp: MockIdP, app_client: TestClient) -> None:
    id_token = idp.issue_tokens(scope="openid").id_token
    assert id_token is not None

    response = app_client.get("/v1/me", headers=bearer(id_token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token is not an access token (typ must be at+jwt)."


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer ", "Basic YWxpY2U6cGFzc3dvcmQ=", "bearer-ish token"])
def test_no_bearer_token_gets_a_bare_challenge(app_client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = app_client.get("/v1/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="app_factories"'


def test_a_refusal_is_readable_by_an_allowed_origin(idp: MockIdP, app_client: TestClient) -> None:
    assert preflight(app_client, "/v1/me", origin=ALLOWED_ORIGIN, headers=["Authorization"]).status_code == 200

    response = app_client.get("/v1/me", headers={"Origin": ALLOWED_ORIGIN, **bearer("not-a-jwt")})

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token is not a JWT."
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_rotated_keys_are_fetched_again(idp: MockIdP, app_client: TestClient) -> None:
    with freeze_time() as clock:
        before = idp.issue_tokens().access_token
        assert app_client.get("/v1/me", headers=bearer(before)).status_code == 200
        idp.rotate_keys()
        after = idp.issue_tokens().access_token
        # Right after a fetch the app does not fetch again for an unknown key (a flood of made-up kids would).
        assert app_client.get("/v1/me", headers=bearer(after)).status_code == 401

        clock.tick(30)
        response = app_client.get("/v1/me", headers=bearer(after))

    assert response.status_code == 200
    assert len(idp.requests.filter(endpoint="jwks")) == 2


@pytest.mark.parametrize("endpoint", ["discovery", "jwks"])
def test_an_unreachable_issuer_is_a_503_not_a_500(idp: MockIdP, app_client: TestClient, endpoint: str) -> None:
    idp.fail(endpoint, status=503)

    response = app_client.get("/v1/me", headers=bearer(idp.issue_tokens().access_token))

    assert response.status_code == 503
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The token issuer cannot be reached.",
    }
