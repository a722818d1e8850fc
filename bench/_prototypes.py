"""Prototypes of the proposed speed-ups, applied by monkeypatching (mockidp/ itself is left alone).

Each is a sketch of a change to mockidp or the plugin, close enough to measure its gain:

- ``loop_reuse``: the sync in-process transport runs the provider on one event loop per thread, kept,
  instead of a new loop per request (and one helper thread, kept, when the caller's thread runs a loop).
- ``one_hop_client``: the routed TestClient sends each app request to the app in one call into its
  portal (the whole response read there), instead of Starlette's ~10 cross-thread calls per request.
Two earlier prototypes landed in mockidp itself and are gone from here: sharing the default TLS
context (``mockidp/_tls.py``) and a TCP listening socket so asyncio sets TCP_NODELAY (``_server.bind``).
The login driver also runs a whole flow in one portal call now, so ``one_hop_client`` only changes the
test's own requests.

Run ``python bench/_prototypes.py PATCH[,PATCH] -- serve ARGS`` for ``mockidp serve`` with patches.

``apply(["loop_reuse", ...])`` patches for good; ``patched(...)`` undoes on exit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

NAMES = ("loop_reuse", "one_hop_client")


@contextmanager
def _setattr(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# -- loop_reuse --------------------------------------------------------------------------------


@contextmanager
def loop_reuse() -> Iterator[None]:
    import mockidp._transports as transports
    from mockidp._clock import RealTimeEventLoop

    local = threading.local()
    executor: list[ThreadPoolExecutor] = []

    def run_on_thread_loop(factory: Callable[[], Any]) -> Any:
        loop = getattr(local, "loop", None)
        if loop is None or loop.is_closed():
            loop = local.loop = RealTimeEventLoop()
        return loop.run_until_complete(factory())

    def run_sync(factory: Callable[[], Any]) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_on_thread_loop(factory)
        if not executor:
            executor.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="mockidp"))
        return executor[0].submit(run_on_thread_loop, factory).result()

    try:
        with _setattr(transports, "run_sync", run_sync):
            yield
    finally:
        for pool in executor:
            pool.shutdown()


# -- one_hop_client ----------------------------------------------------------------------------


@contextmanager
def one_hop_client() -> Iterator[None]:
    from pytest_mockidp import _clients

    package = _clients.TESTCLIENT_PACKAGE
    routed = _clients.RoutedTestClient
    previous = routed.__dict__["_transport_for_url"]

    class OneHop(package.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self, client: Any) -> None:
            self.client = client
            self.asgi = package.ASGITransport(app=client.app, client=("testclient", 50000))

        def handle_request(self, request: Any) -> Any:
            request.read()

            async def call() -> tuple[int, Any, bytes]:
                response = await self.asgi.handle_async_request(request)
                return response.status_code, response.headers, await response.aread()

            status, headers, body = self.client.portal.call(call)
            return package.Response(status, headers=headers, content=body, request=request)

    def _transport_for_url(self: Any, url: Any) -> Any:
        found = previous(self, url)
        if found is self._transport and getattr(self, "portal", None) is not None:
            hop = self.__dict__.get("_bench_one_hop")
            if hop is None:
                hop = self.__dict__["_bench_one_hop"] = OneHop(self)
            return hop
        return found

    with _setattr(routed, "_transport_for_url", _transport_for_url):
        yield


PATCHES: dict[str, Callable[[], Any]] = {
    "loop_reuse": loop_reuse,
    "one_hop_client": one_hop_client,
}


@contextmanager
def patched(names: list[str] | tuple[str, ...]) -> Iterator[None]:
    with ExitStack() as stack:
        for name in names:
            if name not in PATCHES:
                raise ValueError(f"unknown prototype {name!r}; choose from {', '.join(NAMES)}")
            stack.enter_context(PATCHES[name]())
        yield


_applied = ExitStack()


def apply(names: list[str] | tuple[str, ...]) -> None:
    """Patch for the rest of the process (used by the generated suites' conftest)."""
    _applied.enter_context(patched(names))


def main(argv: list[str]) -> int:
    """``_prototypes.py PATCHES -- serve ...``: ``mockidp serve`` with the named patches applied."""
    names, _, rest = argv[0], argv[1], argv[2:]
    from mockidp._cli import main as cli

    with patched([n for n in names.split(",") if n]):
        return cli(rest)


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
