"""The oidc_login app against an in-process provider: OIDC Core §3.1 (code flow), RP-Initiated Logout 1.0.

Each test drives the app as a browser would, through mockidp's fixtures: ``app`` (built by
``create_app`` after ``idp_env`` set its settings), ``app_client`` (a TestClient whose requests to the
provider reach it) and ``idp`` (the provider: simulated logins, refusals, faults, tampered tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from freezegun import freeze_time
from mockidp import MockIdP, User
from mockidp.testing import assert_redirect
from starlette.applications import Starlette
from starlette.config import Config
from starlette.testclient import TestClient

from oidc_login import DB, create_app

ID_TOKEN_TTL = 3600  # mockidp's default id_token_ttl: how long a login lasts in this app
CALLBACK = "http://testserver/auth/callback"
NOT_AUTHENTICATED = {"message": "User not authenticated"}
INVALID_ID_TOKEN = {
    "error": "invalid_id_token",
    "error_description": "The identity provider's ID token failed validation, so you were not signed in.",
}
TOKEN_ERROR = "The identity provider failed to complete the sign-in. Try again later."

UserInfo = Callable[[str], dict[str, Any]]
TokenError = Literal["server_error", "temporarily_unavailable", "invalid_grant"]


def test_public_page_needs_no_login(app_client: TestClient) -> None:
    response = app_client.get("/public")

    assert response.status_code == 200
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize("path", ["/other", "/", "/other?tab=2"])
def test_other_paths_send_the_browser_to_the_provider(idp: MockIdP, app_client: TestClient, path: str) -> None:
    response = app_client.get(path)

    login = idp.assert_login_redirect(response, scopes=["email", "profile"], pkce=True)
    assert login.redirect_uri == CALLBACK
    assert "prompt" not in login.params


def test_login_shows_the_email_and_stores_the_tokens(
    idp: MockIdP, app_client: TestClient, db: DB, userinfo: UserInfo
) -> None:
    result = idp.login(app_client, "/other")

    assert result.response.status_code == 200
    assert result.response.json() == {"email": "alice@example.com"}
    tokens = db.get("alice")
    assert tokens is not None
    assert {"access_token", "id_token", "refresh_token"} <= tokens.keys()
    assert userinfo(tokens["access_token"])["email"] == "alice@example.com"
    public = app_client.get("/public").json()
    assert (public["sub"], public["email"]) == ("alice", "alice@example.com")


def test_login_returns_to_the_page_first_asked_for(idp: MockIdP, app_client: TestClient) -> None:
    result = idp.login(app_client, "/other?tab=2")

    assert result.response.status_code == 200
    assert result.trail[-1].url == "http://testserver/other?tab=2"


@pytest.mark.parametrize("path", ["//other", "/\\other"])
def test_the_return_path_never_leaves_the_site(idp: MockIdP, app_client: TestClient, path: str) -> None:
    # As a Location, //other would be the site "other": the app goes back to its own /other instead.
    result = idp.login(app_client, f"http://testserver{path}")

    callback = next(hop for hop in result.trail if hop.url.startswith(CALLBACK))
    assert callback.location == "http://testserver/other"
    assert result.response.json() == {"email": "alice@example.com"}


@pytest.mark.mockidp(users=[User.named("alice"), User.named("bob")])
def test_two_users_get_their_own_tokens(
    idp: MockIdP, app: Starlette, app_client: TestClient, db: DB, userinfo: UserInfo
) -> None:
    bobs_browser = TestClient(app, follow_redirects=False)

    alice = idp.login(app_client, "/other", user="alice")
    bob = idp.login(bobs_browser, "/other", user="bob")

    assert alice.response.json() == {"email": "alice@example.com"}
    assert bob.response.json() == {"email": "bob@example.com"}
    alice_tokens, bob_tokens = db.get("alice"), db.get("bob")
    assert alice_tokens is not None
    assert bob_tokens is not None
    assert userinfo(alice_tokens["access_token"])["sub"] == "alice"
    assert userinfo(bob_tokens["access_token"])["sub"] == "bob"
    assert app_client.get("/other").json() == {"email": "alice@example.com"}
    assert bobs_browser.get("/other").json() == {"email": "bob@example.com"}


def test_an_expired_login_goes_back_to_the_provider_silently(idp: MockIdP, app_client: TestClient) -> None:
    with freeze_time() as clock:
        idp.login(app_client, "/other")
        clock.tick(ID_TOKEN_TTL - 1)
        assert app_client.get("/other").status_code == 200

        clock.tick(1)
        assert app_client.get("/public").json() == NOT_AUTHENTICATED
        login = idp.assert_login_redirect(app_client.get("/other"))
        assert login.params["prompt"] == "none"

        result = idp.login(app_client, "/other")

    assert result.response.json() == {"email": "alice@example.com"}
    silent = idp.requests.filter(endpoint="authorize")[-1]
    assert (silent.params["prompt"], silent.error) == ("none", None)


def test_a_silent_login_the_provider_refuses_becomes_an_interactive_one(idp: MockIdP, app_client: TestClient) -> None:
    with freeze_time() as clock:
        idp.login(app_client, "/other")
        clock.tick(ID_TOKEN_TTL)
        idp.end_sessions()  # the provider forgot the user: prompt=none gets login_required

        response = app_client.get("/other", follow_redirects=True)

    assert response.status_code == 200
    assert response.json() == {"email": "alice@example.com"}
    authorize = idp.requests.filter(endpoint="authorize")[-2:]
    assert [(r.params.get("prompt"), r.error) for r in authorize] == [("none", "login_required"), (None, None)]


def test_logout_forgets_the_user_here_and_at_the_provider(idp: MockIdP, app_client: TestClient, db: DB) -> None:
    idp.login(app_client, "/other")
    stored = db.get("alice")
    assert stored is not None

    result = idp.logout(app_client, "/logout")

    assert result.response.status_code == 200
    assert result.response.json() == {"message": "Logged out"}
    assert db.get("alice") is None
    assert app_client.get("/public").json() == NOT_AUTHENTICATED
    idp.assert_login_redirect(app_client.get("/other"))
    end_session = idp.requests.filter(endpoint="end_session")[-1]
    assert end_session.params["id_token_hint"] == stored["id_token"]
    assert end_session.params["post_logout_redirect_uri"] == "http://testserver/auth/logged-out"


def test_logout_without_a_login_goes_to_the_public_page(app_client: TestClient) -> None:
    assert_redirect(app_client.get("/logout"), "/public")


def test_refusing_consent_shows_a_clear_error(idp: MockIdP, app_client: TestClient, db: DB) -> None:
    result = idp.refuse(app_client, "/other")

    assert result.response.status_code == 403
    body = result.response.json()
    assert (body["error"], body["error_description"]) == (
        "access_denied",
        "Sign-in was cancelled at the identity provider.",
    )
    assert db.get("alice") is None


@pytest.mark.parametrize(
    ("error", "status"),
    [("server_error", 500), ("temporarily_unavailable", 503), ("invalid_grant", 400)],
)
def test_a_failing_token_endpoint_shows_a_clear_error(
    idp: MockIdP, app_client: TestClient, db: DB, error: TokenError, status: int
) -> None:
    idp.fail("token", error=error, status=status)

    response = app_client.get("/other", follow_redirects=True)

    assert response.status_code == 502
    assert response.json() == {"error": "token_error", "error_description": TOKEN_ERROR, "provider_error": error}
    assert db.get("alice") is None


def test_an_unreachable_provider_shows_a_clear_error(idp: MockIdP, app_client: TestClient) -> None:
    idp.fail("discovery", status=503)

    response = app_client.get("/other")

    assert response.status_code == 502
    assert response.json() == {
        "error": "provider_unreachable",
        "error_description": "The identity provider cannot be reached. Try again later.",
    }


def test_the_app_refuses_every_tampered_id_token(
    idp: MockIdP, app_client: TestClient, db: DB, tampered_id_token: str
) -> None:
    result = idp.login(app_client, "/other", tamper=tampered_id_token)

    assert result.response.status_code == 401
    assert result.response.json() == INVALID_ID_TOKEN
    assert db.get("alice") is None
    idp.assert_login_redirect(app_client.get("/other"))


@pytest.mark.parametrize(
    "query",
    ["code=stolen&state=made-up", "error=access_denied&state=made-up", ""],
    ids=["code", "error", "nothing"],
)
def test_a_callback_this_browser_did_not_start_is_refused(app_client: TestClient, query: str) -> None:
    response = app_client.get(f"/auth/callback?{query}")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_state",
        "error_description": "This sign-in response does not belong to a sign-in started in this browser. Start again.",
    }


def test_create_app_names_a_missing_setting() -> None:
    with pytest.raises(KeyError, match=r"Config 'SERVER_METADATA_URL' is missing, and has no default\."):
        create_app(Config(environ={}))
