"""Robustness: whatever arrives at any endpoint, the provider answers as RFC 6749 says, never with a crash.

Hypothesis throws random parameters, bodies and headers (mixed with valid ones, so requests get past
the first checks) at every route, in-process and over a real socket (``mockidp serve`` in its own
process). The budget is small in CI; ``pytest tests/robustness --fuzz-examples=2000`` explores more.
A request the provider refuses changes nothing it remembers, and after every batch the provider still
serves a whole valid login. Every answer must be below 500; every 4xx JSON body must be an
error response of RFC 6749 §5.2 (or RFC 6750 §3.1 at the userinfo endpoint, RFC 7009 §2.2.1 at the
revocation endpoint, RFC 7591 §3.2.2 at the registration endpoint); every error redirect must carry a
code of RFC 6749 §4.1.2.1 or OIDC Core §3.1.2.6; and every 401 must carry a ``WWW-Authenticate``
challenge (RFC 9110 §15.5.2).
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockidp import KeyPool, MockIdP, ProviderConfig
from mockidp._endpoints import TABLE
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
        # RFC 7591 §3.2.2
        "invalid_redirect_uri",
        "invalid_client_metadata",
    }
)

ISSUER = "https://idp.mockidp.test/realms/r"
#: Every endpoint the provider has (its table), and RFC 8414's second discovery path.
PATHS = [endpoint.path for endpoint in TABLE] + ["/.well-known/oauth-authorization-server"]
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
    "request",
    "request_uri",
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
    path = draw(st.sampled_from(["/token", "/token", "/introspect", "/revoke", "/par", "/device_authorization"]))
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
    method = draw(st.sampled_from(["GET", "POST"] * 4 + ["HEAD", "OPTIONS", "PUT", "DELETE"]))
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


METADATA_NAMES = [
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "token_endpoint_auth_method",
    "scope",
    "jwks",
    "jwks_uri",
    "id_token_signed_response_alg",
    "require_pushed_authorization_requests",
    "client_name",
    "client_id",
    "client_secret",
    "registration_access_token",
]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), valid),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(safe_text, children, max_size=3)),
    max_leaves=6,
)


@st.composite
def registration(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON registration (RFC 7591 §3.1), or a read, replacement or deletion of one (RFC 7592 §2), fuzzed."""
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]))
    path = "/register" if method == "POST" else "/register/<registered_client>"
    metadata = draw(st.dictionaries(st.one_of(st.sampled_from(METADATA_NAMES), safe_text), json_values, max_size=6))
    if draw(st.booleans()):
        metadata["redirect_uris"] = [REDIRECT_URI]
    if method == "PUT" and draw(st.booleans()):
        metadata["client_id"] = "<registered_client>"
    headers = {"Content-Type": "application/json"}
    if draw(st.booleans()):
        headers["Authorization"] = draw(st.sampled_from(["Bearer <registration_access_token>", "Bearer x", "Basic"]))
    return {
        "method": method,
        "url": ISSUER + path,
        "query": [],
        "raw_query": None,
        "content": json.dumps(metadata).encode(),
        "headers": headers,
    }


USERS = ("alice", "bob,password=pw")
CLIENTS = (
    "mockidp-client:mockidp-secret,grant_types=authorization_code refresh_token client_credentials password"
    " urn:ietf:params:oauth:grant-type:device_code urn:ietf:params:oauth:grant-type:token-exchange"
    " urn:ietf:params:oauth:grant-type:jwt-bearer",
    "spa,scope=openid email",
)


def config() -> ProviderConfig:
    """Every feature on; the same users and clients as the served provider's command line."""
    return ProviderConfig.from_dict(
        {
            "issuer": ISSUER,
            "users": USERS,
            "clients": CLIENTS,
            "password_grant": True,
            "cors_origins": ("https://spa.example",),
        }
    )


class Target:
    """A provider reached through ``client`` at ``base`` (its issuer's URL), with real tokens to put into
    random requests, got the way any client gets them: a login and a code exchange over HTTP."""

    def __init__(self, client: httpx2.Client, base: str) -> None:
        self.client, self.base = client, base
        tokens = self.login()
        code, session = self.authorize()
        device = self.client.post(self.base + "/device_authorization", data={"client_id": "spa"}).json()
        registered = self.client.post(self.base + "/register", json={"redirect_uris": [REDIRECT_URI]}).json()
        self.replacements = {
            "<registered_client>": registered["client_id"],
            "<registration_access_token>": registered["registration_access_token"],
            "<device_code>": device["device_code"],
            "<user_code>": device["user_code"],
            "<access_token>": tokens["access_token"],
            "<refresh_token>": tokens["refresh_token"],
            "<id_token>": tokens["id_token"],
            "<code>": code,
            "<session>": session,
        }

    def authorize(self) -> tuple[str, str]:
        """A code and the IdP session cookie of a fresh browser."""
        self.client.cookies.clear()
        response = self.client.get(
            self.base + "/authorize",
            params={
                "response_type": "code",
                "client_id": "mockidp-client",
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile email",
                "code_challenge": s256(VERIFIER),
                "code_challenge_method": "S256",
            },
        )
        assert response.status_code == 302, response.text
        session = response.cookies["mockidp_session"]
        self.client.cookies.clear()
        return parse_qs(urlsplit(response.headers["location"]).query)["code"][0], session

    def login(self) -> dict[str, Any]:
        """A whole valid login: the code, the tokens, and userinfo for alice."""
        code, _ = self.authorize()
        tokens = self.client.post(
            self.base + "/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                  "code_verifier": VERIFIER},
            auth=("mockidp-client", "mockidp-secret"),
        )  # fmt: skip
        assert tokens.status_code == 200, tokens.text
        body: dict[str, Any] = tokens.json()
        userinfo = self.client.get(self.base + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert (userinfo.status_code, userinfo.json()["sub"]) == (200, "alice"), userinfo.text
        return body

    def fill(self, value: str) -> str:
        for placeholder, real in self.replacements.items():
            value = value.replace(placeholder, real)
        return value

    def send(self, request: dict[str, Any]) -> httpx2.Response:
        url = self.base + self.fill(request["url"].removeprefix(ISSUER))
        query: list[tuple[str, str | int | float | bool | None]] = [
            (self.fill(k), self.fill(v)) for k, v in request["query"]
        ]
        if request["raw_query"] is not None:
            url += "?" + request["raw_query"]
        headers = {k: self.fill(v) for k, v in request["headers"].items()}
        content = request["content"]
        for placeholder, real in self.replacements.items():
            content = content.replace(placeholder.encode(), real.encode())
        self.client.cookies.clear()
        return self.client.request(
            request["method"], url, params=query or None, content=content or None, headers=headers
        )


def remembered(idp: MockIdP) -> tuple[frozenset[str], ...]:
    """What the provider remembers: its codes, tokens and IdP sessions."""
    state = idp.state
    return tuple(frozenset(t) for t in (state.codes, state.access_tokens, state.refresh_tokens, state.sessions))


def refused(response: httpx2.Response) -> bool:
    if response.status_code >= 400:
        return True
    location = response.headers.get("location", "")
    return "error=" in (urlsplit(location).query + urlsplit(location).fragment)


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


requests_batch = st.lists(
    st.one_of(anything(), back_channel(), front_channel(), registration()), min_size=1, max_size=3
)


@given(batch=requests_batch)
def test_no_request_crashes_the_provider_or_changes_it_when_refused(
    key_pool: KeyPool, batch: list[dict[str, Any]]
) -> None:
    idp = MockIdP(config(), keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2), follow_redirects=False) as client:
        target = Target(client, ISSUER)
        for request in batch:
            before = remembered(idp)
            response = target.send(request)
            check(response, request["method"])
            if refused(response):
                assert remembered(idp) == before, (request, response.status_code, response.text[:300])
        target.login()  # and a whole valid login still works
    assert all(r.status < 500 for r in idp.requests)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``mockidp serve`` in its own process, configured as ``config()`` says, on a free port."""
    argv = [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--issuer", ISSUER, "--no-interactive"]
    argv += ["--password-grant", "--cors-origin", "https://spa.example"]
    for user in USERS:
        argv += ["--user", user]
    for client in CLIENTS:
        argv += ["--client", client]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        yield lines[3].split()[-1]  # "  listening: http://127.0.0.1:PORT/realms/r"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()
    assert process.returncode == 0


@given(batch=requests_batch)
def test_no_request_crashes_mockidp_serve(served: str, batch: list[dict[str, Any]]) -> None:
    with httpx2.Client(follow_redirects=False, timeout=10) as client:
        target = Target(client, served)
        for request in batch:
            try:
                response = target.send(request)
            except Exception as exc:
                # What h11 will not put on the wire (the raw tests send it). By name: pytester runs elsewhere in
                # the suite re-import httpcore2, whose error then escapes httpx2's mapping as httpcore2's own.
                if type(exc).__name__ != "LocalProtocolError":
                    raise
                continue
            check(response, request["method"])
        target.login()


#: What an HTTP client library would not send: broken request lines, encodings and headers.
RAW_REQUESTS = [
    b"GET /realms/r/authorize?client_id=%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /realms/r/authorize?\xff\xfe=\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /realms/r/%ZZ%00/token HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /realms/r/userinfo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe.\x00.x\r\n\r\n",
    b"GET /realms/r/userinfo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 60_000 + b"\r\n\r\n",
    b"GET /realms/r/jwks HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n",
    b"POST /realms/r/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 5\r\nContent-Length: 7\r\n\r\ngrant",
    b"POST /realms/r/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Authorization: Basic \xff\xff\r\nContent-Length: 3\r\n\r\na=b",
    b"POST /realms/r/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
    b'{"grant_type":"password"}\x00\x00',
    b"POST /realms/r/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"BREW /realms/r/token HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # a TLS ClientHello to the plain-HTTP port
]


@pytest.mark.parametrize("raw", RAW_REQUESTS, ids=range(len(RAW_REQUESTS)))
def test_malformed_http_gets_a_4xx_or_a_closed_connection_and_never_a_hang(served: str, raw: bytes) -> None:
    parts = urlsplit(served)
    assert parts.hostname is not None
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        answer = b""
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):  # a hang would raise TimeoutError here
                answer += chunk
        except TimeoutError:
            raise
        except OSError:  # refused mid-request (a header past the server's limit): the connection closed, not hung
            pass
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:300]
    with httpx2.Client(follow_redirects=False, timeout=10) as client:
        Target(client, served).login()


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
