"""What a test author sees when mockidp raises at them: their own line, the message, where to read more.

A ``LoginError`` from the sync ``app_client`` crosses a Starlette TestClient portal (anyio and
``concurrent.futures`` frames); the driver and the provider add their own frames. None of them
belongs in the failure: mockidp's modules hide their frames for the errors it raises at the author
(``MockidpError``), and the portal re-raises with the traceback cut where it crosses into mockidp.
A bug inside mockidp (any other exception) keeps every frame.
"""

from __future__ import annotations

import fnmatch

import pytest

#: Frames that must not show in the failure of a test that a mockidp error failed.
FOREIGN_FRAMES = ("*anyio*", "*concurrent*", "*/mockidp/*.py:*", "*site-packages*")


def _only_the_test_line(result: pytest.RunResult, line: str, error: str) -> None:
    """The failure shows the test's ``line``, then the ``E`` lines, then ``test_it.py:N: error``, and nothing else."""
    lines = result.stdout.lines
    failure = lines[lines.index(next(x for x in lines if "FAILURES" in x)) :]
    failure = failure[: failure.index(next(x for x in failure if "short test summary" in x))]
    code = [x for x in failure if x.startswith(">")]
    assert code == [f">       {line}"]
    assert [x for x in failure if fnmatch.fnmatch(x, f"*.py:*: {error}")] == [x for x in failure if ".py:" in x]
    assert [x for x in failure if any(fnmatch.fnmatch(x, p) for p in FOREIGN_FRAMES)] == []


@pytest.mark.parametrize(
    ("client", "marker", "call"),
    [
        ("app_client", "", 'idp.login(app_client, "/logged-out")'),
        ("async_app_client", "@pytest.mark.asyncio", 'await idp.alogin(async_app_client, "/logged-out")'),
    ],
    ids=["sync", "async"],
)
def test_a_login_error_shows_the_test_line_and_the_message_only(
    with_apps: pytest.Pytester, client: str, marker: str, call: str
) -> None:
    with_apps.makepyfile(
        test_it=f"""
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        {marker}
        {"async " if marker else ""}def test_login(idp, {client}):
            {call}
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f">       {call}",
            "E       mockidp.testing.LoginError: mockidp: the app did not redirect to the provider: GET /logged-out"
            " answered 200 (not a redirect); expected a redirect to https://idp.mockidp.test/authorize",
            "E       The hops so far:",
            "E         app  GET /logged-out  200",
            "E       see: python -m mockidp docs simulated-logins",
            "",
            "test_it.py:*: LoginError",
        ],
        consecutive=True,
    )
    _only_the_test_line(result, call, "LoginError")


def test_an_unknown_user_names_the_fixes_and_the_nearest_user(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        test_it="""
        import pytest
        from mockidp import User

        @pytest.mark.app_factory("login_app:create_app")
        @pytest.mark.mockidp(users=[User.named("alice"), User.named("zoey")])
        def test_login(idp, app_client):
            idp.login(app_client, "/", user="zoe")
        """
    )

    result = with_apps.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       idp.login(app_client, "/", user="zoe")',
            "E       mockidp.NotRegisteredError: mockidp: no user named 'zoe'; the nearest is 'zoey'"
            " (known users: alice, zoey).",
            "E       To log in a new user, give its claims:"
            " idp.login(client, path, user='zoe', email='zoe@example.com');",
            "E       or register it: idp.add_user('zoe', email='zoe@example.com'), or for the test"
            " @pytest.mark.mockidp(users=[User.named('alice'), User.named('zoe', email='zoe@example.com')])"
            " (users= replaces the default users)",
            "E       see: python -m mockidp docs users-and-clients",
            "",
            "test_it.py:7: NotRegisteredError",
        ],
        consecutive=True,
    )
    _only_the_test_line(result, 'idp.login(app_client, "/", user="zoe")', "NotRegisteredError")


def test_a_config_error_from_the_test_shows_the_test_line(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        test_it="""
        def test_it(idp):
            idp.add_user("alice")
        """
    )

    result = strict_pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       idp.add_user("alice")',
            "E       mockidp.ConfigError: a user with sub 'alice' is already registered",
            "E       see: python -m mockidp docs configuration",
            "",
            "test_it.py:2: ConfigError",
        ],
        consecutive=True,
    )
    _only_the_test_line(result, 'idp.add_user("alice")', "ConfigError")


def test_a_bug_inside_mockidp_keeps_its_frames(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        test_it="""
        def test_it(idp):
            idp.minter = None  # as if mockidp had lost its minter: a bug, not the author's mistake
            idp.issue_tokens()
        """
    )

    result = strict_pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*/mockidp/_provider.py:*: AttributeError"])
