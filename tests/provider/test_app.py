"""The provider's ASGI app: providers of one shape share its routes, and each request reaches its own provider."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Router
from starlette.testclient import TestClient

from mockidp import ConfigError, KeyPool, MockIdP, ProviderConfig
from mockidp._endpoints import discovery


def test_two_providers_of_one_shape_share_routes_and_each_answers_for_itself(key_pool: KeyPool) -> None:
    first, second = MockIdP(keys=key_pool), MockIdP(keys=key_pool)
    token = first.issue_tokens().access_token
    with httpx2.Client(transport=first.transport(httpx2)) as a, httpx2.Client(transport=second.transport(httpx2)) as b:
        mine = a.get(first.endpoint("userinfo"), headers={"Authorization": f"Bearer {token}"})
        theirs = b.get(second.endpoint("userinfo"), headers={"Authorization": f"Bearer {token}"})

    assert first.app.routes == second.app.routes  # the very same route objects
    assert first.app is not second.app
    assert (mine.status_code, theirs.status_code) == (200, 401)
    assert [r.endpoint for r in first.requests] == [r.endpoint for r in second.requests] == ["userinfo"]


def test_a_provider_of_another_shape_has_routes_of_its_own(key_pool: KeyPool) -> None:
    root = MockIdP(keys=key_pool)
    realm = MockIdP(ProviderConfig(issuer="https://idp.mockidp.test/realms/a"), keys=key_pool)

    assert root.app.routes != realm.app.routes
    with httpx2.Client(transport=realm.transport(httpx2)) as client:
        assert client.get(realm.metadata_url).json()["issuer"] == "https://idp.mockidp.test/realms/a"


def test_a_mounted_app_answers_and_routes_copied_into_another_app_say_how_to_mount(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    mounted = Starlette(routes=[Mount("/idp", app=idp.app)])
    copied = Starlette(routes=idp.app.routes)
    router = Router(routes=list(idp.app.routes))  # sets no scope["app"]

    with TestClient(mounted) as client:
        assert client.get("/idp/.well-known/openid-configuration").json()["issuer"] == idp.issuer
    with TestClient(copied) as client, pytest.raises(ConfigError) as raised:
        client.get("/.well-known/openid-configuration")
    with TestClient(router) as client, pytest.raises(ConfigError) as raised_by_router:
        client.get("/.well-known/openid-configuration")

    assert str(raised_by_router.value) == str(raised.value)
    assert str(raised.value) == (
        "the discovery endpoint ran in an app that is not a MockIdP's: its routes find their provider on the app"
        " that serves them (idp.app); mount that app, e.g. Mount('/idp', app=idp.app), rather than copying its"
        " routes into another"
    )


def test_head_on_an_endpoint_whose_get_acts_is_refused_without_acting(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.head(idp.endpoint("authorization_endpoint"), params={"client_id": "mockidp-client"})

    assert (response.status_code, response.headers["allow"]) == (405, "GET, POST")
    assert not idp.requests  # nothing was authorized, nothing logged


def test_a_bug_in_an_endpoint_answers_server_error_logs_it_and_the_provider_keeps_serving(
    key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    idp = MockIdP(keys=key_pool)

    def broken(ctx: object) -> dict[str, str]:
        raise RuntimeError("the metadata is broken")

    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        with monkeypatch.context() as patch:
            patch.setattr(discovery, "metadata", broken)
            failed = client.get(idp.metadata_url)
        served = client.get(idp.metadata_url)

    assert (failed.status_code, failed.json()) == (
        500,
        {"error": "server_error", "error_description": "mockidp failed: RuntimeError"},
    )
    assert (idp.requests[0].error, idp.requests[0].error_description) == (
        "server_error",
        "RuntimeError: the metadata is broken",
    )
    assert "mockidp: unexpected error at the discovery endpoint" in caplog.text
    assert served.json()["issuer"] == idp.issuer
