"""The authx tutorial app (seed 000) logs users in at mockidp: OIDC Core 1.0 §3.1, the authorization code flow.

authx 0.9.1's ``MiddlewareOauth2`` drives authlib 0.15.5: it reads the provider metadata (OIDC Discovery
§4), sends the browser to the authorization endpoint with ``state`` and ``nonce`` (Core §3.1.2.1), redeems
the code at the token endpoint with ``client_secret_basic`` (Core §9), validates the ID token with the
provider's JWKS (Core §3.1.3.7) on the callback and on every later request, and stores the token response
in its SQL table under the user's email. The app runs in its own environment (see ``_seedenv``); mockidp
serves on loopback in this process.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import ssl
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from mockidp import Client, KeyPool, MockIdP
from mockidp.testing import assert_login_redirect
from tests.compat._seedenv import SEED_COMPAT, AppFailed, running

pytestmark = pytest.mark.compat

APP = SEED_COMPAT / "authx_app" / "app.py"
CLIENT_ID = "authx-seed"
TLS = ssl.create_default_context()  # one CA bundle load for every client of this module


@dataclass(frozen=True)
class SeedApp:
    url: str
    database: Path
    client: Client


@pytest.fixture(scope="module")
def idp(key_pool: KeyPool) -> Iterator[MockIdP]:
    """One provider on loopback for the module's app, which reads the provider's metadata once and keeps it."""
    provider = MockIdP(keys=key_pool)
    with provider.serve():
        yield provider


@pytest.fixture(scope="module")
def app(authx_python: Path, idp: MockIdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedApp]:
    """The tutorial app, configured from its environment variables, on a free loopback port."""
    workdir = tmp_path_factory.mktemp("authx-seed")  # no .env.sample there: the settings below are all it reads
    database = workdir / "tokens.sqlite"
    secret = secrets.token_urlsafe(24)
    env = {
        "SERVER_METADATA_URL": idp.metadata_url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": secret,
        "SECRET_KEY": secrets.token_urlsafe(24),
        "DATABASE_URL": f"sqlite:///{database}",
        "HOST": "127.0.0.1",
        "PORT": "0",
    }
    with ExitStack() as stack:
        try:
            url = stack.enter_context(running([authx_python, APP], env=env, cwd=workdir))
        except AppFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        client = Client(client_id=CLIENT_ID, client_secret=secret, redirect_uris=(f"{url}/authorized",))
        yield SeedApp(url, database, idp.add_client(client))


def browser(*, follow_redirects: bool = False) -> httpx2.Client:
    """A user agent that keeps the cookies of both the app and the provider."""
    return httpx2.Client(verify=TLS, timeout=30, follow_redirects=follow_redirects)


def path_of(url: Any) -> str:
    return urlsplit(str(url)).path


def stored_token(app: SeedApp, user_id: str) -> dict[str, Any]:
    """The token response the app's ``DB.put`` stored for ``user_id``, read from its SQLite file."""
    with closing(sqlite3.connect(app.database)) as db:
        rows = db.execute("SELECT token FROM users WHERE id = ?", (user_id,)).fetchall()
    assert len(rows) == 1, f"expected one row for {user_id!r} in the app's users table, found {len(rows)}"
    token: dict[str, Any] = json.loads(rows[0][0])
    return token


def jose_header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


def introspect(idp: MockIdP, app: SeedApp, token: str) -> dict[str, Any]:
    with httpx2.Client(verify=TLS) as client:
        answer = client.post(
            idp.endpoint("introspection_endpoint"),
            data={"token": token},
            auth=(app.client.client_id, app.client.client_secret or ""),
        )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def test_public_path_says_the_user_is_not_authenticated(app: SeedApp) -> None:
    with browser() as agent:
        response = agent.get(f"{app.url}/public")

    assert response.status_code == 200
    assert response.json() == {"message": "User not authenticated"}


def test_protected_path_redirects_to_the_provider(app: SeedApp, idp: MockIdP) -> None:
    with browser() as agent:
        response = agent.get(f"{app.url}/other")

    assert response.status_code == 302
    # authlib 0.15.5 sends no PKCE unless told to; the tutorial does not tell it.
    login = assert_login_redirect(idp, response, scopes=["email", "profile"], pkce=False)
    assert (login.client_id, login.redirect_uri) == (CLIENT_ID, f"{app.url}/authorized")


def test_login_ends_on_the_protected_path_showing_the_email(app: SeedApp, idp: MockIdP) -> None:
    email = idp.user.claims["email"]

    with browser(follow_redirects=True) as agent:
        response = agent.get(f"{app.url}/other")

    assert response.status_code == 200
    assert str(response.url) == f"{app.url}/other"
    assert response.json()["email"] == email
    assert [(r.status_code, path_of(r.url)) for r in response.history] == [
        (302, "/other"),
        (302, "/authorize"),
        (307, "/authorized"),
    ]
    redeemed = idp.requests.filter(endpoint="token", client_id=CLIENT_ID)[-1]
    assert (redeemed.status, redeemed.grant_type, redeemed.client_auth_method) == (
        200,
        "authorization_code",
        "client_secret_basic",
    )


def test_login_stores_the_providers_tokens_in_the_apps_table(app: SeedApp, idp: MockIdP) -> None:
    email = idp.user.claims["email"]

    with browser(follow_redirects=True) as agent:
        agent.get(f"{app.url}/other").raise_for_status()
    token = stored_token(app, email)

    assert token["token_type"] == "Bearer"
    assert "id_token" in token
    access = introspect(idp, app, token["access_token"])
    assert (access["active"], access["sub"], access["client_id"]) == (True, idp.user.sub, CLIENT_ID)
    refresh = introspect(idp, app, token["refresh_token"])
    assert (refresh["active"], refresh["token_type"]) == (True, "refresh_token")


def test_login_after_a_key_rotation_fetches_the_new_key(app: SeedApp, idp: MockIdP) -> None:
    email = idp.user.claims["email"]
    with browser(follow_redirects=True) as agent:
        agent.get(f"{app.url}/other").raise_for_status()  # the app now holds the JWKS with the current key
        new_kid = idp.rotate_keys()
        fetched = len(idp.requests.filter(endpoint="jwks"))

    with browser(follow_redirects=True) as agent:
        response = agent.get(f"{app.url}/other")

    assert response.status_code == 200
    assert response.json()["email"] == email
    assert jose_header(stored_token(app, email)["id_token"])["kid"] == new_kid
    assert len(idp.requests.filter(endpoint="jwks")) == fetched + 1, "the app should fetch the JWKS again"
