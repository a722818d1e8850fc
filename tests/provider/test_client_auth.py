"""Client authentication at the token endpoint: RFC 6749 §2.3 (one method per request), §2.3.1
(``client_secret_basic`` with form-urlencoded credentials, ``client_secret_post``), §5.2 (401
``invalid_client`` with a ``WWW-Authenticate`` challenge) and OIDC Core §9 (``none`` for public clients).
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import httpx2
import pytest

from mockidp import Client, MockIdP
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, token_request

SERVICE = {"grant_type": "client_credentials"}


def basic(client_id: str, secret: str, *, encode: bool = True) -> str:
    """An ``Authorization`` header value; RFC 6749 §2.3.1 form-urlencodes both parts before base64."""
    if encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


def post(idp: MockIdP, data: dict[str, str], authorization: str | bytes | None = None) -> httpx2.Response:
    value = authorization.encode("ascii") if isinstance(authorization, str) else authorization
    headers = {b"Authorization": value} if value is not None else {}
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(idp.endpoint("token_endpoint"), data=data, headers=headers)


def invalid_client(response: httpx2.Response) -> str:
    """The description of a 401 ``invalid_client`` answer, after checking its challenge."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Basic realm="mockidp"'
    body = response.json()
    assert body["error"] == "invalid_client"
    description: str = body["error_description"]
    return description


def last_token_record(idp: MockIdP) -> tuple[str | None, str | None]:
    record = idp.requests.filter(endpoint="token")[-1]
    return record.client_id, record.client_auth_method


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("svc:1", "p:ss:word"), ("a b", "100% sure"), ("ünïcode", "s+e/c=r&t"), ("plain", "secret")],
)
def test_client_secret_basic_takes_form_urlencoded_credentials(provider: MockIdP, client_id: str, secret: str) -> None:
    provider.add_client(Client(client_id=client_id, client_secret=secret))

    response = post(provider, SERVICE, basic(client_id, secret))

    assert response.status_code == 200, response.text
    assert last_token_record(provider) == (client_id, "client_secret_basic")


@pytest.mark.parametrize(
    ("client_id", "secret", "message"),
    [
        ("svc", "a+b", "wrong client_secret for client 'svc': "),
        ("svc", "100%25", "wrong client_secret for client 'svc': "),
        ("svc+1", "s", "unknown client 'svc 1': "),
    ],
)
def test_credentials_sent_without_form_encoding_are_refused_with_a_hint(
    provider: MockIdP, client_id: str, secret: str, message: str
) -> None:
    provider.add_client(Client(client_id=client_id, client_secret=secret))

    response = post(provider, SERVICE, basic(client_id, secret, encode=False))

    assert invalid_client(response) == (
        message + "form-urlencode the id and secret before base64 in Basic credentials (RFC 6749 section 2.3.1)"
    )


def test_client_secret_post_authenticates_in_the_body(provider: MockIdP) -> None:
    response = post(provider, {**SERVICE, "client_id": "mockidp-client", "client_secret": "mockidp-secret"})

    assert response.status_code == 200
    assert last_token_record(provider) == ("mockidp-client", "client_secret_post")


def test_basic_with_a_matching_client_id_in_the_body_is_fine(provider: MockIdP) -> None:
    response = post(provider, {**SERVICE, "client_id": "mockidp-client"}, basic("mockidp-client", "mockidp-secret"))
    assert response.status_code == 200


@pytest.fixture
def spa(provider: MockIdP) -> MockIdP:
    """The provider with a public client ``spa`` registered."""
    provider.add_client(Client(client_id="spa"))
    return provider


def spa_code(idp: MockIdP) -> tuple[str, str]:
    request = auth_request(idp, True, client_id="spa")
    return callback_params(Browser(idp).authorize(request))["code"], request.verifier or ""


def test_a_public_client_authenticates_with_none_and_pkce(spa: MockIdP) -> None:
    code, verifier = spa_code(spa)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": "spa"}

    response = token_request(spa, {**data, "code_verifier": verifier})

    assert response.status_code == 200
    assert last_token_record(spa) == ("spa", "none")


def test_a_public_client_must_send_its_pkce_verifier(spa: MockIdP) -> None:
    code, _ = spa_code(spa)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": "spa"}

    response = token_request(spa, data)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier is required: the authorization request sent a code_challenge",
    }


def test_a_public_client_may_identify_itself_with_an_empty_basic_password(spa: MockIdP) -> None:
    """What requests-oauthlib sends for a client without a secret, by default."""
    code, verifier = spa_code(spa)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}

    response = post(spa, data, basic("spa", ""))

    assert response.status_code == 200
    assert last_token_record(spa) == ("spa", "none")


@pytest.mark.parametrize(
    ("data", "authorization"),
    [({"client_id": "spa", "client_secret": "guess"}, None), ({}, basic("spa", "guess"))],
)
def test_a_public_client_may_not_send_a_secret(spa: MockIdP, data: dict[str, str], authorization: str | None) -> None:
    response = post(spa, {"grant_type": "refresh_token", "refresh_token": "x", **data}, authorization)
    assert invalid_client(response) == "client 'spa' is public and must not send a secret"


def test_a_client_may_not_authenticate_twice(provider: MockIdP) -> None:
    data = {**SERVICE, "client_secret": "mockidp-secret"}

    response = post(provider, data, basic("mockidp-client", "mockidp-secret"))

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "the client authenticated twice (Basic and client_secret); use one method",
    }


def test_the_body_client_id_must_match_the_basic_one(provider: MockIdP) -> None:
    response = post(provider, {**SERVICE, "client_id": "someone-else"}, basic("mockidp-client", "mockidp-secret"))

    assert response.status_code == 400
    assert response.json()["error_description"] == "client_id in the body differs from the Basic credentials"


@pytest.mark.parametrize(
    ("data", "authorization", "message"),
    [
        ({}, basic("mockidp-client", "wrong"), "wrong client_secret for client 'mockidp-client'"),
        (
            {"client_id": "mockidp-client", "client_secret": "wrong"},
            None,
            "wrong client_secret for client 'mockidp-client'",
        ),
        ({}, basic("nobody", "x"), "unknown client 'nobody'; registered clients: mockidp-client"),
        ({"client_id": "nobody"}, None, "unknown client 'nobody'; registered clients: mockidp-client"),
        ({}, None, "no client authentication: send Basic credentials, client_secret or client_id"),
        (
            {"client_id": "mockidp-client"},
            None,
            "client 'mockidp-client' is confidential: authenticate with its secret",
        ),
        ({"client_secret": "mockidp-secret"}, None, "client_secret was sent without a client_id"),
    ],
)
def test_failed_authentication_is_a_401_invalid_client_with_a_challenge(
    provider: MockIdP, data: dict[str, str], authorization: str | None, message: str
) -> None:
    response = post(provider, {**SERVICE, **data}, authorization)

    assert invalid_client(response) == message
    assert provider.requests[-1].error == "invalid_client"


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Basic !!!not-base64", "the Basic credentials are not valid base64 of UTF-8 text"),
        ("Basic bW9ja2lkcC1jbGllbnQ", "the Basic credentials are not valid base64 of UTF-8 text"),  # no padding
        (
            "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
            "the Basic credentials are not valid base64 of UTF-8 text",
        ),
        ("Basic \xe9t\xe9".encode("latin-1"), "the Basic credentials are not valid base64 of UTF-8 text"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "the Basic credentials must be client_id:client_secret"),
        ("Basic", "the Basic credentials must be client_id:client_secret"),
    ],
)
def test_malformed_basic_credentials_are_invalid_client(
    provider: MockIdP, authorization: str | bytes, message: str
) -> None:
    response = post(provider, SERVICE, authorization)
    assert invalid_client(response).startswith(message)
