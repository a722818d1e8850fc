"""``async_app_client`` under pytest-asyncio: the app's lifespan runs on the test's own event loop.

pytest-asyncio runs an async fixture on the loop its ``loop_scope`` names, so there is one fixture
per loop scope; ``async_app_client`` picks the one of the test's scope. Registered only when
pytest-asyncio is active.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest_asyncio

LOOP_SCOPES = ("function", "class", "module", "package", "session")


def fixture_name(loop_scope: str) -> str:
    return f"_mockidp_asyncio_app_client_{loop_scope}"


def _client_fixture(loop_scope: str) -> Any:
    async def client(app: Any) -> AsyncIterator[Any]:
        __tracebackhide__ = True
        from pytest_mockidp._clients import lifespan_client

        tasks: set[asyncio.Task[None]] = set()

        def spawn(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
            task = asyncio.get_running_loop().create_task(run())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async with lifespan_client(app, spawn) as routed:
            yield routed

    # ``pytest --fixtures`` groups fixtures by module and would show an empty section for this one.
    client.__module__ = "pytest_mockidp._fixtures"
    return pytest_asyncio.fixture(loop_scope=loop_scope, name=fixture_name(loop_scope))(client)  # type: ignore[call-overload]


for _scope in LOOP_SCOPES:
    globals()[f"_client_{_scope}"] = _client_fixture(_scope)
