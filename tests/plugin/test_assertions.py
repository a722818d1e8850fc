"""The assertion helpers as users see them fail: idp.assert_login_redirect, assert_redirect, preflight,
assert_cors and assert_no_cors (OIDC Core §3.1.2.1, RFC 7636, the Fetch standard's CORS protocol §3.2).

Each failure says what was expected, what came (status, ``Location``, the CORS headers), what is wrong
and, where one exists, the nearest call that would have passed.
"""

from __future__ import annotations

import pytest

AUTHORIZE = "https://idp.mockidp.test/authorize"


def _run(with_apps: pytest.Pytester, body: str, *, factory: str = "web_app:create_app") -> pytest.RunResult:
    """Run one test of ``body`` (its statements, with idp, app_client and the helpers in scope)."""
    with_apps.makepyfile(
        f"""
        import pytest
        from urllib.parse import quote, urlencode
        from mockidp.testing import assert_cors, assert_no_cors, assert_redirect, preflight

        @pytest.mark.app_factory("{factory}")
        def test_it(idp, app_client):
            {body}
        """
    )
    return with_apps.runpytest()


def _fails_with(result: pytest.RunResult, *lines: str, passed: int = 0) -> None:
    """The test failed with these message lines, in this order (``*`` is a wildcard, ``[`` is literal)."""
    result.assert_outcomes(failed=1, passed=passed)
    result.stdout.fnmatch_lines([f"E *{line.replace('[', '[[]')}" for line in lines], consecutive=True)


def test_a_sound_login_redirect_passes_and_is_parsed(with_apps: pytest.Pytester) -> None:
    body = """login = idp.assert_login_redirect(app_client.get("/"), scopes=["email", "profile"])
            assert (login.client_id, login.redirect_uri) == ("mockidp-client", "http://testserver/callback")
            assert login.scopes == ["openid", "email", "profile"]
            assert login.state and login.nonce and login.params["code_challenge_method"] == "S256\""""

    _run(with_apps, body, factory="login_app:create_app").assert_outcomes(passed=1)


def test_no_redirect_where_a_login_redirect_was_expected(with_apps: pytest.Pytester) -> None:
    result = _run(with_apps, 'idp.assert_login_redirect(app_client.get("/api"))')

    _fails_with(
        result,
        f"AssertionError: mockidp: expected a redirect to the provider's authorization endpoint {AUTHORIZE},"
        " got no redirect",
        "Received: 200 OK",
        "  (no location header)",
        "see: python -m mockidp docs assertions",
    )


def test_a_redirect_elsewhere_where_a_login_redirect_was_expected(with_apps: pytest.Pytester) -> None:
    target = "https://other-idp.example/authorize?client_id=mockidp-client"
    result = _run(with_apps, f'idp.assert_login_redirect(app_client.get("/go", params={{"to": "{target}"}}))')

    _fails_with(
        result,
        f"AssertionError: mockidp: expected a redirect to the provider's authorization endpoint {AUTHORIZE}",
        "Received: 302 Found",
        f"  location: {target}",
        "Nearest: the redirect goes to https://other-idp.example/authorize (an authorization request to another"
        " provider?)",
        "see: python -m mockidp docs assertions",
    )


def test_an_unsound_authorization_request_lists_every_problem(with_apps: pytest.Pytester) -> None:
    location = f"{AUTHORIZE}?client_id=web&response_type=token&scope=email"
    result = _run(with_apps, f'idp.assert_login_redirect(app_client.get("/go", params={{"to": "{location}"}}))')

    _fails_with(
        result,
        "AssertionError: mockidp: the login redirect is not a sound authorization request",
        "Received: 302 Found",
        f"  location: {location}",
        "Problems:",
        "  - client_id 'web' is not registered (registered: mockidp-client)",
        "  - redirect_uri is missing",
        "  - response_type is 'token', expected 'code'",
        "  - scope 'email' lacks openid (an OpenID Connect request needs it)",
        "  - state is missing",
        "  - nonce is missing",
        "  - PKCE is missing: expected code_challenge with code_challenge_method=S256, got code_challenge_method=None",
        "Parameters sent: client_id=web, response_type=token, scope=email",
        "see: python -m mockidp docs assertions",
    )


def test_a_login_redirect_without_pkce_or_a_scope_names_the_call_that_passes(with_apps: pytest.Pytester) -> None:
    query = "client_id=mockidp-client&redirect_uri=http://testserver/cb&response_type=code&scope=openid+email"
    query += "&state=s1&nonce=n1&code_challenge=abc&code_challenge_method=plain"
    body = f'response = app_client.get("/go?to=" + quote("{AUTHORIZE}?{query}"))\n'
    body += '            idp.assert_login_redirect(response, scopes=["email", "orders"])'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: the login redirect is not a sound authorization request",
        "Received: 302 Found",
        f"  location: {AUTHORIZE}?{query}",
        "Problems:",
        "  - scope 'openid email' lacks orders",
        "  - PKCE is missing: expected code_challenge with code_challenge_method=S256, got"
        " code_challenge_method='plain'",
        "Parameters sent: client_id=mockidp-client, code_challenge=abc, code_challenge_method=plain, nonce=n1,"
        " redirect_uri=http://testserver/cb, response_type=code, scope=openid email, state=s1",
        "Nearest: assert_login_redirect(response, scopes=['email'], pkce=False) passes",
        "see: python -m mockidp docs assertions",
    )


@pytest.mark.parametrize(
    ("marker", "client_id", "why"),
    [
        (
            "@pytest.mark.mockidp(strict=True)",
            "mockidp-client",
            "in strict mode (ProviderConfig(strict=True)) the provider refuses an authorization request without"
            " PKCE S256",
        ),
        (
            '@pytest.mark.mockidp(clients=[Client(client_id="spa")])',
            "spa",
            "client 'spa' is public (no secret): the provider refuses its requests without a code_challenge",
        ),
    ],
    ids=["strict", "public-client"],
)
def test_a_login_redirect_without_pkce_the_provider_requires_points_at_the_app(
    with_apps: pytest.Pytester, marker: str, client_id: str, why: str
) -> None:
    query = f"client_id={client_id}&redirect_uri=http://testserver/cb&response_type=code&scope=openid"
    query += "&state=s1&nonce=n1"
    with_apps.makepyfile(
        f"""
        import pytest
        from urllib.parse import quote
        from mockidp import Client

        @pytest.mark.app_factory("web_app:create_app")
        {marker}
        def test_it(idp, app_client):
            idp.assert_login_redirect(app_client.get("/go?to=" + quote("{AUTHORIZE}?{query}")))
        """
    )

    result = with_apps.runpytest()

    _fails_with(
        result,
        "Problems:",
        "  - PKCE is missing: expected code_challenge with code_challenge_method=S256, got code_challenge_method=None",
        f"Parameters sent: client_id={client_id}, nonce=n1, redirect_uri=http://testserver/cb, response_type=code,"
        " scope=openid, state=s1",
        f"Nearest: none that skips PKCE: {why}, so pkce=False would only hide a login that fails. Fix the app: send a"
        " code_challenge with code_challenge_method=S256"
        " (with authlib: client_kwargs={'code_challenge_method': 'S256'})",
        "see: python -m mockidp docs assertions",
    )
    result.stdout.no_fnmatch_line("*pkce=False) passes*")


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("/login", "/login"),
        ("/login?next=%2Fcart", "/login?next=%2Fcart"),
        ("https://sso.example/x", "https://sso.example/x"),
    ],
)
def test_assert_redirect_passes_and_returns_the_full_location(
    with_apps: pytest.Pytester, to: str, expected: str
) -> None:
    body = f'assert assert_redirect(app_client.get("/go", params={{"to": "{to}"}}), "{expected}").endswith("{to}")'

    _run(with_apps, body).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("to", "expected", "nearest"),
    [
        ("/elsewhere", "/login", "'/elsewhere'"),
        ("/login?next=%2Fadmin", "/login?next=%2Fcart", "'/login?next=%2Fadmin'"),
        ("https://a.example/x", "https://b.example/x", "'https://a.example/x'"),
        ("https://evil.example/login", "/login", "'https://evil.example/login'"),
    ],
    ids=["path", "query", "url", "another-origin"],
)
def test_assert_redirect_to_the_wrong_place(with_apps: pytest.Pytester, to: str, expected: str, nearest: str) -> None:
    result = _run(with_apps, f'assert_redirect(app_client.get("/go", params={{"to": "{to}"}}), "{expected}")')

    _fails_with(
        result,
        f"AssertionError: mockidp: expected a redirect to {expected}",
        "Received: 302 Found",
        f"  location: {to}",
        f"Nearest: assert_redirect(response, {nearest}) passes",
        "see: python -m mockidp docs assertions",
    )


def test_assert_redirect_without_a_redirect(with_apps: pytest.Pytester) -> None:
    result = _run(with_apps, 'assert_redirect(app_client.get("/api"), "/login")')

    _fails_with(
        result,
        "AssertionError: mockidp: expected a redirect to /login, got no redirect",
        "Received: 200 OK",
        "  (no location header)",
        "see: python -m mockidp docs assertions",
    )


def test_a_preflight_the_app_allows(with_apps: pytest.Pytester) -> None:
    body = """spa = "https://spa.example"
            response = preflight(app_client, "/api", origin=spa, method="POST", headers=["Authorization"])
            assert_cors(response, origin=spa, credentials=True, methods=["POST"], headers=["authorization"])
            assert_cors(app_client.get("/api", headers={"Origin": spa}), origin=spa)"""

    _run(with_apps, body).assert_outcomes(passed=1)


def test_a_refused_preflight(with_apps: pytest.Pytester) -> None:
    body = (
        'assert_cors(preflight(app_client, "/api", origin="https://spa.example", method="DELETE", headers=["X-Trace"]),'
    )
    body += ' origin="https://spa.example", methods=["DELETE"], headers=["X-Trace"])'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: expected CORS to allow https://spa.example",
        "Received: 400 Bad Request",
        "  vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers*",
        "  access-control-allow-methods: GET, POST",
        "  access-control-max-age: 600",
        "  access-control-allow-headers: Accept, Accept-Language, Authorization, Content-Language, Content-Type",
        "  access-control-allow-credentials: true",
        "  access-control-allow-origin: https://spa.example",
        "Problems:",
        "  - the preflight was refused with 400",
        "  - Access-Control-Allow-Methods lacks DELETE",
        "  - Access-Control-Allow-Headers lacks X-Trace",
        "see: python -m mockidp docs assertions",
    )


def test_cors_that_allows_less_than_expected_names_what_it_allows(with_apps: pytest.Pytester) -> None:
    body = 'response = app_client.get("/api", headers={"Origin": "https://spa.example"})\n'
    body += '            assert_cors(response, origin="https://spa.example", credentials=False, methods=["GET"])'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: expected CORS to allow https://spa.example",
        "Received: 200 OK",
        "  access-control-allow-credentials: true",
        "  access-control-allow-origin: https://spa.example",
        "  vary: Origin",
        "Problems:",
        "  - Access-Control-Allow-Credentials is 'true'; expected none",
        "  - Access-Control-Allow-Methods lacks GET",
        "Nearest: assert_cors(response, origin='https://spa.example', credentials=True) passes",
        "see: python -m mockidp docs assertions",
    )


def test_cors_for_an_origin_the_app_does_not_allow(with_apps: pytest.Pytester) -> None:
    body = (
        'assert_cors(app_client.get("/api", headers={"Origin": "https://evil.example"}), origin="https://evil.example")'
    )

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: expected CORS to allow https://evil.example",
        "Received: 200 OK",
        "  access-control-allow-credentials: true",
        "  vary: Origin",
        "Problems:",
        "  - Access-Control-Allow-Origin is missing; expected https://evil.example",
        "see: python -m mockidp docs assertions",
    )


def test_assert_no_cors(with_apps: pytest.Pytester) -> None:
    body = 'assert_no_cors(app_client.get("/api", headers={"Origin": "https://evil.example"}))\n'
    body += '            assert_no_cors(app_client.get("/api", headers={"Origin": "https://spa.example"}))'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: expected no CORS headers, but the response allows the origin 'https://spa.example'",
        "Received: 200 OK",
        "  access-control-allow-credentials: true",
        "  access-control-allow-origin: https://spa.example",
        "  vary: Origin",
        "Nearest: assert_cors(response, origin='https://spa.example') passes",
        "see: python -m mockidp docs assertions",
    )


def test_the_failing_line_is_the_users(with_apps: pytest.Pytester) -> None:
    result = _run(with_apps, 'assert_redirect(app_client.get("/api"), "/login")')

    result.stdout.fnmatch_lines(
        ['>       assert_redirect(app_client.get("/api"), "/login")', "E       AssertionError: *"]
    )
    result.stdout.no_fnmatch_line("*mockidp/testing.py*")


def test_a_login_redirect_to_an_unregistered_redirect_uri(with_apps: pytest.Pytester) -> None:
    query = "client_id=mockidp-client&redirect_uri=https://evil.example/cb&response_type=code&scope=openid"
    query += "&state=s1&nonce=n1&code_challenge=abc&code_challenge_method=S256"
    body = f'idp.assert_login_redirect(app_client.get("/go?to=" + quote("{AUTHORIZE}?{query}")))'

    result = _run(with_apps, body)

    _fails_with(
        result,
        "AssertionError: mockidp: the login redirect is not a sound authorization request",
        "Received: 302 Found",
        f"  location: {AUTHORIZE}?{query}",
        "Problems:",
        "  - redirect_uri 'https://evil.example/cb' is not registered for 'mockidp-client' (registered:"
        " http://testserver/*, http://localhost/*, http://127.0.0.1/*)",
    )


def test_a_wildcard_grants_nothing_with_credentials(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import httpx2
        from mockidp.testing import assert_cors

        WILDCARDS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*"}

        def test_without_credentials():
            assert_cors(httpx2.Response(200, headers=WILDCARDS), origin="https://spa.example", methods=["PATCH"])

        def test_with_credentials():
            response = httpx2.Response(200, headers={**WILDCARDS, "Access-Control-Allow-Credentials": "true"})
            assert_cors(response, origin="https://spa.example", credentials=True, methods=["PATCH"])
        """
    )

    result = strict_pytester.runpytest()

    _fails_with(
        result,
        "AssertionError: mockidp: expected CORS to allow https://spa.example",
        "Received: 200 OK",
        "  access-control-allow-origin: *",
        "  access-control-allow-methods: *",
        "  access-control-allow-credentials: true",
        "Problems:",
        "  - Access-Control-Allow-Origin is '*', which browsers refuse with credentials",
        "  - Access-Control-Allow-Methods lacks PATCH",
        "see: python -m mockidp docs assertions",
        passed=1,
    )
