"""Robustness: whatever arrives at any endpoint, the provider answers as RFC 6749 says, never with a crash.

Hypothesis throws random parameters, bodies and headers (mixed with valid ones, so requests get past
the first checks) at every route. Every answer must be below 500; every 4xx JSON body must be an
error response of RFC 6749 §5.2 (or RFC 6750 §3.1 at the userinfo endpoint, RFC 7009 §2.2.1 at the
revocation endpoint); every error redirect must carry a code of RFC 6749 §4.1.2.1 or OIDC Core
§3.1.2.6; and every 401 must carry a ``WWW-Authenticate`` challenge (RFC 9110 §15.5.2).
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from tests.flows import REDIRECT_URI, s256

ERROR_CODES = frozenset(
    {
        # RFC 6749 §4.1.2.1 and §5.2
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "unsupported_response_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        # RFC 6750 §3.1
        "invalid_token",
        "insufficient_scope",
        # RFC 7009 §2.2.1
        "unsupported_token_type",
        # OIDC Core §3.1.2.6
        "login_required",
        "interaction_required",
        "consent_required",
        "account_selection_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
    }
)

ISSUER = "https://idp.mockidp.test/realms/r"
PATHS = [
    "/authorize",
    "/token",
    "/userinfo",
    "/jwks",
    "/introspect",
    "/revoke",
    "/logout",
    "/device_authorization",
    "/device",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
]
URLS = [ISSUER + p for p in PATHS] + ["https://idp.mockidp.test/.well-known/oauth-authorization-server/realms/r"]

PARAM_NAMES = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "prompt",
    "max_age",
    "login_hint",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "username",
    "password",
    "client_secret",
    "token",
    "token_type_hint",
    "id_token_hint",
    "post_logout_redirect_uri",
    "access_token",
    "mockidp_username",
    "mockidp_action",
    "device_code",
    "user_code",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "audience",
    "resource",
    "assertion",
    "request",
    "request_uri",
]

VERIFIER = "v" * 43
GRANT_TYPES = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
]
#: Values that get requests past the first checks. ``<...>`` stands for a token minted per provider.
VALID = [
    "code",
    "mockidp-client",
    "spa",
    REDIRECT_URI,
    "http://127.0.0.1:9999/callback",
    "openid profile email",
    "openid",
    "S256",
    "plain",
    s256(VERIFIER),
    VERIFIER,
    "none",
    "login",
    "login consent",
    "query",
    "fragment",
    "form_post",
    "0",
    "300",
    *GRANT_TYPES,
    "alice",
    "mockidp-secret",
    "access_token",
    "deny",
    "<access_token>",
    "<refresh_token>",
    "<id_token>",
    "<code>",
    "approve",
    "urn:ietf:params:oauth:token-type:access_token",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:jwt",
    "https://api.example",
    "<device_code>",
    "<user_code>",
]

safe_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
# Mostly known names and valid values (so requests reach the deeper checks), some of anything.
valid = st.sampled_from(VALID)
values = st.one_of(valid, valid, valid, st.text(max_size=30), safe_text)
names = st.one_of(st.sampled_from(PARAM_NAMES), st.sampled_from(PARAM_NAMES), safe_text)
params = st.lists(st.tuples(names, values), max_size=8)
basic = st.builds(
    lambda raw: "Basic " + base64.b64encode(raw).decode(),
    st.one_of(
        st.sampled_from([b"mockidp-client:mockidp-secret", b"spa:", b"mockidp-client:x"]), st.binary(max_size=30)
    ),
)
authorization = st.one_of(
    st.none(),
    basic,
    basic,
    st.builds(lambda v: f"Bearer {v}", st.one_of(valid, safe_text)),
    safe_text,
)
content_types = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
    ]
)
form = st.builds(lambda pairs: urlencode(pairs).encode(), params)
bodies = st.one_of(
    form,
    form,
    st.binary(max_size=80),
    st.sampled_from([b"", b"%", b"a=%ZZ&b=%00", b"&&&==", b"\xff\xfe", b"x" * 70_000, b'{"grant_type":"password"}']),
)


@st.composite
def back_channel(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed POST to the token, introspection or revocation endpoint with fuzzed parameters."""
    path = draw(st.sampled_from(["/token", "/token", "/introspect", "/revoke", "/device_authorization"]))
    pairs = draw(params)
    if path == "/token":
        pairs.insert(0, ("grant_type", draw(st.sampled_from(GRANT_TYPES))))
    else:
        pairs.insert(0, ("token", draw(st.sampled_from(["<access_token>", "<refresh_token>", "<id_token>"]))))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if (auth := draw(st.one_of(basic, st.none()))) is not None:
        headers["Authorization"] = auth
    content = urlencode(pairs).encode()
    return {
        "method": "POST",
        "url": ISSUER + path,
        "query": [],
        "raw_query": None,
        "content": content,
        "headers": headers,
    }


@st.composite
def front_channel(draw: st.DrawFn) -> dict[str, Any]:
    """An authorization or logout request from a known client to a registered redirect URI, fuzzed."""
    path = draw(st.sampled_from(["/authorize", "/authorize", "/logout"]))
    client = draw(st.sampled_from(["mockidp-client", "spa"]))
    pairs = [("client_id", client), ("redirect_uri", REDIRECT_URI), *draw(params)]
    if path == "/logout":
        pairs[1] = ("post_logout_redirect_uri", REDIRECT_URI)
    headers = {"Cookie": "mockidp_session=<session>"} if draw(st.booleans()) else {}
    return {
        "method": "GET",
        "url": ISSUER + path,
        "query": pairs,
        "raw_query": None,
        "content": b"",
        "headers": headers,
    }


@st.composite
def anything(draw: st.DrawFn) -> dict[str, Any]:
    """Any method, any route, any parameters, body and headers."""
    method = draw(st.sampled_from(["GET", "POST"] * 4 + ["HEAD", "OPTIONS", "PUT"]))
    headers: dict[str, str] = {}
    if (auth := draw(authorization)) is not None:
        headers["Authorization"] = auth
    if (content_type := draw(content_types)) is not None:
        headers["Content-Type"] = content_type
    if draw(st.booleans()):
        headers["Origin"] = draw(st.sampled_from(["https://spa.example", "https://evil.example", "null"]))
    if draw(st.booleans()):
        headers["Cookie"] = f"mockidp_session={draw(st.sampled_from(['<session>', 'nope', '']))}"
    if method == "OPTIONS":
        headers["Access-Control-Request-Method"] = draw(st.sampled_from(["GET", "POST", "DELETE"]))
    return {
        "method": method,
        "url": draw(st.sampled_from(URLS)),
        "query": draw(params),
        "raw_query": draw(
            st.one_of(st.none(), st.sampled_from(["%", "a=%ZZ", "scope=%00", "&&=&", "state=" + "x" * 9000]))
        ),
        "content": draw(bodies) if method in ("POST", "PUT") else b"",
        "headers": headers,
    }


class Provider:
    """A provider with every feature on, and real tokens to put into random requests."""

    def __init__(self, key_pool: KeyPool) -> None:
        config = ProviderConfig(
            issuer=ISSUER,
            users=(User.named("alice"), User.named("bob", password="pw")),
            clients=(
                Client(
                    client_id="mockidp-client",
                    client_secret="mockidp-secret",
                    grant_types=(
                        "authorization_code",
                        "refresh_token",
                        "client_credentials",
                        "password",
                        "urn:ietf:params:oauth:grant-type:device_code",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    ),
                ),
                Client(client_id="spa", scope=("openid", "email")),
            ),
            password_grant=True,
            cors_origins=("https://spa.example",),
        )
        self.idp = MockIdP(config, keys=key_pool)
        self.client = httpx2.Client(transport=self.idp.transport(httpx2), follow_redirects=False)
        tokens = self.idp.issue_tokens()
        response = self.client.get(
            ISSUER + "/authorize",
            params={"response_type": "code", "client_id": "mockidp-client", "redirect_uri": REDIRECT_URI},
        )
        device = self.client.post(ISSUER + "/device_authorization", data={"client_id": "spa"}).json()
        self.replacements = {
            "<device_code>": device["device_code"],
            "<user_code>": device["user_code"],
            "<access_token>": tokens.access_token,
            "<refresh_token>": tokens.refresh_token or "",
            "<id_token>": tokens.id_token or "",
            "<code>": parse_qs(urlsplit(response.headers["location"]).query)["code"][0],
            "<session>": next(iter(self.idp.state.sessions)),
        }

    def fill(self, value: str) -> str:
        for placeholder, real in self.replacements.items():
            value = value.replace(placeholder, real)
        return value

    def send(self, request: dict[str, Any]) -> httpx2.Response:
        url = request["url"]
        query: list[tuple[str, str | int | float | bool | None]] = [
            (self.fill(k), self.fill(v)) for k, v in request["query"]
        ]
        if request["raw_query"] is not None:
            url += "?" + request["raw_query"]
        headers = {k: self.fill(v) for k, v in request["headers"].items()}
        content = request["content"]
        for placeholder, real in self.replacements.items():
            content = content.replace(placeholder.encode(), real.encode())
        return self.client.request(
            request["method"], url, params=query or None, content=content or None, headers=headers
        )


def check(response: httpx2.Response, method: str) -> None:
    assert response.status_code < 500, response.text
    content_type = response.headers.get("content-type", "")
    if response.status_code == 401:
        assert response.headers.get("www-authenticate"), response.text
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.isascii(), challenge
    assert challenge.isprintable(), challenge
    if 400 <= response.status_code < 500 and content_type == "application/json" and method != "HEAD":
        body = response.json()
        assert body["error"] in ERROR_CODES, body
        assert isinstance(body["error_description"], str)
    if response.status_code in (302, 303) and "location" in response.headers:
        location = urlsplit(response.headers["location"])
        answer = parse_qs(location.fragment or location.query)
        if "error" in answer:
            assert answer["error"][0] in ERROR_CODES, answer
            assert answer["iss"] == [ISSUER]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(st.one_of(anything(), back_channel(), front_channel()), min_size=1, max_size=3))
def test_no_request_crashes_the_provider(key_pool: KeyPool, batch: list[dict[str, Any]]) -> None:
    provider = Provider(key_pool)
    try:
        for request in batch:
            check(provider.send(request), request["method"])
    finally:
        provider.client.close()
    assert all(r.status < 500 for r in provider.idp.requests)


@pytest.mark.parametrize("path", ["/token", "/userinfo", "/authorize"])
def test_an_oversized_body_leaves_nothing_pending(
    key_pool: KeyPool, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    idp = MockIdP(keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2)) as client, caplog.at_level(logging.ERROR, logger="asyncio"):
        response = client.post(
            idp.issuer + path, content=b"x" * 70_000, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    assert response.status_code == 400
    assert [r.getMessage() for r in caplog.records] == []
