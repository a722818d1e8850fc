"""Starlette's TestClient, with each buffered request made in one call into its event loop's thread.

Starlette's TestClient runs the app on an event loop in another thread (its portal) and streams each
response back to the test's thread: about ten cross-thread calls per request, each one a thread
wake-up (0.1-0.3 ms on a busy two-core machine), so a request to a one-route app takes ~3 ms. A request
whose response is read whole, which is every request but ``client.stream(...)``, needs none of that:
here the portal runs the whole ASGI exchange at once (HTTP, ASGI 3.0 "HTTP & WebSocket" spec) with the
scope Starlette builds, and hands back the status, headers, body, trailers and debug information.

Streamed responses, WebSockets and a client that was not entered with ``with`` go through Starlette's
own transport, unchanged; so does every request with Starlette before 1.9, whose TestClient did not
stream and made two portal calls per request. Requests to an active provider's issuer go to the provider in-process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio
from starlette import testclient

from mockidp._intercept import Interceptor
from pytest_mockidp._portal import SharedPortal, enter, shares

#: The httpx package Starlette's TestClient is built on (httpx2 when installed).
TESTCLIENT_PACKAGE: Any = vars(testclient)["httpx"]

#: Whether Starlette's TestClient streams responses across threads (Starlette 1.9 and later). Before, it
#: ran the app in two portal calls per request already: its own transport is kept there.
STARLETTE_STREAMS = hasattr(testclient, "_TestClientResponseStream")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def provider_at(package: Any, url: Any) -> Any:
    interceptor = Interceptor.on_top(package)
    return interceptor.match(url) if interceptor is not None else None


class RoutedTestClient(testclient.TestClient):
    """Starlette's TestClient: requests to an active provider's issuer go to the provider, and a request
    whose response is read whole runs in one call into the client's event loop (entered with ``with``).

    Given a ``shared_portal`` (``pytest_mockidp._portal``), it enters on that event loop thread instead of
    starting one of its own, where it can (Starlette 1.9 and later, asyncio).
    """

    def __init__(self, *args: Any, shared_portal: SharedPortal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streaming = threading.local()
        self._one_call = _OneCallTransport(self)
        self._shared_portal = shared_portal if STARLETTE_STREAMS and shares(self) else None

    def __enter__(self) -> RoutedTestClient:
        if self._shared_portal is None:
            super().__enter__()
        else:
            enter(self, self._shared_portal.get())
        return self

    def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        outer, self._streaming.on = getattr(self._streaming, "on", False), stream
        try:
            return super().send(request, stream=stream, **kwargs)
        finally:
            self._streaming.on = outer

    def _transport_for_url(self, url: Any) -> Any:
        provider = provider_at(TESTCLIENT_PACKAGE, url)
        if provider is not None:
            return provider.transport(TESTCLIENT_PACKAGE)
        buffered = self.portal is not None and not getattr(self._streaming, "on", False)
        if buffered and STARLETTE_STREAMS and url.scheme in _DEFAULT_PORTS:
            return self._one_call
        return super()._transport_for_url(url)


@dataclass
class _Answer:
    """What the app sent for one request."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    trailers_expected: bool = False
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body_complete: bool = False
    debug: dict[str, Any] | None = None
    error: Exception | None = None


class _OneCallTransport:
    """An httpx transport that runs a whole request to the TestClient's app in one call into its portal."""

    def __init__(self, client: RoutedTestClient) -> None:
        self.client = client

    def handle_request(self, request: Any) -> Any:
        client = self.client
        starlette_transport: Any = client._transport  # Starlette keeps the scope's parts there
        scope = _http_scope(request, starlette_transport, client.app_state)
        body = request.read()
        portal = client.portal
        if portal is None:  # pragma: no cover - only if the client exits while a request is being made
            raise RuntimeError("the TestClient's event loop ended during the request")
        answer: _Answer = portal.call(_exchange, client.app, scope, body)
        raise_errors = starlette_transport.raise_server_exceptions
        if answer.status is None:
            if raise_errors:
                raise (
                    answer.error
                    if answer.error is not None
                    else AssertionError("TestClient did not receive any response.")
                )
            return TESTCLIENT_PACKAGE.Response(500, headers=[], stream=_Body(b"", None), request=request)
        content = b"" if request.method == "HEAD" else b"".join(answer.body)
        # As a stream, not content=: httpx would add a Content-Length the app never sent, and read the
        # response before the client times it. An error the app raised after it started its response comes
        # when the body is read, as with Starlette: the client has kept the response's cookies by then.
        body = _Body(content, answer.error if raise_errors else None)
        response = TESTCLIENT_PACKAGE.Response(answer.status, headers=answer.headers, stream=body, request=request)
        if answer.trailers_expected:
            response.extensions["http.response.trailers"] = answer.trailers
        if answer.debug is not None:
            response.extensions["http.response.debug"] = answer.debug
            for name in ("template", "context"):  # what Starlette's TestClient sets for its templates
                if name in answer.debug:
                    setattr(response, name, answer.debug[name])
        return response

    def close(self) -> None:
        """Nothing to release: the portal belongs to the TestClient."""


class _Body(TESTCLIENT_PACKAGE.SyncByteStream):  # type: ignore[misc]
    """A response body received whole, then the app's error, if any is to be raised."""

    def __init__(self, content: bytes, error: Exception | None) -> None:
        self.content, self.error = content, error

    def __iter__(self) -> Iterator[bytes]:
        if self.content:
            yield self.content
        if self.error is not None:
            raise self.error


def _http_scope(request: Any, transport: Any, app_state: dict[str, Any]) -> dict[str, Any]:
    """The HTTP connection scope, as Starlette's TestClient transport builds it."""
    url = request.url
    headers: list[tuple[bytes, bytes]] = [] if "host" in request.headers else [(b"host", url.netloc)]
    headers += [(key.lower().encode(), value.encode()) for key, value in request.headers.multi_items()]
    return {
        "type": "http",
        "http_version": "1.1",
        "method": request.method,
        "path": unquote(url.path),
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "root_path": transport.root_path,
        "scheme": url.scheme,
        "query_string": url.query,
        "headers": headers,
        "client": transport.client,
        "server": [url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[url.scheme]],
        "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
        "state": app_state.copy(),
    }


async def _exchange(app: Any, scope: dict[str, Any], body: bytes) -> _Answer:
    """Run the app for one request on the portal's loop and collect everything it sends."""
    answer = _Answer()
    complete = anyio.Event()
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body}
        if not complete.is_set():  # a poll (Request.is_disconnected) must not wait: wait() is a checkpoint
            await complete.wait()  # as with a real client, the disconnect comes once the response is done
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if answer.status is not None:
                raise AssertionError('Received multiple "http.response.start" messages.')
            headers = [(key.decode(), value.decode()) for key, value in message.get("headers", [])]
            answer.status, answer.headers = message["status"], headers
            answer.trailers_expected = message.get("trailers", False)
        elif kind == "http.response.body":
            if answer.status is None:
                raise AssertionError('Received "http.response.body" without "http.response.start".')
            if complete.is_set():
                raise AssertionError('Received "http.response.body" after response completed.')
            if answer.body_complete:
                raise AssertionError('Received "http.response.body" after body completed.')
            answer.body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                answer.body_complete = True
                if not answer.trailers_expected:
                    complete.set()
        elif kind == "http.response.trailers":
            if not answer.trailers_expected:
                raise AssertionError('Received "http.response.trailers" without declaring trailers.')
            if not answer.body_complete:
                raise AssertionError('Received "http.response.trailers" before body completed.')
            if complete.is_set():
                raise AssertionError('Received "http.response.trailers" after response completed.')
            answer.trailers.extend(message.get("headers", []))
            if not message.get("more_trailers", False):
                complete.set()
        elif kind == "http.response.debug":
            answer.debug = message["info"]

    try:
        await app(scope, receive, send)
    except Exception as exc:
        answer.error = exc
    finally:
        complete.set()
    return answer
