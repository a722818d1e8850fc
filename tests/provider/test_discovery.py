"""Provider metadata: OpenID Connect Discovery 1.0 §3/§4 and RFC 8414 §2/§3, and CORS (Fetch standard).

One document answers at ``/.well-known/openid-configuration`` (OIDC Discovery §4.1) and at
``/.well-known/oauth-authorization-server`` (RFC 8414 §3.1, which puts a path-based issuer's path
after the well-known segment). Browsers may read discovery, the JWKS, the token and the userinfo
endpoints across origins when the provider is told which origins to trust.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mockidp import KeyPool, MockIdP, ProviderConfig
from tests.flows import login

SPA = "https://spa.example"

#: OIDC Discovery §3 REQUIRED, plus the RECOMMENDED fields this server can honour, plus RFC 8414 §2 REQUIRED.
REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_endpoint",
    "scopes_supported",
    "claims_supported",
)

ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "revocation_endpoint",
    "end_session_endpoint",
)


def get(idp: MockIdP, url: str, **headers: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(url, headers=headers)


def document(idp: MockIdP, url: str | None = None) -> dict[str, Any]:
    response = get(idp, url or idp.metadata_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("field", REQUIRED)
def test_the_document_has_every_required_field(provider: MockIdP, field: str) -> None:
    value = document(provider)[field]

    assert value
    assert isinstance(value, str if field == "issuer" or field.endswith(("_endpoint", "_uri")) else list)


def test_the_document_describes_what_this_server_does(provider: MockIdP) -> None:
    meta = document(provider)

    assert meta["issuer"] == "https://idp.mockidp.test"
    assert meta["response_types_supported"] == ["code"]
    assert meta["response_modes_supported"] == ["query", "fragment", "form_post"]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]
    assert meta["scopes_supported"] == ["openid", "profile", "email", "address", "phone", "offline_access"]
    secret_and_jwt = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"]
    assert meta["token_endpoint_auth_methods_supported"] == [*secret_and_jwt, "none"]
    assert meta["introspection_endpoint_auth_methods_supported"] == secret_and_jwt
    assert meta["revocation_endpoint_auth_methods_supported"] == [*secret_and_jwt, "none"]
    for endpoint in ("token", "introspection", "revocation"):  # OIDC Discovery §3: required with the JWT methods
        assert "RS256" in meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert "none" not in meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256", "plain"]
    assert meta["prompt_values_supported"] == ["none", "login", "consent", "select_account"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    # Defaults that would be wrong here must be stated (request_uri_parameter_supported defaults to true).
    assert meta["request_uri_parameter_supported"] is False
    assert meta["request_parameter_supported"] is True
    assert meta["claims_parameter_supported"] is True
    assert meta["backchannel_logout_supported"] is meta["backchannel_logout_session_supported"] is True
    assert "acr_values_supported" not in meta  # any class asked for is reached, unless acr_values are configured


def test_claims_supported_names_the_id_token_and_standard_claims(provider: MockIdP) -> None:
    claims = set(document(provider)["claims_supported"])

    assert {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "acr", "amr"} <= claims
    assert {"name", "email", "email_verified", "preferred_username", "address", "phone_number"} <= claims
    assert "typ" not in claims  # a header parameter, never a claim


def test_the_document_is_not_cached_for_long(provider: MockIdP) -> None:
    assert get(provider, provider.metadata_url).headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("field", ENDPOINT_FIELDS)
def test_every_endpoint_is_under_the_issuer_and_served(provider: MockIdP, field: str) -> None:
    url = document(provider)[field]

    assert url.startswith(provider.issuer + "/")
    assert url == provider.endpoint(field)
    assert get(provider, url).status_code != 404


def test_the_oauth_document_at_rfc_8414_location_is_the_same(provider: MockIdP) -> None:
    oauth = document(provider, "https://idp.mockidp.test/.well-known/oauth-authorization-server")

    assert oauth == document(provider)


PATH_ISSUER = "https://idp.mockidp.test/realms/a"


@pytest.mark.parametrize(
    "url",
    [
        f"{PATH_ISSUER}/.well-known/openid-configuration",  # OIDC Discovery §4.1: appended
        "https://idp.mockidp.test/.well-known/oauth-authorization-server/realms/a",  # RFC 8414 §3.1: inserted
    ],
)
def test_a_path_based_issuer_is_discovered_at_both_locations(key_pool: KeyPool, url: str) -> None:
    idp = MockIdP(ProviderConfig(issuer=PATH_ISSUER), keys=key_pool)

    meta = document(idp, url)

    assert meta["issuer"] == PATH_ISSUER
    assert meta["token_endpoint"] == f"{PATH_ISSUER}/token"
    assert all(meta[field].startswith(PATH_ISSUER + "/") for field in ENDPOINT_FIELDS)


def test_a_path_based_issuer_is_not_discovered_at_the_host_root(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(issuer=PATH_ISSUER), keys=key_pool)

    assert get(idp, "https://idp.mockidp.test/.well-known/openid-configuration").status_code == 404


def test_a_trailing_slash_on_the_issuer_is_dropped(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(issuer=PATH_ISSUER + "/"), keys=key_pool)

    assert document(idp, f"{PATH_ISSUER}/.well-known/openid-configuration")["issuer"] == PATH_ISSUER


def test_a_path_based_issuer_runs_a_whole_flow(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(issuer=PATH_ISSUER), keys=key_pool)

    assert "id_token" in login(idp)


@pytest.mark.parametrize(("strict", "methods"), [(False, ["S256", "plain"]), (True, ["S256"])])
def test_strict_mode_advertises_only_s256(key_pool: KeyPool, strict: bool, methods: list[str]) -> None:
    idp = MockIdP(ProviderConfig(strict=strict), keys=key_pool)

    assert document(idp)["code_challenge_methods_supported"] == methods


@pytest.mark.parametrize("enabled", [False, True])
def test_the_password_grant_is_advertised_only_when_enabled(key_pool: KeyPool, enabled: bool) -> None:
    idp = MockIdP(ProviderConfig(password_grant=enabled), keys=key_pool)

    assert ("password" in document(idp)["grant_types_supported"]) is enabled


def test_signing_algorithms_follow_the_configuration(key_pool: KeyPool) -> None:
    """Discovery §3: the list MUST include RS256 (a client registers it with id_token_signed_response_alg)."""
    idp = MockIdP(ProviderConfig(algorithm="ES256"), keys=key_pool)

    assert document(idp)["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


# -- CORS ---------------------------------------------------------------------------------------

CORS_ENDPOINTS = [
    ("metadata", "GET"),
    ("jwks_uri", "GET"),
    ("token_endpoint", "POST"),
    ("userinfo_endpoint", "GET"),
]


@pytest.fixture
def spa_idp(key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(cors_origins=(SPA,)), keys=key_pool)


def url_of(idp: MockIdP, name: str) -> str:
    return idp.metadata_url if name == "metadata" else idp.endpoint(name)


def preflight(idp: MockIdP, url: str, origin: str, method: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )


def actual(idp: MockIdP, url: str, origin: str, method: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.request(method, url, headers={"Origin": origin})


@pytest.mark.parametrize(("name", "method"), CORS_ENDPOINTS)
def test_a_configured_origin_may_preflight(spa_idp: MockIdP, name: str, method: str) -> None:
    response = preflight(spa_idp, url_of(spa_idp, name), SPA, method)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA
    assert method in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]


@pytest.mark.parametrize(("name", "method"), CORS_ENDPOINTS)
def test_a_configured_origin_may_read_the_answer(spa_idp: MockIdP, name: str, method: str) -> None:
    response = actual(spa_idp, url_of(spa_idp, name), SPA, method)

    # The token and userinfo requests fail (no credentials), but the browser must see why.
    assert response.status_code in (200, 400, 401)
    assert response.headers["access-control-allow-origin"] == SPA


@pytest.mark.parametrize(("name", "method"), CORS_ENDPOINTS)
def test_another_origin_is_not_allowed(spa_idp: MockIdP, name: str, method: str) -> None:
    url = url_of(spa_idp, name)

    assert "access-control-allow-origin" not in preflight(spa_idp, url, "https://evil.example", method).headers
    assert "access-control-allow-origin" not in actual(spa_idp, url, "https://evil.example", method).headers


def test_a_token_response_carries_cors_headers(spa_idp: MockIdP) -> None:
    with httpx2.Client(transport=spa_idp.transport(httpx2)) as client:
        response = client.post(
            spa_idp.endpoint("token_endpoint"),
            data={"grant_type": "client_credentials"},
            auth=("mockidp-client", "mockidp-secret"),
            headers={"Origin": SPA},
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA


def test_the_oauth_document_carries_cors_headers(spa_idp: MockIdP) -> None:
    response = actual(spa_idp, "https://idp.mockidp.test/.well-known/oauth-authorization-server", SPA, "GET")

    assert response.headers["access-control-allow-origin"] == SPA


def test_the_authorization_endpoint_has_no_cors(spa_idp: MockIdP) -> None:
    url = spa_idp.endpoint("authorization_endpoint")

    assert "access-control-allow-origin" not in preflight(spa_idp, url, SPA, "GET").headers
    assert "access-control-allow-origin" not in actual(spa_idp, url, SPA, "GET").headers


@pytest.mark.parametrize(("name", "method"), CORS_ENDPOINTS)
def test_no_origins_configured_means_no_cors_headers(provider: MockIdP, name: str, method: str) -> None:
    url = url_of(provider, name)

    assert not any(h.startswith("access-control-") for h in preflight(provider, url, SPA, method).headers)
    assert not any(h.startswith("access-control-") for h in actual(provider, url, SPA, method).headers)
