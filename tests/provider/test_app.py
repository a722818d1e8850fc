"""The provider's ASGI app: providers of one shape share its routes, and each request reaches its own provider."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from mockidp import ConfigError, KeyPool, MockIdP, ProviderConfig


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

    with TestClient(mounted) as client:
        assert client.get("/idp/.well-known/openid-configuration").json()["issuer"] == idp.issuer
    with TestClient(copied) as client, pytest.raises(ConfigError) as raised:
        client.get("/.well-known/openid-configuration")

    assert str(raised.value) == (
        "the discovery endpoint ran in an app that is not a MockIdP's: its routes find their provider on the app"
        " that serves them (idp.app); mount that app, e.g. Mount('/idp', app=idp.app), rather than copying its"
        " routes into another"
    )
