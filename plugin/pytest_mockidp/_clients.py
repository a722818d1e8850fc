"""Clients on the app under test that also reach the providers of the test.

A request to an active provider's issuer (the ``idp`` fixture's, or ``make_idp``'s) goes to that
provider in-process; every other request goes to the app, as with a plain ``TestClient``. So a
test can follow an app's redirect to the provider with the same client, and the client's cookie
jar is one browser across both.

The async client runs the app's lifespan (ASGI Lifespan 2.0) as Starlette's TestClient does: startup
before the test's first request, shutdown after the test, on the test's own event loop, and each
request sees a copy of the state the lifespan yielded.
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockidp._transports import resolve
from pytest_mockidp._portal import SharedPortal
from pytest_mockidp._testclient import RoutedTestClient, provider_at

BASE_URL = "http://testserver"

#: Starts a task that outlives the caller (a task group's ``start_soon``, or the event loop's ``create_task``).
Spawn = Callable[[Callable[[], Coroutine[Any, Any, None]]], object]


@functools.cache
def _async_client_class(package: ModuleType) -> type[Any]:
    class RoutedAsyncClient(package.AsyncClient):  # type: ignore[misc,name-defined]
        """An async client on an ASGI app, with requests to an active provider's issuer sent to it."""

        def _transport_for_url(self, url: Any) -> Any:
            provider = provider_at(package, url)
            if provider is not None:
                return provider.async_transport(package)
            return super()._transport_for_url(url)

    return RoutedAsyncClient


def routed_test_client(app: Any, shared_portal: SharedPortal | None = None) -> RoutedTestClient:
    return RoutedTestClient(app, base_url=BASE_URL, follow_redirects=False, shared_portal=shared_portal)


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """``app``, with a copy of the lifespan's state in each request's scope (ASGI Lifespan 2.0, "state")."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    return asgi


def routed_async_client(app: Any, *, state: dict[str, Any] | None = None) -> Any:
    package = resolve(None)
    client_class = _async_client_class(package)
    asgi = _with_state(app, state) if state is not None else app
    return client_class(transport=package.ASGITransport(app=asgi), base_url=BASE_URL, follow_redirects=False)


class Lifespan:
    """Runs an ASGI app's lifespan protocol in a task of the running event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._to_app, self._app_receives = anyio.create_memory_object_stream[Message](math.inf)
        self._app_sends, self._from_app = anyio.create_memory_object_stream[Message | None](math.inf)
        self._error: Exception | None = None
        self._returned = False

    async def _run(self) -> None:
        __tracebackhide__ = True
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self._app_receives.receive, self._app_sends.send)
        except Exception as exc:
            self._error = exc
        finally:
            await self._app_sends.send(None)  # the app returned: nothing more will come

    async def _next(self) -> Message | None:
        __tracebackhide__ = True
        message = await self._from_app.receive()
        if message is None:
            self._returned = True
            if self._error is not None:
                raise self._error
        return message

    async def _step(self, step: str) -> None:
        __tracebackhide__ = True
        if self._returned:
            return
        await self._to_app.send({"type": f"lifespan.{step}"})
        answer = await self._next()
        # An app without lifespan support may just return (ASGI Lifespan 2.0, "Scope"): answer is None.
        if answer is not None and answer["type"] == f"lifespan.{step}.failed":
            await self._next()  # Starlette raises after sending "failed": that error explains more
            raise RuntimeError(f"the app's lifespan {step} failed: {answer.get('message', '')}")

    async def startup(self, spawn: Spawn) -> None:
        __tracebackhide__ = True
        spawn(self._run)
        await self._step("startup")

    async def shutdown(self) -> None:
        __tracebackhide__ = True
        try:
            await self._step("shutdown")
            while not self._returned:  # the app returns after "shutdown.complete"
                await self._next()
        finally:
            for stream in (self._to_app, self._app_receives, self._app_sends, self._from_app):
                stream.close()


@asynccontextmanager
async def lifespan_client(app: Any, spawn: Spawn) -> AsyncIterator[Any]:
    """A routed async client on ``app`` whose lifespan runs (spawned by ``spawn``) while the block runs."""
    __tracebackhide__ = True
    lifespan = Lifespan(app)
    try:
        await lifespan.startup(spawn)
        async with routed_async_client(app, state=lifespan.state) as client:
            yield client
    finally:
        await lifespan.shutdown()
