"""In-process transports: ``MockIdP.transport()`` and ``async_transport()`` for httpx and httpx2.

A client built with one of these reaches the provider's ASGI app with no socket. A transport must
belong to the same package as its client (httpx and httpx2 have distinct class hierarchies), so
each is built for the package named, ``httpx2`` by default. The sync transport must work from plain
code and from inside a running event loop (a sync client called in an ``async def``), and request
bodies (RFC 6749 §3.2 forms, streamed content) must arrive whole.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import httpx
import httpx2
import pytest
from freezegun import freeze_time

from mockidp import MockIdP
from tests.flows import auth_request

PACKAGES = [pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")]
BY_NAME = pytest.mark.parametrize("by_name", [False, True], ids=["module", "name"])
FORM = {"content-type": "application/x-www-form-urlencoded"}
CREDENTIALS = ("mockidp-client", "mockidp-secret")


def other(package: ModuleType) -> ModuleType:
    return httpx2 if package is httpx else httpx


@pytest.mark.parametrize("package", PACKAGES)
@BY_NAME
def test_sync_transport_belongs_to_the_package_and_reaches_the_provider(
    provider: MockIdP, package: ModuleType, by_name: bool
) -> None:
    transport = provider.transport(package.__name__ if by_name else package)

    assert isinstance(transport, package.BaseTransport)
    assert not isinstance(transport, other(package).BaseTransport)
    with package.Client(transport=transport) as client:
        response = client.get(provider.metadata_url)
    assert response.status_code == 200
    assert response.json()["token_endpoint"] == "https://idp.mockidp.test/token"
    assert [str(r) for r in provider.requests] == ["GET discovery -> 200"]


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
@BY_NAME
async def test_async_transport_belongs_to_the_package_and_reaches_the_provider(
    provider: MockIdP, package: ModuleType, by_name: bool
) -> None:
    transport = provider.async_transport(package.__name__ if by_name else package)

    assert isinstance(transport, package.AsyncBaseTransport)
    assert not isinstance(transport, other(package).AsyncBaseTransport)
    async with package.AsyncClient(transport=transport) as client:
        response = await client.get(provider.jwks_uri)
    assert response.status_code == 200
    assert [key["kid"] for key in response.json()["keys"]] == [key["kid"] for key in provider.jwks()["keys"]]


def test_the_default_package_is_httpx2(provider: MockIdP) -> None:
    assert provider.transport() is provider.transport(httpx2)
    assert provider.async_transport() is provider.async_transport(httpx2)
    assert isinstance(provider.transport(), httpx2.BaseTransport)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_transport_is_made_once_per_package_and_kind(provider: MockIdP, package: ModuleType) -> None:
    assert provider.transport(package) is provider.transport(package.__name__)
    assert provider.async_transport(package) is provider.async_transport(package.__name__)
    assert provider.transport(package) is not provider.async_transport(package)


@pytest.mark.parametrize("package", ["requests", "HTTPX", json])
def test_an_unknown_package_is_refused(provider: MockIdP, package: str | ModuleType) -> None:
    shown = repr(package) if isinstance(package, str) else f"the module {package.__name__!r}"
    with pytest.raises(ValueError, match=r"^package must be one of httpx2, httpx, got ") as error:
        provider.transport(package)
    assert str(error.value) == f"package must be one of httpx2, httpx, got {shown}"


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
async def test_sync_transport_works_inside_a_running_event_loop(provider: MockIdP, package: ModuleType) -> None:
    with package.Client(transport=provider.transport(package)) as client:
        response = client.post(
            provider.endpoint("token_endpoint"), data={"grant_type": "client_credentials"}, auth=CREDENTIALS
        )

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("package", PACKAGES)
def test_sync_form_and_streamed_bodies_arrive_whole(provider: MockIdP, package: ModuleType) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_"
        yield b"credentials&scope=pro"
        yield b"file"

    url = provider.endpoint("token_endpoint")
    with package.Client(transport=provider.transport(package)) as client:
        form = client.post(url, data={"grant_type": "client_credentials", "scope": "email"}, auth=CREDENTIALS)
        streamed = client.post(url, content=chunks(), headers=FORM, auth=CREDENTIALS)

    assert (form.status_code, streamed.status_code) == (200, 200)
    assert [r.params for r in provider.requests] == [
        {"grant_type": "client_credentials", "scope": "email"},
        {"grant_type": "client_credentials", "scope": "profile"},
    ]
    assert [form.json()["scope"], streamed.json()["scope"]] == ["email", "profile"]


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
async def test_async_form_and_streamed_bodies_arrive_whole(provider: MockIdP, package: ModuleType) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"grant_type=client_"
        yield b"credentials&scope=pro"
        yield b"file"

    url = provider.endpoint("token_endpoint")
    async with package.AsyncClient(transport=provider.async_transport(package)) as client:
        form = await client.post(url, data={"grant_type": "client_credentials", "scope": "email"}, auth=CREDENTIALS)
        streamed = await client.post(url, content=chunks(), headers=FORM, auth=CREDENTIALS)

    assert (form.status_code, streamed.status_code) == (200, 200)
    assert [r.params for r in provider.requests] == [
        {"grant_type": "client_credentials", "scope": "email"},
        {"grant_type": "client_credentials", "scope": "profile"},
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_error_status_headers_and_body_come_back_unchanged(provider: MockIdP, package: ModuleType) -> None:
    with package.Client(transport=provider.transport(package)) as client:
        response = client.post(
            provider.endpoint("token_endpoint"),
            data={"grant_type": "client_credentials"},
            auth=("mockidp-client", "wrong"),
        )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="mockidp"'
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "wrong client_secret for client 'mockidp-client'",
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_the_session_cookie_reaches_the_client_and_is_sent_back(provider: MockIdP, package: ModuleType) -> None:
    with package.Client(transport=provider.transport(package)) as browser:
        first = browser.get(provider.endpoint("authorization_endpoint"), params=auth_request(provider).params)
        silent = browser.get(
            provider.endpoint("authorization_endpoint"), params=auth_request(provider, prompt="none").params
        )

    assert first.status_code == 302
    assert browser.cookies["mockidp_session"]
    assert silent.status_code == 302
    assert "code=" in silent.headers["location"]
    assert "error=" not in silent.headers["location"]


def test_one_sync_transport_serves_many_threads(provider: MockIdP) -> None:
    transport = provider.transport()

    def fetch(_: int) -> int:
        with httpx2.Client(transport=transport) as client:
            return client.get(provider.jwks_uri).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(fetch, range(8)))

    assert statuses == [200] * 8
    assert len(provider.requests.filter(endpoint="jwks")) == 8


@pytest.mark.parametrize("package", PACKAGES)
def test_sync_transport_runs_under_a_frozen_clock(provider: MockIdP, package: ModuleType) -> None:
    """freezegun freezes the provider's clock, but its own event loop still keeps real time."""
    provider.slow("token", 0.001)
    with freeze_time("2030-01-01T00:00:00Z"), package.Client(transport=provider.transport(package)) as client:
        response = client.post(
            provider.endpoint("token_endpoint"),
            data={"grant_type": "client_credentials"},
            auth=CREDENTIALS,
        )

    assert response.status_code == 200
    assert provider.requests[0].time == 1893456000.0
