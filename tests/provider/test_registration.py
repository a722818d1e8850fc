"""Dynamic client registration (RFC 7591 §3) and the client configuration endpoint (RFC 7592 §2).

A registered client runs authlib's code flow, client credentials and ``private_key_jwt`` at once; its
registration is read, replaced and deleted with the registration access token; the negative matrix,
through raw HTTP, checks every error code and description verbatim (RFC 7591 §3.2.2, RFC 7592 §2.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.testclient import TestClient

from mockidp import Client, ConfigError, KeyPool, MockIdP, ProviderConfig, Registration
from mockidp._control import with_control
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params

CALLBACK = "https://app.example/callback"


@pytest.fixture
def http(provider: MockIdP) -> Iterator[httpx2.Client]:
    with httpx2.Client(transport=provider.transport(httpx2), follow_redirects=False) as client:
        yield client


def register(http: httpx2.Client, idp: MockIdP, metadata: dict[str, Any]) -> httpx2.Response:
    return http.post(idp.endpoint("registration_endpoint"), json=metadata)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def registered(http: httpx2.Client, idp: MockIdP, **metadata: Any) -> dict[str, Any]:
    response = register(http, idp, {"redirect_uris": [CALLBACK], **metadata})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# -- discovery and the answer -------------------------------------------------------------------


def test_discovery_announces_the_registration_endpoint(provider: MockIdP, http: httpx2.Client) -> None:
    metadata = http.get(provider.metadata_url).json()

    assert metadata["registration_endpoint"] == "https://idp.mockidp.test/register"


def test_without_registration_nothing_is_announced_or_served(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(registration=False), keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2)) as http:
        metadata = http.get(idp.metadata_url).json()
        answer = http.post(idp.issuer + "/register", json={"redirect_uris": [CALLBACK]})
        configure = http.get(idp.issuer + "/register/x")

    assert "registration_endpoint" not in metadata
    assert (answer.status_code, configure.status_code) == (404, 404)
    with pytest.raises(ConfigError, match=r"^this provider does not offer dynamic client registration"):
        idp.register(redirect_uris=[CALLBACK])


def test_the_answer_has_the_id_secret_defaults_and_every_value_registered(
    provider: MockIdP, http: httpx2.Client
) -> None:
    response = register(
        http,
        provider,
        {"redirect_uris": [CALLBACK], "client_name": "Notes", "contacts": ["ops@example.com"], "scope": "openid email",
         "logo_uri": None, "software_id": "notes-app"},
    )  # fmt: skip
    body = response.json()

    assert (response.status_code, response.headers["cache-control"]) == (201, "no-store")
    client_id = body.pop("client_id")
    assert len(body.pop("client_secret")) >= 32
    assert len(body.pop("registration_access_token")) >= 32
    assert body.pop("client_id_issued_at") == int(provider.now())
    assert body == {
        "client_secret_expires_at": 0,
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid email",
        "require_pushed_authorization_requests": False,
        "dpop_bound_access_tokens": False,
        "default_acr_values": [],
        "backchannel_logout_session_required": False,
        "client_name": "Notes",
        "contacts": ["ops@example.com"],
        "software_id": "notes-app",
        "registration_client_uri": f"https://idp.mockidp.test/register/{client_id}",
    }
    client = provider.clients[client_id]
    assert (client.scope, dict(client.metadata)["client_name"]) == (("openid", "email"), "Notes")


@pytest.mark.parametrize("method", ["none", "private_key_jwt"])
def test_a_client_without_a_secret_gets_none(provider: MockIdP, http: httpx2.Client, method: str) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k"})
    body = registered(http, provider, token_endpoint_auth_method=method, jwks={"keys": [key.as_dict()]})

    assert "client_secret" not in body
    assert "client_secret_expires_at" not in body
    assert [set(k) for k in body["jwks"]["keys"]] == [{"kty", "n", "e", "kid"}]  # the public members only


def test_the_request_log_has_the_metadata_and_the_client(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider, client_name="Notes", scope="openid")
    http.get(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))

    first, second = provider.requests
    assert (first.endpoint, first.method, first.status, first.client_id) == (
        "registration", "POST", 201, body["client_id"]
    )  # fmt: skip
    assert first.params == {
        "redirect_uris": '["https://app.example/callback"]',
        "client_name": "Notes",
        "scope": "openid",
    }
    assert first.scopes == ("openid",)
    assert (second.endpoint, second.method, second.status, second.client_id) == (
        "client_configuration", "GET", 200, body["client_id"]
    )  # fmt: skip


def test_a_registered_id_token_algorithm_is_published_at_once(provider: MockIdP, http: httpx2.Client) -> None:
    registered(http, provider, id_token_signed_response_alg="ES256")

    assert "ES256" in {k["alg"] for k in provider.jwks()["keys"]}


# -- a registered client in every flow, through authlib ------------------------------------------


@pytest.mark.asyncio
async def test_a_registered_client_runs_authlibs_code_flow(routed: MockIdP) -> None:
    async with httpx2.AsyncClient() as http:
        metadata = (await http.get(routed.metadata_url)).json()
        body = (
            await http.post(
                metadata["registration_endpoint"],
                json={"redirect_uris": [REDIRECT_URI], "grant_types": ["authorization_code", "refresh_token"],
                      "scope": "openid profile email offline_access", "client_name": "Notes"},
            )
        ).json()  # fmt: skip
    nonce, verifier = generate_token(16), generate_token(48)
    async with AsyncOAuth2Client(
        body["client_id"],
        body["client_secret"],
        scope="openid profile email",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    ) as client:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = Browser(routed).client.get(url).headers["location"]
        token = await client.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        userinfo = (await client.get(metadata["userinfo_endpoint"])).json()
        refreshed = await client.refresh_token(metadata["token_endpoint"])

    claims = jwt.decode(token["id_token"], KeySet.import_key_set(routed.jwks())).claims  # type: ignore[arg-type]
    assert (claims["aud"], claims["nonce"], userinfo["sub"]) == (body["client_id"], nonce, "alice")
    assert refreshed["access_token"] != token["access_token"]
    assert [(r.endpoint, r.client_id, r.client_auth_method) for r in routed.requests[-3:]] == [
        ("token", body["client_id"], "client_secret_basic"),
        ("userinfo", body["client_id"], None),
        ("token", body["client_id"], "client_secret_basic"),
    ]


def test_a_registered_client_gets_client_credentials(routed: MockIdP) -> None:
    body = routed.register(grant_types=["client_credentials"], scope="reports:read").response()

    with OAuth2Client(body["client_id"], body["client_secret"], scope="reports:read") as client:
        token = client.fetch_token(routed.endpoint("token"), grant_type="client_credentials")

    assert token["scope"] == "reports:read"
    assert routed.requests[-1].client_id == body["client_id"]


def test_a_registered_jwks_authenticates_with_private_key_jwt(routed: MockIdP) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "svc-1"})
    with httpx2.Client() as http:
        body = http.post(
            routed.endpoint("registration"),
            json={"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                  "jwks": {"keys": [key.as_dict(private=False)]}},
        ).json()  # fmt: skip
    with OAuth2Client(body["client_id"], key, token_endpoint_auth_method="private_key_jwt") as client:
        client.register_client_auth_method(PrivateKeyJWT(routed.endpoint("token")))
        token = client.fetch_token(routed.endpoint("token"), grant_type="client_credentials")

    assert token["token_type"] == "Bearer"
    assert (routed.requests[-1].client_id, routed.requests[-1].client_auth_method) == (
        body["client_id"], "private_key_jwt"
    )  # fmt: skip


# -- read, replace, delete (RFC 7592) -------------------------------------------------------------


def test_read_returns_what_registration_answered(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider, client_name="Notes")
    read = http.get(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))

    assert (read.status_code, read.json()) == (200, body)


def test_replace_sets_every_value_anew_and_keeps_the_secret(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider, client_name="Notes", scope="openid")
    update = {"client_id": body["client_id"], "client_secret": body["client_secret"],
              "redirect_uris": ["https://app.example/new"], "id_token_signed_response_alg": "ES256"}  # fmt: skip
    answer = http.put(body["registration_client_uri"], json=update, headers=bearer(body["registration_access_token"]))

    replaced = answer.json()
    assert answer.status_code == 200
    assert (replaced["client_secret"], replaced["redirect_uris"]) == (
        body["client_secret"],
        ["https://app.example/new"],
    )
    assert "client_name" not in replaced  # omitted: deleted (RFC 7592 section 2.2)
    assert "scope" not in replaced
    client = provider.clients[body["client_id"]]
    assert (client.redirect_uris, client.id_token_signed_response_alg) == (("https://app.example/new",), "ES256")
    assert "ES256" in {k["alg"] for k in provider.jwks()["keys"]}


def test_replace_to_a_public_client_and_back_changes_the_secret(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider)
    uri, headers = body["registration_client_uri"], bearer(body["registration_access_token"])
    public = http.put(uri, headers=headers, json={"client_id": body["client_id"], "redirect_uris": [CALLBACK],
                                                  "token_endpoint_auth_method": "none"}).json()  # fmt: skip
    secret = http.put(uri, headers=headers, json={"client_id": body["client_id"], "redirect_uris": [CALLBACK]}).json()

    assert "client_secret" not in public
    assert provider.clients[body["client_id"]].client_secret == secret["client_secret"] != body["client_secret"]


def test_delete_forgets_the_client_and_revokes_its_tokens(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider, grant_types=["client_credentials"], response_types=[])
    auth = (body["client_id"], body["client_secret"])
    others = provider.issue_tokens()
    token = http.post(provider.endpoint("token"), data={"grant_type": "client_credentials"}, auth=auth).json()
    deleted = http.delete(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))
    again = http.post(provider.endpoint("token"), data={"grant_type": "client_credentials"}, auth=auth)
    introspection = http.post(
        provider.endpoint("introspection"),
        data={"token": token["access_token"]},
        auth=("mockidp-client", "mockidp-secret"),
    )
    read = http.get(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
    assert again.json()["error_description"].startswith(f"unknown client '{body['client_id']}'")
    assert introspection.json() == {"active": False}
    assert provider.minter.check_access_token(others.access_token)  # another client's tokens live on
    assert (read.status_code, read.json()["error"]) == (401, "invalid_token")
    assert body["client_id"] not in provider.clients


def test_a_deleted_client_is_refused_at_the_authorization_endpoint(provider: MockIdP, http: httpx2.Client) -> None:
    body = registered(http, provider, redirect_uris=[REDIRECT_URI])
    request = auth_request(provider, client_id=body["client_id"])
    before = Browser(provider).authorize(request)
    http.delete(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))
    after = Browser(provider).authorize(request)

    assert "code" in callback_params(before)
    assert after.status_code == 400
    assert f"unknown client_id {body['client_id']!r}" in after.text.replace("&#x27;", "'")


# -- the negative matrix ----------------------------------------------------------------------------

SUPPORTED_GRANTS = (
    "authorization_code, refresh_token, client_credentials, password, urn:ietf:params:oauth:grant-type:device_code,"
    " urn:ietf:params:oauth:grant-type:token-exchange, urn:ietf:params:oauth:grant-type:jwt-bearer"
)
OFFERED_GRANTS = (
    "authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code,"
    " urn:ietf:params:oauth:grant-type:token-exchange, urn:ietf:params:oauth:grant-type:jwt-bearer"
)
AUTH_METHODS = "client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none"
CB = {"redirect_uris": [CALLBACK]}

BAD_METADATA: list[tuple[dict[str, Any], str, str]] = [
    ({}, "invalid_redirect_uri",
     "redirect_uris is required with grant_types authorization_code: register at least one redirect URI"
     " (OIDC Registration 1.0 section 2)"),
    ({"redirect_uris": CALLBACK}, "invalid_redirect_uri",
     "redirect_uris must be an array, got 'https://app.example/callback' (RFC 7591 section 2)"),
    ({"redirect_uris": [5]}, "invalid_redirect_uri", "redirect_uris must be a string, got 5 (RFC 7591 section 2)"),
    ({"redirect_uris": ["/callback"]}, "invalid_redirect_uri",
     "redirect_uris '/callback' must be absolute and carry no fragment (RFC 6749 section 3.1.2)"),
    ({"redirect_uris": [CALLBACK + "#top"]}, "invalid_redirect_uri",
     "redirect_uris 'https://app.example/callback#top' must be absolute and carry no fragment"
     " (RFC 6749 section 3.1.2)"),
    ({"redirect_uris": ["https://app.example/*"]}, "invalid_redirect_uri",
     "redirect_uris 'https://app.example/*': a registered redirect URI is matched exactly, so it cannot end in *"
     " (OIDC Registration 1.0 section 2); a prefix match is for clients configured in ProviderConfig"),
    ({**CB, "post_logout_redirect_uris": ["logged-out"]}, "invalid_redirect_uri",
     "post_logout_redirect_uris 'logged-out' must be absolute and carry no fragment (RFC 6749 section 3.1.2)"),
    ({**CB, "grant_types": ["implicit"]}, "invalid_client_metadata",
     f"grant_types 'implicit' is not supported; this provider supports {SUPPORTED_GRANTS} (RFC 7591 section 2)"),
    ({**CB, "grant_types": ["authorization_code", "password"]}, "invalid_client_metadata",
     f"grant_types 'password' is not offered by this provider; it offers {OFFERED_GRANTS} (grant_types_supported)"),
    ({**CB, "response_types": ["code", "id_token"]}, "invalid_client_metadata",
     "response_types 'id_token' is not supported; this provider supports code (response_types_supported)"),
    ({**CB, "response_types": "code"}, "invalid_client_metadata", "response_types must be an array, got 'code'"),
    ({"grant_types": ["client_credentials"], "response_types": ["code"]}, "invalid_client_metadata",
     "response_types code goes with grant_types authorization_code, each needs the other (OIDC Registration 1.0"
     " section 2); got response_types ['code'] and grant_types ['client_credentials']"),
    ({**CB, "response_types": []}, "invalid_client_metadata",
     "response_types code goes with grant_types authorization_code, each needs the other (OIDC Registration 1.0"
     " section 2); got response_types [] and grant_types ['authorization_code']"),
    ({**CB, "token_endpoint_auth_method": "tls_client_auth"}, "invalid_client_metadata",
     f"token_endpoint_auth_method 'tls_client_auth' is not supported; this provider supports {AUTH_METHODS}"
     " (RFC 7591 section 2)"),
    ({**CB, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata",
     "the client authenticates with 'private_key_jwt' but has no keys: give it jwks (its public JWK Set) or"
     " jwks_uri (RFC 7591 section 2)"),
    ({**CB, "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}, "jwks_uri": "https://app.example/jwks"},
     "invalid_client_metadata", "the client has both jwks and jwks_uri; give one (RFC 7591 section 2)"),
    ({**CB, "jwks": {"keys": []}}, "invalid_client_metadata",
     "the client: jwks must be a JWK Set, {'keys': [{...}, ...]} with at least one key (RFC 7517 section 5),"
     " got {'keys': []}"),
    ({**CB, "jwks": [1]}, "invalid_client_metadata", "jwks must be a JSON object, got [1] (RFC 7591 section 2)"),
    ({**CB, "jwks_uri": "ftp://app.example/jwks"}, "invalid_client_metadata",
     "the client: jwks_uri must be an http(s) URL, got 'ftp://app.example/jwks'"),
    ({**CB, "scope": ["openid"]}, "invalid_client_metadata",
     "scope must be a string of space-separated scopes (RFC 7591 section 2), got ['openid']"),
    ({**CB, "id_token_signed_response_alg": "HS256"}, "invalid_client_metadata",
     "id_token_signed_response_alg 'HS256' is not supported; this provider supports RS256, PS256, ES256, EdDSA,"
     " Ed25519 (RFC 7591 section 2)"),
    ({**CB, "require_pushed_authorization_requests": "yes"}, "invalid_client_metadata",
     "require_pushed_authorization_requests must be true or false, got 'yes' (RFC 7591 section 2)"),
    ({**CB, "client_id": "mine"}, "invalid_client_metadata",
     "client_id is this provider's answer, not client metadata: leave it out of the request (RFC 7591 section"
     " 3.2.1, RFC 7592 section 2.2)"),
    ({**CB, "registration_access_token": "t"}, "invalid_client_metadata",
     "registration_access_token is this provider's answer, not client metadata: leave it out of the request"
     " (RFC 7591 section 3.2.1, RFC 7592 section 2.2)"),
]  # fmt: skip


@pytest.mark.parametrize(("metadata", "error", "description"), BAD_METADATA, ids=range(len(BAD_METADATA)))
def test_bad_metadata_is_refused_saying_why(
    provider: MockIdP, http: httpx2.Client, metadata: dict[str, Any], error: str, description: str
) -> None:
    response = register(http, provider, metadata)

    assert (response.status_code, response.json()) == (400, {"error": error, "error_description": description})
    assert (provider.requests[-1].endpoint, provider.requests[-1].error) == ("registration", error)
    assert len(provider.clients) == 1


BAD_BODIES: list[tuple[bytes, str, str, str]] = [
    (b"redirect_uris=x", "application/x-www-form-urlencoded", "invalid_request",
     "the body must be application/json (RFC 7591 section 3.1), got 'application/x-www-form-urlencoded'"),
    (b"{", "application/json", "invalid_request",
     "the body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"x": NaN}', "application/json", "invalid_request", "the body is not valid JSON: NaN is not a JSON number"),
    (b"[]", "application/json; charset=utf-8", "invalid_client_metadata",
     "the body must be a JSON object of client metadata (RFC 7591 section 3.1), got []"),
    (b"[" * 5000 + b"]" * 5000, "application/json", "invalid_request",
     "the body is not valid JSON: maximum recursion depth exceeded while decoding a JSON array from a unicode"
     " string"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "content_type", "error", "description"),
    BAD_BODIES,
)
def test_a_body_that_is_no_json_object_is_refused(
    provider: MockIdP, http: httpx2.Client, content: bytes, content_type: str, error: str, description: str
) -> None:
    response = http.post(provider.endpoint("registration"), content=content, headers={"Content-Type": content_type})

    assert (response.status_code, response.json()) == (400, {"error": error, "error_description": description})


BAD_TOKENS: list[tuple[str, dict[str, str], str, str]] = [
    ("<id>", {}, 'Bearer realm="mockidp"',
     "no registration access token: send 'Authorization: Bearer <registration_access_token>' with the token the"
     " registration response gave (RFC 7592 section 3)"),
    ("<id>", {"Authorization": "Basic eDp5"}, "error=",
     "the Authorization header must be 'Bearer <registration_access_token>' (RFC 7592 section 3)"),
    ("<id>", bearer("wrong"), "error=", "the registration access token is not the one issued to client '<id>'"),
    ("<id>", bearer("<other>"), "error=", "the registration access token is not the one issued to client '<id>'"),
    ("nobody", bearer("<token>"), "error=",
     "no registered client 'nobody': it was never registered, or was deleted"),
    ("mockidp-client", bearer("<token>"), "error=",
     "client 'mockidp-client' was configured, not registered: it has no registration access token and cannot be"
     " managed over HTTP (RFC 7592 section 1)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("client_id", "headers", "challenge", "description"),
    BAD_TOKENS,
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_configuration_endpoint_takes_only_the_clients_own_token(
    provider: MockIdP,
    http: httpx2.Client,
    method: str,
    client_id: str,
    headers: dict[str, str],
    challenge: str,
    description: str,
) -> None:
    body, other = registered(http, provider), registered(http, provider)
    fill = {"<id>": body["client_id"], "<token>": body["registration_access_token"],
            "<other>": other["registration_access_token"]}  # fmt: skip
    for placeholder, value in fill.items():
        client_id, description = client_id.replace(placeholder, value), description.replace(placeholder, value)
        headers = {k: v.replace(placeholder, value) for k, v in headers.items()}
    response = http.request(
        method, provider.issuer + f"/register/{client_id}", headers=headers, json={"client_id": client_id}
    )

    assert (response.status_code, response.json()) == (
        401,
        {"error": "invalid_token", "error_description": description},
    )
    assert challenge in response.headers["www-authenticate"]
    assert body["client_id"] in provider.clients


BAD_UPDATES: list[tuple[dict[str, Any], str, str]] = [
    ({"redirect_uris": [CALLBACK]}, "invalid_client_metadata",
     "client_id must be sent and be '<id>', the client at this URI (RFC 7592 section 2.2); got null"),
    ({"client_id": "other", "redirect_uris": [CALLBACK]}, "invalid_client_metadata",
     "client_id must be sent and be '<id>', the client at this URI (RFC 7592 section 2.2); got 'other'"),
    ({"client_id": "<id>", "client_secret": "guess", "redirect_uris": [CALLBACK]}, "invalid_client_metadata",
     "client_secret, when sent, must be the client's current secret (RFC 7592 section 2.2)"),
    ({"client_id": "<id>", "client_secret": 12345, "redirect_uris": [CALLBACK]}, "invalid_client_metadata",
     "client_secret, when sent, must be the client's current secret (RFC 7592 section 2.2)"),
    ({"client_id": "<id>", "client_secret": "\ud800", "redirect_uris": [CALLBACK]}, "invalid_client_metadata",
     "client_secret, when sent, must be the client's current secret (RFC 7592 section 2.2)"),
    ({"client_id": "<id>", "redirect_uris": [CALLBACK], "client_id_issued_at": 1}, "invalid_client_metadata",
     "client_id_issued_at is this provider's answer, not client metadata: leave it out of the request"
     " (RFC 7591 section 3.2.1, RFC 7592 section 2.2)"),
    ({"client_id": "<id>", "redirect_uris": ["https://app.example/*"]}, "invalid_redirect_uri",
     "redirect_uris 'https://app.example/*': a registered redirect URI is matched exactly, so it cannot end in *"
     " (OIDC Registration 1.0 section 2); a prefix match is for clients configured in ProviderConfig"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("update", "error", "description"),
    BAD_UPDATES,
)
def test_a_bad_replacement_is_refused_and_changes_nothing(
    provider: MockIdP, http: httpx2.Client, update: dict[str, Any], error: str, description: str
) -> None:
    body = registered(http, provider)
    before = provider.clients[body["client_id"]]
    sent = json.dumps(update).replace("<id>", body["client_id"])  # ASCII: a lone surrogate goes as its escape
    headers = {**bearer(body["registration_access_token"]), "Content-Type": "application/json"}
    response = http.put(body["registration_client_uri"], content=sent, headers=headers)

    expected = {"error": error, "error_description": description.replace("<id>", body["client_id"])}
    assert (response.status_code, response.json()) == (400, expected)
    assert provider.clients[body["client_id"]] is before


def test_a_fault_at_the_configuration_endpoint_answers_with_a_bearer_challenge(
    provider: MockIdP, http: httpx2.Client
) -> None:
    body = registered(http, provider)
    provider.fail("client_configuration", error="invalid_token")
    response = http.get(body["registration_client_uri"], headers=bearer(body["registration_access_token"]))

    assert (response.status_code, response.headers["www-authenticate"]) == (
        401, 'Bearer realm="mockidp", error="invalid_token"'
    )  # fmt: skip


# -- the library --------------------------------------------------------------------------------


def test_the_library_registers_with_the_same_defaults_and_checks(provider: MockIdP, http: httpx2.Client) -> None:
    registration = provider.register(redirect_uris=(CALLBACK,), client_name="Notes")

    assert isinstance(registration, Registration)
    assert registration.client is provider.clients[registration.client.client_id]
    assert registration.client.token_endpoint_auth_method == "client_secret_basic"
    read = http.get(registration.registration_client_uri, headers=bearer(registration.registration_access_token))
    assert read.json() == registration.response()
    with pytest.raises(ConfigError) as refused:
        provider.register(redirect_uris=["https://app.example/*"])
    assert str(refused.value) == (
        'invalid_redirect_uri: redirect_uris "https://app.example/*": a registered redirect URI is matched exactly,'
        " so it cannot end in * (OIDC Registration 1.0 section 2); a prefix match is for clients configured in"
        " ProviderConfig"
    )
    assert refused.value.__notes__ == ["see: python -m mockidp docs dynamic-client-registration"]


def test_the_library_refuses_metadata_that_is_no_json(provider: MockIdP) -> None:
    with pytest.raises(ConfigError, match=r"^invalid_client_metadata: client metadata must be JSON values: "):
        provider.register(redirect_uris=[CALLBACK], client_name=object())


def test_past_the_state_limit_the_oldest_registration_goes(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(state_limit=2), keys=key_pool)
    first, second, third = (idp.register(redirect_uris=[CALLBACK]).client.client_id for _ in range(3))

    assert list(idp.clients) == ["mockidp-client", second, third]
    assert list(idp.context.registrations) == [second, third]
    assert first not in idp.clients


def test_reset_forgets_registered_clients(provider: MockIdP) -> None:
    provider.register(redirect_uris=[CALLBACK])
    provider.reset()

    assert (list(provider.clients), provider.context.registrations) == (["mockidp-client"], {})


def test_the_control_api_lists_registered_clients(provider: MockIdP) -> None:
    registration = provider.register(redirect_uris=[CALLBACK], client_name="Notes")
    control = TestClient(with_control(provider), base_url=provider.issuer, client=("127.0.0.1", 5000))

    listed = {c["client_id"]: c for c in control.get("/_mockidp/clients").json()["clients"]}
    assert listed[registration.client.client_id]["metadata"] == {"client_name": "Notes", "response_types": ["code"]}


def test_cors_is_answered_for_a_browser_client(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(cors_origins=("https://spa.example",)), keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2)) as http:
        preflight = http.options(
            idp.issuer + "/register/x",
            headers={"Origin": "https://spa.example", "Access-Control-Request-Method": "PUT"},
        )

    assert preflight.headers["access-control-allow-origin"] == "https://spa.example"
    assert "PUT" in preflight.headers["access-control-allow-methods"]


# -- Client.metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("x", "client 'c': metadata must map names to values, got 'x'"),
        ({1: "x"}, "client 'c': metadata must map names to values, got {1: 'x'}"),
        ({"scope": "openid"}, "client 'c': scope is a Client field; give it as scope="),
    ],
)
def test_client_metadata_holds_only_other_names(metadata: Any, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Client(client_id="c", metadata=metadata)

    assert str(refused.value) == message


def test_client_metadata_goes_to_json_and_back() -> None:
    client = Client(client_id="c", metadata={"client_name": "Notes"})

    assert Client.from_dict(client.to_dict()) == client


def test_a_registered_client_pushes_requests_and_starts_the_device_flow(provider: MockIdP, http: httpx2.Client) -> None:
    device_grant = "urn:ietf:params:oauth:grant-type:device_code"
    body = registered(http, provider, redirect_uris=[REDIRECT_URI], grant_types=["authorization_code", device_grant])
    auth = (body["client_id"], body["client_secret"])
    request = auth_request(provider, client_id=body["client_id"])
    pushed = http.post(provider.endpoint("par"), data=request.params, auth=auth)
    device = http.post(provider.endpoint("device_authorization"), data={"scope": "openid"}, auth=auth)

    assert (pushed.status_code, device.status_code) == (201, 200)


def test_a_client_deleted_during_its_replacement_is_not_brought_back(
    provider: MockIdP, http: httpx2.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = registered(http, provider)
    replace = provider.context.replace_client

    def deleted_first(client: Client) -> bool:
        provider.context.remove_client(client.client_id)
        return replace(client)

    monkeypatch.setattr(provider.context, "replace_client", deleted_first)
    update = {"client_id": body["client_id"], "redirect_uris": [CALLBACK]}
    response = http.put(body["registration_client_uri"], json=update, headers=bearer(body["registration_access_token"]))

    assert (response.status_code, response.json()["error_description"]) == (
        401, f"client {body['client_id']!r} was deleted while it was being updated"
    )  # fmt: skip
    assert body["client_id"] not in provider.clients


def test_a_registration_deleted_meanwhile_is_not_answered(provider: MockIdP) -> None:
    from mockidp._endpoints.registration import registration
    from mockidp._errors import OAuthError

    with pytest.raises(OAuthError, match=r"^invalid_token: no registered client 'mockidp-client': it was deleted$"):
        registration(provider.context, provider.client)


def test_a_value_that_is_no_json_is_shown_as_python(provider: MockIdP) -> None:
    with pytest.raises(ConfigError, match=r"^invalid_redirect_uri: redirect_uris must be an array, got <object object"):
        provider.register(redirect_uris=object())


@pytest.mark.parametrize(
    ("annotation", "value", "problem"),
    [(int, True, "n must be a number, got true"), (int, 3, None), (str | int | None, 5, None)],
)
def test_the_json_types_follow_the_annotations(annotation: Any, value: Any, problem: str | None) -> None:
    from mockidp._endpoints.registration import _problem

    assert _problem("n", annotation, value) == problem
