"""Time under freezegun: the provider's codes (RFC 6749 §4.1.2), IdP sessions (OIDC Core §3.1.2.6, prompt=none),
access tokens (RFC 6750 §3.1) and the app's own login all expire as the frozen clock moves.
"""

from __future__ import annotations

import pytest


def test_an_expired_login_sends_the_user_back_to_the_provider(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        '''
        import pytest
        from freezegun import freeze_time

        @pytest.mark.mockidp(id_token_ttl=600)
        @pytest.mark.app_factory("login_app:create_app")
        def test_an_expired_session_goes_back_to_login(idp, app_client):
            """The app's login lasts as long as the ID token: 600 s here."""
            with freeze_time() as clock:
                idp.login(app_client, "/")
                clock.tick(599)
                assert app_client.get("/").json()["sub"] == "alice"

                clock.tick(1)
                idp.assert_login_redirect(app_client.get("/"))
                assert idp.login(app_client, "/").response.json()["sub"] == "alice"
        '''
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_the_provider_session_expires(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from freezegun import freeze_time

        @pytest.mark.mockidp(session_ttl=600)
        @pytest.mark.app_factory("login_app:create_app")
        def test_silent_login(idp, app_client):
            with freeze_time() as clock:
                idp.login(app_client, "/")
                app_client.cookies.delete("session")
                clock.tick(599)
                assert idp.login(app_client, "/silent").response.json()["sub"] == "alice"

                app_client.cookies.delete("session")
                clock.tick(1)
                with pytest.raises(AssertionError, match="error=login_required"):
                    idp.login(app_client, "/silent")
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_an_authorization_code_expires(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from freezegun import freeze_time

        @pytest.mark.mockidp(code_ttl=30)
        @pytest.mark.app_factory("login_app:create_app")
        def test_late_callback(idp, app_client):
            with freeze_time() as clock:
                to_provider = app_client.get("/")
                back_to_app = app_client.get(to_provider.headers["location"])
                clock.tick(31)

                callback = app_client.get(back_to_app.headers["location"])

            assert callback.json() == {"error": "token_error", "provider_error": "invalid_grant"}
            token = idp.requests.filter(endpoint="token")[-1]
            assert token.error == "invalid_grant"
            assert token.error_description == "the authorization code expired (it lives 30 s)"
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_an_access_token_expires_at_userinfo(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import httpx2
        from freezegun import freeze_time

        def test_userinfo(idp):
            with freeze_time() as clock:
                token = idp.issue_tokens(expires_in=60).access_token
                headers = {"Authorization": f"Bearer {token}"}
                clock.tick(59)
                assert httpx2.get(idp.endpoint("userinfo_endpoint"), headers=headers).json()["sub"] == "alice"

                clock.tick(1)
                answer = httpx2.get(idp.endpoint("userinfo_endpoint"), headers=headers)

            assert answer.status_code == 401
            assert answer.json() == {"error": "invalid_token", "error_description": "the access token expired"}
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=1)


def test_async_logins_work_under_a_frozen_clock(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest
        from freezegun import freeze_time

        @pytest.mark.asyncio
        @pytest.mark.mockidp(id_token_ttl=600)
        @pytest.mark.app_factory("login_app:create_app")
        async def test_async(idp, async_app_client):
            with freeze_time() as clock:
                await idp.alogin(async_app_client, "/")
                clock.tick(600)
                idp.assert_login_redirect(await async_app_client.get("/"))
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)
