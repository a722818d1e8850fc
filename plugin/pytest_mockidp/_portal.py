"""One event loop thread for every ``app_client`` of a pytest session, each client's app isolated on it.

Starlette's TestClient starts a thread with an event loop (its portal) when it is entered and stops it
when it is left: ~1-1.5 ms each way on a busy two-core machine, a tenth of a login test. The plugin's
``app_client`` enters its TestClient on one portal the session keeps instead (``SharedPortal``, one per
pytest-xdist worker), and leaves it as a portal of its own would leave it: the app's lifespan shut down,
every task the app started and left running cancelled and awaited (as ``asyncio.run`` does at its end),
and what the app set on the loop (its exception handler, task factory and debug mode) put back. Cookies,
sessions and providers are the test's own as before; ``tests/robustness/test_isolation.py`` proves it.

Only Starlette 1.9 and later, with the default asyncio backend, share the portal: a TestClient made for
trio or with backend options, or an older Starlette's, enters its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
from anyio.streams.stapled import StapledObjectStream


class SharedPortal:
    """The session's event loop thread, started at the first ``app_client`` and stopped at the session's end."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None

    def get(self) -> anyio.from_thread.BlockingPortal:
        if self._portal is None:
            self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        return self._portal

    def close(self) -> None:
        self._portal = None
        self._stack.close()


def shares(client: Any) -> bool:
    """Whether ``client`` (a Starlette ``TestClient``) may enter on the shared portal: asyncio, no options."""
    backend = client.async_backend
    return bool(backend["backend"] == "asyncio" and not backend["backend_options"])


@dataclass(frozen=True)
class _LoopState:
    """What an app may change on the loop it runs on, and the tasks there before it came."""

    tasks: frozenset[asyncio.Task[Any]]
    exception_handler: Any
    task_factory: Any
    debug: bool


async def _snapshot() -> _LoopState:
    loop = asyncio.get_running_loop()
    return _LoopState(
        frozenset(asyncio.all_tasks()), loop.get_exception_handler(), loop.get_task_factory(), loop.get_debug()
    )


async def _restore(state: _LoopState) -> None:
    """Cancel and await the tasks the app left, and put back what it changed on the loop."""
    loop = asyncio.get_running_loop()
    left = [t for t in asyncio.all_tasks() - state.tasks if t is not asyncio.current_task() and not t.done()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    loop.set_exception_handler(state.exception_handler)
    loop.set_task_factory(state.task_factory)
    loop.set_debug(state.debug)


def enter(client: Any, portal: anyio.from_thread.BlockingPortal) -> None:
    """Enter ``client`` as Starlette's ``TestClient.__enter__`` does, on ``portal`` rather than a new one."""
    with contextlib.ExitStack() as stack:
        client.portal = portal

        @stack.callback
        def reset_portal() -> None:
            client.portal = None

        send = anyio.create_memory_object_stream[Any](math.inf)
        receive = anyio.create_memory_object_stream[Any](math.inf)
        for channel in (*send, *receive):
            stack.callback(channel.close)
        client.stream_send = StapledObjectStream(*send)
        client.stream_receive = StapledObjectStream(*receive)
        before = portal.call(_snapshot)
        stack.callback(portal.call, _restore, before)  # last of all, after the lifespan's shutdown
        client.task = portal.start_task_soon(client.lifespan)
        portal.call(client.wait_startup)

        @stack.callback
        def wait_shutdown() -> None:
            portal.call(client.wait_shutdown)

        stack.callback(client._transport.close)
        client.exit_stack = stack.pop_all()
