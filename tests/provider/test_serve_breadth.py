"""``mockidp serve`` as a separate process offers the protocol beyond the code flow: discovery announces each
grant, client authentication method and endpoint, and a third-party client uses them over the socket, a
client it registered dynamically (RFC 7591, RFC 7592) included."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import ClientSecretJWT
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockidp._server import base_url, bind, serve_socket

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--no-interactive"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield process.stdout.readline().split()[-1]
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def metadata(issuer: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx2.get(f"{issuer}/.well-known/openid-configuration").json()
    return document


def test_discovery_announces_every_grant_method_and_endpoint(issuer: str, metadata: dict[str, Any]) -> None:
    assert {DEVICE, EXCHANGE, "urn:ietf:params:oauth:grant-type:jwt-bearer"} <= set(metadata["grant_types_supported"])
    assert {"client_secret_jwt", "private_key_jwt"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert metadata["device_authorization_endpoint"] == f"{issuer}/device_authorization"
    assert metadata["pushed_authorization_request_endpoint"] == f"{issuer}/par"
    assert metadata["registration_endpoint"] == f"{issuer}/register"
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    assert metadata["request_parameter_supported"] is True
    assert metadata["claims_parameter_supported"] is metadata["backchannel_logout_supported"] is True


def test_a_client_secret_jwt_client_gets_a_token_and_exchanges_it(metadata: dict[str, Any]) -> None:
    with OAuth2Client("mockidp-client", "mockidp-secret", token_endpoint_auth_method="client_secret_jwt") as client:
        client.register_client_auth_method(ClientSecretJWT())
        token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
        exchanged = client.fetch_token(
            metadata["token_endpoint"],
            grant_type=EXCHANGE,
            subject_token=token["access_token"],
            subject_token_type=ACCESS,
            audience="https://api.example",
        )

    assert exchanged["issued_token_type"] == ACCESS
    assert exchanged["access_token"] != token["access_token"]


def test_a_pushed_request_then_the_device_flow_start(metadata: dict[str, Any]) -> None:
    auth = ("mockidp-client", "mockidp-secret")
    pushed = httpx2.post(
        metadata["pushed_authorization_request_endpoint"],
        auth=auth,
        data={"response_type": "code", "redirect_uri": "http://localhost/cb", "scope": "openid",
              "code_challenge": secrets.token_urlsafe(32), "code_challenge_method": "S256"},
    )  # fmt: skip
    device = httpx2.post(metadata["device_authorization_endpoint"], auth=auth, data={"scope": "openid"})
    poll = httpx2.post(
        metadata["token_endpoint"], auth=auth, data={"grant_type": DEVICE, "device_code": device.json()["device_code"]}
    )

    assert (pushed.status_code, pushed.json()["request_uri"][:34]) == (201, "urn:ietf:params:oauth:request_uri:")
    assert device.json()["verification_uri_complete"].startswith(metadata["issuer"])
    assert poll.json()["error"] == "authorization_pending"


def test_a_login_at_a_configured_acr_then_a_logout_told_over_the_back_channel() -> None:
    """OIDC Core §2 acr (``--acr-value``) and Back-Channel Logout 1.0 to an app on a socket of this process."""
    received: list[str] = []

    async def backchannel_logout(request: Request) -> Response:
        received.append(dict(parse_qsl((await request.body()).decode()))["logout_token"])
        return Response(status_code=200)

    app = Starlette(routes=[Route("/bcl", backchannel_logout, methods=["POST"])])
    sock = bind("127.0.0.1", 0)
    client = f"web:s3cret,backchannel_logout_uri={base_url(sock)}/bcl,redirect_uris=http://127.0.0.1/cb"
    command = [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--no-interactive", "--client", client]
    with (
        serve_socket(app, sock),
        subprocess.Popen(  # noqa: S603 - our own command line
            [*command, "--acr-value", "silver", "--acr-value", "gold"], stdout=subprocess.PIPE, text=True
        ) as process,
    ):
        try:
            assert process.stdout is not None
            issuer = process.stdout.readline().split()[-1]
            with httpx2.Client(follow_redirects=False) as browser:
                verifier = secrets.token_urlsafe(48)
                params = {"response_type": "code", "client_id": "web", "redirect_uri": "http://127.0.0.1/cb",
                          "scope": "openid", "acr_values": "gold", "code_challenge": verifier,
                          "code_challenge_method": "plain"}  # fmt: skip
                code = parse_qs(urlsplit(browser.get(f"{issuer}/authorize", params=params).headers["location"]).query)
                tokens = browser.post(
                    f"{issuer}/token",
                    auth=("web", "s3cret"),
                    data={"grant_type": "authorization_code", "code": code["code"][0],
                          "redirect_uri": "http://127.0.0.1/cb", "code_verifier": verifier},
                ).json()  # fmt: skip
                bye = browser.get(f"{issuer}/logout", params={"id_token_hint": tokens["id_token"]})
            keys = KeySet.import_key_set(httpx2.get(f"{issuer}/jwks").json())
        finally:
            process.terminate()

    assert jwt.decode(tokens["id_token"], keys).claims["acr"] == "gold"
    assert bye.status_code == 200
    (token,) = received
    logout = jwt.decode(token, keys)
    assert (logout.header["typ"], logout.claims["aud"], logout.claims["iss"]) == ("logout+jwt", "web", issuer)


def test_a_registered_client_gets_a_token_then_is_read_and_deleted(issuer: str, metadata: dict[str, Any]) -> None:
    body = httpx2.post(
        metadata["registration_endpoint"], json={"grant_types": ["client_credentials"], "client_name": "svc"}
    ).json()
    with OAuth2Client(body["client_id"], body["client_secret"]) as client:
        token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    bearer = {"Authorization": f"Bearer {body['registration_access_token']}"}
    read = httpx2.get(body["registration_client_uri"], headers=bearer)
    deleted = httpx2.delete(body["registration_client_uri"], headers=bearer)
    refused = httpx2.post(metadata["token_endpoint"], data={"grant_type": "client_credentials"},
                          auth=(body["client_id"], body["client_secret"]))  # fmt: skip
    wildcard = httpx2.post(metadata["registration_endpoint"], json={"redirect_uris": ["http://localhost/*"]})

    assert body["registration_client_uri"] == f"{issuer}/register/{body['client_id']}"
    assert token["token_type"] == "Bearer"
    assert (read.status_code, read.json()) == (200, body)
    assert (deleted.status_code, refused.status_code, refused.json()["error"]) == (204, 401, "invalid_client")
    assert (wildcard.status_code, wildcard.json()["error"]) == (400, "invalid_redirect_uri")
