"""A login through a client that only hands requests to an ASGI app runs on raw ASGI calls (mockidp/_browser.py).

What a test sees must not depend on it: the hops, the final response and the client's cookies are those
of the same login made through the client's httpx machinery (a client with an event hook takes that path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from starlette.testclient import TestClient

from mockidp import MockIdP, _browser
from mockidp._login import LoginResult
from tests.plugin.apps import login_app


def _url(url: str | None) -> tuple[str, ...] | None:
    """A URL without the values that differ from login to login (codes, states, nonces, challenges)."""
    if url is None:
        return None
    parts = urlsplit(url)
    keys = sorted(k for k, _ in parse_qsl(parts.query))
    return (parts.scheme, parts.netloc, parts.path, *keys)


def _shape(result: LoginResult, client: Any) -> dict[str, Any]:
    response = result.response
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k != "set-cookie")
    return {
        "trail": [(h.target, h.method, _url(h.url), h.status, _url(h.location)) for h in result.trail],
        "response": (type(response), response.status_code, _url(str(response.url)), headers, response.content),
        "set-cookie": sorted(v.split("=")[0] for v in response.headers.get_list("set-cookie")),
        "cookies": sorted(
            (
                *(c.name, c.domain, c.domain_specified, c.path, c.path_specified, c.secure, c.discard),
                *(c.expires is None, c.version, c.port, c.port_specified, c.domain_initial_dot),
                sorted(c._rest.items()),  # HttpOnly, SameSite
            )
            for c in client.cookies.jar
        ),
    }


@pytest.fixture
def app_env(routed: MockIdP, monkeypatch: pytest.MonkeyPatch) -> MockIdP:
    monkeypatch.setenv("SERVER_METADATA_URL", routed.metadata_url)
    monkeypatch.setenv("CLIENT_ID", routed.client.client_id)
    monkeypatch.setenv("CLIENT_SECRET", routed.client.client_secret or "")
    return routed


Flows = Callable[[MockIdP, bool], Iterator[tuple[LoginResult, Any]]]


def _sync_flows(idp: MockIdP, _: bool) -> Iterator[tuple[LoginResult, Any]]:
    with TestClient(login_app.create_app(), follow_redirects=False) as client:
        yield idp.login(client, "/"), client
        client.cookies.delete("session")  # the app forgets the user; the provider's session logs in silently
        yield idp.login(client, "/silent"), client
        yield idp.logout(client, "/logout"), client


async def _anoop(_: Any) -> None:
    """An event hook that does nothing, but makes the client one that adds to its requests."""


def _async_flows(idp: MockIdP, lean: bool) -> Iterator[tuple[LoginResult, Any]]:
    hooks = {} if lean else {"request": [_anoop]}
    transport = httpx2.ASGITransport(app=login_app.create_app())
    client = httpx2.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks)
    yield asyncio.run(idp.alogin(client, "/")), client
    client.cookies.delete("session")
    yield asyncio.run(idp.alogin(client, "/silent")), client
    yield asyncio.run(idp.alogout(client)), client


@pytest.mark.parametrize("flows", [_sync_flows, _async_flows], ids=["entered TestClient", "AsyncClient"])
def test_a_lean_login_has_the_hops_response_and_cookies_of_the_httpx_one(
    app_env: MockIdP, flows: Flows, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean_flows: list[object] = []
    pump = _browser.adrive_lean

    async def counted(*args: Any) -> Any:
        lean_flows.append(args)
        return await pump(*args)

    monkeypatch.setattr(_browser, "adrive_lean", counted)
    httpx_path = [_shape(result, client) for result, client in _async_flows(app_env, False)]
    assert lean_flows == []
    app_env.end_sessions()
    lean = [_shape(result, client) for result, client in flows(app_env, True)]
    assert len(lean_flows) == 3

    for got, want in zip(lean, httpx_path, strict=True):
        assert got["cookies"] == want["cookies"]
    assert lean == httpx_path
    assert [shape["response"][1] for shape in lean] == [200, 200, 200]
    assert [cookie[:8] for cookie in lean[0]["cookies"]] == [
        ("mockidp_session", "idp.mockidp.test", False, "/", True, True, True, True),
        ("session", "testserver.local", False, "/", True, False, False, False),
    ]


def test_a_lean_login_leaves_cookies_the_client_sends_on(app_env: MockIdP) -> None:
    with TestClient(login_app.create_app(), follow_redirects=False) as client:
        jar = client.cookies
        result = app_env.login(client, "/")

        assert client.cookies is jar
        assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}
        assert client.get("/").json() == {"sub": "alice", "email": "alice@example.com"}
