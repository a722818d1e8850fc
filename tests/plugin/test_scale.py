"""The plugin at scale and across setups: pytest-xdist, start-up cost, sync and async tests, Starlette and
FastAPI apps, with or without httpx2, and several providers (tenants) in one test.

The xdist, import-cost and no-httpx2 checks run pytest or Python in a subprocess; the rest in-process.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pytest_mockidp._clients import routed_async_client, routed_test_client

from mockidp import MockIdP

#: Subprocess runs skip hypothesis's plugin: with no bytecode cache it re-imports all of hypothesis.
QUICK_START = ("-p", "no:hypothesispytest")


def test_runs_under_xdist_without_clashes(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        @pytest.mark.app_factory("login_app:create_app")
        def test_login(idp, app_client, n):
            idp.add_user(f"user{n}")
            assert idp.login(app_client, "/", user=f"user{n}").response.json()["sub"] == f"user{n}"

        @pytest.mark.parametrize("n", range(2))
        def test_live(idp_live, n):
            import urllib.request
            with urllib.request.urlopen(idp_live.metadata_url) as answer:
                assert answer.status == 200
        """
    )

    result = with_apps.runpytest_subprocess("-n", "2", *QUICK_START)

    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])


IMPORT_PROBE = """
import sys
import pytest
before = set(sys.modules)
import pytest_mockidp
loaded = sorted(m.split(".")[0] for m in set(sys.modules) - before)
print(__import__("json").dumps(sorted(set(loaded))))
"""


def test_importing_the_plugin_loads_no_provider_dependencies(pytester: pytest.Pytester) -> None:
    """Installed but unused, the plugin must not slow pytest down: nothing heavy is imported up front."""
    answer = pytester.run(sys.executable, "-X", "importtime", "-c", IMPORT_PROBE)

    assert answer.ret == 0
    loaded = set(json.loads(answer.stdout.str()))
    assert loaded & {"starlette", "joserfc", "uvicorn", "httpx", "httpx2", "anyio", "cryptography"} == set()
    assert "pytest_mockidp" in loaded
    assert any(line.endswith("| pytest_mockidp") for line in answer.stderr.lines)


def test_sync_and_async_tests_on_starlette_and_fastapi(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        def on_each_framework(factory):
            return pytest.mark.parametrize("framework", [
                pytest.param(name, marks=pytest.mark.app_factory(factory, fastapi=name == "fastapi"), id=name)
                for name in ("starlette", "fastapi")
            ])

        @on_each_framework("login_app:create_app")
        def test_sync_login(idp, app_client, app, framework):
            assert type(app).__name__ == ("FastAPI" if framework == "fastapi" else "Starlette")
            assert idp.login(app_client, "/").response.json()["sub"] == "alice"

        @on_each_framework("api_app:create_app")
        @pytest.mark.asyncio
        async def test_async_api(idp, async_app_client, framework):
            token = idp.issue_tokens(scope="openid orders:read").access_token
            me = await async_app_client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json() == {"sub": "alice", "scope": "openid orders:read"}
        """
    )

    with_apps.runpytest().assert_outcomes(passed=4)


NO_HTTPX2_SUITE = """
import pytest
import httpx

IGNORE = pytest.mark.filterwarnings("ignore::starlette.exceptions.StarletteDeprecationWarning")

def test_httpx2_is_missing():
    with pytest.raises(ModuleNotFoundError):
        import httpx2

@pytest.mark.app_factory("login_app:create_app")
def test_starlette_warns_that_httpx_is_deprecated(app_client):
    pass

@IGNORE
@pytest.mark.app_factory("login_app:create_app")
def test_login(idp, app_client):
    assert isinstance(app_client, httpx.Client)
    assert idp.login(app_client, "/").response.json()["sub"] == "alice"

@IGNORE
@pytest.mark.asyncio
@pytest.mark.app_factory("login_app:create_app")
async def test_async_login(idp, async_app_client):
    assert isinstance(async_app_client, httpx.AsyncClient)
    assert (await idp.alogin(async_app_client, "/")).response.json()["sub"] == "alice"
"""


def test_without_httpx2_authlib_and_starlette_fall_back_to_httpx(with_apps: pytest.Pytester) -> None:
    """With httpx only, Starlette's TestClient and authlib use it, and so does mockidp; Starlette warns about it
    when ``starlette.testclient`` is imported, which ``filterwarnings = error`` turns into an error."""
    with_apps.makepyfile(no_httpx2="import sys\n\nsys.modules['httpx2'] = None  # as if it were not installed\n")
    with_apps.makepyfile(NO_HTTPX2_SUITE)

    result = with_apps.runpytest_subprocess("-p", "no_httpx2", *QUICK_START)

    result.assert_outcomes(passed=3, errors=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_starlette_warns_that_httpx_is_deprecated*",
            "*",
            "E *starlette.exceptions.StarletteDeprecationWarning: Using `httpx` with `starlette.testclient` is"
            " deprecated; install `httpx2` instead.",
            "*authlib*AuthlibDeprecationWarning: The httpx module is deprecated; please use httpx2 instead.",
        ]
    )


def test_several_providers_in_one_test(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import jwt
        from mockidp import User
        from starlette.testclient import TestClient
        from login_app import create_app

        def app_for(tenant, monkeypatch):
            monkeypatch.setenv("SERVER_METADATA_URL", tenant.metadata_url)
            monkeypatch.setenv("CLIENT_ID", tenant.client.client_id)
            monkeypatch.setenv("CLIENT_SECRET", tenant.client.client_secret)
            return TestClient(create_app(), follow_redirects=False)

        def test_two_tenants(make_idp, monkeypatch):
            shop = make_idp(issuer="https://login.example.test/realms/shop")
            admin = make_idp(issuer="https://login.example.test/realms/admin", users=[User.named("root")])
            shop_browser, admin_browser = app_for(shop, monkeypatch), app_for(admin, monkeypatch)

            assert shop.login(shop_browser, "/").response.json()["sub"] == "alice"
            assert admin.login(admin_browser, "/").response.json()["sub"] == "root"

            for tenant in (shop, admin):
                token = tenant.requests.filter(endpoint="token")
                assert [(t.status, t.client_id) for t in token] == [(200, "mockidp-client")]
            assert shop.requests.filter(endpoint="jwks") and admin.requests.filter(endpoint="jwks")
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_make_idp_names_an_unknown_option(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import pytest

        def test_typo(make_idp):
            with pytest.raises(TypeError) as raised:
                make_idp(isuer="https://tenant-b.test")
            assert str(raised.value).startswith(
                "make_idp: unknown ProviderConfig option 'isuer' (did you mean 'issuer'?); choose one of "
            )
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


class ImportRecorder(importlib.abc.MetaPathFinder):
    """Sees every import that ``sys.modules`` cannot answer: a first import, or one that fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.names.append(fullname)


@contextmanager
def recording_imports() -> Iterator[list[str]]:
    recorder = ImportRecorder()
    sys.meta_path.insert(0, recorder)
    try:
        yield recorder.names
    finally:
        sys.meta_path.remove(recorder)


def test_a_warm_login_searches_for_no_module(routed: MockIdP, login_app: Any) -> None:
    """Each failed import searches sys.path (~0.1 ms): httpx's ASGITransport tries ``sniffio`` per request."""
    with routed_test_client(login_app) as client:
        routed.login(client, "/")
        client.cookies.clear()
        with recording_imports() as imported:
            result = routed.login(client, "/")

    assert imported == []
    assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}


@pytest.mark.asyncio
async def test_a_warm_async_login_searches_for_no_module(routed: MockIdP, login_app: Any) -> None:
    async with routed_async_client(login_app) as client:
        await routed.alogin(client, "/")
        client.cookies.clear()
        with recording_imports() as imported:
            result = await routed.alogin(client, "/")

    assert imported == []
    assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}
