"""A whole authorization code flow, end to end, against the default provider."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import MockIdP
from tests.flows import login


def test_code_flow_issues_tokens_that_verify_against_the_jwks(provider: MockIdP) -> None:
    tokens = login(provider)

    keys = KeySet.import_key_set(provider.jwks())  # type: ignore[arg-type]
    id_token = jwt.decode(tokens["id_token"], keys)
    assert id_token.claims["iss"] == "https://idp.mockidp.test"
    assert id_token.claims["aud"] == "mockidp-client"
    assert id_token.claims["email"] == "alice@example.com"
    access = jwt.decode(tokens["access_token"], keys)
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == "mockidp-client"
    assert [str(r) for r in provider.requests] == [
        "GET authorize -> 302 client_id=mockidp-client",
        "POST token -> 200 grant_type=authorization_code client_id=mockidp-client",
    ]
