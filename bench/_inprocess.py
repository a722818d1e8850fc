"""Sections 2-5: logins through the example app (in-process, loopback, the peer) and minting tokens."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from _common import (
    Budget,
    Row,
    Summary,
    Target,
    ameasure,
    ameasure_each,
    measure,
    measure_each,
    paired_difference,
    ratio,
    row_from,
)
from _flows import (
    CLIENT_SECRET_FOR_PEER,
    app_for,
    browser_login,
    check,
    checked_login,
    example_app,
    mockidp_step,
    peer_step,
)

#: What mockidp may add to a warm login through the minimal app, over the floor (provider and browser both).
ADDED_TARGETS = {"RS256": Target(0.8, text="<= 0.8 ms"), "ES256": Target(0.4, text="<= 0.4 ms")}
APP_URL = "http://testserver"
PEER_SPEEDUP = Target(10.0, at_least=True, text=">= 10x")


def _provider(alg: str, pool: Any) -> Any:
    from mockidp import MockIdP, ProviderConfig

    return MockIdP(ProviderConfig.from_dict({"algorithm": alg}), keys=pool)


APPS = ("minimal", "example")


def make_app(kind: str, metadata_url: str, client_id: str, client_secret: str) -> Any:
    """``minimal`` (``_minimal.py``: authlib and a session cookie) or ``example`` (examples/oidc_login)."""
    if kind == "minimal":
        from _minimal import minimal_app

        return minimal_app(metadata_url, client_id, client_secret)
    return example_app(metadata_url, client_id, client_secret)


def app_of(kind: str, idp: Any) -> Any:
    return make_app(kind, idp.metadata_url, idp.client.client_id, idp.client.client_secret or "")


def login_sync(kind: str, alg: str, pool: Any, budget: Budget) -> tuple[Summary, Summary]:
    """``idp.login`` through the plugin's routed TestClient, entered (as ``app_client`` is); one app, a fresh
    browser (cookie jar) per login. In turn with each, the floor: the same login through the same kind of app
    against ``_floor.CannedProvider``, driven by ``_floor.RawBrowser`` in one call into the same portal."""
    from _floor import CLIENT_ID, CLIENT_SECRET, ISSUER, CannedProvider, RawBrowser, floor_login, routed_to
    from pytest_mockidp._clients import routed_test_client

    idp = _provider(alg, pool)
    stub = CannedProvider(pool.take(alg), alg)
    with idp.intercept(), routed_to(stub):
        app = app_of(kind, idp)
        raw = RawBrowser(make_app(kind, f"{ISSUER}/.well-known/openid-configuration", CLIENT_ID, CLIENT_SECRET), stub)
        with routed_test_client(app) as client:
            portal: Any = client.portal
            mockidp, floor = measure_each(
                [
                    (lambda: checked_login(idp.login(client, "/other")), client.cookies.clear),
                    (lambda: portal.call(floor_login, raw), raw.clear),
                ],
                budget,
            )
    return mockidp, floor


def login_async(kind: str, alg: str, pool: Any, budget: Budget) -> tuple[Summary, Summary]:
    """``await idp.alogin`` through the plugin's routed async client (httpx2 ASGITransport on the app), and
    in turn with it the floor (``login_sync``), on the same event loop."""
    from _floor import CLIENT_ID, CLIENT_SECRET, ISSUER, CannedProvider, RawBrowser, floor_login, routed_to
    from pytest_mockidp._clients import routed_async_client

    idp = _provider(alg, pool)
    stub = CannedProvider(pool.take(alg), alg)

    async def run() -> list[Summary]:
        with idp.intercept(), routed_to(stub):
            app = app_of(kind, idp)
            floor_app = make_app(kind, f"{ISSUER}/.well-known/openid-configuration", CLIENT_ID, CLIENT_SECRET)
            raw = RawBrowser(floor_app, stub)
            async with routed_async_client(app) as client:

                async def mockidp_login() -> None:
                    checked_login(await idp.alogin(client, "/other"))

                return await ameasure_each(
                    [(mockidp_login, client.cookies.clear), (lambda: floor_login(raw), raw.clear)], budget
                )

    mockidp, floor = asyncio.run(run())
    return mockidp, floor


def login_per_test(kind: str, alg: str, pool: Any, budget: Budget) -> Summary:
    """What one test pays with the plugin's fixtures, minus pytest: a new provider, app and client, then a login.

    The app is new, so authlib fetches the metadata and the JWKS again, as it does in every test. The client
    enters on one event loop thread for all, as ``app_client`` does (``pytest_mockidp._portal``; a checkout
    from before it, as ``ab.py``'s A side may be, enters a thread of its own per test).
    """
    from pytest_mockidp._clients import routed_test_client

    try:
        from pytest_mockidp._portal import SharedPortal
    except ImportError:  # an older checkout
        shared = None
    else:
        shared = SharedPortal()

    def once() -> None:
        idp = _provider(alg, pool)
        with idp.intercept():
            app = app_of(kind, idp)
            with routed_test_client(app, shared) if shared is not None else routed_test_client(app) as client:
                checked_login(idp.login(client, "/other"))

    try:
        return measure(once, budget)
    finally:
        if shared is not None:
            shared.close()


def app_requests(pool: Any, budget: Budget) -> tuple[Summary, Summary]:
    """GET the example app's ``/public`` with Starlette's TestClient and with ``app_client``'s, both entered."""
    from pytest_mockidp._testclient import RoutedTestClient
    from starlette.testclient import TestClient

    idp = _provider("ES256", pool)
    summaries = []
    with idp.intercept():
        app = app_for(idp)
        for client_class in (TestClient, RoutedTestClient):
            with client_class(app, base_url=APP_URL, follow_redirects=False) as client:

                def get() -> None:
                    response = client.get("/public")
                    check(response.status_code == 200, f"/public answered {response.status_code}")

                summaries.append(measure(get, budget))
    starlette, routed = summaries
    return starlette, routed


def section_login(pool: Any, budget: Budget, cold_budget: Budget) -> list[Row]:
    rows: list[Row] = []
    for kind in APPS:
        for mode, login in (("sync TestClient", login_sync), ("async client", login_async)):
            for alg in ("RS256", "ES256"):
                summary, floor = login(kind, alg, pool, budget)
                added = paired_difference(summary, floor)
                row = row_from("2", f"login, {kind} app, {mode}, {alg}", summary)
                row.ratio = ratio(summary.median, floor.median).replace("x", "x floor")
                rows.append(row)
                rows.append(row_from("2", "  floor: stub provider (1 signature), raw ASGI browser", floor))
                target = ADDED_TARGETS[alg] if kind == "minimal" and mode.startswith("sync") else None
                rows.append(row_from("2", "  mockidp's own cost: paired difference", added, target=target))
    for kind in APPS:
        summary = login_per_test(kind, "RS256", pool, cold_budget)
        rows.append(row_from("2", f"login per test (new idp+app+client), {kind} app, sync, RS256", summary))
    starlette, routed = app_requests(pool, budget)
    rows.append(row_from("2", "a request to the app (/public), Starlette's TestClient", starlette))
    row = row_from("2", "  the same with app_client (one call into its event loop)", routed)
    row.ratio = ratio(starlette.median, routed.median).replace("x", "x faster")
    rows.append(row)
    return rows


def token_round_trips(alg: str, pool: Any, budget: Budget) -> tuple[Summary, Summary]:
    """``client_credentials`` at the token endpoint through the provider's sync and async transports."""
    import httpx2

    idp = _provider(alg, pool)
    client = idp.client
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    form = {"grant_type": "client_credentials"}
    url = idp.endpoint("token_endpoint")

    def checked(response: Any) -> None:
        check(response.status_code == 200, f"token endpoint: {response.status_code} {response.text}")

    with httpx2.Client(transport=idp.transport(httpx2)) as http:
        sync = measure(lambda: checked(http.post(url, data=form, headers=headers)), budget)

    async def run() -> Summary:
        async with httpx2.AsyncClient(transport=idp.async_transport(httpx2)) as http:

            async def post() -> None:
                checked(await http.post(url, data=form, headers=headers))

            return await ameasure(post, budget)

    return sync, asyncio.run(run())


def section_tokens(pool: Any, budget: Budget) -> list[Row]:
    rows: list[Row] = []
    for alg in ("RS256", "ES256"):
        idp = _provider(alg, pool)
        rows.append(row_from("3", f"idp.issue_tokens(), {alg}", measure(idp.issue_tokens, budget)))
    for alg in ("RS256", "ES256"):
        sync, asynchronous = token_round_trips(alg, pool, budget)
        rows.append(row_from("3", f"token endpoint in-process, sync transport, {alg}", sync))
        rows.append(row_from("3", f"token endpoint in-process, async transport, {alg}", asynchronous))
    return rows


def login_loopback(pool: Any, budget: Budget) -> Summary:
    """``with idp.serve()``: authlib in the app and the browser both reach the provider over 127.0.0.1."""
    import httpx2
    from starlette.testclient import TestClient

    idp = _provider("RS256", pool)
    with idp.serve():
        app = app_for(idp)
        with TestClient(app, follow_redirects=False) as client, httpx2.Client() as browser:

            def clear() -> None:
                client.cookies.clear()
                browser.cookies.clear()

            return measure(
                lambda: browser_login(client, browser, mockidp_step, email="alice@example.com"), budget, before=clear
            )


def login_peer(budget: Budget) -> Summary:
    """The same flow against oidc-provider-mock, run as its README shows (``run_server_in_thread``)."""
    import oidc_provider_mock

    # Its authorization server refuses plain http unless told this is a test (authlib's switch).
    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        return _login_peer(oidc_provider_mock, budget)
    finally:
        if previous is None:
            del os.environ["AUTHLIB_INSECURE_TRANSPORT"]
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous


def _login_peer(oidc_provider_mock: Any, budget: Budget) -> Summary:
    import httpx2
    from starlette.testclient import TestClient

    with oidc_provider_mock.run_server_in_thread() as server:
        base = f"http://localhost:{server.server_port}"
        app = example_app(f"{base}/.well-known/openid-configuration", "bench-client", CLIENT_SECRET_FOR_PEER)
        with TestClient(app, follow_redirects=False) as client, httpx2.Client() as browser:

            def clear() -> None:
                client.cookies.clear()
                browser.cookies.clear()

            return measure(
                lambda: browser_login(client, browser, peer_step, email="alice@example.com"), budget, before=clear
            )


def section_sockets(pool: Any, budget: Budget, inprocess_rs256: float | None) -> list[Row]:
    rows: list[Row] = []
    loopback = login_loopback(pool, budget)
    row = row_from("4", "login via loopback server (idp.serve), RS256", loopback)
    if inprocess_rs256:
        row.ratio = ratio(loopback.median * 1e3, inprocess_rs256).replace("x", "x in-proc")
    rows.append(row)
    try:
        peer = login_peer(budget)
    except ImportError as exc:
        rows.append(Row("5", "login against oidc-provider-mock", "ms", float("nan"), note=f"not installed: {exc}"))
        return rows
    row = row_from("5", "login against oidc-provider-mock (thread), RS256", peer)
    if inprocess_rs256:
        row.ratio = ratio(peer.median * 1e3, inprocess_rs256).replace("x", "x in-proc")
    row.ratio += (" " if row.ratio else "") + ratio(peer.median, loopback.median).replace("x", "x loopback")
    rows.append(row)
    if inprocess_rs256:
        speedup = peer.median * 1e3 / inprocess_rs256
        rows.append(
            Row(
                "5",
                "in-process (sync, RS256) speed-up over the peer",
                "x",
                speedup,
                target=PEER_SPEEDUP,
            )
        )
    return rows
