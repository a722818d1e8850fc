"""Routing a process's outbound httpx and httpx2 calls to the issuer's host into the provider.

An app under test builds its own HTTP clients (authlib does), so no transport can be handed to it.
Instead, while ``MockIdP.intercept()`` is active, each package's default transports
(``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request``) are wrapped:
a request whose URL belongs to an active provider goes to that provider in-process; every other
request goes on to what was there before (the network, or pytest-httpx or respx if they patched
first). The routing table lives on the wrapper itself, which is removed when its last provider
leaves, so nothing stays behind. While it is active, new transports also share one default TLS
context (see ``mockidp._tls``), so an app that builds a client per call pays nothing for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mockidp._endpoints.discovery import OAUTH_WELL_KNOWN
from mockidp._tls import shared_default_context
from mockidp._transports import installed_packages, resolve

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

_MARK = "__mockidp_interceptor__"


@dataclass(frozen=True)
class Destination:
    """The origin and path prefix a provider answers for."""

    scheme: str
    host: str
    port: int
    prefix: str
    idp: MockIdP

    @classmethod
    def of(cls, idp: MockIdP) -> Destination:
        parts = urlsplit(idp.issuer)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/"), idp)

    def score(self, scheme: str, host: str, port: int, path: str) -> int:
        """How specific a match this is (the prefix length, plus one), or 0 for no match."""
        if (scheme, host, port) != (self.scheme, self.host, self.port):
            return 0
        prefix = self.prefix
        if not prefix or path == prefix or path.startswith(prefix + "/") or path == OAUTH_WELL_KNOWN + prefix:
            return len(prefix) + 1
        return 0


class Interceptor:
    """The wrapper around one package's default transports, with its routing table."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.destinations: list[Destination] = []
        self.lock = threading.Lock()
        self.original_sync = package.HTTPTransport.handle_request
        self.original_async = package.AsyncHTTPTransport.handle_async_request
        interceptor = self

        def handle_request(transport: Any, request: Any) -> Any:
            idp = interceptor.match(request.url)
            if idp is None:
                return interceptor.original_sync(transport, request)
            return idp.transport(package).handle_request(request)

        async def handle_async_request(transport: Any, request: Any) -> Any:
            idp = interceptor.match(request.url)
            if idp is None:
                return await interceptor.original_async(transport, request)
            return await idp.async_transport(package).handle_async_request(request)

        setattr(handle_request, _MARK, self)
        setattr(handle_async_request, _MARK, self)
        self.sync_patch: Callable[..., Any] | None = handle_request
        self.async_patch: Callable[..., Any] | None = handle_async_request

    @classmethod
    def on_top(cls, package: ModuleType) -> Interceptor | None:
        found = getattr(package.HTTPTransport.handle_request, _MARK, None)
        return found if isinstance(found, Interceptor) else None

    def is_on_top(self) -> bool:
        return (
            self.package.HTTPTransport.handle_request is self.sync_patch
            and self.package.AsyncHTTPTransport.handle_async_request is self.async_patch
        )

    def install(self) -> None:
        self.package.HTTPTransport.handle_request = self.sync_patch
        self.package.AsyncHTTPTransport.handle_async_request = self.async_patch

    def uninstall(self) -> None:
        self.package.HTTPTransport.handle_request = self.original_sync
        self.package.AsyncHTTPTransport.handle_async_request = self.original_async
        # The patches point back at this interceptor; letting go of them leaves no cycle for the garbage
        # collector, one less cost per test. A patch someone kept still passes everything through.
        self.sync_patch = self.async_patch = None

    def match(self, url: Any) -> MockIdP | None:
        scheme, host, port, path = url.scheme, url.host.lower(), url.port, url.path
        port = port or (443 if scheme == "https" else 80)
        best, best_score = None, 0
        with self.lock:
            # The most specific issuer path wins; between equals, the provider that started last
            # (the innermost ``with``), as with nested mocks.
            for destination in self.destinations:
                score = destination.score(scheme, host, port, path)
                if score and score >= best_score:
                    best, best_score = destination.idp, score
        return best


#: Held while deciding whether to install or remove a wrapper, so threads entering and leaving
#: ``intercept()`` at once neither stack two wrappers nor remove one another's.
_PATCHING = threading.Lock()


@contextmanager
def _route(package: ModuleType, destination: Destination) -> Iterator[None]:
    with _PATCHING:
        interceptor = Interceptor.on_top(package)
        if interceptor is None:
            interceptor = Interceptor(package)
            interceptor.install()
        with interceptor.lock:
            interceptor.destinations.append(destination)
    try:
        yield
    finally:
        with _PATCHING:
            with interceptor.lock:
                interceptor.destinations.remove(destination)
                empty = not interceptor.destinations
            # Someone who patched on top of us after we started must undo first; until then we stay
            # installed as a pass-through rather than tear their patch out.
            if empty and interceptor.is_on_top():
                interceptor.uninstall()


@contextmanager
def intercept(idp: MockIdP, packages: list[ModuleType | str] | None = None) -> Iterator[MockIdP]:
    """Route requests for ``idp``'s issuer through every installed httpx package (or those given)."""
    modules = [resolve(p) for p in packages] if packages is not None else list(installed_packages())
    destination = Destination.of(idp)
    with ExitStack() as stack:
        stack.enter_context(shared_default_context(modules))
        for module in modules:
            stack.enter_context(_route(module, destination))
        yield idp
