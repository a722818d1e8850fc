"""create_debug_app() and create_production_app() build the same app; only where settings come from differs.

The debug app's fixed settings fit a local frontend and ``mockidp serve``, so here the provider is
given the issuer and audience they name; the production app gets the same values from the
environment (the ``idp_env`` fixture below adds them to what mockidp's own ``idp_env`` sets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mockidp import MockIdP
from mockidp.testing import assert_cors, assert_no_cors, preflight
from pydantic import ValidationError
from starlette.testclient import TestClient

from app_factories import AppConfig, create_debug_app, create_production_app
from app_factories.app import DEBUG_AUDIENCE, DEBUG_ISSUER, DEBUG_ORIGINS
from tests._support import ALLOWED_ORIGIN, bearer

pytestmark = pytest.mark.mockidp(issuer=DEBUG_ISSUER, access_token_audience=DEBUG_AUDIENCE)

DEBUG_ENV = {"CORS_ORIGINS": ",".join(DEBUG_ORIGINS), "OIDC_ISSUER": DEBUG_ISSUER, "OIDC_AUDIENCE": DEBUG_AUDIENCE}

# A factory named by a string: pytest.mark.app_factory(create_debug_app), with a function as the only
# argument, would be pytest marking that function instead (pytest.mark.app_factory.with_args(...) works too).
both_factories = pytest.mark.parametrize(
    "factory",
    [
        pytest.param("debug", marks=pytest.mark.app_factory("app_factories:create_debug_app")),
        pytest.param("production", marks=pytest.mark.app_factory.with_args(create_production_app)),
    ],
)


@pytest.fixture
def debug_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The debug app's settings as environment variables, for the production app to read."""
    with monkeypatch.context() as patch:
        for name, value in DEBUG_ENV.items():
            patch.setenv(name, value)
        yield DEBUG_ENV


@pytest.fixture
def idp_env(idp_env: dict[str, str], debug_env: dict[str, str]) -> dict[str, str]:
    return {**idp_env, **debug_env}


@both_factories
@pytest.mark.parametrize("origin", DEBUG_ORIGINS)
def test_both_allow_the_debug_origins(app_client: TestClient, factory: str, origin: str) -> None:
    response = preflight(app_client, "/v1/me", origin=origin, method="GET", headers=["Authorization"])

    assert_cors(response, origin=origin, credentials=True, headers=["authorization"])


@both_factories
def test_both_refuse_other_origins(app_client: TestClient, factory: str) -> None:
    assert_no_cors(preflight(app_client, "/v1/landing", origin=ALLOWED_ORIGIN))


@both_factories
def test_both_leave_health_without_cors(app_client: TestClient, factory: str) -> None:
    assert_no_cors(app_client.get("/health", headers={"Origin": DEBUG_ORIGINS[0]}))


@both_factories
def test_both_accept_the_providers_tokens(idp: MockIdP, app_client: TestClient, factory: str) -> None:
    response = app_client.get("/v1/me", headers=bearer(idp.issue_tokens(scope="api:read").access_token))

    assert response.json() == {"sub": "alice", "scope": "api:read"}


@both_factories
def test_both_refuse_another_issuers_tokens(
    make_idp: Callable[..., MockIdP], app_client: TestClient, factory: str
) -> None:
    stranger = make_idp(issuer="https://other-idp.example.test")

    response = app_client.get("/v1/me", headers=bearer(stranger.issue_tokens().access_token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token's iss claim is not accepted."


def test_the_debug_app_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", ALLOWED_ORIGIN)
    monkeypatch.setenv("OIDC_ISSUER", "https://production-idp.example.test")

    config = create_debug_app().state.config

    assert config == AppConfig(cors_origins=DEBUG_ORIGINS, oidc_issuer=DEBUG_ISSUER, oidc_audience=DEBUG_AUDIENCE)


def test_the_production_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", " https://a.example.test, https://b.example.test ")
    monkeypatch.setenv("OIDC_ISSUER", "https://login.example.test")
    monkeypatch.setenv("OIDC_AUDIENCE", "https://api.example.test")

    config = create_production_app().state.config

    assert config == AppConfig(
        cors_origins=("https://a.example.test", "https://b.example.test"),
        oidc_issuer="https://login.example.test",
        oidc_audience="https://api.example.test",
    )


def test_the_production_app_names_missing_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DEBUG_ENV:
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ValidationError) as raised:
        create_production_app()

    assert sorted(str(error["loc"][0]) for error in raised.value.errors()) == [
        "cors_origins",
        "oidc_audience",
        "oidc_issuer",
    ]
