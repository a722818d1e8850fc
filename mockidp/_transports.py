"""In-process transports: an httpx (or httpx2) client talks to the provider's ASGI app with no socket.

A transport must come from the same package as its client, so each is built from the package the
caller names, or from the one installed (``httpx2`` first, as authlib and Starlette prefer it).
The async transport is the package's own ``ASGITransport``; the sync one runs that transport on an
event loop of its own, in this thread or, when this thread already runs a loop, in a helper thread.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, TypeVar

from starlette.types import ASGIApp

from mockidp._clock import RealTimeEventLoop

T = TypeVar("T")
PACKAGES = ("httpx2", "httpx")


@functools.cache
def installed_packages() -> tuple[ModuleType, ...]:
    """The httpx packages importable here, ``httpx2`` first.

    Asked once per process: an import that fails searches all of ``sys.path`` again each time (~0.1 ms),
    and every login and every ``intercept()`` asks.
    """
    found = []
    for name in PACKAGES:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return tuple(found)


def resolve(package: ModuleType | str | None) -> ModuleType:
    """The httpx package to build for: the one given, else ``httpx2``, else ``httpx``."""
    if isinstance(package, ModuleType):
        if package.__name__ not in PACKAGES:
            raise ValueError(f"package must be one of {', '.join(PACKAGES)}, got the module {package.__name__!r}")
        return package
    if package is not None:
        if package not in PACKAGES:
            raise ValueError(f"package must be one of {', '.join(PACKAGES)}, got {package!r}")
        return importlib.import_module(package)
    found = installed_packages()
    if not found:
        raise ImportError("mockidp's in-process transports need httpx2 or httpx: pip install httpx2")
    return found[0]


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, whether or not this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_on_new_loop(factory)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mockidp") as pool:
        return pool.submit(_run_on_new_loop, factory).result()


def _run_on_new_loop(factory: Callable[[], Awaitable[T]]) -> T:
    loop = RealTimeEventLoop()
    try:
        return loop.run_until_complete(factory())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@functools.cache
def _sync_transport_class(package: ModuleType) -> type[Any]:
    class InProcessTransport(package.BaseTransport):  # type: ignore[misc,name-defined]
        """A sync transport into an ASGI app, made for one httpx package."""

        def __init__(self, app: ASGIApp) -> None:
            self._asgi = package.ASGITransport(app=app)

        def handle_request(self, request: Any) -> Any:
            request.read()

            async def call() -> tuple[int, Any, bytes]:
                response = await self._asgi.handle_async_request(request)
                body = await response.aread()
                return response.status_code, response.headers, body

            status, headers, body = run_sync(call)
            return package.Response(status, headers=headers, content=body, request=request)

    InProcessTransport.__qualname__ = f"InProcessTransport[{package.__name__}]"
    return InProcessTransport


def sync_transport(app: ASGIApp, package: ModuleType | str | None = None) -> Any:
    """A ``BaseTransport`` of ``package`` that sends each request to ``app`` in-process."""
    return _sync_transport_class(resolve(package))(app)


def async_transport(app: ASGIApp, package: ModuleType | str | None = None) -> Any:
    """An ``AsyncBaseTransport`` of ``package`` that sends each request to ``app`` in-process."""
    return resolve(package).ASGITransport(app=app)
