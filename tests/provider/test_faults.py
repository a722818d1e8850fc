"""Faults on demand and the request log.

``fail`` makes the next calls of an endpoint answer an OAuth error as that endpoint would (RFC 6749
§5.2 JSON at the token endpoint, RFC 6749 §4.1.2.1 redirect back to the client at the authorization
endpoint); ``slow`` delays them. ``MockIdP.requests`` records every request in protocol terms.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mockidp import ConfigError, MockIdP, _clock
from mockidp._endpoints import NAMES
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, client_auth, login, token_request

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}
ENDPOINT_NAMES = ", ".join(NAMES)


def client_credentials(idp: MockIdP) -> httpx2.Response:
    return token_request(idp, CLIENT_CREDENTIALS, auth=client_auth(idp))


def call(idp: MockIdP, endpoint: str) -> httpx2.Response:
    """One well-formed request to ``endpoint`` that succeeds when no fault is pending."""
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        if endpoint == "discovery":
            return client.get(idp.metadata_url)
        if endpoint == "jwks":
            return client.get(idp.jwks_uri)
        if endpoint == "userinfo":
            token = idp.issue_tokens().access_token
            return client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {token}"})
        if endpoint in ("introspection", "revocation"):
            token = idp.issue_tokens().access_token
            url = idp.endpoint(f"{endpoint}_endpoint")
            return client.post(url, data={"token": token}, auth=client_auth(idp))
        if endpoint == "end_session":
            return client.get(idp.endpoint("end_session_endpoint"))
        if endpoint == "authorize":
            return Browser(idp).authorize(auth_request(idp))
        return client_credentials(idp)


# -- fail -----------------------------------------------------------------------------------------


def test_a_token_fault_answers_twice_then_recovers(provider: MockIdP) -> None:
    provider.fail("token", error="temporarily_unavailable", times=2)

    answers = [client_credentials(provider) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {
        "error": "temporarily_unavailable",
        "error_description": "mockidp fault injected at the token endpoint",
    }
    assert answers[0].headers["cache-control"] == "no-store"
    assert [r.error for r in provider.requests] == ["temporarily_unavailable", "temporarily_unavailable", None]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("server_error", 500),
        ("temporarily_unavailable", 503),
        ("invalid_client", 401),
        ("invalid_token", 401),
        ("insufficient_scope", 403),
        ("invalid_grant", 400),
        ("access_denied", 400),
    ],
)
def test_each_error_has_its_usual_status(provider: MockIdP, error: Any, status: int) -> None:
    provider.fail("token", error=error)

    response = client_credentials(provider)

    assert (response.status_code, response.json()["error"]) == (status, error)


@pytest.mark.parametrize("endpoint", ["discovery", "jwks", "token", "userinfo", "introspection", "revocation"])
def test_a_status_only_fault_answers_that_status(provider: MockIdP, endpoint: str) -> None:
    provider.fail(endpoint, status=502)

    failed, recovered = call(provider, endpoint), call(provider, endpoint)

    assert failed.status_code == 502
    assert failed.json() == {
        "error": "server_error",
        "error_description": f"mockidp fault injected at the {endpoint} endpoint",
    }
    assert recovered.status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "error", "challenge"),
    [
        ("token", "invalid_client", 'Basic realm="mockidp"'),
        ("introspection", "invalid_client", 'Basic realm="mockidp"'),
        ("userinfo", "invalid_token", 'Bearer realm="mockidp", error="invalid_token"'),
    ],
)
def test_a_401_fault_carries_a_challenge(provider: MockIdP, endpoint: str, error: Any, challenge: str) -> None:
    """RFC 6749 §5.2 and RFC 6750 §3: a 401 answer always says how to authenticate."""
    provider.fail(endpoint, error=error)

    response = call(provider, endpoint)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


def test_a_fault_carries_its_description(provider: MockIdP) -> None:
    provider.fail("userinfo", error="invalid_token", description="the token was revoked upstream")

    response = call(provider, "userinfo")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "the token was revoked upstream"}


def test_a_fault_at_authorize_redirects_back_to_the_client(provider: MockIdP) -> None:
    provider.fail("authorize", error="temporarily_unavailable")
    browser = Browser(provider)
    request = auth_request(provider)

    response = browser.authorize(request)

    assert response.status_code == 302
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert callback_params(response) == {
        "error": "temporarily_unavailable",
        "error_description": "mockidp fault injected at the authorize endpoint",
        "state": request.params["state"],
        "iss": "https://idp.mockidp.test",
    }
    assert "code" in callback_params(browser.authorize(auth_request(provider)))


def test_a_fault_at_end_session_shows_an_error_page(provider: MockIdP) -> None:
    provider.fail("end_session", status=503)

    response = call(provider, "end_session")

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "mockidp fault injected at the end_session endpoint" in response.text


def test_faults_belong_to_their_endpoint(provider: MockIdP) -> None:
    provider.fail("userinfo", times=3)

    assert call(provider, "token").status_code == 200
    assert call(provider, "jwks").status_code == 200
    assert call(provider, "userinfo").status_code == 500


def test_faults_are_taken_in_order(provider: MockIdP) -> None:
    provider.fail("token", error="temporarily_unavailable")
    provider.fail("token", error="invalid_client")

    statuses = [client_credentials(provider).status_code for _ in range(3)]

    assert statuses == [503, 401, 200]


def test_a_fault_counts_down(provider: MockIdP) -> None:
    fault = provider.fail("jwks", times=2)

    call(provider, "jwks")

    assert fault.remaining == 1


def test_clearing_faults(provider: MockIdP) -> None:
    provider.fail("token", times=5)

    provider.faults.clear()

    assert client_credentials(provider).status_code == 200


def test_a_whole_flow_survives_a_transient_token_fault(provider: MockIdP) -> None:
    provider.fail("token", error="temporarily_unavailable")
    assert client_credentials(provider).status_code == 503

    assert "id_token" in login(provider)


@pytest.mark.parametrize(
    ("call_fault", "message"),
    [
        (
            lambda idp: idp.fail("tokens"),
            f"unknown endpoint 'tokens' (did you mean 'token'?); choose one of {ENDPOINT_NAMES}",
        ),
        (
            lambda idp: idp.slow("/token", 1),
            f"unknown endpoint '/token' (did you mean 'token'?); choose one of {ENDPOINT_NAMES}",
        ),
        (lambda idp: idp.fail("token", times=0), "times must be a positive whole number, got 0"),
        (lambda idp: idp.fail("token", times=-1), "times must be a positive whole number, got -1"),
        (lambda idp: idp.fail("token", times=1.5), "times must be a positive whole number, got 1.5"),
        (lambda idp: idp.fail("token", times=True), "times must be a positive whole number, got True"),
        (lambda idp: idp.slow("token", 1, times=0), "times must be a positive whole number, got 0"),
        (
            lambda idp: idp.fail("token", status=200),
            "a fault's status must be an HTTP error status (400-599), got 200",
        ),
        (
            lambda idp: idp.fail("token", status=600),
            "a fault's status must be an HTTP error status (400-599), got 600",
        ),
        (lambda idp: idp.slow("token", -1), "delay must be zero or more seconds, got -1"),
        (lambda idp: idp.slow("token", "2"), "delay must be zero or more seconds, got '2'"),
        (lambda idp: idp.slow("token", float("inf")), "delay must be zero or more seconds, got inf"),
        (lambda idp: idp.slow("token", float("nan")), "delay must be zero or more seconds, got nan"),
    ],
)
def test_bad_faults_are_refused(provider: MockIdP, call_fault: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call_fault(provider)

    assert str(caught.value) == message
    assert client_credentials(provider).status_code == 200


# -- slow -----------------------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the provider waited, recorded instead of waited."""
    waited: list[float] = []

    async def sleep(delay: float) -> None:
        waited.append(delay)

    monkeypatch.setattr(_clock, "real_sleep", sleep)
    return waited


def test_slow_delays_the_next_calls_then_answers_normally(provider: MockIdP, sleeps: list[float]) -> None:
    provider.slow("token", 2.5, times=2)

    statuses = [client_credentials(provider).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert sleeps == [2.5, 2.5]


@pytest.mark.parametrize("endpoint", ["discovery", "jwks", "userinfo", "introspection", "revocation"])
def test_slow_applies_to_every_endpoint(provider: MockIdP, sleeps: list[float], endpoint: str) -> None:
    provider.slow(endpoint, 0.75)

    assert call(provider, endpoint).status_code == 200
    assert sleeps == [0.75]


def test_slow_then_fail(provider: MockIdP, sleeps: list[float]) -> None:
    provider.slow("token", 1)
    provider.fail("token")

    statuses = [client_credentials(provider).status_code for _ in range(3)]

    assert statuses == [200, 500, 200]
    assert sleeps == [1]


# -- the request log ------------------------------------------------------------------------------


def test_the_log_records_each_request_in_protocol_terms(provider: MockIdP) -> None:
    tokens = login(provider)
    token_request(
        provider, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, auth=client_auth(provider)
    )
    token_request(provider, {**CLIENT_CREDENTIALS, "client_id": "mockidp-client", "client_secret": "wrong"})

    authorize, code, refresh, bad = provider.requests

    assert (authorize.endpoint, authorize.method, authorize.status, authorize.user) == (
        "authorize",
        "GET",
        302,
        "alice",
    )
    assert (authorize.pkce, authorize.scopes) == (True, ("openid", "profile", "email"))
    assert (code.grant_type, code.client_auth_method, code.pkce, code.status) == (
        "authorization_code",
        "client_secret_basic",
        True,
        200,
    )
    assert (refresh.grant_type, refresh.scopes, refresh.status) == (
        "refresh_token",
        ("openid", "profile", "email"),
        200,
    )
    assert (bad.status, bad.error, bad.error_description) == (
        401,
        "invalid_client",
        "wrong client_secret for client 'mockidp-client'",
    )
    assert "client_secret" not in bad.params
    assert str(authorize) == "GET authorize -> 302 client_id=mockidp-client"
    assert str(code) == "POST token -> 200 grant_type=authorization_code client_id=mockidp-client"
    assert str(bad) == (
        "POST token -> 401 grant_type=client_credentials client_id=mockidp-client"
        " error=invalid_client (wrong client_secret for client 'mockidp-client')"
    )


def test_filter_picks_entries_by_their_fields(provider: MockIdP) -> None:
    tokens = login(provider)
    for _ in range(2):
        response = token_request(
            provider,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=client_auth(provider),
        )
        tokens = response.json()
    client_credentials(provider)

    refreshes = provider.requests.filter(endpoint="token", grant_type="refresh_token")

    assert [r.status for r in refreshes] == [200, 200]
    assert len(provider.requests.filter(endpoint="token")) == 4
    assert len(provider.requests.filter(endpoint="authorize", status=302)) == 1
    assert provider.requests.filter(endpoint="userinfo") == []


def test_filter_refuses_an_unknown_field(provider: MockIdP) -> None:
    with pytest.raises(TypeError) as caught:
        provider.requests.filter(endpoint="token", grant="refresh_token")

    assert str(caught.value) == (
        "unknown RequestRecord field 'grant' (did you mean 'grant_type'?); choose one of acr, backchannel_logout,"
        " client_auth_method, client_id, dpop_jkt, endpoint, error, error_description, grant_type, method, params,"
        " pkce, request_object, request_uri, scopes, status, time, url, user"
    )


def test_filter_refuses_an_unknown_endpoint(provider: MockIdP) -> None:
    with pytest.raises(ValueError, match=r"^unknown endpoint") as caught:
        provider.requests.filter(endpoint="/token")

    assert str(caught.value) == f"unknown endpoint '/token' (did you mean 'token'?); choose one of {ENDPOINT_NAMES}"


def test_the_log_is_per_provider(provider: MockIdP, key_pool: Any) -> None:
    other = MockIdP(keys=key_pool)

    client_credentials(provider)

    assert len(provider.requests) == 1
    assert other.requests == []


@pytest.mark.parametrize(("limit", "kept"), [(2, ["discovery", "jwks"]), (0, [])])
def test_a_log_with_a_limit_keeps_the_latest_requests(key_pool: Any, limit: int, kept: list[str]) -> None:
    provider = MockIdP(keys=key_pool, request_log_limit=limit)

    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        for url in (provider.jwks_uri, provider.metadata_url, provider.jwks_uri):
            client.get(url)

    assert [record.endpoint for record in provider.requests] == kept


def test_a_negative_log_limit_is_refused(key_pool: Any) -> None:
    with pytest.raises(ValueError, match=r"^limit must be") as caught:
        MockIdP(keys=key_pool, request_log_limit=-1)

    assert str(caught.value) == "limit must be None or at least 0, got -1"


@pytest.mark.asyncio
async def test_a_slow_answer_arrives_under_a_frozen_clock_on_the_test_loop(provider: MockIdP) -> None:
    # freeze_time stops the event loop's clock, so an asyncio.sleep in the provider would never end.
    from freezegun import freeze_time

    provider.slow("jwks", 0.01)
    with freeze_time("2030-01-01"):
        async with httpx2.AsyncClient(transport=provider.async_transport(httpx2)) as client:
            response = await client.get(provider.jwks_uri)
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ["authorize", "end_session"])
def test_a_fault_with_a_status_at_a_front_channel_endpoint_answers_that_status(
    provider: MockIdP, endpoint: str
) -> None:
    # A provider that is down answers 502 to the browser; it does not redirect back with an error.
    provider.fail(endpoint, status=502)

    response = call(provider, endpoint)

    assert response.status_code == 502
    assert "location" not in response.headers
    assert "because a fault was injected with this status" in response.text
    assert provider.requests[-1].error == "server_error"
