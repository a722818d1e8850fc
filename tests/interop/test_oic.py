"""pyoidc (``oic``) against the loopback server (``serve()``); oic 1.7 works on this Python.

Discovery (OIDC Discovery §4, including its §4.3 check that the document's ``issuer`` equals the URL
it was fetched for), a client set up without dynamic registration and one that registers itself (RFC 7591,
OIDC Registration 1.0 §3), the authorization code flow with
PKCE (RFC 7636) and a nonce, the token request with either secret method (OIDC Core §9), oic's own
ID token validation against the served JWKS, UserInfo by GET and POST (§5.3.1) and a refresh (§12).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from oic.exception import PyoidcError
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, OpenIDSchema, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from mockidp import MockIdP

CLIENT_ID, CLIENT_SECRET = "mockidp-client", "mockidp-secret"
REDIRECT_URI = "http://testserver/callback"


def oic_client() -> Any:
    """An oic client set up from known registration data, without dynamic registration (oic is untyped)."""
    client: Any = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    registration: Any = RegistrationResponse
    client.store_registration_info(
        registration(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[REDIRECT_URI])
    )
    return client


@pytest.fixture
def issuer(provider: MockIdP) -> Iterator[str]:
    with provider.serve() as url:
        yield url


def test_discovery_reads_the_loopback_metadata_and_keys(provider: MockIdP, issuer: str) -> None:
    client = oic_client()

    metadata = client.provider_config(issuer)

    assert metadata["issuer"] == client.issuer == issuer
    assert client.authorization_endpoint == issuer + "/authorize"
    assert client.token_endpoint == issuer + "/token"
    assert client.userinfo_endpoint == issuer + "/userinfo"
    assert [r.endpoint for r in provider.requests] == ["discovery"]
    assert [key.kid for key in client.keyjar.get_issuer_keys(issuer)] == [k["kid"] for k in provider.jwks()["keys"]]
    assert [r.endpoint for r in provider.requests] == ["discovery", "jwks"]


def test_discovery_refuses_a_kept_issuer_that_differs_from_the_url(provider: MockIdP) -> None:
    """Why ``serve()`` makes the loopback URL the issuer: OIDC Discovery §4.3 clients check it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with provider.serve(port=port, keep_issuer=True), pytest.raises(PyoidcError) as error:
        oic_client().provider_config(f"http://127.0.0.1:{port}")

    assert str(error.value) == f"provider info issuer mismatch 'http://127.0.0.1:{port}' != 'https://idp.mockidp.test'"


@pytest.mark.parametrize(
    ("authn_method", "userinfo_method"), [("client_secret_basic", "GET"), ("client_secret_post", "POST")]
)
def test_code_flow_with_pkce_nonce_userinfo_and_refresh(
    provider: MockIdP, issuer: str, authn_method: str, userinfo_method: str
) -> None:
    client = oic_client()
    client.provider_config(issuer)
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    pkce, verifier = client.add_code_challenge()
    request = client.construct_AuthorizationRequest(
        request_args={
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": ["openid", "profile", "email"],
            "redirect_uri": REDIRECT_URI,
            "state": state,
            "nonce": nonce,
            **pkce,
        }
    )

    redirect = requests.get(request.request(client.authorization_endpoint), allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    answer = client.parse_response(
        AuthorizationResponse, info=urlsplit(redirect.headers["location"]).query, sformat="urlencoded"
    )
    tokens = client.do_access_token_request(
        state=answer["state"],
        request_args={"code": answer["code"], "code_verifier": verifier},
        authn_method=authn_method,
    )
    userinfo = client.do_user_info_request(method=userinfo_method, state=state)
    refreshed = client.do_access_token_refresh(state=state, authn_method=authn_method)

    assert answer["iss"] == issuer
    assert isinstance(tokens, AccessTokenResponse)
    id_token = tokens["id_token"]  # verified by oic: signature from the served JWKS, iss, aud, exp
    assert (id_token["iss"], id_token["aud"], id_token["nonce"]) == (issuer, [CLIENT_ID], nonce)
    assert isinstance(userinfo, OpenIDSchema)
    assert userinfo["sub"] == id_token["sub"] == "alice"
    assert isinstance(refreshed, AccessTokenResponse)
    assert refreshed["access_token"] != tokens["access_token"]
    assert [(r.method, r.endpoint, r.grant_type, r.client_auth_method, r.pkce) for r in provider.requests] == [
        ("GET", "discovery", None, None, None),
        ("GET", "authorize", None, None, True),
        ("POST", "token", "authorization_code", authn_method, True),
        ("GET", "jwks", None, None, None),  # oic fetches the keys when it first needs one
        (userinfo_method, "userinfo", None, None, None),
        ("POST", "token", "refresh_token", authn_method, None),
    ]


def test_oic_registers_itself_then_logs_in_with_what_it_got(provider: MockIdP, issuer: str) -> None:
    """Dynamic client registration (RFC 7591, OIDC Registration 1.0 §3) through oic's own ``register``."""
    client: Any = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(issuer)
    registration = client.register(
        client.registration_endpoint, redirect_uris=[REDIRECT_URI], client_name="oic", response_types=["code"]
    )
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    request = client.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": ["openid"],
            "redirect_uri": REDIRECT_URI,
            "state": state,
            "nonce": nonce,
        }
    )
    redirect = requests.get(request.request(client.authorization_endpoint), allow_redirects=False, timeout=10)
    answer = client.parse_response(
        AuthorizationResponse, info=urlsplit(redirect.headers["location"]).query, sformat="urlencoded"
    )
    tokens = client.do_access_token_request(state=answer["state"], request_args={"code": answer["code"]})

    assert isinstance(registration, RegistrationResponse)
    assert client.client_id == registration["client_id"] in provider.clients
    assert registration["client_name"] == "oic"
    assert tokens["id_token"]["aud"] == [registration["client_id"]]
    assert [r.endpoint for r in provider.requests][:2] == ["discovery", "registration"]
