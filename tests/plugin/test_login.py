"""Simulated logins against an unchanged authlib app: idp.login, alogin, refuse and logout.

The app (``apps/login_app.py``) uses authlib's Starlette client with a ``server_metadata_url``, the
authorization code flow with PKCE (OIDC Core §3.1, RFC 7636), ``prompt=none`` (§3.1.2.6) and
RP-Initiated Logout 1.0. When a flow breaks, ``LoginError`` says where and why, then lists the hops.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from pytest_mockidp._clients import routed_test_client

from mockidp import KeyPool, MockIdP
from mockidp.testing import LoginError

AUTHORIZE = "https://idp.mockidp.test/authorize?response_type=code&client_id=mockidp-client*"
CALLBACK = "http://testserver/callback?code=*&state=*&iss=https%3A%2F%2Fidp.mockidp.test"


def test_login_returns_the_final_response_and_the_hops(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        def test_login(idp, app_client):
            result = idp.login(app_client, "/")

            assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}
            assert [(h.target, h.method, h.status) for h in result.trail] == [
                ("app", "GET", 302), ("idp", "GET", 302), ("app", "GET", 303), ("app", "GET", 200)]
            assert app_client.get("/").json()["sub"] == "alice"
            print(result)
        """
    )

    result = with_apps.runpytest("-s")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"*app  GET /  302 -> {AUTHORIZE}",
            f"idp  GET {AUTHORIZE}  302 -> {CALLBACK}",
            f"app  GET {CALLBACK}  303 -> http://testserver/",
            "app  GET http://testserver/  200*",
        ],
        consecutive=True,
    )


def test_login_as_a_known_user_or_a_new_one_with_claims(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from mockidp import User

        pytestmark = pytest.mark.app_factory("login_app:create_app")

        @pytest.mark.mockidp(users=[User.named("alice"), User.named("bob")])
        def test_known_user(idp, app_client):
            assert idp.login(app_client, "/", user="bob").response.json()["email"] == "bob@example.com"

        def test_new_user(idp, app_client):
            result = idp.login(app_client, "/", user="carol", email="carol@corp.example")
            assert result.response.json() == {"sub": "carol", "email": "carol@corp.example"}
        """
    )

    with_apps.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize("marker", ["pytest.mark.asyncio", "pytest.mark.anyio"])
def test_alogin_drives_an_async_client(with_apps: pytest.Pytester, marker: str) -> None:
    with_apps.makepyfile(
        f"""
        import pytest

        @{marker}
        @pytest.mark.app_factory("login_app:create_app")
        async def test_login(idp, async_app_client):
            result = await idp.alogin(async_app_client, "/", user="dave", email="dave@corp.example")
            assert result.response.json() == {{"sub": "dave", "email": "dave@corp.example"}}
            assert (await async_app_client.get("/")).json()["sub"] == "dave"

            refused = await idp.arefuse(async_app_client, "/silent")
            assert refused.response.json() == {{"error": "access_denied"}}
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def _run_failing(with_apps: pytest.Pytester, factory: str, body: str) -> pytest.RunResult:
    with_apps.makepyfile(
        f"""
        import pytest

        @pytest.mark.app_factory({factory})
        def test_login(idp, app_client):
            {body}
        """
    )
    result = with_apps.runpytest()
    result.assert_outcomes(failed=1)
    return result


def test_an_app_that_does_not_redirect_to_the_provider(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"login_app:create_app"', 'idp.login(app_client, "/logged-out")')

    result.stdout.fnmatch_lines(
        [
            "E *mockidp.testing.LoginError: mockidp: the app did not redirect to the provider: GET /logged-out"
            " answered 200 (not a redirect); expected a redirect to https://idp.mockidp.test/authorize",
            "E *The hops so far:",
            "E *  app  GET /logged-out  200",
        ],
        consecutive=True,
    )


def test_an_app_that_loses_its_session_cookie(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"login_app:create_app", secure_cookie=True', 'idp.login(app_client, "/")')

    result.stdout.fnmatch_lines(
        [
            f"E *mockidp.testing.LoginError: mockidp: the app answered 400 after the login (GET {CALLBACK});"
            " the app never redeemed the code at the token endpoint: did the state round-trip (is the app's session"
            " cookie kept between requests)?",
            "E *The hops so far:",
            f"E *  app  GET /  302 -> {AUTHORIZE}",
            f"E *  idp  GET {AUTHORIZE}  302 -> {CALLBACK}",
            f"E *  app  GET {CALLBACK}  400",
        ],
        consecutive=True,
    )


def test_a_token_request_the_provider_rejects(with_apps: pytest.Pytester) -> None:
    body = 'idp.fail("token", error="invalid_grant", description="the code was already used")\n'
    body += '            idp.login(app_client, "/")'
    result = _run_failing(with_apps, '"login_app:create_app"', body)

    result.stdout.fnmatch_lines(
        [
            f"E *mockidp.testing.LoginError: mockidp: the app answered 502 after the login (GET {CALLBACK});"
            " the app's token request was rejected by the provider: invalid_grant: the code was already used",
        ]
    )


def test_an_app_that_raises_in_its_callback(with_apps: pytest.Pytester) -> None:
    result = _run_failing(
        with_apps, '"login_app:create_app", secure_cookie=True, handle_errors=False', 'idp.login(app_client, "/")'
    )

    result.stdout.fnmatch_lines(
        [
            f"E *mockidp.testing.LoginError: mockidp: GET {CALLBACK} raised MismatchingStateError: mismatching_state:"
            " CSRF Warning! State not equal in request and response.",
            "E *The hops so far:",
            f"E *  app  GET /  302 -> {AUTHORIZE}",
            f"E *  idp  GET {AUTHORIZE}  302 -> {CALLBACK}",
        ],
        consecutive=True,
    )


def test_a_silent_login_rides_on_the_provider_session(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.mockidp(interactive=True)
        @pytest.mark.app_factory("login_app:create_app")
        def test_silent(idp, app_client):
            first = idp.login(app_client, "/")
            assert [(h.target, h.method) for h in first.trail][:3] == [("app", "GET"), ("idp", "GET"), ("idp", "POST")]
            app_client.cookies.delete("session")  # the app forgot the user; the provider did not

            silent = idp.login(app_client, "/silent")

            assert silent.response.json()["sub"] == "alice"
            assert [h.target for h in silent.trail] == ["app", "idp", "app", "app"]  # no login form
            assert idp.requests.filter(endpoint="authorize")[-1].params["prompt"] == "none"
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_refusing_at_the_login_form_presses_its_deny_button(with_apps: pytest.Pytester) -> None:
    """The form's CSRF token comes from the page the client was shown, its cookie from the client's jar."""
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.mockidp(interactive=True)
        @pytest.mark.app_factory("login_app:create_app")
        def test_refuse(idp, app_client):
            refused = idp.refuse(app_client, "/")

            hops = [(h.target, h.method) for h in refused.trail][:3]
            assert hops == [("app", "GET"), ("idp", "GET"), ("idp", "POST")]
            assert idp.requests.filter(endpoint="authorize")[-1].error == "access_denied"
            assert refused.status_code == 401
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_a_silent_login_without_a_provider_session_says_why_it_failed(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"login_app:create_app"', 'idp.login(app_client, "/silent")')

    result.stdout.fnmatch_lines(
        [
            "E *mockidp.testing.LoginError: mockidp: the app answered 401 after the login (GET"
            " http://testserver/callback?error=login_required&*); the provider sent the app error=login_required"
            " (prompt=none, but the user has no session at the provider)",
        ]
    )


def test_an_app_that_retries_interactively_after_login_required_logs_in(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app", retry_interactively=True)
        def test_retry(idp, app_client):
            result = idp.login(app_client, "/silent")

            assert result.response.json()["sub"] == "alice"
            authorize = idp.requests.filter(endpoint="authorize")
            assert [(r.params.get("prompt"), r.error) for r in authorize] == [("none", "login_required"), (None, None)]
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_refusing_consent_sends_access_denied_to_the_app(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        def test_refuse(idp, app_client):
            result = idp.refuse(app_client, "/")

            assert result.status_code == 401
            assert result.response.json() == {"error": "access_denied"}
            assert "error=access_denied" in result.trail[-1].url
            idp.assert_login_redirect(app_client.get("/"))
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_logout_goes_through_the_end_session_endpoint(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        def test_logout(idp, app_client):
            login = idp.login(app_client, "/")

            result = idp.logout(app_client, "/logout")

            assert result.response.json() == {"logged_out": True, "user": None}
            assert [h.target for h in result.trail] == ["app", "idp", "app"]
            end_session = idp.requests.filter(endpoint="end_session")[-1]
            assert end_session.params["post_logout_redirect_uri"] == "http://testserver/logged-out"
            assert "id_token_hint" in end_session.params
            with pytest.raises(AssertionError, match="error=login_required"):
                idp.login(app_client, "/silent")  # the provider's session ended too
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_logout_from_an_app_that_does_not_go_to_the_provider(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"login_app:create_app"', 'idp.logout(app_client, "/")')

    result.stdout.fnmatch_lines(
        [
            "E *mockidp.testing.LoginError: mockidp: the app did not send the browser to the provider's end-session"
            f" endpoint: GET / answered a redirect to {AUTHORIZE}; expected a redirect to https://idp.mockidp.test/logout",
        ]
    )


FORM_POST_APP = """
from urllib.parse import parse_qsl, urlencode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

def create_app(authorization_endpoint):
    async def login(request):
        query = urlencode({"client_id": "mockidp-client", "redirect_uri": "http://testserver/cb", "scope": "openid",
                           "response_type": "code", "response_mode": "form_post", "state": "s1", "nonce": "n1"})
        return RedirectResponse(f"{authorization_endpoint}?{query}", status_code=302)

    async def callback(request):
        return JSONResponse(dict(parse_qsl((await request.body()).decode())))

    return Starlette(routes=[Route("/login", login), Route("/cb", callback, methods=["POST"])])
"""


def test_a_login_with_response_mode_form_post(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(form_post_app=FORM_POST_APP)
    strict_pytester.syspathinsert()
    strict_pytester.makepyfile(
        """
        import pytest
        from form_post_app import create_app

        @pytest.fixture
        def app(idp):
            return create_app(idp.endpoint("authorization_endpoint"))

        def test_form_post(idp, app_client):
            result = idp.login(app_client, "/login")

            posted = result.response.json()
            assert (posted["state"], posted["iss"]) == ("s1", idp.issuer)
            callback = result.trail[-1]
            assert (callback.target, callback.method, callback.url) == ("app", "POST", "http://testserver/cb")
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_an_authorization_request_the_provider_refuses(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from mockidp import Client

        CLIENT = Client(client_id="mockidp-client", client_secret="mockidp-secret", redirect_uris=("https://app.example/cb",))

        @pytest.mark.mockidp(clients=[CLIENT])
        @pytest.mark.app_factory("login_app:create_app")
        def test_login(idp, app_client):
            idp.login(app_client, "/")
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *mockidp.testing.LoginError: mockidp: the provider refused the authorization request: invalid_request:"
            " redirect_uri 'http://testserver/callback' is not registered for client 'mockidp-client'; registered:"
            " https://app.example/cb",
        ]
    )


def test_an_app_that_redirects_forever(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"web_app:create_app"', 'idp.login(app_client, "/loop")')

    result.stdout.fnmatch_lines(
        ["E *mockidp.testing.LoginError: mockidp: the app redirected more than 20 times without settling"]
    )


def test_login_needs_an_httpx_client(with_apps: pytest.Pytester) -> None:
    result = _run_failing(with_apps, '"web_app:create_app"', 'import requests; idp.login(requests.Session(), "/")')

    result.stdout.fnmatch_lines(
        ["E *TypeError: expected an httpx or httpx2 client (a Starlette TestClient is one), got Session"]
    )


def test_a_logout_the_provider_refuses(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from mockidp import Client

        CLIENT = Client(client_id="mockidp-client", client_secret="mockidp-secret", post_logout_redirect_uris=())

        @pytest.mark.mockidp(clients=[CLIENT])
        @pytest.mark.app_factory("login_app:create_app")
        def test_logout(idp, app_client):
            idp.login(app_client, "/")
            idp.logout(app_client, "/logout")
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E *mockidp.testing.LoginError: mockidp: the provider refused the logout request: invalid_request:*"]
    )


def test_an_async_app_that_raises_in_its_callback(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.app_factory("login_app:create_app", secure_cookie=True, handle_errors=False)
        async def test_login(idp, async_app_client):
            await idp.alogin(async_app_client, "/")
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"E *mockidp.testing.LoginError: mockidp: GET {CALLBACK} raised MismatchingStateError: mismatching_state:*"]
    )


def test_a_login_that_breaks_early_does_not_log_the_next_one_in_as_its_user(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from mockidp.testing import LoginError

        @pytest.mark.app_factory("login_app:create_app")
        def test_it(idp, app_client):
            with pytest.raises(LoginError):
                idp.login(app_client, "/public", user="bob", email="bob@corp.example", tamper="iss")
            result = idp.login(app_client, "/")
            assert result.response.json()["sub"] == "alice"
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_a_login_through_an_entered_test_client_sees_the_lifespan_state_and_keeps_the_cookies(
    with_apps: pytest.Pytester,
) -> None:
    # With a TestClient entered (as app_client is), the login runs on the client's own event loop in
    # one go; the app must still find its lifespan state in every request, as the TestClient gives it.
    with_apps.makepyfile(
        """
        import pytest
        from starlette.testclient import TestClient

        import login_app


        def create_app():
            inner = login_app.create_app()

            async def app(scope, receive, send):
                if scope["type"] == "lifespan":  # a lifespan that puts a greeting into the state
                    await receive()
                    scope["state"]["greeting"] = "hello"
                    await send({"type": "lifespan.startup.complete"})
                    await receive()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
                if scope.get("state", {}).get("greeting") != "hello":
                    raise RuntimeError(f"no lifespan state in {scope['path']}: {scope.get('state')!r}")
                await inner(scope, receive, send)

            return app


        @pytest.mark.app_factory.with_args(create_app)
        def test_entered(idp, app_client):
            jar = app_client.cookies
            idp.login(app_client, "/")
            assert app_client.cookies is jar
            assert app_client.get("/").json()["sub"] == "alice"


        def test_not_entered(idp, idp_env):
            client = TestClient(login_app.create_app(), follow_redirects=False)
            assert idp.login(client, "/").response.json()["sub"] == "alice"
            assert client.get("/").json()["sub"] == "alice"
        """
    )

    with_apps.runpytest().assert_outcomes(passed=2)


def test_a_login_on_a_provider_with_a_full_capped_log_names_the_rejected_token_request(
    key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.plugin.apps import login_app

    provider = MockIdP(keys=key_pool, request_log_limit=5)
    with provider.intercept():
        with httpx2.Client(transport=provider.transport(httpx2)) as client:
            for _ in range(5):  # the log is full before the login starts
                client.get(provider.jwks_uri)
        monkeypatch.setenv("SERVER_METADATA_URL", provider.metadata_url)
        monkeypatch.setenv("CLIENT_ID", provider.client.client_id)
        monkeypatch.setenv("CLIENT_SECRET", provider.client.client_secret or "")
        app: Any = login_app.create_app()
        provider.fail("token", error="invalid_grant", description="the code was already used")
        with routed_test_client(app) as browser, pytest.raises(LoginError) as caught:
            provider.login(browser, "/")

    assert [r.error for r in provider.requests.filter(endpoint="token")] == ["invalid_grant"]  # it is logged
    assert "the app's token request was rejected by the provider: invalid_grant: the code was already used" in str(
        caught.value
    )
