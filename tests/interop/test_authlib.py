"""authlib against mockidp, in-process through ``intercept()``: no transport is handed to authlib.

Its httpx clients (``OAuth2Client``, ``AsyncOAuth2Client``) run the authorization code flow with
PKCE (RFC 7636) and a nonce, and the ID token is validated the way OIDC Core §3.1.3.7 asks (``iss``,
``aud``, ``exp``, ``nonce``, and ``at_hash`` per §3.1.3.6) with joserfc against the served JWKS.
Its Starlette integration (discovery through ``server_metadata_url``) logs a user into a small app
end to end, driven by Starlette's ``TestClient``. A client that registered
``id_token_signed_response_alg`` RS256 (OIDC Registration §2) with an ES256 provider gets RS256 ID
tokens that both validate, as discovery (which always lists RS256, OIDC Discovery §3) allows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from authlib.integrations.starlette_client import OAuth
from joserfc import jwt
from joserfc.errors import InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockidp import Client, KeyPool, MockIdP, ProviderConfig

ISSUER = "https://idp.mockidp.test"
CLIENT_ID, CLIENT_SECRET = "mockidp-client", "mockidp-secret"
REDIRECT_URI = "http://testserver/callback"
SCOPE = "openid profile email"
#: One TLS context for every client here: each httpx2 client would otherwise load the CA bundle anew.
TLS = ssl.create_default_context()


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def validate_id_token(id_token: str, jwks: dict[str, Any], *, nonce: str, access_token: str) -> dict[str, Any]:
    """OIDC Core §3.1.3.7 ID token validation, as a relying party does it."""
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])  # type: ignore[arg-type]
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    )
    registry.validate(token.claims)
    with pytest.raises(InvalidClaimError):  # the validation above is not vacuous
        JWTClaimsRegistry(nonce={"essential": True, "value": nonce + "x"}).validate(token.claims)
    assert token.claims["at_hash"] == at_hash(access_token)
    return dict(token.claims)


def follow_to_callback(authorization_url: str) -> str:
    """The user agent's leg: a plain httpx2 client (no transport) at the provider, not following the redirect."""
    with httpx2.Client(verify=TLS) as browser:
        response = browser.get(authorization_url)
    assert response.status_code == 302, response.text
    location: str = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location


def code_flow(client: OAuth2Client, metadata_url: str, *, nonce: str, verifier: str) -> CodeFlow:
    """authlib's own code flow with PKCE and a nonce: discovery, the authorization URL, the code exchange."""
    metadata = client.request("GET", metadata_url, withhold_token=True).json()
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = follow_to_callback(url)
    token = client.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    jwks = client.request("GET", metadata["jwks_uri"], withhold_token=True).json()
    return CodeFlow(metadata, state, callback, dict(token), jwks)


class CodeFlow(NamedTuple):
    metadata: dict[str, Any]
    state: str
    callback: str
    token: dict[str, Any]
    jwks: dict[str, Any]


# -- authlib's httpx clients ----------------------------------------------------------------------


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_oauth2_client_code_flow_with_pkce_and_nonce(routed: MockIdP, auth_method: str) -> None:
    nonce, verifier = generate_token(16), generate_token(48)
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
        verify=TLS,
    ) as client:
        metadata, state, callback, token, jwks = code_flow(client, routed.metadata_url, nonce=nonce, verifier=verifier)
        userinfo = client.get(metadata["userinfo_endpoint"]).json()
        refreshed = client.refresh_token(metadata["token_endpoint"])

    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    assert parse_qs(urlsplit(callback).query)["iss"] == [ISSUER]
    claims = validate_id_token(token["id_token"], jwks, nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == userinfo["sub"] == "alice"
    assert userinfo["email"] == "alice@example.com"
    assert refreshed["access_token"] != token["access_token"]
    assert [(r.endpoint, r.grant_type, r.client_auth_method, r.pkce) for r in routed.requests] == [
        ("discovery", None, None, None),
        ("authorize", None, None, True),
        ("token", "authorization_code", auth_method, True),
        ("jwks", None, None, None),
        ("userinfo", None, None, None),
        ("token", "refresh_token", auth_method, None),
    ]


@pytest.mark.asyncio
async def test_async_oauth2_client_code_flow_with_pkce_and_nonce(routed: MockIdP) -> None:
    nonce, verifier = generate_token(16), generate_token(48)
    async with AsyncOAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256", verify=TLS
    ) as client:
        metadata = (await client.request("GET", routed.metadata_url, withhold_token=True)).json()
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = follow_to_callback(url)  # a sync client inside the running loop, as a test would
        token = await client.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        jwks = (await client.request("GET", metadata["jwks_uri"], withhold_token=True)).json()
        userinfo = (await client.get(metadata["userinfo_endpoint"])).json()

    validate_id_token(token["id_token"], jwks, nonce=nonce, access_token=token["access_token"])
    assert userinfo["preferred_username"] == "alice"
    assert [(r.endpoint, r.status, r.grant_type, r.pkce) for r in routed.requests] == [
        ("discovery", 200, None, None),
        ("authorize", 302, None, True),
        ("token", 200, "authorization_code", True),
        ("jwks", 200, None, None),
        ("userinfo", 200, None, None),
    ]


def test_oauth2_client_sees_the_token_endpoint_error(routed: MockIdP) -> None:
    client = OAuth2Client(CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT_URI, verify=TLS)
    with client, pytest.raises(AuthlibOAuthError) as error:
        client.fetch_token(routed.endpoint("token_endpoint"), code="no-such-code")

    assert error.value.error == "invalid_grant"
    assert error.value.description == "the authorization code is not known to this provider"


# -- authlib's Starlette integration ---------------------------------------------------------------


class MemorySessions:
    """A server-side session store: Starlette's SessionMiddleware needs itsdangerous, not installed here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.store: dict[str, dict[str, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = Request(scope).cookies.get("session")
        new = session_id is None or session_id not in self.store
        if session_id is None or new:
            session_id = secrets.token_urlsafe(16)
        scope["session"] = self.store.setdefault(session_id, {})

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new:
                MutableHeaders(scope=message).append("set-cookie", f"session={session_id}; Path=/; HttpOnly")
            await send(message)

        await self.app(scope, receive, send_cookie)


def registered(idp: MockIdP, scope: str) -> OAuth:
    """authlib's Starlette client for the default client, configured by discovery, with PKCE."""
    oauth = OAuth()
    oauth.register(
        "mockidp",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        server_metadata_url=idp.metadata_url,
        client_kwargs={"scope": scope, "code_challenge_method": "S256", "verify": TLS},
    )
    return oauth


def relying_party(idp: MockIdP) -> ASGIApp:
    """A tiny app that logs users in with authlib's Starlette client, configured only by discovery."""
    oauth = registered(idp, SCOPE)

    async def login(request: Request) -> Response:
        response: Response = await oauth.mockidp.authorize_redirect(request, REDIRECT_URI)
        return response

    async def callback(request: Request) -> Response:
        try:
            token = await oauth.mockidp.authorize_access_token(request)
        except AuthlibOAuthError as error:
            return JSONResponse({"error": error.error, "description": error.description}, status_code=400)
        request.session["user"] = token["userinfo"]["sub"]
        userinfo = await oauth.mockidp.userinfo(token=token)
        return JSONResponse({"id_token": dict(token["userinfo"]), "userinfo": dict(userinfo)})

    async def me(request: Request) -> Response:
        return JSONResponse({"user": request.session.get("user")})

    routes = [Route("/login", login), Route("/callback", callback), Route("/me", me)]
    return MemorySessions(Starlette(routes=routes))


@pytest.fixture
def app_client(routed: MockIdP) -> Iterator[TestClient]:
    with TestClient(relying_party(routed)) as client:
        yield client


def log_in(app: TestClient) -> tuple[str, httpx2.Response]:
    """App /login -> provider (a plain httpx2 client) -> app /callback; returns the provider URL and the answer."""
    start = app.get("/login", follow_redirects=False)
    assert start.status_code == 302
    authorization_url = start.headers["location"]
    callback = urlsplit(follow_to_callback(authorization_url))
    return authorization_url, app.get(f"{callback.path}?{callback.query}")


def test_starlette_app_logs_a_user_in_end_to_end(routed: MockIdP, app_client: TestClient) -> None:
    authorization_url, answer = log_in(app_client)

    assert answer.status_code == 200, answer.text
    request = parse_qs(urlsplit(authorization_url).query)
    assert authorization_url.startswith(ISSUER + "/authorize?")
    assert request["code_challenge_method"] == ["S256"]
    body = answer.json()
    assert body["id_token"]["iss"] == ISSUER
    assert body["id_token"]["aud"] == CLIENT_ID
    assert body["id_token"]["nonce"] == request["nonce"][0]
    assert body["userinfo"]["sub"] == body["id_token"]["sub"] == "alice"
    assert app_client.get("/me").json() == {"user": "alice"}
    assert [r.endpoint for r in routed.requests] == ["discovery", "authorize", "token", "jwks", "userinfo"]


def test_starlette_app_logs_in_whoever_the_test_chooses(routed: MockIdP, app_client: TestClient) -> None:
    routed.add_user("bob", email="bob@corp.example")
    routed.login_as("bob")

    _, answer = log_in(app_client)

    assert answer.json()["userinfo"]["email"] == "bob@corp.example"
    assert app_client.get("/me").json() == {"user": "bob"}


def test_starlette_app_sees_the_providers_token_error_verbatim(routed: MockIdP, app_client: TestClient) -> None:
    routed.fail("token", error="invalid_grant", description="the code was already used")

    _, answer = log_in(app_client)

    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "description": "the code was already used"}
    assert app_client.get("/me").json() == {"user": None}


# -- a client's own ID token algorithm (OIDC Registration §2) ----------------------------------------


@pytest.fixture
def es256_routed(key_pool: KeyPool) -> Iterator[MockIdP]:
    """An ES256 provider whose client registered RS256 ID tokens, with httpx calls routed to it."""
    client = Client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, id_token_signed_response_alg="RS256")
    idp = MockIdP(ProviderConfig(algorithm="ES256", clients=(client,)), keys=key_pool)
    with idp.intercept():
        yield idp


def test_oauth2_client_gets_rs256_id_tokens_from_an_es256_provider(es256_routed: MockIdP) -> None:
    nonce, verifier = generate_token(16), generate_token(48)
    with OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256", verify=TLS
    ) as client:
        metadata, _, _, token, jwks = code_flow(client, es256_routed.metadata_url, nonce=nonce, verifier=verifier)

    assert metadata["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    # RS256 only, and at_hash with SHA-256: the ID token's algorithm, not the provider's.
    claims = validate_id_token(token["id_token"], jwks, nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == "alice"
    access = jwt.decode(token["access_token"], KeySet.import_key_set(jwks), algorithms=["ES256"])  # type: ignore[arg-type]
    assert access.header["alg"] == "ES256"


def test_starlette_app_accepts_rs256_id_tokens_from_an_es256_provider(es256_routed: MockIdP) -> None:
    """authlib validates the ID token (signature by the JWKS, at_hash by its alg) with discovery's algorithms."""
    with TestClient(relying_party(es256_routed)) as app:
        _, answer = log_in(app)
        me = app.get("/me").json()

    assert answer.status_code == 200, answer.text
    assert answer.json()["id_token"]["aud"] == CLIENT_ID
    assert "at_hash" in answer.json()["id_token"]
    assert me == {"user": "alice"}


# -- acr, amr, auth_time and the claims parameter (OIDC Core §2, §3.1.2.1, §5.5) ---------------------


def step_up_party(idp: MockIdP, acr: str) -> ASGIApp:
    """An app that asks for ``acr`` (``acr_values`` and an essential ``acr`` in ``claims``) and a recent login,
    and has authlib check the ID token's ``acr``, ``amr`` and ``auth_time`` before it lets the user in."""
    oauth = registered(idp, "openid")
    claims = json.dumps({"id_token": {"acr": {"essential": True, "value": acr}, "email": None}})

    async def login(request: Request) -> Response:
        response: Response = await oauth.mockidp.authorize_redirect(
            request, REDIRECT_URI, acr_values=acr, claims=claims, max_age=300
        )
        return response

    async def callback(request: Request) -> Response:
        options = {"acr": {"essential": True, "value": "gold"}, "amr": {"essential": True},
                   "auth_time": {"essential": True}}  # fmt: skip
        try:
            token = await oauth.mockidp.authorize_access_token(request, claims_options=options)
        except JoseError as error:
            return JSONResponse({"error": error.error, "description": error.description}, status_code=401)
        return JSONResponse(dict(token["userinfo"]))

    return MemorySessions(Starlette(routes=[Route("/login", login), Route("/callback", callback)]))


@pytest.mark.parametrize(("asked", "status"), [("gold", 200), ("silver", 401)])
def test_authlib_checks_the_acr_amr_and_auth_time_a_login_reached(routed: MockIdP, asked: str, status: int) -> None:
    with TestClient(step_up_party(routed, asked)) as app:
        _, answer = log_in(app)

    assert answer.status_code == status, answer.text
    if status == 200:
        assert (answer.json()["acr"], answer.json()["amr"]) == ("gold", ["pwd"])
        assert answer.json()["email"] == "alice@example.com"  # asked for by name, beyond the openid scope
    else:
        assert answer.json() == {"error": "invalid_claim", "description": "Invalid claim: 'acr'"}
