"""The routed TestClient behind ``app_client``: what a test sees is what Starlette's TestClient shows.

Each test runs against three clients, entered as ``app_client`` is: Starlette's own ``TestClient``,
the plugin's, which makes a buffered request in one call into the client's event loop, and the plugin's
on the event loop thread a session shares (``pytest_mockidp._portal``), as ``app_client`` enters it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from pytest_mockidp._portal import SharedPortal
from pytest_mockidp._testclient import RoutedTestClient, _exchange
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from mockidp import MockIdP

ClientFactory = Callable[..., TestClient]
CLIENTS = {"starlette": TestClient, "routed": RoutedTestClient, "shared": RoutedTestClient}


@pytest.fixture(scope="module")
def shared_portal() -> Iterator[SharedPortal]:
    portal = SharedPortal()
    yield portal
    portal.close()


@pytest.fixture(params=sorted(CLIENTS))
def make_client(request: pytest.FixtureRequest, shared_portal: SharedPortal) -> Iterator[ClientFactory]:
    """Builds and enters a client of the kind under test; leaves it after the test."""
    entered: list[TestClient] = []

    def make(app: Any, **options: Any) -> TestClient:
        if request.param == "shared":
            options["shared_portal"] = shared_portal
        client = CLIENTS[request.param](app, **options)
        entered.append(client.__enter__())
        return client

    yield make
    for client in reversed(entered):
        client.__exit__(None, None, None)


ASGIApp = Callable[[Scope, Receive, Send], Any]


def with_lifespan(app: ASGIApp) -> ASGIApp:
    """``app`` (which speaks HTTP only) with a lifespan that starts and stops, as a TestClient expects."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (step := (await receive())["type"]) != "lifespan.shutdown":
            await send({"type": f"{step}.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return asgi


def scope_app(seen: list[dict[str, Any]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append({**scope, "body": (await receive())["body"]})
        await PlainTextResponse("ok")(scope, receive, send)

    return with_lifespan(app)


def test_the_app_sees_the_same_scope_and_body_from_both_clients() -> None:
    seen: list[dict[str, Any]] = []
    for client_class in (TestClient, RoutedTestClient):
        with client_class(scope_app(seen), root_path="/api", client=("10.0.0.1", 4321)) as client:
            response = client.post("/a%20b/c?x=1&y=%2F", content=b"payload", headers={"X-Trace": "t1"})
            assert response.text == "ok"

    from_starlette, from_routed = seen
    assert from_routed == from_starlette
    assert from_routed["path"] == "/a b/c"
    assert from_routed["query_string"] == b"x=1&y=%2F"
    assert from_routed["client"] == ("10.0.0.1", 4321)
    assert from_routed["body"] == b"payload"


@contextmanager
def counting_portal_calls(client: TestClient) -> Iterator[list[object]]:
    """What the test's thread asks the client's event loop thread to run, one entry per crossing."""
    portal: Any = client.portal
    calls: list[object] = []
    original = portal.call

    def counting_call(fn: Any, *args: Any) -> Any:
        calls.append(fn)
        return original(fn, *args)

    portal.call = counting_call
    try:
        yield calls
    finally:
        portal.call = original


def test_a_buffered_request_crosses_into_the_event_loop_once() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))])
    with RoutedTestClient(app) as client, counting_portal_calls(client) as calls:
        response = client.get("/")

    assert calls == [_exchange]
    assert response.text == "hi"


def test_a_whole_simulated_login_crosses_into_the_event_loop_once(routed: MockIdP, login_app: Any) -> None:
    with RoutedTestClient(login_app, follow_redirects=False) as client, counting_portal_calls(client) as calls:
        result = routed.login(client, "/")

    assert len(calls) == 1
    assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}


def lifespan_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello"}

    async def home(request: Request) -> Response:
        request.state.greeting += "!"  # a copy per request: the next request sees the original
        return JSONResponse({"greeting": request.state.greeting, "cookie": request.cookies.get("seen")})

    async def set_cookie(request: Request) -> Response:
        response = PlainTextResponse("set")
        response.set_cookie("seen", "yes")
        return response

    return Starlette(routes=[Route("/", home), Route("/set", set_cookie)], lifespan=lifespan)


def test_lifespan_state_and_cookies_reach_each_request(make_client: ClientFactory) -> None:
    client = make_client(lifespan_app())

    client.get("/set")
    first, second = client.get("/").json(), client.get("/").json()

    assert first == second == {"greeting": "hello!", "cookie": "yes"}


def failing_app() -> Starlette:
    async def boom(request: Request) -> Response:
        raise ValueError("boom")

    async def after(request: Request) -> Response:
        def fail_later() -> None:
            raise KeyError("in the background")

        return PlainTextResponse("sent", background=BackgroundTask(fail_later))

    return Starlette(routes=[Route("/boom", boom), Route("/after", after)])


def test_app_errors_are_raised_in_the_test(make_client: ClientFactory) -> None:
    client = make_client(failing_app())

    with pytest.raises(ValueError, match="boom"):
        client.get("/boom")
    with pytest.raises(KeyError, match="in the background"):
        client.get("/after")


def test_without_raise_server_exceptions_app_errors_are_responses(make_client: ClientFactory) -> None:
    client = make_client(failing_app(), raise_server_exceptions=False)

    assert client.get("/boom").status_code == 500
    assert client.get("/after").text == "sent"


@with_lifespan
async def silent_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Returns without a response."""


def test_an_app_that_sends_no_response(make_client: ClientFactory) -> None:
    client = make_client(silent_app)
    with pytest.raises(AssertionError, match=r"^TestClient did not receive any response\.$"):
        client.get("/")

    lenient = make_client(silent_app, raise_server_exceptions=False)
    response = lenient.get("/")
    assert (response.status_code, response.content) == (500, b"")


def test_head_has_headers_and_no_body(make_client: ClientFactory) -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("twelve bytes"), methods=["GET", "HEAD"])])
    client = make_client(app)

    response = client.head("/")

    assert (response.status_code, response.content, response.headers["content-length"]) == (200, b"", "12")


def debug_and_trailers_app(info: dict[str, Any]) -> ASGIApp:
    """Sends what Starlette's templates send (``http.response.debug``), then a body in two parts and trailers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if "http.response.debug" in scope["extensions"]:
            await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"part one, ", "more_body": True})
        await send({"type": "http.response.body", "body": b"part two"})
        await send({"type": "http.response.some-future-extension"})  # ignored, as by any server
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")], "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-length", b"18")]})

    return with_lifespan(app)


@pytest.mark.parametrize(
    "info",
    [{"template": "page.html", "context": {"name": "alice"}}, {"template": "bare.html"}],
    ids=["context", "bare"],
)
def test_template_debug_information_and_trailers(make_client: ClientFactory, info: dict[str, Any]) -> None:
    client = make_client(debug_and_trailers_app(info))

    response = client.get("/")

    assert response.text == "part one, part two"
    assert {name: getattr(response, name) for name in ("template", "context") if hasattr(response, name)} == info
    assert response.extensions["http.response.trailers"] == [(b"x-checksum", b"abc"), (b"x-length", b"18")]


START = {"type": "http.response.start", "status": 200, "headers": []}
START_WITH_TRAILERS = {**START, "trailers": True}
BODY = {"type": "http.response.body", "body": b"x"}
MORE_BODY = {**BODY, "more_body": True}
TRAILERS = {"type": "http.response.trailers", "headers": []}


@pytest.mark.parametrize(
    ("messages", "complaint"),
    [
        ([START, START], 'Received multiple "http.response.start" messages.'),
        ([BODY], 'Received "http.response.body" without "http.response.start".'),
        ([START, BODY, BODY], 'Received "http.response.body" after response completed.'),
        ([START_WITH_TRAILERS, BODY, BODY], 'Received "http.response.body" after body completed.'),
        ([START, BODY, TRAILERS], 'Received "http.response.trailers" without declaring trailers.'),
        ([START_WITH_TRAILERS, MORE_BODY, TRAILERS], 'Received "http.response.trailers" before body completed.'),
        (
            [START_WITH_TRAILERS, BODY, TRAILERS, TRAILERS],
            'Received "http.response.trailers" after response completed.',
        ),
    ],
    ids=["two-starts", "body-first", "body-after-end", "body-after-body", "undeclared", "early", "late"],
)
def test_an_app_that_breaks_the_asgi_protocol(
    make_client: ClientFactory, messages: list[dict[str, Any]], complaint: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    client = make_client(with_lifespan(app))

    with pytest.raises(AssertionError) as raised:
        client.get("/")

    assert str(raised.value) == complaint


def streaming_app() -> Starlette:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"first ", b"second"):
            yield chunk

    return Starlette(routes=[Route("/", lambda request: StreamingResponse(chunks()))])


def test_a_streamed_response_arrives_chunk_by_chunk(make_client: ClientFactory) -> None:
    client = make_client(streaming_app())

    with client.stream("GET", "/") as response:
        chunks = list(response.iter_raw())

    assert chunks == [b"first ", b"second"]
    assert client.get("/").text == "first second"


def test_websockets_and_middleware_work_as_usual(make_client: ClientFactory) -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    class Tag(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            response.headers["x-tag"] = "tagged"
            return response

    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("page")), WebSocketRoute("/ws", echo)],
        middleware=[Middleware(Tag)],
    )
    client = make_client(app)

    with client.websocket_connect("/ws") as websocket:
        websocket.send_text("ping")
        assert websocket.receive_text() == "ping"
    assert client.get("/").headers["x-tag"] == "tagged"


def test_a_client_used_without_with_works_as_starlettes() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))])

    assert RoutedTestClient(app).get("/").text == "hi"


def test_a_response_has_only_the_headers_the_app_sent(make_client: ClientFactory) -> None:
    client = make_client(streaming_app())

    response = client.get("/")

    assert response.text == "first second"
    assert "content-length" not in response.headers


def test_the_elapsed_time_of_a_response_is_known(make_client: ClientFactory) -> None:
    client = make_client(Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))]))

    assert client.get("/").elapsed.total_seconds() >= 0


def test_after_the_response_a_disconnect_poll_sees_the_disconnect(make_client: ClientFactory) -> None:
    polled: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("sent")(scope, receive, send)
        messages = [(await receive())["type"], (await receive())["type"]]
        polled.append(messages == ["http.request", "http.disconnect"])
        polled.append(await Request(scope, receive).is_disconnected())  # a poll that must not wait

    client = make_client(with_lifespan(app))

    assert client.get("/").text == "sent"
    assert polled == [True, True]


def test_cookies_set_before_an_app_error_are_kept(make_client: ClientFactory) -> None:
    async def sign_up(request: Request) -> Response:
        def send_welcome_mail() -> None:
            raise ConnectionError("no mail server")

        response = PlainTextResponse("welcome", background=BackgroundTask(send_welcome_mail))
        response.set_cookie("session", "alice")
        return response

    client = make_client(Starlette(routes=[Route("/sign-up", sign_up, methods=["POST"])]))

    with pytest.raises(ConnectionError, match=r"^no mail server$"):
        client.post("/sign-up")
    assert client.cookies.get("session") == "alice"


@with_lifespan
async def latin1_header_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-disposition", 'attachment; filename="café.txt"'.encode("latin-1"))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_header_that_is_not_utf8_is_an_app_error(make_client: ClientFactory) -> None:
    with pytest.raises(UnicodeDecodeError):
        make_client(latin1_header_app).get("/")

    response = make_client(latin1_header_app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.content) == (500, b"")
