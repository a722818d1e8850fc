"""Configuring the provider: @pytest.mark.mockidp, mockidp_* ini options, --mockidp-* flags and a config file.

Precedence, lowest first: ProviderConfig's defaults, the config file, ini options, command-line flags,
then markers from the module down to the test. Also: the markers are registered, the fixtures are
documented in ``pytest --fixtures``, and ``-p no:mockidp`` turns the plugin off.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import Ini

KNOWN = (
    "access_token_audience, access_token_ttl, algorithm, clients, code_ttl, cors_origins, device_code_ttl,"
    " device_interval, id_token_ttl, interactive, issuer, password_grant, refresh_token_ttl, session_ttl, strict,"
    " token_exchange_targets, users"
)


def test_markers_merge_from_module_to_test_and_the_closest_wins(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.mockidp(algorithm="ES256", code_ttl=30, strict=True)

        @pytest.mark.mockidp(code_ttl=20, interactive=True)
        class TestNested:
            @pytest.mark.mockidp(code_ttl=10)
            def test_test_beats_class_beats_module(self, idp):
                c = idp.config
                assert (c.algorithm, c.code_ttl, c.interactive, c.strict) == ("ES256", 10, True, True)

        def test_module_only(idp):
            assert (idp.config.algorithm, idp.config.code_ttl, idp.config.interactive) == ("ES256", 30, False)
            assert idp.jwks()["keys"][0]["alg"] == "ES256"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_a_marker_changes_only_its_own_test(strict_pytester: pytest.Pytester) -> None:
    """Tests without a marker share the suite's config; a marked test in between changes nothing for them."""
    strict_pytester.makepyfile(
        """
        import pytest

        def test_before(idp):
            assert (idp.issuer, idp.config.code_ttl) == ("https://idp.mockidp.test", 60)

        @pytest.mark.mockidp(issuer="https://marked.test", code_ttl=5)
        def test_marked(idp):
            assert (idp.issuer, idp.config.code_ttl) == ("https://marked.test", 5)

        def test_after(idp, mockidp_config):
            assert (idp.issuer, idp.config.code_ttl) == ("https://idp.mockidp.test", 60)
            assert idp.config is mockidp_config
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=3)


def test_ini_options_set_the_defaults(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini(
        "mockidp_issuer = https://login.example.test/realms/shop",
        "mockidp_algorithm = PS256",
        "mockidp_access_token_ttl = 300",
        "mockidp_strict = true",
        "mockidp_users =",
        "    bob,email=bob@corp.example",
        "    carol",
        "mockidp_clients =",
        "    web:s3cret",
        "mockidp_cors_origins = https://spa.example",
    )
    strict_pytester.makepyfile(
        """
        import httpx2

        def test_defaults(idp):
            c = idp.config
            assert (c.issuer, c.algorithm, c.access_token_ttl, c.strict) == (
                "https://login.example.test/realms/shop", "PS256", 300, True)
            assert [(u.username, u.claims["email"]) for u in c.users] == [
                ("bob", "bob@corp.example"), ("carol", "carol@example.com")]
            assert [(cl.client_id, cl.client_secret) for cl in c.clients] == [("web", "s3cret")]
            assert c.cors_origins == ("https://spa.example",)
            assert httpx2.get(idp.metadata_url).json()["issuer"] == "https://login.example.test/realms/shop"
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_flags_beat_the_ini_and_markers_beat_flags(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    ini("mockidp_algorithm = PS256", "mockidp_strict = true", "mockidp_code_ttl = 30")
    strict_pytester.makepyfile(
        """
        import pytest

        def test_flags(idp):
            assert (idp.config.algorithm, idp.config.strict, idp.config.code_ttl) == ("ES256", False, 30)
            assert [u.username for u in idp.users.values()] == ["bob", "carol"]

        @pytest.mark.mockidp(algorithm="EdDSA")
        def test_marker(idp):
            assert idp.config.algorithm == "EdDSA"
        """
    )

    result = strict_pytester.runpytest(
        "--mockidp-algorithm=ES256", "--no-mockidp-strict", "--mockidp-user=bob", "--mockidp-user=carol"
    )

    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("how", ["ini", "flag"])
def test_a_config_file_relative_to_the_rootdir(strict_pytester: pytest.Pytester, ini: Ini, how: str) -> None:
    strict_pytester.mkdir("config")
    strict_pytester.path.joinpath("config", "idp.toml").write_text(
        'algorithm = "ES256"\n'
        "code_ttl = 5\n"
        '[[users]]\nsub = "u-1"\npreferred_username = "dana"\n'
        '[[clients]]\nclient_id = "spa"\n'
    )
    ini("mockidp_config = config/idp.toml", "mockidp_code_ttl = 7") if how == "ini" else ini("mockidp_code_ttl = 7")
    strict_pytester.makepyfile(
        """
        def test_file(idp):
            assert (idp.config.algorithm, idp.config.code_ttl) == ("ES256", 7)
            assert (idp.user.username, idp.client.client_id, idp.client.is_public) == ("dana", "spa", True)
        """
    )

    flags = ["--mockidp-config=config/idp.toml"] if how == "flag" else []
    strict_pytester.runpytest(*flags).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "@pytest.mark.mockidp(algoritm='ES256')",
            "@pytest.mark.mockidp on test_marker.py::test_it: unknown option 'algoritm' (did you mean"
            f" 'algorithm'?); the options are ProviderConfig fields: {KNOWN}",
        ),
        (
            "@pytest.mark.mockidp(colour='blue')",
            "@pytest.mark.mockidp on test_marker.py::test_it: unknown option 'colour'; the options are"
            f" ProviderConfig fields: {KNOWN}",
        ),
        (
            "@pytest.mark.mockidp('ES256')",
            "@pytest.mark.mockidp on test_marker.py::test_it: takes keyword arguments only (ProviderConfig"
            " fields), got ('ES256',)",
        ),
        (
            "@pytest.mark.mockidp(code_ttl=0)",
            "@pytest.mark.mockidp: ProviderConfig.code_ttl must be a positive number of seconds, got 0",
        ),
    ],
    ids=["typo", "unknown", "positional", "bad-value"],
)
def test_a_bad_marker_fails_the_test_clearly(strict_pytester: pytest.Pytester, marker: str, message: str) -> None:
    strict_pytester.makepyfile(test_marker=f"import pytest\n\n{marker}\ndef test_it(idp): pass\n")

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_it*", message], consecutive=True)


def test_a_typo_in_a_module_marker_names_the_module(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        test_module="import pytest\n\npytestmark = pytest.mark.mockidp(stict=True)\n\ndef test_it(idp): pass\n"
    )

    result = strict_pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.mockidp on test_module.py: unknown option 'stict' (did you mean 'strict'?); the options"
            f" are ProviderConfig fields: {KNOWN}"
        ]
    )


@pytest.mark.parametrize(
    ("ini_line", "message"),
    [
        (
            "mockidp_access_token_ttl = soon",
            "ERROR: mockidp: the ini option mockidp_access_token_ttl: expected a whole number, got 'soon'",
        ),
        (
            "mockidp_code_ttl = -5",
            "ERROR: mockidp: the provider options of this run (file, ini, flags): ProviderConfig.code_ttl must be"
            " a positive number of seconds, got -5",
        ),
        (
            "mockidp_users = bob,admin",
            "ERROR: mockidp: the ini option mockidp_users: user 'bob,admin': expected name=value after the first"
            " comma, got 'admin'; write USERNAME[,claim=value...], e.g. 'bob,email=bob@corp.example,roles=admin'",
        ),
        (
            "mockidp_config = missing.toml",
            "ERROR: mockidp: cannot read the config file '*missing.toml': No such file or directory",
        ),
    ],
    ids=["not-a-number", "not-positive", "no-claim-value", "no-file"],
)
def test_a_bad_ini_value_stops_the_run_naming_the_option(
    strict_pytester: pytest.Pytester, ini: Ini, ini_line: str, message: str
) -> None:
    ini(ini_line)
    strict_pytester.makepyfile("def test_it(): pass")

    result = strict_pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "--mockidp-user=bob,admin",
            "*error: argument --mockidp-user: user 'bob,admin': expected name=value after the first comma,"
            " got 'admin'*",
        ),
        (
            "--mockidp-client=:s3cret",
            "*error: argument --mockidp-client: client ':s3cret': Client.client_id must be a non-empty string*",
        ),
        ("--mockidp-algorithm=HS256", "*error: argument --mockidp-algorithm: invalid choice: 'HS256'*"),
    ],
    ids=["user", "client", "algorithm"],
)
def test_a_bad_flag_is_a_usage_error(strict_pytester: pytest.Pytester, flag: str, message: str) -> None:
    strict_pytester.makepyfile("def test_it(): pass")

    result = strict_pytester.runpytest(flag)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_markers_are_registered(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mockidp(strict=True)
        @pytest.mark.app_factory("starlette.applications:Starlette")
        def test_marked(idp, app):
            assert idp.config.strict
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1, warnings=0)
    strict_pytester.runpytest("--markers").stdout.fnmatch_lines(
        [
            "@pytest.mark.mockidp(**options): configure this test's provider; options are ProviderConfig fields*",
            "@pytest.mark.app_factory(factory, *args, **kwargs): build the `app` fixture*",
        ]
    )


FIXTURES = {
    "idp": "A fresh in-process OpenID provider; httpx/httpx2 calls to its issuer reach it with no socket.",
    "idp_live": "The provider on a real socket (127.0.0.1, a free port), for requests, urllib or a browser.",
    "idp_env": "Environment variables for app settings (SERVER_METADATA_URL, CLIENT_ID, ...), undone after the test.",
    "make_idp": 'A factory for more providers in one test: ``make_idp(issuer="https://tenant-b.test", ...)``.',
    "mockidp_config": "This test's ProviderConfig: --mockidp-*/ini defaults, then @pytest.mark.mockidp from module"
    " to test.",
    "mockidp_keys [[]session scope[]]": "Signing keys shared by every provider of the session (an RSA key takes"
    " ~40 ms to make).",
    "app": "The app under test, built by its factory after idp_env: @pytest.mark.app_factory or mockidp_app_factory.",
    "app_client": "A Starlette TestClient on `app`: lifespan run, cookies kept, redirects not followed, IdP URLs"
    " routed.",
    "async_app_client": "An async httpx2 client on `app` for pytest-asyncio and anyio tests: lifespan run, IdP URLs"
    " routed.",
    "tampered_id_token": "One test per way an ID token can be bad; pass it as idp.login(...,"
    " tamper=tampered_id_token).",
    "forged_token": "One test per forged bearer token an API must reject (expired, wrong issuer, alg none, ...).",
}


def test_pytest_fixtures_describes_each_fixture_in_one_line(strict_pytester: pytest.Pytester) -> None:
    result = strict_pytester.runpytest("--fixtures")

    for name, description in FIXTURES.items():
        result.stdout.fnmatch_lines(
            [f"{name} -- *pytest_mockidp/_fixtures.py:*", f"    {description}", ""], consecutive=True
        )
    result.stdout.fnmatch_lines(["*-- fixtures defined from pytest_mockidp._fixtures --*"])
    result.stdout.no_fnmatch_line("*_mockidp_*")


def test_p_no_mockidp_turns_the_plugin_off(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile("def test_it(idp): pass")

    result = strict_pytester.runpytest("-p", "no:mockidp")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["E       fixture 'idp' not found"])
    assert strict_pytester.runpytest("-p", "no:mockidp", "--mockidp-strict").ret == pytest.ExitCode.USAGE_ERROR


def test_an_ini_client_spec_carries_redirect_uris(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    """The same grammar as ``mockidp serve --client``: the secret ends at the first comma."""
    ini(
        "mockidp_clients =",
        "    mockidp-client:mockidp-secret,redirect_uris=http://testserver/callback",
        "mockidp_users =",
        "    zoe,email=zoe@corp.example,roles=admin,roles=dev",
    )
    strict_pytester.makepyfile(
        """
        def test_it(idp):
            assert idp.client.client_secret == "mockidp-secret"
            assert idp.client.redirect_uris == ("http://testserver/callback",)
            assert idp.user.claims["roles"] == ["admin", "dev"]
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_a_marker_takes_user_and_client_specs(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mockidp(users=["bob,email=bob@corp.example"], clients=["web:s3cret,scope=openid email"])
        def test_it(idp):
            assert idp.user.claims["email"] == "bob@corp.example"
            assert idp.client.scope == ("openid", "email")

        @pytest.mark.mockidp(clients=["web:s3cret,redirect_uri=http://testserver/cb"])
        def test_typo(idp):
            pass
        """
    )

    result = strict_pytester.runpytest()

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.mockidp: client 'web:s3cret,redirect_uri=http://testserver/cb': unknown client field"
            " 'redirect_uri' (did you mean 'redirect_uris'?)*"
        ]
    )
