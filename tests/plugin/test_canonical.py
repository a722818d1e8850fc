"""The three tests every app with a login and an API needs, each in the fewest lines, against a notes app.

T1: the login redirect is a sound authorization request (OIDC Core §3.1.2.1, RFC 7636). T2: a
simulated login as a new user shows her email. T3: the API accepts a valid access token and refuses
an expired and a wrong-audience one (RFC 6750 §3.1, RFC 9068 §4). These are the README's recipes.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import Ini

CANONICAL = """
def test_the_login_redirect_is_sound(idp, app_client):
    idp.assert_login_redirect(app_client.get("/notes"))


def test_zoe_sees_her_email(idp, app_client):
    result = idp.login(app_client, "/notes", user="zoe", email="zoe@example.com")
    assert "zoe@example.com" in result.response.text


def test_the_api_refuses_bad_tokens(idp, app_client):
    idp.assert_api(app_client, "/api/notes", refuses=["expired", "wrong_audience"])
"""


def test_the_three_canonical_tests_pass_in_one_two_and_one_line(with_apps: pytest.Pytester, ini: Ini) -> None:
    ini("mockidp_app_factory = notes_app:create_app")
    with_apps.makepyfile(test_notes=CANONICAL)

    result = with_apps.runpytest()

    result.assert_outcomes(passed=3)
    bodies = [block.strip().splitlines()[1:] for block in CANONICAL.strip().split("\n\n\n")]
    assert [len(body) for body in bodies] == [1, 2, 1]
