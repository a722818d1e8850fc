"""The floor of a login through the example app: the same flow against a provider that does almost nothing.

What is left of a login when the provider costs (nearly) nothing: the app (Starlette, its session
middleware, authlib, SQLAlchemy in the example app), authlib's own httpx2 clients to the provider, and
the one signature no provider can skip (the ID token, which carries the login's nonce). The stub is a raw
ASGI callable with canned metadata and JWKS; it answers an authorization request with a code at once,
and a code with an ID token signed for that login and an opaque access token. It checks nothing (no
client authentication, no PKCE, no redirect URI): it is not a provider, only a measure of everything
around one. The browser is ``RawBrowser``: raw ASGI calls and a dict of cookies, so the floor carries no simulated
browser's cost either. ``mockidp`` minus this floor is what mockidp itself adds to a login: its
provider, and its simulated browser (``idp.login``'s driver).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from _flows import check

ISSUER = "https://floor.bench.test"
CLIENT_ID = "floor-client"
CLIENT_SECRET = "floor-secret"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class CannedProvider:
    """An ASGI app answering the four requests of a login with as little work as a provider can do."""

    def __init__(self, key: Any, alg: str) -> None:
        from joserfc.jwk import KeySet

        self.key, self.alg = key, alg
        self.metadata = json.dumps(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [alg],
            }
        ).encode()
        self.jwks = json.dumps(KeySet([key]).as_dict(private=False)).encode()
        self.nonces: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/authorize":
            query = dict(parse_qsl(scope["query_string"].decode()))
            code = secrets.token_urlsafe(16)
            self.nonces[code] = query["nonce"]
            answer = urlencode({"code": code, "state": query["state"], "iss": ISSUER})
            await _respond(send, 302, b"", [(b"location", f"{query['redirect_uri']}?{answer}".encode())])
        elif path == "/token":
            body = await _read_body(receive)
            form = dict(parse_qsl(body.decode()))
            await _respond(send, 200, self._tokens(self.nonces.pop(form["code"])), [_JSON])
        elif path == "/.well-known/openid-configuration":
            await _respond(send, 200, self.metadata, [_JSON])
        elif path == "/jwks":
            await _respond(send, 200, self.jwks, [_JSON])
        else:
            await _respond(send, 404, b"", [])

    def _tokens(self, nonce: str) -> bytes:
        from joserfc import jwt

        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "alice",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "alice@example.com",
        }
        id_token = jwt.encode({"alg": self.alg, "kid": self.key.kid}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        return json.dumps(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        ).encode()


_JSON = (b"content-type", b"application/json")


async def _read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def routed_to(stub: CannedProvider) -> Iterator[Any]:
    """authlib's httpx2 requests to the stub's host go to the stub (as ``idp.intercept()`` does for mockidp).

    Like ``intercept()``, it shares one default TLS context among the clients authlib builds per call;
    without that, each would load the CA bundle (~30 ms) for a request that never leaves the process.
    """
    import httpx2

    from mockidp._tls import shared_default_context

    host = urlsplit(ISSUER).hostname
    to_stub = httpx2.ASGITransport(app=stub)
    original = httpx2.AsyncHTTPTransport.handle_async_request

    async def handle_async_request(transport: Any, request: Any) -> Any:
        if request.url.host == host:
            return await to_stub.handle_async_request(request)
        return await original(transport, request)

    httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign,assignment]
    try:
        with shared_default_context([httpx2]):
            yield to_stub
    finally:
        httpx2.AsyncHTTPTransport.handle_async_request = original  # type: ignore[method-assign]


class RawBrowser:
    """A browser that costs next to nothing: one raw ASGI call per request and a dict of cookies.

    It knows its two sites (the app at ``http://testserver``, the stub at ``ISSUER``), keeps each
    ``Set-Cookie`` of the app by name (every cookie of these apps is host-only with ``Path=/``) and sends
    them all back; no URL or header models, no ``http.cookiejar``. What a login costs through it is the
    app's and its libraries' time, not a simulated browser's.
    """

    def __init__(self, app: Any, stub: CannedProvider) -> None:
        self.sites = {"testserver": app, urlsplit(ISSUER).hostname: stub}
        self.cookies: dict[str, str] = {}

    def clear(self) -> None:
        self.cookies.clear()

    async def get(self, url: str) -> tuple[int, dict[str, str], bytes]:
        """GET ``url`` (absolute, or a path on the app): the status, the last of each header, the body."""
        parts = urlsplit(url)
        host = parts.hostname or "testserver"
        headers = [(b"host", host.encode())]
        if host == "testserver" and self.cookies:
            headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": parts.scheme or "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": headers,
            "server": (host, None),
            "client": ("127.0.0.1", 123),
        }
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.sites[host](scope, receive, send)
        answer: dict[str, str] = {}
        for key, value in start.get("headers", []):
            name, text = key.decode().lower(), value.decode()
            if name == "set-cookie":
                self._keep(text)
            answer[name] = text
        return start["status"], answer, b"".join(body)

    def _keep(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        gone = "max-age=0" in attributes.lower() or "1970" in attributes
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


async def floor_login(browser: RawBrowser) -> None:
    """The login the in-process rows time, through ``browser``: the app, the stub, the callback, the page."""
    status, headers, _ = await browser.get("/other")
    check(status in (302, 303, 307), f"the app did not redirect to the stub: {status}")
    status, headers, _ = await browser.get(headers["location"])
    check(status == 302, f"the stub did not redirect back: {status}")
    status, headers, body = await browser.get(headers["location"])
    check(status == 303, f"the app's callback answered {status}: {body!r}")
    status, headers, body = await browser.get(headers["location"])
    check(json.loads(body) == {"email": "alice@example.com"}, f"unexpected page after login: {body!r}")
