"""Prototypes of the proposed speed-ups, applied by monkeypatching (mockidp/ itself is left alone).

Each is a sketch of a change to mockidp or the plugin, close enough to measure its gain:

- ``ssl_cache``: while ``intercept()`` is installed, httpx/httpx2 transports share one SSL context per
  (verify, trust_env) instead of loading the CA bundle for every new client. authlib builds a new
  ``AsyncOAuth2Client`` for each metadata fetch, authorization URL, token request and JWKS fetch, and
  each costs an ``SSLContext.load_verify_locations`` (~29 ms here) that an intercepted request never uses.
  Landed in mockidp as ``mockidp/_tls.py`` (commit ca86a67); the prototype does nothing when it finds it.
- ``loop_reuse``: the sync in-process transport runs the provider on one event loop per thread, kept,
  instead of a new loop per request (and one helper thread, kept, when the caller's thread runs a loop).
- ``one_hop_client``: the routed TestClient sends each app request to the app in one call into its
  portal (the whole response read there), instead of Starlette's ~10 cross-thread calls per request.
- ``tcp_nodelay``: the loopback server's listening socket is made with ``proto=IPPROTO_TCP``, so asyncio
  sets TCP_NODELAY on each accepted connection (it only does for sockets whose proto says TCP).
  Without it, every request after the first on a keep-alive connection waits ~40 ms: uvicorn writes
  the headers and the body separately, Nagle holds the body until the client's delayed ACK.

Run ``python bench/_prototypes.py PATCH[,PATCH] -- serve ARGS`` for ``mockidp serve`` with patches.

``apply(["ssl_cache", ...])`` patches for good; ``patched(...)`` undoes on exit.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

NAMES = ("ssl_cache", "loop_reuse", "one_hop_client", "tcp_nodelay")


@contextmanager
def _setattr(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# -- ssl_cache ---------------------------------------------------------------------------------


#: One cache per original ``create_ssl_context``, kept across installs: every test intercepts anew.
_SSL_CACHES: dict[Any, dict[tuple[Any, ...], Any]] = {}
_SSL_LOCK = threading.Lock()


def _caching(create: Callable[..., Any]) -> Callable[..., Any]:
    cache = _SSL_CACHES.setdefault(create, {})
    lock = _SSL_LOCK

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if cert is not None or not isinstance(verify, bool):
            return create(verify=verify, cert=cert, trust_env=trust_env)
        # What the default context depends on: the arguments and the variables trust_env reads.
        key = (verify, trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        with lock:
            found = cache.get(key)
            if found is None:
                found = cache[key] = create(verify=verify, cert=cert, trust_env=trust_env)
        return found

    create_ssl_context.__wrapped__ = create  # type: ignore[attr-defined]
    return create_ssl_context


#: mockidp shares the default TLS context itself since commit ca86a67 (mockidp/_tls.py).
SSL_LANDED = importlib.util.find_spec("mockidp._tls") is not None


@contextmanager
def ssl_cache() -> Iterator[None]:
    """Wrap Interceptor.install/uninstall so the package's transports share SSL contexts while installed."""
    if SSL_LANDED:
        yield
        return
    from mockidp._intercept import Interceptor

    install, uninstall = Interceptor.install, Interceptor.uninstall

    def default_module(interceptor: Any) -> Any:
        return importlib.import_module(f"{interceptor.package.__name__}._transports.default")

    def patched_install(self: Any) -> None:
        install(self)
        module = default_module(self)
        if not hasattr(module.create_ssl_context, "__wrapped__"):
            module.create_ssl_context = _caching(module.create_ssl_context)

    def patched_uninstall(self: Any) -> None:
        uninstall(self)
        module = default_module(self)
        original = getattr(module.create_ssl_context, "__wrapped__", None)
        if original is not None:
            module.create_ssl_context = original

    with _setattr(Interceptor, "install", patched_install), _setattr(Interceptor, "uninstall", patched_uninstall):
        yield


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


# -- tcp_nodelay -------------------------------------------------------------------------------


@contextmanager
def tcp_nodelay() -> Iterator[None]:
    import socket

    import mockidp._server as server

    def bind(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.set_inheritable(True)
        return sock

    with _setattr(server, "bind", bind):
        yield


PATCHES: dict[str, Callable[[], Any]] = {
    "ssl_cache": ssl_cache,
    "loop_reuse": loop_reuse,
    "one_hop_client": one_hop_client,
    "tcp_nodelay": tcp_nodelay,
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
