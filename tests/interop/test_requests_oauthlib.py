"""requests-oauthlib's ``OAuth2Session`` against the loopback server (``serve()``), over real sockets.

The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), the UserInfo request (OIDC Core
§5.3) with the bearer token (RFC 6750 §2.1), refreshing (RFC 6749 §6) by hand and automatically
once the access token expired under a frozen clock, and an error response (§5.2) as oauthlib reads it.
The loopback server speaks plain http, so oauthlib is told to allow it (OAUTHLIB_INSECURE_TRANSPORT).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from freezegun import freeze_time
from oauthlib.oauth2 import InvalidGrantError  # type: ignore[import-untyped]
from requests_oauthlib import OAuth2Session

from mockidp import MockIdP

CLIENT_ID, CLIENT_SECRET = "mockidp-client", "mockidp-secret"
REDIRECT_URI = "http://testserver/callback"
SCOPE = ["openid", "profile", "email"]


@pytest.fixture(autouse=True)
def plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def metadata(provider: MockIdP) -> Iterator[dict[str, Any]]:
    with provider.serve() as issuer:
        document: dict[str, Any] = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        yield document


def log_in(session: OAuth2Session, metadata: dict[str, Any]) -> dict[str, Any]:
    """Authorization request, the user agent's redirect (not followed), and the code redeemed."""
    url, state = session.authorization_url(metadata["authorization_endpoint"], nonce="n-0S6_WzA2Mj")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{REDIRECT_URI}?code=")
    assert f"&state={state}&" in answer.headers["location"]
    token: dict[str, Any] = session.fetch_token(
        metadata["token_endpoint"], authorization_response=answer.headers["location"], client_secret=CLIENT_SECRET
    )
    return token


def test_code_flow_userinfo_and_refresh(provider: MockIdP, metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == provider.issuer
    assert metadata["issuer"].startswith("http://127.0.0.1:")
    with OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope=SCOPE, pkce="S256") as session:
        token = log_in(session, metadata)
        userinfo = session.get(metadata["userinfo_endpoint"], timeout=10).json()
        refreshed = session.refresh_token(metadata["token_endpoint"], client_id=CLIENT_ID, client_secret=CLIENT_SECRET)

    assert token["token_type"] == "Bearer"
    assert set(token) >= {"access_token", "id_token", "refresh_token", "expires_at"}
    assert token["scope"] == SCOPE
    assert userinfo["sub"] == "alice"
    assert userinfo["email"] == "alice@example.com"
    assert refreshed["access_token"] != token["access_token"]
    assert [(r.endpoint, r.grant_type, r.client_auth_method, r.pkce) for r in provider.requests] == [
        ("discovery", None, None, None),
        ("authorize", None, None, True),
        ("token", "authorization_code", "client_secret_basic", True),
        ("userinfo", None, None, None),
        ("token", "refresh_token", "client_secret_post", None),
    ]


def test_an_expired_access_token_is_refreshed_automatically(provider: MockIdP) -> None:
    updates: list[dict[str, Any]] = []
    with freeze_time("2030-01-01T00:00:00Z") as clock, provider.serve() as issuer:
        metadata = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
        session = OAuth2Session(
            CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            scope=SCOPE,
            pkce="S256",
            auto_refresh_url=metadata["token_endpoint"],
            auto_refresh_kwargs={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            token_updater=updates.append,
        )
        with session:
            first = log_in(session, metadata)
            clock.tick(3601)  # past the access token's expires_in
            userinfo = session.get(metadata["userinfo_endpoint"], timeout=10)

    assert userinfo.status_code == 200
    assert [u["access_token"] != first["access_token"] for u in updates] == [True]
    assert [(r.endpoint, r.grant_type, r.status) for r in provider.requests[-2:]] == [
        ("token", "refresh_token", 200),
        ("userinfo", None, 200),
    ]


def test_a_token_error_reaches_oauthlib_with_its_description(metadata: dict[str, Any]) -> None:
    session = OAuth2Session(CLIENT_ID, token={"access_token": "x", "token_type": "Bearer"})
    with session, pytest.raises(InvalidGrantError) as error:
        session.refresh_token(
            metadata["token_endpoint"],
            refresh_token="not-a-refresh-token",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )

    assert error.value.error == "invalid_grant"
    assert error.value.description == "the refresh token is not known to this provider"
    assert error.value.status_code == 400
