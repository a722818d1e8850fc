"""The event loop thread ``app_client`` shares across a session (``pytest_mockidp._portal``): shared where it
can be, a client's own where asked, and sound after an app that fails to start."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import pytest
from pytest_mockidp._portal import SharedPortal
from pytest_mockidp._testclient import RoutedTestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def thread(request: Request) -> Response:
    return JSONResponse({"thread": threading.get_ident()})


def app(*, fail_at_startup: bool = False) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if fail_at_startup:
            raise RuntimeError("the database is down")
        yield

    return Starlette(routes=[Route("/", thread)], lifespan=lifespan)


@pytest.fixture
def shared() -> Iterator[SharedPortal]:
    portal = SharedPortal()
    yield portal
    portal.close()


def thread_of(**options: Any) -> int:
    with RoutedTestClient(app(), **options) as client:
        ident: int = client.get("/").json()["thread"]
    return ident


def test_clients_in_turn_run_on_one_thread_and_a_client_with_options_on_its_own(shared: SharedPortal) -> None:
    first, second = thread_of(shared_portal=shared), thread_of(shared_portal=shared)
    own = thread_of(shared_portal=shared, backend_options={"debug": True})

    assert first == second
    assert own != first


def test_an_app_that_fails_to_start_leaves_the_shared_thread_usable(shared: SharedPortal) -> None:
    client = RoutedTestClient(app(fail_at_startup=True), shared_portal=shared)
    with pytest.raises(RuntimeError, match="the database is down"), client:
        pass  # pragma: no cover - the client cannot be entered

    assert client.portal is None
    assert thread_of(shared_portal=shared) == thread_of(shared_portal=shared)


def test_the_thread_starts_at_first_use_and_a_new_one_after_close() -> None:
    portal = SharedPortal()
    first = portal.get()
    assert portal.get() is first
    portal.close()
    second = portal.get()
    portal.close()

    assert second is not first


def test_a_task_the_app_left_running_is_cancelled_when_its_client_leaves(shared: SharedPortal) -> None:
    left: list[asyncio.Task[None]] = []

    async def leave(request: Request) -> Response:
        left.append(asyncio.create_task(asyncio.sleep(3600)))
        return JSONResponse({})

    with RoutedTestClient(Starlette(routes=[Route("/", leave)]), shared_portal=shared) as client:
        client.get("/")
        assert not left[0].done()

    assert left[0].cancelled()


def test_what_an_app_set_on_the_loop_is_put_back_when_its_client_leaves(shared: SharedPortal) -> None:
    closed: list[bool] = []

    async def forever() -> AsyncIterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.append(True)

    async def change(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        loop.slow_callback_duration = 5.0
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        request.app.state.timer = loop.call_later(3600, closed.clear)
        request.app.state.gen = forever()
        await request.app.state.gen.__anext__()
        return JSONResponse({})

    async def loop_state() -> tuple[Any, float, float]:
        loop = asyncio.get_running_loop()
        limiter = anyio.to_thread.current_default_thread_limiter()
        return getattr(loop, "_default_executor", None), loop.slow_callback_duration, limiter.total_tokens

    before = shared.get().call(loop_state)
    app = Starlette(routes=[Route("/", change)])
    with RoutedTestClient(app, shared_portal=shared) as client:
        client.get("/")
        assert shared.get().call(loop_state) != before

    assert shared.get().call(loop_state) == before
    assert closed == [True]
    assert app.state.timer.cancelled()


def test_an_app_that_shut_the_default_executor_down_leaves_it_usable_for_the_next(shared: SharedPortal) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.get_running_loop().shutdown_default_executor()  # as asyncio.run does at its end

    async def in_thread(request: Request) -> Response:
        return JSONResponse({"thread": await asyncio.to_thread(threading.get_ident)})

    app = Starlette(routes=[Route("/", in_thread)], lifespan=lifespan)
    for _ in range(2):
        with RoutedTestClient(app, shared_portal=shared) as client:
            assert client.get("/").status_code == 200
