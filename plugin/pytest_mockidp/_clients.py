"""Clients on the app under test that also reach the providers of the test.

A request to an active provider's issuer (the ``idp`` fixture's, or ``make_idp``'s) goes to that
provider in-process; every other request goes to the app, as with a plain ``TestClient``. So a
test can follow an app's redirect to the provider with the same client, and the client's cookie
jar is one browser across both.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from starlette import testclient

from mockidp._intercept import Interceptor
from mockidp._transports import resolve

BASE_URL = "http://testserver"
#: The httpx package Starlette's TestClient is built on (httpx2 when installed).
TESTCLIENT_PACKAGE: ModuleType = vars(testclient)["httpx"]


def _provider_at(package: ModuleType, url: Any) -> Any:
    interceptor = Interceptor.on_top(package)
    return interceptor.match(url) if interceptor is not None else None


class RoutedTestClient(testclient.TestClient):
    """Starlette's TestClient, with requests to an active provider's issuer sent to the provider."""

    def _transport_for_url(self, url: Any) -> Any:
        provider = _provider_at(TESTCLIENT_PACKAGE, url)
        if provider is not None:
            return provider.transport(TESTCLIENT_PACKAGE)
        return super()._transport_for_url(url)


@functools.cache
def _async_client_class(package: ModuleType) -> type[Any]:
    class RoutedAsyncClient(package.AsyncClient):  # type: ignore[misc,name-defined]
        """An async client on an ASGI app, with requests to an active provider's issuer sent to it."""

        def _transport_for_url(self, url: Any) -> Any:
            provider = _provider_at(package, url)
            if provider is not None:
                return provider.async_transport(package)
            return super()._transport_for_url(url)

    return RoutedAsyncClient


def routed_test_client(app: Any) -> RoutedTestClient:
    return RoutedTestClient(app, base_url=BASE_URL, follow_redirects=False)


def routed_async_client(app: Any) -> Any:
    package = resolve(None)
    client_class = _async_client_class(package)
    return client_class(transport=package.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False)
