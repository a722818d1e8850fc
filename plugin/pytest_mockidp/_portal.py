"""One event loop thread for every ``app_client`` of a pytest session, each client's app isolated on it.

Starlette's TestClient starts a thread with an event loop (its portal) when it is entered and stops it
when it is left: ~1-1.5 ms each way on a busy two-core machine, a tenth of a login test. The plugin's
``app_client`` enters its TestClient on one portal the session keeps instead (``SharedPortal``, one per
pytest-xdist worker), and leaves it as a portal of its own would leave it: the app's lifespan shut down,
every task the app started and left running cancelled and awaited, every async generator it left
unfinished closed (both as ``asyncio.run`` does at its end), every timer it left pending cancelled, and
what it set on the loop (exception handler, task factory, debug mode, slow-callback threshold, default
executor and its shutdown, anyio's default thread limit) put back. Cookies, sessions and providers are
the test's own as before; ``tests/robustness/test_isolation.py`` proves it.

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
import anyio.to_thread
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
    """What an app may change on the loop it runs on, and what ran there before it came.

    The async generators, timers and default executor are the loop's private attributes (asyncio's
    ``BaseEventLoop``; ``asyncio.run`` reaches the first through them too): a loop without them, such as
    uvloop's, keeps only the public settings apart.
    """

    tasks: frozenset[asyncio.Task[Any]]
    asyncgens: frozenset[Any]
    timers: frozenset[asyncio.TimerHandle]
    exception_handler: Any
    task_factory: Any
    debug: bool
    slow_callback_duration: float
    default_executor: Any
    executor_shut_down: bool
    thread_tokens: float


def _asyncgens(loop: asyncio.AbstractEventLoop) -> frozenset[Any]:
    return frozenset(getattr(loop, "_asyncgens", ()))


def _timers(loop: asyncio.AbstractEventLoop) -> frozenset[asyncio.TimerHandle]:
    return frozenset(getattr(loop, "_scheduled", ()))


async def _snapshot() -> _LoopState:
    loop = asyncio.get_running_loop()
    return _LoopState(
        tasks=frozenset(asyncio.all_tasks()),
        asyncgens=_asyncgens(loop),
        timers=_timers(loop),
        exception_handler=loop.get_exception_handler(),
        task_factory=loop.get_task_factory(),
        debug=loop.get_debug(),
        slow_callback_duration=loop.slow_callback_duration,
        default_executor=getattr(loop, "_default_executor", None),
        executor_shut_down=getattr(loop, "_executor_shutdown_called", False),
        thread_tokens=anyio.to_thread.current_default_thread_limiter().total_tokens,
    )


async def _restore(state: _LoopState) -> None:
    """Cancel and await the tasks the app left, close its async generators, cancel its timers, and put back
    what it changed on the loop."""
    loop = asyncio.get_running_loop()
    left = [t for t in asyncio.all_tasks() - state.tasks if t is not asyncio.current_task() and not t.done()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    await asyncio.gather(*(gen.aclose() for gen in _asyncgens(loop) - state.asyncgens), return_exceptions=True)
    for timer in _timers(loop) - state.timers:
        timer.cancel()
    loop.set_exception_handler(state.exception_handler)
    loop.set_task_factory(state.task_factory)
    loop.set_debug(state.debug)
    loop.slow_callback_duration = state.slow_callback_duration
    if getattr(loop, "_default_executor", None) is not state.default_executor:
        loop._default_executor.shutdown(wait=False)  # type: ignore[attr-defined]
        loop._default_executor = state.default_executor  # type: ignore[attr-defined]
    if getattr(loop, "_executor_shutdown_called", False) != state.executor_shut_down:
        loop._executor_shutdown_called = state.executor_shut_down  # type: ignore[attr-defined]
    anyio.to_thread.current_default_thread_limiter().total_tokens = state.thread_tokens


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
