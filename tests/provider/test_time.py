"""Time: every lifetime the provider enforces follows ``time.time()``, so freezegun's ``freeze_time``,
``tick`` and ``move_to`` drive it. Token ``iat``/``exp`` (RFC 7519 §4.1.4, §4.1.6), access token expiry
at userinfo (RFC 6750 §3.1) and introspection (RFC 7662 §2.2), code lifetime (RFC 6749 §4.1.2),
refresh token lifetime (§6) and the IdP session behind ``prompt=none`` (OIDC Core §3.1.2.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from freezegun import freeze_time
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import KeyPool, MockIdP, ProviderConfig
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, client_auth, token_request

START = "2030-01-01 00:00:00"
T0 = 1893456000  # START as a Unix time
CONFIG = ProviderConfig(access_token_ttl=300, id_token_ttl=600, refresh_token_ttl=900, code_ttl=60, session_ttl=1200)


@pytest.fixture
def clock() -> Iterator[Any]:
    with freeze_time(START) as frozen:
        yield frozen


@pytest.fixture
def idp(key_pool: KeyPool, clock: Any) -> MockIdP:
    return MockIdP(CONFIG, keys=key_pool)


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


def userinfo(idp: MockIdP, access_token: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})


def introspect(idp: MockIdP, token: str) -> dict[str, Any]:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(idp.endpoint("introspection_endpoint"), data={"token": token}, auth=client_auth(idp))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def authorize(browser: Browser, **params: str) -> dict[str, str]:
    request = auth_request(browser.idp, False, **params)
    response = browser.authorize(request)
    assert response.status_code == 302
    return callback_params(response)


def redeem(idp: MockIdP, code: str) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    return token_request(idp, data, auth=client_auth(idp))


def test_tokens_carry_the_frozen_time(idp: MockIdP) -> None:
    tokens = idp.issue_tokens()
    assert tokens.id_token is not None

    access, id_token = claims_of(idp, tokens.access_token), claims_of(idp, tokens.id_token)

    assert (access["iat"], access["nbf"], access["exp"], access["auth_time"]) == (T0, T0, T0 + 300, T0)
    assert (id_token["iat"], id_token["exp"], id_token["auth_time"]) == (T0, T0 + 600, T0)


def test_a_code_flow_records_when_the_user_logged_in(idp: MockIdP, clock: Any) -> None:
    browser = Browser(idp)
    authorize(browser)  # logs in at T0
    clock.tick(timedelta(seconds=100))

    code = authorize(browser)["code"]  # the session's login, 100 s ago
    claims = claims_of(idp, redeem(idp, code).json()["id_token"])

    assert (claims["iat"], claims["auth_time"]) == (T0 + 100, T0)


def test_an_access_token_lives_exactly_its_lifetime(idp: MockIdP, clock: Any) -> None:
    token = idp.issue_tokens().access_token

    clock.move_to("2030-01-01 00:04:59")
    assert userinfo(idp, token).status_code == 200
    assert introspect(idp, token)["active"] is True

    clock.tick(timedelta(seconds=1))
    response = userinfo(idp, token)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "the access token expired"}
    assert response.headers["www-authenticate"] == (
        'Bearer realm="mockidp", error="invalid_token", error_description="the access token expired"'
    )
    assert introspect(idp, token) == {"active": False}


def test_issue_tokens_expires_in_overrides_the_lifetime(idp: MockIdP, clock: Any) -> None:
    token = idp.issue_tokens(expires_in=10).access_token

    clock.tick(timedelta(seconds=10))

    assert userinfo(idp, token).status_code == 401


def test_a_refresh_token_expires(idp: MockIdP, clock: Any) -> None:
    refresh = idp.issue_tokens().refresh_token
    assert refresh is not None
    clock.tick(timedelta(seconds=901))

    response = token_request(idp, {"grant_type": "refresh_token", "refresh_token": refresh}, auth=client_auth(idp))

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "the refresh token expired"}
    assert introspect(idp, refresh) == {"active": False}


def test_a_code_expires(idp: MockIdP, clock: Any) -> None:
    code = authorize(Browser(idp))["code"]
    clock.tick(timedelta(seconds=60))

    response = redeem(idp, code)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code expired (it lives 60 s)",
    }


def test_a_code_redeemed_within_its_lifetime_works(idp: MockIdP, clock: Any) -> None:
    code = authorize(Browser(idp))["code"]
    clock.tick(timedelta(seconds=59))

    assert redeem(idp, code).status_code == 200


def test_prompt_none_works_while_the_session_lives(idp: MockIdP, clock: Any) -> None:
    browser = Browser(idp)
    authorize(browser)
    clock.tick(timedelta(seconds=1199))

    assert "code" in authorize(browser, prompt="none")


def test_sessions_expire_and_prompt_none_then_needs_a_login(idp: MockIdP, clock: Any) -> None:
    browser = Browser(idp)
    authorize(browser)
    clock.tick(timedelta(seconds=1200))

    answer = authorize(browser, prompt="none")

    assert answer["error"] == "login_required"
    assert answer["error_description"] == "prompt=none, but the user has no session at the provider"


def test_max_age_counts_from_the_login(idp: MockIdP, clock: Any) -> None:
    browser = Browser(idp)
    authorize(browser)
    clock.tick(timedelta(seconds=120))

    answer = authorize(browser, prompt="none", max_age="60")

    assert answer["error"] == "login_required"
    assert answer["error_description"] == "prompt=none, but the session is older than max_age"


def test_the_request_log_records_the_frozen_time(idp: MockIdP, clock: Any) -> None:
    clock.tick(timedelta(seconds=5))

    userinfo(idp, "not-a-token")

    assert [r.time for r in idp.requests] == [T0 + 5]


def test_a_provider_may_have_its_own_clock(key_pool: KeyPool) -> None:
    now = [1_000_000.0]
    idp = MockIdP(CONFIG, keys=key_pool, clock=lambda: now[0])
    token = idp.issue_tokens().access_token

    assert claims_of(idp, token)["iat"] == 1_000_000
    now[0] += 300
    assert userinfo(idp, token).status_code == 401


def test_ending_sessions_logs_everyone_out(idp: MockIdP) -> None:
    browser = Browser(idp)
    authorize(browser)

    idp.end_sessions()

    assert authorize(browser, prompt="none")["error"] == "login_required"


@pytest.mark.parametrize("log_limit", [None, 1], ids=["full-log", "capped-log"])
def test_what_expired_is_forgotten_as_the_provider_keeps_serving(
    key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch, log_limit: int | None
) -> None:
    # A long-running `mockidp serve` (whose request log is capped) must not keep every code, token and
    # session it ever issued.
    import mockidp._context

    provider = MockIdP(keys=key_pool, request_log_limit=log_limit)
    monkeypatch.setattr(mockidp._context, "PRUNE_EVERY", 2)
    with freeze_time("2030-01-01") as clock:
        browser = Browser(provider)
        request = auth_request(provider)
        code = callback_params(browser.authorize(request))["code"]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        tokens = token_request(provider, {**data, "code_verifier": request.verifier or ""}, auth=client_auth(provider))
        state = provider.state
        assert (len(state.codes), len(state.access_tokens), len(state.refresh_tokens), len(state.sessions)) == (
            1,
            1,
            1,
            1,
        )

        clock.tick(timedelta(seconds=provider.config.refresh_token_ttl + 1))
        with httpx2.Client(transport=provider.transport(httpx2)) as client:
            client.get(provider.jwks_uri)
            client.get(provider.jwks_uri)  # the request that makes the count a multiple of PRUNE_EVERY

        assert (state.codes, state.access_tokens, state.refresh_tokens, state.sessions) == ({}, {}, {}, {})
        refreshed = token_request(
            provider,
            {"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
            auth=client_auth(provider),
        )
        assert refreshed.json()["error"] == "invalid_grant"


def test_revoking_a_grant_whose_tokens_were_forgotten_is_harmless(provider: MockIdP) -> None:
    with freeze_time("2030-01-01") as clock:
        provider.issue_tokens()
        (record,) = provider.state.access_tokens.values()
        grant = record.grant
        clock.tick(timedelta(days=2))
        assert provider.state.prune(provider.now()) == 2  # the access and the refresh token

        provider.state.revoke_grant(grant)
