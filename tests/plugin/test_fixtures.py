"""The plugin's fixtures, run as users run them: idp, idp_live, idp_env, app, app_client, async_app_client.

Each test writes a small suite and runs it with pytester. The providers speak OpenID Connect Discovery
1.0 and RFC 7517 (JWKS); the clients run the app's lifespan per the ASGI Lifespan 2.0 spec.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import STRICT_INI, Ini


def test_each_test_gets_a_fresh_provider(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        def test_changes_its_provider(idp):
            idp.add_user("bob")
            idp.fail("token")
            idp.issue_tokens()

        def test_sees_none_of_it(idp):
            assert list(idp.users) == ["alice"]
            assert idp.requests == []
            assert idp.faults.take("token") is None
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize("package", ["httpx", "httpx2"])
def test_httpx_calls_to_the_issuer_reach_the_provider(strict_pytester: pytest.Pytester, package: str) -> None:
    strict_pytester.makepyfile(
        f"""
        import {package} as http

        def test_discovery(idp):
            assert http.get(idp.metadata_url).json()["issuer"] == "https://idp.mockidp.test"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_the_routing_is_undone_after_the_test(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import httpx, httpx2

        BEFORE = [httpx.HTTPTransport.handle_request, httpx2.HTTPTransport.handle_request,
                  httpx.AsyncHTTPTransport.handle_async_request, httpx2.AsyncHTTPTransport.handle_async_request]

        def now():
            return [httpx.HTTPTransport.handle_request, httpx2.HTTPTransport.handle_request,
                    httpx.AsyncHTTPTransport.handle_async_request, httpx2.AsyncHTTPTransport.handle_async_request]

        def test_routed_during_the_test(idp):
            assert [a is b for a, b in zip(now(), BEFORE)] == [False] * 4

        def test_untouched_after_it():
            assert [a is b for a, b in zip(now(), BEFORE)] == [True] * 4
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_keys_are_made_once_per_session(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import pytest

        SEEN = []

        @pytest.mark.parametrize("n", [1, 2])
        def test_provider(idp, mockidp_keys, n):
            SEEN.append((idp.jwks()["keys"][0]["kid"], id(mockidp_keys)))

        def test_same_keys():
            assert len(SEEN) == 2
            assert SEEN[0] == SEEN[1]
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=3)


def test_idp_live_listens_on_loopback_and_its_issuer_is_that_url(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import json, re, urllib.request
        import jwt

        def test_live(idp_live):
            assert re.fullmatch(r"http://127\\.0\\.0\\.1:\\d+", idp_live.issuer)
            with urllib.request.urlopen(idp_live.metadata_url) as answer:
                assert json.load(answer)["issuer"] == idp_live.issuer

        def test_pyjwt_verifies_its_tokens_over_the_socket(idp_live):
            token = idp_live.issue_tokens().id_token
            key = jwt.PyJWKClient(idp_live.jwks_uri).get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key, algorithms=["RS256"], audience="mockidp-client", issuer=idp_live.issuer)
            assert claims["sub"] == "alice"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_idp_live_stops_after_the_test(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import urllib.error, urllib.request
        import pytest

        URLS = []

        def test_serves(idp_live):
            URLS.append(idp_live.metadata_url)

        def test_gone():
            with pytest.raises(urllib.error.URLError, match="Connection refused"):
                urllib.request.urlopen(URLS[0], timeout=5)
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_idp_env_sets_the_app_settings(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import os

        EXPECTED = {
            "SERVER_METADATA_URL": "https://idp.mockidp.test/.well-known/openid-configuration",
            "CLIENT_ID": "mockidp-client",
            "CLIENT_SECRET": "mockidp-secret",
            "OIDC_ISSUER": "https://idp.mockidp.test",
        }

        def test_env(idp_env):
            assert idp_env == EXPECTED
            assert {name: os.environ[name] for name in EXPECTED} == EXPECTED
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_idp_env_is_undone_after_the_test(strict_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_ID", "from-the-shell")
    monkeypatch.delenv("SERVER_METADATA_URL", raising=False)
    strict_pytester.makepyfile(
        """
        import os

        def test_set(idp_env):
            assert os.environ["CLIENT_ID"] == "mockidp-client"

        def test_restored():
            assert os.environ["CLIENT_ID"] == "from-the-shell"
            assert "SERVER_METADATA_URL" not in os.environ
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_idp_env_points_at_idp_live_when_the_test_uses_it(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        def test_env(idp_live, idp_env):
            assert idp_env["OIDC_ISSUER"] == idp_live.issuer
            assert idp_env["SERVER_METADATA_URL"].startswith("http://127.0.0.1:")
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_the_mockidp_env_ini_option_replaces_the_variables(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini(
        "mockidp_env =",
        "    OIDC_DISCOVERY_URL={metadata_url}",
        "    OIDC_JWKS={jwks_uri}",
        "    OIDC_TOKEN_URL={token_endpoint}",
        "    OIDC_CLIENT={client_id}:{client_secret}",
    )
    strict_pytester.makepyfile(
        """
        import os

        def test_env(idp_env):
            assert idp_env == {
                "OIDC_DISCOVERY_URL": "https://idp.mockidp.test/.well-known/openid-configuration",
                "OIDC_JWKS": "https://idp.mockidp.test/jwks",
                "OIDC_TOKEN_URL": "https://idp.mockidp.test/token",
                "OIDC_CLIENT": "mockidp-client:mockidp-secret",
            }
            assert os.environ["OIDC_CLIENT"] == "mockidp-client:mockidp-secret"
            assert "SERVER_METADATA_URL" not in os.environ
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "OIDC_URL={metadata}",
            "mockidp_env: unknown placeholder {metadata} (did you mean {metadata_url}?) in 'OIDC_URL={metadata}';"
            " known: {issuer}, {metadata_url},"
            " {jwks_uri}, {client_id}, {client_secret}, {authorization_endpoint}, {token_endpoint},"
            " {userinfo_endpoint}, {end_session_endpoint}",
        ),
        ("{metadata_url}", "mockidp_env: expected NAME={placeholder}, got '{metadata_url}'"),
    ],
    ids=["unknown-placeholder", "no-name"],
)
def test_a_bad_mockidp_env_line_fails_clearly(
    strict_pytester: pytest.Pytester, ini: Ini, line: str, message: str
) -> None:
    ini("mockidp_env =", f"    {line}")
    strict_pytester.makepyfile("def test_env(idp_env): pass")

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_env*", message], consecutive=True)


SETTINGS_APP = """
import os
from starlette.applications import Starlette

def create_app(name="app", *, debug=False):
    app = Starlette(debug=debug)
    app.state.metadata_url = os.environ["SERVER_METADATA_URL"]
    app.state.name = name
    return app
"""


def test_the_ini_factory_builds_app_after_idp_env(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini("mockidp_app_factory = settings:create_app")
    strict_pytester.makepyfile(settings=SETTINGS_APP)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(
        """
        def test_app(app, idp):
            assert app.state.metadata_url == idp.metadata_url
            assert app.state.name == "app"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_the_marker_takes_a_path_or_a_callable_with_arguments(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini("mockidp_app_factory = settings:create_app")
    strict_pytester.makepyfile(settings=SETTINGS_APP)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(
        """
        import pytest
        from settings import create_app

        pytestmark = pytest.mark.app_factory("settings.create_app", "module")

        def test_module_marker_beats_the_ini(app):
            assert app.state.name == "module"

        @pytest.mark.app_factory("settings:create_app", "dotted", debug=True)
        def test_path_with_arguments(app):
            assert (app.state.name, app.debug) == ("dotted", True)

        @pytest.mark.app_factory.with_args(create_app)
        def test_a_bare_callable_needs_with_args(app):
            assert app.state.name == "app"

        @pytest.mark.app_factory(create_app, "callable", debug=True)
        def test_callable_with_arguments(app):
            assert (app.state.name, app.debug) == ("callable", True)
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=4)


def test_a_users_own_app_fixture_wins(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makeconftest(
        """
        import pytest
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        @pytest.fixture
        def app():
            return Starlette(routes=[Route("/", lambda request: PlainTextResponse("mine"))])
        """
    )
    strict_pytester.makepyfile(
        """
        def test_own_app(app_client):
            assert app_client.get("/").text == "mine"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "",
            "no app factory: set the ini option mockidp_app_factory = package.module:create_app, mark the test"
            " @pytest.mark.app_factory('package.module:create_app'), or define your own `app` fixture",
        ),
        (
            "@pytest.mark.app_factory()",
            "@pytest.mark.app_factory needs the factory first: a callable or 'package.module:callable'",
        ),
        (
            "@pytest.mark.app_factory('create_app')",
            "@pytest.mark.app_factory: expected 'package.module:callable', got 'create_app'",
        ),
        (
            "@pytest.mark.app_factory('no_such_module:create_app')",
            "@pytest.mark.app_factory: cannot import 'no_such_module': ModuleNotFoundError:"
            " No module named 'no_such_module'",
        ),
        (
            "@pytest.mark.app_factory('settings:make_app')",
            "@pytest.mark.app_factory: the module 'settings' has no attribute 'make_app' (did you mean 'create_app'?)",
        ),
        (
            "@pytest.mark.app_factory('setings:create_app')",
            "@pytest.mark.app_factory: cannot import 'setings': ModuleNotFoundError: No module named 'setings'"
            " (did you mean 'settings'?)",
        ),
        (
            "@pytest.mark.app_factory('json.decodr:loads')",
            "@pytest.mark.app_factory: cannot import 'json.decodr': ModuleNotFoundError: No module named 'json.decodr'"
            " (did you mean 'decoder'?)",
        ),
        (
            "@pytest.mark.app_factory('settings.sub:create_app')",
            "@pytest.mark.app_factory: cannot import 'settings.sub': ModuleNotFoundError: No module named"
            " 'settings.sub'; 'settings' is not a package",
        ),
        (
            "@pytest.mark.app_factory('settings:os')",
            "@pytest.mark.app_factory: 'settings:os' is not callable",
        ),
    ],
    ids=[
        "none",
        "empty-marker",
        "no-module",
        "unknown-module",
        "unknown-name",
        "misspelt-module",
        "misspelt-submodule",
        "not-a-package",
        "not-callable",
    ],
)
def test_a_missing_factory_fails_naming_what_to_set(
    strict_pytester: pytest.Pytester, setting: str, message: str
) -> None:
    strict_pytester.makepyfile(settings=SETTINGS_APP)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(f"import pytest\n\n{setting}\ndef test_app(app): pass\n")

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_app*", message, "see: python -m mockidp docs the-app-fixture"], consecutive=True
    )


def test_a_failing_factory_shows_its_error_and_names_its_source(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini("mockidp_app_factory = broken:create_app")
    strict_pytester.makepyfile(broken="def create_app():\n    raise RuntimeError('SECRET_KEY is not set')\n")
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile("def test_app(app): pass")

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "    def create_app():",
            ">       raise RuntimeError('SECRET_KEY is not set')",
            "E       RuntimeError: SECRET_KEY is not set",
            "E       mockidp: the app factory create_app (from the ini option mockidp_app_factory) raised this"
            " while building the `app` fixture",
        ],
        consecutive=True,
    )


def test_app_client_runs_the_lifespan_and_routes_the_provider(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        import api_app

        pytestmark = pytest.mark.app_factory("api_app:create_app")

        def test_client(idp, app_client):
            assert api_app.EVENTS == ["startup"]
            assert app_client.get("/health").json() == {"issuer": idp.issuer}
            token = idp.issue_tokens().access_token
            assert app_client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()["sub"] == "alice"
            assert app_client.get(idp.metadata_url).json()["issuer"] == idp.issuer

        def test_shut_down_after_the_test():
            assert api_app.EVENTS == ["startup", "shutdown"]
        """
    )

    with_apps.runpytest().assert_outcomes(passed=2)


def test_app_client_keeps_cookies_and_does_not_follow_redirects(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        def test_client(idp, app_client):
            first = app_client.get("/")
            assert first.status_code == 302
            assert first.headers["location"].startswith(idp.endpoint("authorization_endpoint"))
            assert "session" in app_client.cookies
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


ASYNC_CLIENT_SUITE = """
import pytest
import api_app

pytestmark = pytest.mark.app_factory("api_app:create_app")

@{marker}
async def test_client(idp, async_app_client):
    assert api_app.EVENTS == ["startup"]
    assert (await async_app_client.get("/health")).json() == {{"issuer": idp.issuer}}
    token = idp.issue_tokens().access_token
    me = await async_app_client.get("/me", headers={{"Authorization": f"Bearer {{token}}"}})
    assert me.json()["sub"] == "alice"
    assert (await async_app_client.get(idp.metadata_url)).json()["issuer"] == idp.issuer

@{marker}
async def test_each_test_starts_its_own_lifespan(async_app_client):
    assert api_app.EVENTS == ["startup", "shutdown", "startup"]

@{marker}
@pytest.mark.app_factory("login_app:create_app")
async def test_redirects_are_not_followed_and_cookies_kept(idp, async_app_client):
    response = await async_app_client.get("/")
    assert response.status_code == 302
    assert response.headers["location"].startswith(idp.endpoint("authorization_endpoint"))
    assert "session" in async_app_client.cookies

def test_shut_down():
    assert api_app.EVENTS == ["startup", "shutdown", "startup", "shutdown"]
"""


@pytest.mark.parametrize(
    "marker",
    ["pytest.mark.asyncio", 'pytest.mark.asyncio(loop_scope="module")', "pytest.mark.anyio"],
    ids=["pytest-asyncio", "pytest-asyncio-module-loop", "anyio"],
)
def test_async_app_client_runs_the_lifespan_on_the_tests_loop(with_apps: pytest.Pytester, marker: str) -> None:
    with_apps.makepyfile(ASYNC_CLIENT_SUITE.format(marker=marker))

    with_apps.runpytest().assert_outcomes(passed=4)


def test_async_app_client_outside_an_async_plugin_fails_clearly(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("api_app:create_app")
        def test_sync(async_app_client):
            pass
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_sync*",
            "async_app_client runs the app's lifespan on the test's event loop: use it in a test marked"
            " @pytest.mark.asyncio (pytest-asyncio) or @pytest.mark.anyio (anyio's plugin)",
        ],
        consecutive=True,
    )


LIFESPAN_APPS = """
import contextlib
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

def failing():
    @contextlib.asynccontextmanager
    async def lifespan(app):
        raise RuntimeError("the database is down")
        yield

    return Starlette(lifespan=lifespan)

def without_lifespan():
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return  # no lifespan support: ASGI servers then go on without one
        await PlainTextResponse("no lifespan")(scope, receive, send)

    return app
"""


@pytest.mark.parametrize(
    ("client", "marker"),
    [("app_client", ""), ("async_app_client", "@pytest.mark.asyncio"), ("async_app_client", "@pytest.mark.anyio")],
    ids=["app_client", "async_app_client-asyncio", "async_app_client-anyio"],
)
def test_a_failing_lifespan_startup_fails_the_test_with_its_error(
    strict_pytester: pytest.Pytester, client: str, marker: str
) -> None:
    strict_pytester.makepyfile(lifespans=LIFESPAN_APPS)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(
        f"""
        import pytest

        {marker}
        @pytest.mark.app_factory("lifespans:failing")
        async def test_it({client}):
            pass
        """
        if marker
        else f"""
        import pytest

        @pytest.mark.app_factory("lifespans:failing")
        def test_it({client}):
            pass
        """
    )

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ['>       raise RuntimeError("the database is down")', "E       RuntimeError: the database is down"]
    )


def test_async_app_client_on_an_app_without_lifespan_support(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(lifespans=LIFESPAN_APPS)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.app_factory("lifespans:without_lifespan")
        async def test_it(async_app_client):
            assert (await async_app_client.get("/")).text == "no lifespan"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_async_app_client_with_anyio_alone(with_apps: pytest.Pytester) -> None:
    """Without pytest-asyncio (``-p no:asyncio``), anyio's plugin runs the client and the lifespan."""
    with_apps.makeini(STRICT_INI.replace("asyncio_default_fixture_loop_scope = function\n", ""))
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.anyio
        @pytest.mark.app_factory("api_app:create_app")
        async def test_client(idp, async_app_client):
            assert (await async_app_client.get("/health")).json() == {"issuer": idp.issuer}
        """
    )

    with_apps.runpytest("-p", "no:asyncio").assert_outcomes(passed=1)


@pytest.mark.parametrize("order", ["idp, httpx_mock", "httpx_mock, idp"])
def test_idp_and_pytest_httpx_work_together_in_either_order(strict_pytester: pytest.Pytester, order: str) -> None:
    # pytest-httpx patches httpx's transport too; the provider's routing goes on top of it whatever the
    # order, so the issuer's host reaches the provider and every other host reaches pytest-httpx.
    strict_pytester.makepyfile(
        f"""
        import httpx

        def test_both({order}):
            httpx_mock.add_response(url="https://api.example/items", json=[1, 2])

            assert httpx.get(idp.metadata_url).json()["issuer"] == idp.issuer
            assert httpx.get("https://api.example/items").json() == [1, 2]
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_a_test_registers_a_client_or_turns_registration_off(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import httpx2
        import pytest

        def test_registers_a_client_that_gets_a_token(idp):
            registration = idp.register(grant_types=["client_credentials"], client_name="reports")
            client = registration.client
            token = httpx2.post(idp.endpoint("token"), data={"grant_type": "client_credentials"},
                                auth=(client.client_id, client.client_secret))
            assert token.status_code == 200
            assert registration.response()["client_name"] == "reports"

        @pytest.mark.mockidp(registration=False)
        def test_without_registration(idp):
            assert "registration_endpoint" not in httpx2.get(idp.metadata_url).json()
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_app_client_is_told_of_a_logout_over_the_back_channel_in_process(strict_pytester: pytest.Pytester) -> None:
    """OIDC Back-Channel Logout 1.0: an app only ever driven by hand through app_client is reached in-process."""
    strict_pytester.makepyfile(
        """
        import pytest
        from urllib.parse import parse_qsl
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route

        RECEIVED = []

        async def backchannel_logout(request):
            RECEIVED.append(dict(parse_qsl((await request.body()).decode()))["logout_token"])
            return Response(status_code=200)

        def create_app():
            return Starlette(routes=[Route("/bcl", backchannel_logout, methods=["POST"])])

        CLIENT = "mockidp-client:mockidp-secret,backchannel_logout_uri=http://testserver/bcl"

        @pytest.mark.mockidp(clients=[CLIENT])
        @pytest.mark.app_factory.with_args(create_app)
        def test_logout(idp, app_client):
            answer = app_client.get(idp.endpoint("authorize"), params={
                "response_type": "code", "client_id": "mockidp-client", "scope": "openid",
                "redirect_uri": "http://testserver/callback"})
            assert "code=" in answer.headers["location"]

            (sent,) = idp.end_sessions()

            assert (sent.route, sent.status_code, RECEIVED) == ("in-process", 200, [sent.logout_token])
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)
