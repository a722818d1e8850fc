"""The device authorization grant (RFC 8628) from a plugin user's suite: ``idp.approve_device`` and
``idp.deny_device`` decide a pending device in one call, and the marker sets its lifetime and interval.
"""

from __future__ import annotations

import pytest


def test_a_plugin_user_approves_and_denies_devices(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import httpx2
        import pytest

        DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


        def start(client, idp):
            response = client.post(idp.endpoint("device_authorization"), data={"scope": "openid"})
            return response.json()


        def poll(client, idp, device_code):
            return client.post(idp.endpoint("token"), data={"grant_type": DEVICE, "device_code": device_code})


        @pytest.fixture
        def client(idp):
            auth = (idp.client.client_id, idp.client.client_secret)
            with httpx2.Client(transport=idp.transport(httpx2), auth=auth) as client:
                yield client


        @pytest.mark.mockidp(device_code_ttl=30, device_interval=1)
        def test_approve(idp, client):
            body = start(client, idp)
            assert (body["expires_in"], body["interval"]) == (30, 1)
            idp.approve_device(body["user_code"], user="alice")
            assert poll(client, idp, body["device_code"]).json()["token_type"] == "Bearer"


        def test_deny(idp, client):
            body = start(client, idp)
            idp.deny_device(body["user_code"])
            assert poll(client, idp, body["device_code"]).json()["error"] == "access_denied"


        def test_an_unknown_code(idp):
            with pytest.raises(LookupError, match="no device authorization has the user code 'BCDF-GHJK'"):
                idp.approve_device("BCDF-GHJK")
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=3)


def test_the_interval_is_a_command_line_option(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        def test_interval(idp):
            assert (idp.config.device_interval, idp.config.token_exchange_targets) == (2, ("orders", "billing"))
        """
    )

    result = strict_pytester.runpytest(
        "--mockidp-device-interval=2",
        "--mockidp-token-exchange-target=orders",
        "--mockidp-token-exchange-target=billing",
    )

    result.assert_outcomes(passed=1)
