"""Fixtures of the generated login suites that do not use mockidp: the floor's, and each peer's as its README has them.

The generated suites (``_suites.py``) load this module with ``pytest_plugins`` and put ``bench/`` on
their ``pythonpath``. Each suite's test does what the mockidp suite's ``def test(idp, app_client):
assert idp.login(app_client, "/other").status_code == 200`` does, through the same app:

- the floor (``floor``, ``floor_app``, ``floor_client``): ``_floor.CannedProvider`` routed as
  ``idp.intercept()`` routes mockidp, the app built per test, a TestClient entered per test as ``app_client``
  enters it (its lifespan, on the session's event loop thread), and the login by ``_floor.RawBrowser`` in one
  call into that portal (as ``idp.login`` makes): mockidp's suite minus mockidp;
- oidc-provider-mock: its README's ``oidc_server`` fixture (``run_server_in_thread()``, a server per
  test), the user's claims PUT with httpx, the authorization form POSTed with httpx, as its README does;
- pytest-iam: its README's ``iam_server`` (session-scoped, from the plugin), a ``client`` and a ``user``
  fixture per test as its "Client applications" page writes them, ``iam_server.login(user)`` and
  ``iam_server.consent(user)``, the authorization request through ``iam_server.test_client``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from _floor import CLIENT_ID, CLIENT_SECRET, ISSUER, CannedProvider, RawBrowser, floor_login, routed_to
from _flows import check

EMAIL = "alice@example.com"


def bench_app(kind: str, metadata_url: str, client_id: str, client_secret: str) -> Any:
    from _inprocess import make_app

    return make_app(kind, metadata_url, client_id, client_secret)


def _entered(app: Any) -> Any:
    from starlette.testclient import TestClient

    return TestClient(app, base_url="http://testserver", follow_redirects=False)


@pytest.fixture(scope="session")
def bench_app_kind() -> str:
    """``minimal`` or ``example``: the generated conftest overrides it."""
    return "example"


# -- the floor -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def floor_key() -> Any:
    """One RSA key per session, as ``mockidp_keys`` is."""
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, auto_kid=True)


class Floor:
    """The stub provider of a floor test, and its login."""

    def __init__(self, stub: CannedProvider) -> None:
        self.stub = stub

    def login(self, app: Any, client: Any) -> int:
        """The whole login through ``RawBrowser``, in one call into the entered ``client``'s portal."""
        client.portal.call(floor_login, RawBrowser(app, self.stub))
        return 200


@pytest.fixture
def floor(floor_key: Any) -> Iterator[Floor]:
    stub = CannedProvider(floor_key, "RS256")
    with routed_to(stub):
        yield Floor(stub)


@pytest.fixture
def floor_app(bench_app_kind: str, floor: Floor) -> Any:
    return _floor_app(bench_app_kind)


def _floor_app(kind: str) -> Any:
    return bench_app(kind, f"{ISSUER}/.well-known/openid-configuration", CLIENT_ID, CLIENT_SECRET)


@contextmanager
def _on_portal(app: Any, portal: Any) -> Iterator[Any]:
    """The floor's TestClient on ``app``, entered on ``portal`` as ``app_client``'s is."""
    from pytest_mockidp._testclient import RoutedTestClient

    with RoutedTestClient(app, base_url="http://testserver", follow_redirects=False, shared_portal=portal) as client:
        yield client


@pytest.fixture(scope="session")
def floor_portal() -> Iterator[Any]:
    """The event loop thread the floor's clients enter on, as ``app_client``'s do (``pytest_mockidp._portal``):
    the harness is the same on both sides, only the provider differs."""
    from pytest_mockidp._portal import SharedPortal

    portal = SharedPortal()
    yield portal
    portal.close()


@pytest.fixture
def floor_client(floor_app: Any, floor_portal: Any) -> Iterator[Any]:
    with _on_portal(floor_app, floor_portal) as client:
        yield client


@pytest.fixture(scope="session")
def floor_shared_app(bench_app_kind: str) -> Any:
    """One app for the suite, as ``mockidp_reuse_app`` keeps one (the floor's side of that row)."""
    return _floor_app(bench_app_kind)


@pytest.fixture(scope="session")
def floor_shared_client(floor_shared_app: Any, floor_portal: Any) -> Iterator[Any]:
    """Its TestClient, entered once; each login's ``RawBrowser`` brings its own cookies."""
    with _on_portal(floor_shared_app, floor_portal) as client:
        yield client


# -- oidc-provider-mock, as its README ---------------------------------------------------------------------


@pytest.fixture
def oidc_server() -> Iterator[str]:
    import oidc_provider_mock

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # its authorization server refuses plain http otherwise
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def oidc_app_client(bench_app_kind: str, oidc_server: str) -> Iterator[Any]:
    app = bench_app(bench_app_kind, f"{oidc_server}/.well-known/openid-configuration", "bench-client", "bench-secret")
    with _entered(app) as client:
        yield client


def oidc_provider_mock_login(oidc_server: str, client: Any) -> int:
    """Its README's test: the user's claims, the app's login, the form POSTed, back to the app."""
    import httpx

    response = httpx.put(f"{oidc_server}/users/{quote(EMAIL)}", json={"email": EMAIL, "name": "Alice"})
    check(response.status_code == 204, f"oidc-provider-mock: PUT /users answered {response.status_code}")
    response = client.get("/other")
    check(response.status_code in (302, 303, 307), f"the app did not redirect: {response.status_code}")
    response = httpx.post(response.headers["location"], data={"sub": EMAIL})
    check(response.has_redirect_location, f"oidc-provider-mock did not redirect back: {response.status_code}")
    return _back_to_the_app(client, response.headers["location"])


def _back_to_the_app(client: Any, callback_url: str) -> int:
    response = client.get(callback_url)
    check(response.status_code == 303, f"the app's callback answered {response.status_code}: {response.text}")
    response = client.get(response.headers["location"])
    check(json.loads(response.text) == {"email": EMAIL}, f"unexpected page after login: {response.text}")
    return int(response.status_code)


# -- pytest-iam, as its README and its "Client applications" page ------------------------------------------


@pytest.fixture
def client(iam_server: Any) -> Iterator[Any]:
    inst = iam_server.models.Client(
        client_id="client_id",
        client_secret="client_secret",
        client_name="My Application",
        client_uri="http://testserver",
        redirect_uris=["http://testserver/auth/callback"],
        grant_types=["authorization_code"],
        response_types=["code", "token", "id_token"],
        token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "profile", "email"],
    )
    iam_server.backend.save(inst)
    yield inst
    iam_server.backend.delete(inst)


@pytest.fixture
def user(iam_server: Any) -> Iterator[Any]:
    inst = iam_server.models.User(user_name="alice", emails=[EMAIL], password="correct horse battery staple")
    iam_server.backend.save(inst)
    yield inst
    iam_server.backend.delete(inst)


@pytest.fixture
def test_client(bench_app_kind: str, iam_server: Any, client: Any) -> Iterator[Any]:
    metadata_url = f"{iam_server.url}.well-known/openid-configuration"
    app = bench_app(bench_app_kind, metadata_url, client.client_id, client.client_secret)
    with _entered(app) as entered:
        yield entered


def iam_login(iam_server: Any, user: Any, test_client: Any) -> int:
    """Its README's test: log the user in and consent, the app's login, the code request, back to the app."""
    iam_server.login(user)
    iam_server.consent(user)
    response = test_client.get("/other")
    check(response.status_code in (302, 303, 307), f"the app did not redirect: {response.status_code}")
    response = iam_server.test_client.get(response.headers["location"])
    check(response.status_code == 302, f"pytest-iam did not redirect back: {response.status_code}")
    return _back_to_the_app(test_client, response.location)
