"""Pushed authorization requests, RFC 9126: the PAR endpoint (§2), the request_uri at the authorization
endpoint (§4), ``require_pushed_authorization_requests`` for the provider (§5) and for a client (§6).

authlib's httpx client pushes and then sends the request_uri as a raw authorization parameter; raw
HTTP drives the negative matrices, with exact error codes and descriptions.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from tests.flows import REDIRECT_URI, AuthRequest, Browser, auth_request, callback_params, client_auth, token_request
from tests.provider.test_authorize import parse_form

URN = "urn:ietf:params:oauth:request_uri:"
SPA = Client(client_id="spa")
STRICT_CLIENT = Client(client_id="pushy", client_secret="pushy-secret", require_pushed_authorization_requests=True)


def make(key_pool: KeyPool, **config: Any) -> MockIdP:
    return MockIdP(ProviderConfig(**config), keys=key_pool)


def push(
    idp: MockIdP, params: dict[str, str], *, auth: tuple[str, str] | None = None, method: str = "POST"
) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.request(
            method,
            idp.endpoint("pushed_authorization_request_endpoint"),
            data=params if method == "POST" else None,
            auth=auth if auth is not None else httpx2.USE_CLIENT_DEFAULT,
        )


def pushed(idp: MockIdP, request: AuthRequest, auth: tuple[str, str] | None = None) -> str:
    response = push(idp, request.params, auth=auth or client_auth(idp))
    assert response.status_code == 201, response.text
    uri: str = response.json()["request_uri"]
    return uri


def by_reference(idp: MockIdP, uri: str, browser: Browser | None = None, **extra: str) -> httpx2.Response:
    params = {"client_id": idp.client.client_id, "request_uri": uri, **extra}
    return (browser or Browser(idp)).client.get(idp.endpoint("authorization_endpoint"), params=params)


def redeem(idp: MockIdP, response: httpx2.Response, request: AuthRequest) -> dict[str, Any]:
    code = callback_params(response)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    answer = token_request(idp, {**data, "code_verifier": request.verifier or ""}, auth=client_auth(idp))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def page_error(idp: MockIdP, response: httpx2.Response) -> tuple[str, str]:
    """The error an authorization request got as a page, not a redirect, as the request log has it."""
    assert response.status_code == 400, response.text
    record = idp.requests[-1]
    assert record.error is not None
    assert record.error_description is not None
    assert record.error in response.text
    return record.error, record.error_description


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time("2030-01-01T00:00:00Z") as frozen:
        assert isinstance(frozen, FrozenDateTimeFactory)
        yield frozen


# -- the PAR endpoint (§2) ---------------------------------------------------------------------


def test_a_pushed_request_answers_a_request_uri_that_authorizes(provider: MockIdP) -> None:
    request = auth_request(provider)

    response = push(provider, request.params, auth=client_auth(provider))
    uri = response.json()["request_uri"]
    answer = by_reference(provider, uri)

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"request_uri": uri, "expires_in": 60}
    assert uri.startswith(URN)
    assert len(uri) > len(URN) + 40
    params = callback_params(answer)
    assert (params["state"], params["iss"]) == (request.state, provider.issuer)
    assert redeem(provider, answer, request)["token_type"] == "Bearer"
    par, authorize = provider.requests.filter(endpoint="par")[0], provider.requests.filter(endpoint="authorize")[0]
    assert (par.status, par.client_id, par.client_auth_method, par.request_uri) == (
        201,
        "mockidp-client",
        "client_secret_basic",
        uri,
    )
    assert (authorize.request_uri, authorize.params["state"], authorize.pkce) == (uri, request.state, True)


def test_client_secret_post_and_public_clients_push_too(provider: MockIdP) -> None:
    provider.add_client(SPA)
    confidential = auth_request(provider)
    public = auth_request(provider, client_id="spa")

    by_post = push(provider, {**confidential.params, "client_secret": "mockidp-secret"})
    by_public = push(provider, public.params)

    assert (by_post.status_code, by_public.status_code) == (201, 201)
    assert [r.client_auth_method for r in provider.requests] == ["client_secret_post", "none"]
    assert "client_secret" not in provider.requests[0].params
    answer = Browser(provider).client.get(
        provider.endpoint("authorize"), params={"client_id": "spa", "request_uri": by_public.json()["request_uri"]}
    )
    assert "code" in callback_params(answer)


def test_only_the_pushed_parameters_count(provider: MockIdP) -> None:
    request = auth_request(provider, scope="openid")
    uri = pushed(provider, request)

    answer = by_reference(provider, uri, scope="openid email", state="other", redirect_uri="http://localhost/x")

    assert answer.headers["location"].startswith(REDIRECT_URI + "?")
    assert callback_params(answer)["state"] == request.state
    assert redeem(provider, answer, request)["scope"] == "openid"


def test_the_request_uri_lives_request_uri_ttl_seconds(key_pool: KeyPool, clock: FrozenDateTimeFactory) -> None:
    idp = make(key_pool, request_uri_ttl=30)
    first, second = auth_request(idp), auth_request(idp)
    late = pushed(idp, first)
    in_time = pushed(idp, second)

    assert push(idp, first.params, auth=client_auth(idp)).json()["expires_in"] == 30
    clock.tick(29)
    assert "code" in callback_params(by_reference(idp, in_time))
    clock.tick(1)
    assert page_error(idp, by_reference(idp, late)) == (
        "invalid_request_uri",
        "the request_uri expired (it lives 30 s, RFC 9126 section 2.2); push the request again",
    )


GOOD = {
    "response_type": "code",
    "client_id": "mockidp-client",
    "redirect_uri": REDIRECT_URI,
    "scope": "openid",
    "code_challenge": "c" * 43,
    "code_challenge_method": "S256",
}
CREDENTIALS = ("mockidp-client", "mockidp-secret")
TLS = ssl.create_default_context()


@pytest.mark.parametrize(
    ("params", "auth", "status", "error", "description"),
    [
        (
            GOOD,
            None,
            401,
            "invalid_client",
            "client 'mockidp-client' is confidential: authenticate with its secret",
        ),
        (
            GOOD,
            ("mockidp-client", "wrong"),
            401,
            "invalid_client",
            "wrong client_secret for client 'mockidp-client'",
        ),
        (
            {**GOOD, "request_uri": URN + "x"},
            CREDENTIALS,
            400,
            "invalid_request",
            "request_uri must not be pushed: this endpoint answers one (RFC 9126 section 2.1)",
        ),
        (
            {k: v for k, v in GOOD.items() if k != "response_type"},
            CREDENTIALS,
            400,
            "invalid_request",
            "response_type is required (RFC 6749 section 4.1.1)",
        ),
        (
            {**GOOD, "response_type": "token"},
            CREDENTIALS,
            400,
            "unsupported_response_type",
            "response_type 'token' is not supported; use 'code'",
        ),
        (
            {**GOOD, "redirect_uri": "https://evil.example/cb"},
            CREDENTIALS,
            400,
            "invalid_request",
            "redirect_uri 'https://evil.example/cb' is not registered for client 'mockidp-client'; registered:"
            " http://testserver/*, http://localhost/*, http://127.0.0.1/*",
        ),
        (
            {**GOOD, "client_id": "other"},
            CREDENTIALS,
            400,
            "invalid_request",
            "client_id in the body differs from the Basic credentials",
        ),
        (
            {**GOOD, "prompt": "sometimes"},
            CREDENTIALS,
            400,
            "invalid_request",
            "prompt 'sometimes' is not supported; use none, login, consent, select_account",
        ),
        (
            {**GOOD, "request": "not-a-jwt"},
            CREDENTIALS,
            400,
            "invalid_request_object",
            "the request object is not a signed JWT in compact form (decode_error: Invalid JSON Web Signature);"
            " see RFC 9101 section 4",
        ),
    ],
    ids=[
        "no-auth",
        "wrong-secret",
        "request_uri-pushed",
        "no-response_type",
        "implicit",
        "unregistered-redirect",
        "other-client_id",
        "bad-prompt",
        "bad-request-object",
    ],
)
def test_bad_pushes_get_json_errors(
    provider: MockIdP,
    params: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
    description: str,
) -> None:
    response = push(provider, params, auth=auth)

    assert response.status_code == status
    assert response.json() == {"error": error, "error_description": description}
    assert (provider.requests[-1].error, provider.requests[-1].error_description) == (error, description)
    assert provider.state.pushed_requests == {}


def test_a_public_client_pushes_with_pkce(provider: MockIdP) -> None:
    provider.add_client(SPA)

    response = push(provider, {**GOOD, "client_id": "spa", "code_challenge": "", "code_challenge_method": ""})

    assert response.json() == {
        "error": "invalid_request",
        "error_description": "client 'spa' is public and must use PKCE: send a code_challenge (RFC 9700 section 2.1.1)",
    }


def test_the_par_endpoint_takes_post_only(provider: MockIdP) -> None:
    response = push(provider, {}, method="GET")

    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "invalid_request",
            "error_description": "the pushed authorization request endpoint takes POST only (RFC 9126 section 2.1)",
        },
    )


# -- the request_uri at the authorization endpoint (§4) ----------------------------------------


def test_a_request_uri_is_single_use(provider: MockIdP) -> None:
    uri = pushed(provider, auth_request(provider))

    first = by_reference(provider, uri)
    second = by_reference(provider, uri)

    assert "code" in callback_params(first)
    assert page_error(provider, second) == (
        "invalid_request_uri",
        "the request_uri was already used: a pushed request is good for one authorization (RFC 9126 section 4);"
        " push it again",
    )


def test_an_error_answer_uses_the_request_uri_up_too(provider: MockIdP) -> None:
    uri = pushed(provider, auth_request(provider, prompt="none"))

    refused = callback_params(by_reference(provider, uri))

    assert refused["error"] == "login_required"
    assert page_error(provider, by_reference(provider, uri))[0] == "invalid_request_uri"


def test_a_request_uri_is_bound_to_the_client_that_pushed_it(provider: MockIdP) -> None:
    provider.add_client(SPA)
    uri = pushed(provider, auth_request(provider))

    response = Browser(provider).client.get(
        provider.endpoint("authorize"), params={"client_id": "spa", "request_uri": uri}
    )

    assert page_error(provider, response) == (
        "invalid_request_uri",
        "the request_uri was pushed by another client, not 'spa' (RFC 9126 section 4)",
    )
    assert "code" in callback_params(by_reference(provider, uri))  # still good for its own client


@pytest.mark.parametrize(
    ("params", "error", "description"),
    [
        (
            {"client_id": "mockidp-client", "request_uri": URN + "unknown"},
            "invalid_request_uri",
            "the request_uri is not known to this provider: push the request to https://idp.mockidp.test/par first"
            " (RFC 9126 section 2.1)",
        ),
        (
            {"request_uri": URN + "unknown"},
            "invalid_request",
            "client_id is required with a request_uri (RFC 9126 section 4)",
        ),
        (
            {"client_id": "mockidp-client", "request_uri": "https://app.example/request.jwt"},
            "request_uri_not_supported",
            "request_uri 'https://app.example/request.jwt' is not one this provider issued: it takes only the"
            " urn:ietf:params:oauth:request_uri:... values its pushed authorization request endpoint"
            " https://idp.mockidp.test/par answers (RFC 9126 section 4), and does not fetch request objects by URL"
            " (OIDC Core section 6.2)",
        ),
        (
            {"client_id": "mockidp-client", "request_uri": URN + "x", "request": "a.b.c"},
            "invalid_request",
            "send request or request_uri, not both (OIDC Core section 6)",
        ),
    ],
    ids=["unknown", "no-client_id", "by-url", "both"],
)
def test_unusable_request_uris_get_an_error_page(
    provider: MockIdP, params: dict[str, str], error: str, description: str
) -> None:
    response = Browser(provider).client.get(provider.endpoint("authorize"), params=params)

    assert page_error(provider, response) == (error, description)


def test_a_request_uri_error_goes_back_to_a_verified_redirect_uri_sent_beside_it(provider: MockIdP) -> None:
    response = by_reference(provider, URN + "unknown", redirect_uri=REDIRECT_URI, state="s1")

    assert response.status_code == 302
    params = callback_params(response)
    assert (params["error"], params["state"]) == ("invalid_request_uri", "s1")


def test_the_login_page_keeps_the_request_uri_until_the_user_answers(key_pool: KeyPool) -> None:
    idp = make(key_pool, interactive=True)
    browser = Browser(idp)
    request = auth_request(idp)
    uri = pushed(idp, request)

    form = by_reference(idp, uri, browser)
    answered = browser.client.post(
        idp.endpoint("authorize"),
        data={
            "client_id": "mockidp-client",
            "request_uri": uri,
            "mockidp_username": "alice",
            "mockidp_action": "login",
            "mockidp_csrf": parse_form(form.text).hidden["mockidp_csrf"],
        },
    )

    assert form.status_code == 200
    assert f'value="{uri}"' in form.text
    assert callback_params(answered)["state"] == request.state
    assert redeem(idp, answered, request)["scope"] == "openid profile email"
    assert page_error(idp, by_reference(idp, uri, browser))[0] == "invalid_request_uri"


# -- requiring pushed requests (§5, §6) --------------------------------------------------------


def test_a_provider_that_requires_pushed_requests_refuses_others(key_pool: KeyPool) -> None:
    idp = make(key_pool, require_pushed_authorization_requests=True)
    request = auth_request(idp)

    direct = Browser(idp).authorize(request)
    by_push = by_reference(idp, pushed(idp, request))

    assert callback_params(direct)["error_description"] == (
        "this provider takes only pushed authorization requests: push it to https://idp.mockidp.test/par and send"
        " the request_uri it answers (RFC 9126 section 5)"
    )
    assert callback_params(direct)["error"] == "invalid_request"
    assert "code" in callback_params(by_push)


def test_a_client_that_requires_pushed_requests_gets_refused_without(key_pool: KeyPool) -> None:
    idp = make(key_pool, clients=(ProviderConfig().clients[0], STRICT_CLIENT))

    direct = Browser(idp).authorize(auth_request(idp, client_id="pushy"))
    other = Browser(idp).authorize(auth_request(idp))

    assert (callback_params(direct)["error"], callback_params(direct)["error_description"]) == (
        "invalid_request",
        "client 'pushy' must push its authorization requests: push it to https://idp.mockidp.test/par and send the"
        " request_uri it answers (RFC 9126 section 6)",
    )
    assert "code" in callback_params(other)


def test_discovery_advertises_the_endpoint_and_the_requirement(key_pool: KeyPool) -> None:
    plain, required = make(key_pool), make(key_pool, require_pushed_authorization_requests=True)
    with httpx2.Client(transport=plain.transport(httpx2)) as client:
        meta = client.get(plain.metadata_url).json()
    with httpx2.Client(transport=required.transport(httpx2)) as client:
        strict = client.get(required.metadata_url).json()

    assert meta["pushed_authorization_request_endpoint"] == "https://idp.mockidp.test/par"
    assert (meta["require_pushed_authorization_requests"], strict["require_pushed_authorization_requests"]) == (
        False,
        True,
    )


def test_the_requirement_is_a_client_spec_field_and_a_config_field() -> None:
    from mockidp._specs import parse_client

    client = parse_client("pushy:s3cret,require_pushed_authorization_requests=true,dpop_bound_access_tokens=false")

    assert (client.require_pushed_authorization_requests, client.dpop_bound_access_tokens) == (True, False)
    with pytest.raises(
        ValueError, match=r"ProviderConfig\.request_uri_ttl must be a positive number of seconds, got 0"
    ):
        ProviderConfig(request_uri_ttl=0)
    with pytest.raises(ValueError, match=r"client 'x': require_pushed_authorization_requests must be true or false"):
        Client(client_id="x", require_pushed_authorization_requests="yes")  # type: ignore[arg-type]


# -- authlib ------------------------------------------------------------------------------------


def test_authlib_pushes_and_sends_the_request_uri(routed: MockIdP) -> None:
    provider = routed
    with OAuth2Client(
        "mockidp-client",
        "mockidp-secret",
        redirect_uri=REDIRECT_URI,
        scope="openid profile",
        code_challenge_method="S256",
        verify=TLS,
    ) as client:
        request = auth_request(provider, scope="openid profile")
        pushed_answer = client.request(
            "POST",
            provider.endpoint("pushed_authorization_request_endpoint"),
            data=request.params,
            auth=("mockidp-client", "mockidp-secret"),
            withhold_token=True,
        )
        url, _ = client.create_authorization_url(
            provider.endpoint("authorization_endpoint"), request_uri=pushed_answer.json()["request_uri"]
        )
        redirect = Browser(provider).client.get(url)
        token = client.fetch_token(
            provider.endpoint("token_endpoint"),
            authorization_response=redirect.headers["location"],
            state=request.state,
            code_verifier=request.verifier,
        )

    assert pushed_answer.status_code == 201
    assert token["scope"] == "openid profile"
    assert "id_token" in token


def test_under_a_state_limit_used_request_uris_are_forgotten_first(provider: MockIdP) -> None:
    provider.state.limit = 16
    used = pushed(provider, auth_request(provider))
    by_reference(provider, used)

    kept = [pushed(provider, auth_request(provider)) for _ in range(16)]

    assert list(provider.state.pushed_requests) == kept[1:]
