"""While a provider intercepts, new httpx/httpx2 transports share one default TLS context (mockidp._tls).

Loading the CA bundle costs about 30 ms per client, and apps like authlib's build a client per call;
sharing keeps a simulated login in-process-fast. Only the default settings are shared, and the
sharing ends with the interception.
"""

from __future__ import annotations

import ssl
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest

from mockidp import MockIdP


def context_of(client: Any) -> ssl.SSLContext:
    context: ssl.SSLContext = client._transport._pool._ssl_context
    return context


@pytest.fixture(params=[httpx, httpx2], ids=["httpx", "httpx2"])
def package(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = request.param
    return module


def test_clients_share_the_default_context_while_a_provider_intercepts(provider: MockIdP, package: Any) -> None:
    with provider.intercept():
        first, second = package.Client(), package.AsyncClient()
        assert context_of(first) is context_of(second)
        assert context_of(first).verify_mode == ssl.CERT_REQUIRED
        assert context_of(first).check_hostname is True


def test_other_tls_settings_get_their_own_context(provider: MockIdP, package: Any) -> None:
    with provider.intercept():
        shared = context_of(package.Client())
        unverified = context_of(package.Client(verify=False))
        assert unverified is not shared
        assert unverified.verify_mode == ssl.CERT_NONE


def test_sharing_ends_with_the_interception(provider: MockIdP, package: Any) -> None:
    with provider.intercept():
        inside = context_of(package.Client())
    assert context_of(package.Client()) is not inside
    assert context_of(package.Client()) is not context_of(package.Client())


def test_clients_share_the_default_context_while_the_provider_is_served(provider: MockIdP, package: Any) -> None:
    with provider.serve():
        assert context_of(package.Client()) is context_of(package.AsyncClient())
    assert context_of(package.Client()) is not context_of(package.Client())


def test_nested_blocks_keep_sharing_until_the_outer_one_ends(provider: MockIdP, package: Any) -> None:
    with provider.intercept():
        outer = context_of(package.Client())
        with provider.serve():
            assert context_of(package.Client()) is outer
        assert context_of(package.Client()) is outer
    assert context_of(package.Client()) is not outer
