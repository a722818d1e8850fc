"""``MockIdP.intercept()``: an unchanged app's httpx and httpx2 calls to the issuer reach the provider.

While it is active, requests whose URL belongs to an active provider's issuer (same scheme, host and
port, and a path under the issuer's path, or the RFC 8414 §3.1 form
``/.well-known/oauth-authorization-server{path}``) are answered in-process; every other request
goes to whatever handled it before: the network, pytest-httpx or respx. On exit the packages'
``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request`` are the very
functions they were before.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest
import respx
from pytest_httpx import HTTPXMock

from mockidp import KeyPool, MockIdP, ProviderConfig

PACKAGES = [pytest.param(httpx, id="httpx"), pytest.param(httpx2, id="httpx2")]
ISSUER = "https://idp.mockidp.test"
ELSEWHERE = "https://api.example.test/things"
#: One TLS context for every client: building one per client (loading the CA bundle) is slow.
TLS = ssl.create_default_context()


def handlers(package: ModuleType) -> tuple[Any, Any]:
    """The functions that send a package's requests on their default transports now."""
    return package.HTTPTransport.handle_request, package.AsyncHTTPTransport.handle_async_request


def sync_get(package: ModuleType, url: str) -> Any:
    """GET with a client on the package's default transport, as an app would build one."""
    with package.Client(verify=TLS) as client:
        return client.get(url)


async def async_get(package: ModuleType, url: str) -> Any:
    async with package.AsyncClient(verify=TLS) as client:
        return await client.get(url)


@dataclass
class Upstream:
    """Stands in for the network: what each package's default transports did before mockidp."""

    seen: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch, package: ModuleType) -> None:
        def handle_request(transport: Any, request: Any) -> Any:
            self.seen.append(f"{package.__name__} {request.method} {request.url}")
            return package.Response(200, json={"upstream": True})

        async def handle_async_request(transport: Any, request: Any) -> Any:
            self.seen.append(f"{package.__name__} async {request.method} {request.url}")
            return package.Response(200, json={"upstream": True})

        monkeypatch.setattr(package.HTTPTransport, "handle_request", handle_request)
        monkeypatch.setattr(package.AsyncHTTPTransport, "handle_async_request", handle_async_request)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Upstream:
    """Both packages' default transports answer 200 and record the request, instead of the network."""
    fake = Upstream()
    fake.install(monkeypatch, httpx)
    fake.install(monkeypatch, httpx2)
    return fake


@pytest.fixture
def make_provider(key_pool: KeyPool) -> Callable[[str], MockIdP]:
    def make(issuer: str) -> MockIdP:
        return MockIdP(ProviderConfig(issuer=issuer), keys=key_pool)

    return make


@pytest.mark.parametrize("package", PACKAGES)
def test_sync_clients_reach_the_provider_without_a_transport(routed: MockIdP, package: ModuleType) -> None:
    response = sync_get(package, routed.metadata_url)

    assert response.status_code == 200
    assert response.json()["issuer"] == ISSUER
    assert [str(r) for r in routed.requests] == ["GET discovery -> 200"]


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
async def test_async_clients_reach_the_provider_without_a_transport(routed: MockIdP, package: ModuleType) -> None:
    async with package.AsyncClient(verify=TLS) as client:
        response = await client.post(
            routed.endpoint("token_endpoint"),
            data={"grant_type": "client_credentials"},
            auth=("mockidp-client", "mockidp-secret"),
        )

    assert response.status_code == 200
    assert routed.requests[0].params == {"grant_type": "client_credentials"}


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
async def test_a_sync_client_inside_an_event_loop_reaches_the_provider(routed: MockIdP, package: ModuleType) -> None:
    assert sync_get(package, routed.jwks_uri).status_code == 200


def test_requests_from_other_threads_are_routed_too(routed: MockIdP) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        statuses = list(pool.map(lambda _: sync_get(httpx2, routed.jwks_uri).status_code, range(6)))

    assert statuses == [200] * 6
    assert len(routed.requests) == 6


@pytest.mark.parametrize("package", PACKAGES)
def test_a_client_built_before_intercept_is_routed_too(
    upstream: Upstream, provider: MockIdP, package: ModuleType
) -> None:
    """Apps often build one client at import time; interception patches the class, not instances."""
    with package.Client(verify=TLS) as client:
        before = client.get(provider.jwks_uri)
        with provider.intercept():
            during = client.get(provider.jwks_uri)
        after = client.get(provider.jwks_uri)

    assert [before.json(), after.json()] == [{"upstream": True}] * 2
    assert during.json() == provider.jwks()
    assert len(provider.requests) == 1


def test_intercept_yields_the_provider(provider: MockIdP) -> None:
    with provider.intercept() as idp:
        assert idp is provider


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize(
    "url",
    [
        "http://idp.mockidp.test/jwks",
        "https://idp.mockidp.test:8443/jwks",
        "https://mockidp.test/jwks",
        "https://sub.idp.mockidp.test/jwks",
        ELSEWHERE,
    ],
    ids=["other-scheme", "other-port", "parent-domain", "subdomain", "other-host"],
)
def test_requests_elsewhere_go_where_they_went_before(
    upstream: Upstream, provider: MockIdP, package: ModuleType, url: str
) -> None:
    with provider.intercept():
        response = sync_get(package, url)

    assert response.json() == {"upstream": True}
    assert upstream.seen == [f"{package.__name__} GET {url}"]
    assert list(provider.requests) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("package", PACKAGES)
async def test_async_requests_elsewhere_go_where_they_went_before(
    upstream: Upstream, provider: MockIdP, package: ModuleType
) -> None:
    with provider.intercept():
        elsewhere = await async_get(package, ELSEWHERE)
        ours = await async_get(package, provider.jwks_uri)

    assert (elsewhere.json(), ours.status_code) == ({"upstream": True}, 200)
    assert upstream.seen == [f"{package.__name__} async GET {ELSEWHERE}"]


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize(
    "url", ["https://IDP.mockidp.test/jwks", "https://idp.mockidp.test:443/jwks"], ids=["host-case", "default-port"]
)
def test_the_same_origin_spelled_differently_is_routed(
    upstream: Upstream, routed: MockIdP, package: ModuleType, url: str
) -> None:
    assert sync_get(package, url).status_code == 200
    assert upstream.seen == []
    assert [r.endpoint for r in routed.requests] == ["jwks"]


@pytest.mark.parametrize("package", PACKAGES)
def test_originals_are_restored_exactly_on_exit_and_on_error(provider: MockIdP, package: ModuleType) -> None:
    before = handlers(package)

    with provider.intercept():
        assert handlers(package) != before
    assert handlers(package) == before
    assert handlers(package)[0] is before[0]
    assert handlers(package)[1] is before[1]

    with pytest.raises(RuntimeError, match="boom"), provider.intercept():
        raise RuntimeError("boom")
    assert handlers(package)[0] is before[0]
    assert handlers(package)[1] is before[1]


def test_naming_a_package_intercepts_only_that_package(upstream: Upstream, provider: MockIdP) -> None:
    untouched = handlers(httpx2)

    with provider.intercept("httpx"):
        assert handlers(httpx2) == untouched
        assert sync_get(httpx, provider.jwks_uri).status_code == 200
        assert sync_get(httpx2, provider.jwks_uri).json() == {"upstream": True}

    assert upstream.seen == [f"httpx2 GET {provider.jwks_uri}"]


def test_two_providers_on_different_hosts_each_get_their_own_requests(
    upstream: Upstream, make_provider: Callable[[str], MockIdP]
) -> None:
    first, second = make_provider(ISSUER), make_provider("http://login.example.test:8080")

    with first.intercept(), second.intercept():
        first_metadata = sync_get(httpx2, first.metadata_url).json()
        second_metadata = sync_get(httpx, second.metadata_url).json()

    assert first_metadata["issuer"] == ISSUER
    assert second_metadata["issuer"] == "http://login.example.test:8080"
    assert second_metadata["jwks_uri"] == "http://login.example.test:8080/jwks"
    assert [len(first.requests), len(second.requests), len(upstream.seen)] == [1, 1, 0]


@pytest.mark.parametrize(
    ("path", "realm"),
    [
        ("/realms/a/.well-known/openid-configuration", "a"),
        ("/realms/b/.well-known/openid-configuration", "b"),
        ("/.well-known/oauth-authorization-server/realms/a", "a"),
        ("/.well-known/oauth-authorization-server/realms/b", "b"),
    ],
)
def test_two_issuers_on_one_host_are_told_apart_by_path(
    upstream: Upstream, make_provider: Callable[[str], MockIdP], path: str, realm: str
) -> None:
    realms = {name: make_provider(f"{ISSUER}/realms/{name}") for name in ("a", "b")}

    with realms["a"].intercept(), realms["b"].intercept():
        response = sync_get(httpx2, ISSUER + path)

    assert response.json()["issuer"] == f"{ISSUER}/realms/{realm}"
    assert response.json()["token_endpoint"] == f"{ISSUER}/realms/{realm}/token"
    assert {name: len(idp.requests) for name, idp in realms.items()} == {"a": 0, "b": 0} | {realm: 1}
    assert upstream.seen == []


@pytest.mark.parametrize(
    "path",
    ["/realms/ab/jwks", "/realms", "/jwks", "/.well-known/oauth-authorization-server/realms/c"],
)
def test_paths_outside_every_issuer_on_the_host_pass_through(
    upstream: Upstream, make_provider: Callable[[str], MockIdP], path: str
) -> None:
    with make_provider(f"{ISSUER}/realms/a").intercept(), make_provider(f"{ISSUER}/realms/b").intercept():
        response = sync_get(httpx2, ISSUER + path)

    assert response.json() == {"upstream": True}
    assert upstream.seen == [f"httpx2 GET {ISSUER}{path}"]


def test_the_longest_issuer_path_wins(upstream: Upstream, make_provider: Callable[[str], MockIdP]) -> None:
    root, realm = make_provider(ISSUER), make_provider(f"{ISSUER}/realms/a")

    with root.intercept(), realm.intercept():
        assert sync_get(httpx2, f"{ISSUER}/realms/a/jwks").status_code == 200
        assert sync_get(httpx2, f"{ISSUER}/jwks").status_code == 200
        assert sync_get(httpx2, f"{ISSUER}/.well-known/oauth-authorization-server/realms/a").status_code == 200

    assert [r.url for r in realm.requests] == [
        f"{ISSUER}/realms/a/jwks",
        f"{ISSUER}/.well-known/oauth-authorization-server/realms/a",
    ]
    assert [r.url for r in root.requests] == [f"{ISSUER}/jwks"]


@pytest.mark.parametrize("package", PACKAGES)
def test_nesting_the_same_provider_keeps_routing_until_the_outer_block_ends(
    upstream: Upstream, provider: MockIdP, package: ModuleType
) -> None:
    before = handlers(package)

    with provider.intercept():
        with provider.intercept():
            assert sync_get(package, provider.jwks_uri).status_code == 200
        assert sync_get(package, provider.jwks_uri).status_code == 200
    after = sync_get(package, provider.jwks_uri)

    assert after.json() == {"upstream": True}
    assert len(provider.requests) == 2
    assert handlers(package)[0] is before[0]
    assert handlers(package)[1] is before[1]


def test_between_providers_of_one_issuer_the_innermost_answers(
    upstream: Upstream, make_provider: Callable[[str], MockIdP]
) -> None:
    outer, inner = make_provider(ISSUER), make_provider(ISSUER)

    with outer.intercept():
        with inner.intercept():
            sync_get(httpx2, inner.jwks_uri)
        sync_get(httpx2, outer.jwks_uri)

    assert [len(outer.requests), len(inner.requests)] == [1, 1]
    assert upstream.seen == []


@pytest.mark.parametrize("package", PACKAGES)
def test_providers_may_leave_in_any_order(
    upstream: Upstream, make_provider: Callable[[str], MockIdP], package: ModuleType
) -> None:
    before = handlers(package)
    first, second = make_provider(ISSUER), make_provider("https://other.mockidp.test")

    with ExitStack() as outer:
        outer.enter_context(first.intercept())
        with ExitStack() as inner:
            inner.enter_context(second.intercept())
            outer.close()  # the outer provider leaves first
            first_now = sync_get(package, first.jwks_uri)
            second_now = sync_get(package, second.jwks_uri)

    assert first_now.json() == {"upstream": True}
    assert second_now.status_code == 200
    assert (len(first.requests), len(second.requests)) == (0, 1)
    assert handlers(package)[0] is before[0]
    assert handlers(package)[1] is before[1]


def test_a_patch_made_on_top_and_removed_after_exit_leaves_a_pass_through_that_cleans_up(
    upstream: Upstream, provider: MockIdP
) -> None:
    before = handlers(httpx2)
    foreign: list[str] = []
    with pytest.MonkeyPatch.context() as patcher:
        with provider.intercept():
            below = httpx2.HTTPTransport.handle_request

            def on_top(transport: Any, request: Any) -> Any:
                foreign.append(str(request.url))
                return below(transport, request)

            patcher.setattr(httpx2.HTTPTransport, "handle_request", on_top)
        # mockidp left while the foreign patch sat on top: that patch must still be in place.
        assert httpx2.HTTPTransport.handle_request is on_top
        assert sync_get(httpx2, provider.jwks_uri).json() == {"upstream": True}
    assert foreign == [provider.jwks_uri]
    # The foreign patch is gone; mockidp's empty wrapper passes everything through...
    assert sync_get(httpx2, provider.jwks_uri).json() == {"upstream": True}
    # ...and the next intercept reuses and then removes it.
    with provider.intercept():
        assert sync_get(httpx2, provider.jwks_uri).status_code == 200
    assert handlers(httpx2)[0] is before[0]
    assert handlers(httpx2)[1] is before[1]
    assert len(upstream.seen) == 2
    assert len(provider.requests) == 1


def test_a_client_given_its_own_transport_is_left_alone(routed: MockIdP) -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(418)

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as client:
        assert client.get(routed.jwks_uri).status_code == 418
    assert seen == [routed.jwks_uri]
    assert list(routed.requests) == []


# -- pytest-httpx (patches httpx only, through monkeypatch) --------------------------------------


def test_mockidp_on_top_of_pytest_httpx(httpx_mock: HTTPXMock, provider: MockIdP) -> None:
    httpx_mock.add_response(url=ELSEWHERE, json={"mocked": True})
    before = handlers(httpx)

    with provider.intercept():
        ours = sync_get(httpx, provider.metadata_url)
        mocked = sync_get(httpx, ELSEWHERE)

    assert ours.json()["issuer"] == ISSUER
    assert mocked.json() == {"mocked": True}
    assert [str(r.url) for r in httpx_mock.get_requests()] == [ELSEWHERE]
    assert handlers(httpx)[0] is before[0]
    assert handlers(httpx)[1] is before[1]


@pytest.mark.asyncio
async def test_mockidp_on_top_of_pytest_httpx_async(httpx_mock: HTTPXMock, provider: MockIdP) -> None:
    httpx_mock.add_response(url=ELSEWHERE, json={"mocked": True})

    with provider.intercept():
        ours = await async_get(httpx, provider.jwks_uri)
        mocked = await async_get(httpx, ELSEWHERE)

    assert (ours.status_code, mocked.json()) == (200, {"mocked": True})
    assert len(provider.requests) == 1


@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "idp.mockidp.test")
def test_pytest_httpx_on_top_passes_the_issuer_through_with_should_mock(routed: MockIdP, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=ELSEWHERE, json={"mocked": True})

    ours = sync_get(httpx, routed.metadata_url)
    mocked = sync_get(httpx, ELSEWHERE)

    assert ours.json()["issuer"] == ISSUER
    assert mocked.json() == {"mocked": True}
    assert [str(r.url) for r in httpx_mock.get_requests()] == [ELSEWHERE]


@pytest.mark.asyncio
@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "idp.mockidp.test")
async def test_pytest_httpx_on_top_passes_the_issuer_through_with_should_mock_async(
    routed: MockIdP, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=ELSEWHERE, json={"mocked": True})

    ours = await async_get(httpx, routed.jwks_uri)
    mocked = await async_get(httpx, ELSEWHERE)

    assert (ours.status_code, mocked.json()) == (200, {"mocked": True})


@pytest.mark.httpx_mock(assert_all_requests_were_expected=False)
def test_pytest_httpx_on_top_without_should_mock_takes_httpx_but_not_httpx2(
    routed: MockIdP, httpx_mock: HTTPXMock
) -> None:
    with pytest.raises(httpx.TimeoutException, match="No response can be found for GET request on"):
        sync_get(httpx, routed.jwks_uri)

    assert sync_get(httpx2, routed.jwks_uri).status_code == 200
    assert len(routed.requests) == 1


@pytest.fixture
def httpx_restored() -> Iterator[None]:
    """Fails the test at teardown unless httpx's transports are the very functions they were."""
    before = handlers(httpx)
    yield
    assert handlers(httpx)[0] is before[0]
    assert handlers(httpx)[1] is before[1]


@pytest.fixture
def pytest_httpx_below(httpx_mock: HTTPXMock, provider: MockIdP) -> Iterator[MockIdP]:
    """pytest-httpx set up first, mockidp intercepting on top of it; torn down in reverse."""
    with provider.intercept():
        yield provider


@pytest.fixture
def pytest_httpx_on_top(routed: MockIdP, httpx_mock: HTTPXMock) -> MockIdP:
    """mockidp intercepting first, pytest-httpx patched on top of it; torn down in reverse."""
    return routed


@pytest.mark.usefixtures("httpx_restored")
@pytest.mark.parametrize("stack", ["pytest_httpx_below", "pytest_httpx_on_top"])
@pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "idp.mockidp.test")
def test_stacked_with_pytest_httpx_both_work_and_teardown_restores_httpx(
    stack: str, request: pytest.FixtureRequest
) -> None:
    idp: MockIdP = request.getfixturevalue(stack)
    httpx_mock: HTTPXMock = request.getfixturevalue("httpx_mock")
    httpx_mock.add_response(url=ELSEWHERE, json={"mocked": True})

    assert sync_get(httpx, idp.jwks_uri).status_code == 200
    assert sync_get(httpx, ELSEWHERE).json() == {"mocked": True}
    assert [r.endpoint for r in idp.requests] == ["jwks"]


# -- respx (patches httpcore under httpx's default transport) ------------------------------------


@pytest.mark.parametrize("mockidp_outside", [True, False], ids=["mockidp-outside", "respx-outside"])
def test_respx_and_mockidp_in_either_order(provider: MockIdP, mockidp_outside: bool) -> None:
    before = handlers(httpx)
    with ExitStack() as stack:
        if mockidp_outside:
            stack.enter_context(provider.intercept())
        router = stack.enter_context(respx.mock(assert_all_called=True))
        if not mockidp_outside:
            stack.enter_context(provider.intercept())
        route = router.get(ELSEWHERE).respond(json={"mocked": True})

        ours = sync_get(httpx, provider.metadata_url)
        mocked = sync_get(httpx, ELSEWHERE)

    assert ours.json()["issuer"] == ISSUER
    assert mocked.json() == {"mocked": True}
    assert route.call_count == 1
    assert len(provider.requests) == 1
    assert handlers(httpx)[0] is before[0]
    assert handlers(httpx)[1] is before[1]


@pytest.mark.asyncio
async def test_respx_and_mockidp_async(provider: MockIdP) -> None:
    with respx.mock(assert_all_called=True) as router, provider.intercept():
        route = router.get(ELSEWHERE).respond(json={"mocked": True})
        ours = await async_get(httpx, provider.jwks_uri)
        mocked = await async_get(httpx, ELSEWHERE)

    assert (ours.status_code, mocked.json(), route.call_count) == (200, {"mocked": True}, 1)


def test_a_provider_left_behind_leaves_no_cycles_for_the_garbage_collector(key_pool: KeyPool) -> None:
    # Every test makes a provider and intercepts; cycles would make the collector run for each of them.
    import gc

    MockIdP(keys=key_pool)  # warm imports and the pool's key
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            with MockIdP(keys=key_pool).intercept():
                pass
        assert gc.collect() == 0
    finally:
        gc.enable()
