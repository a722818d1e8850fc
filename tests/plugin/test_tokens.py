"""Hardening tests: tampered ID tokens for apps (OIDC Core §3.1.3.7, §3.1.3.8) and forged access tokens for
APIs (RFC 8725 §2.1-§3.1, RFC 9068 §4), one test per kind with a readable id.

An app or API that checks tokens properly passes every one; one that does not is named by the
failing ids, which are the checks it is missing.
"""

from __future__ import annotations

import pytest

TAMPER_KINDS = ["nonce", "iss", "aud", "signature", "expired", "alg_none", "unknown_kid", "at_hash"]

REASONS = {
    "expired": "expired an hour ago",
    "not_yet_valid": "not valid for another hour (nbf and iat in the future)",
    "wrong_issuer": "issued by another provider",
    "wrong_audience": "meant for another audience",
    "bad_signature": "the signature does not verify",
    "alg_none": "unsigned (alg: none)",
    "unknown_kid": "signed by a key the JWKS does not publish",
    "hs256_public_key": "HS256, keyed with the provider's public key (algorithm confusion)",
    "missing_sub": "has no sub claim",
    "missing_exp": "has no exp claim",
}

RP_SUITE = """
import pytest

@pytest.mark.app_factory("login_app:create_app", validate_id_token={validate})
def test_the_app_refuses_a_bad_id_token(idp, app_client, tampered_id_token):
    result = idp.login(app_client, "/", tamper=tampered_id_token)

    assert result.response.json() == {{"error": "invalid_id_token"}}
    idp.assert_login_redirect(app_client.get("/"))  # and nobody is logged in
"""

API_SUITE = """
import pytest

@pytest.mark.app_factory("api_app:create_app", verify={verify})
def test_the_api_refuses_a_forged_token(app_client, forged_token):
    response = app_client.get("/me", headers={{"Authorization": f"Bearer {{forged_token}}"}})

    assert response.status_code == 401, forged_token.reason
"""


def test_one_test_per_tampered_id_token_with_readable_ids(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(RP_SUITE.format(validate=True))

    result = with_apps.runpytest("--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [f"test_*.py::test_the_app_refuses_a_bad_id_token[[]{kind}[]]" for kind in TAMPER_KINDS], consecutive=True
    )


def test_an_app_that_validates_id_tokens_refuses_them_all(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(RP_SUITE.format(validate=True))

    with_apps.runpytest().assert_outcomes(passed=len(TAMPER_KINDS))


def test_an_app_that_does_not_validate_id_tokens_fails_them_all(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(RP_SUITE.format(validate=False))

    result = with_apps.runpytest()

    result.assert_outcomes(failed=len(TAMPER_KINDS))
    result.stdout.fnmatch_lines(
        [f"FAILED test_*.py::test_the_app_refuses_a_bad_id_token[[]{kind}[]]*" for kind in TAMPER_KINDS]
    )


def test_an_unknown_tamper_kind_lists_the_kinds(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(
        """
        import pytest

        @pytest.mark.app_factory("login_app:create_app")
        def test_typo(idp, app_client):
            with pytest.raises(ValueError) as raised:
                idp.login(app_client, "/", tamper="signatur")
            assert str(raised.value) == (
                "unknown kind 'signatur' (did you mean 'signature'?); choose one of nonce, iss, aud, signature,"
                " expired, alg_none, unknown_kid, at_hash")
            assert raised.value.__notes__ == ["see: python -m mockidp docs bad-tokens"]
        """
    )

    with_apps.runpytest().assert_outcomes(passed=1)


def test_one_test_per_forged_token_with_readable_ids(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(API_SUITE.format(verify=True))

    result = with_apps.runpytest("--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [f"test_*.py::test_the_api_refuses_a_forged_token[[]{kind}[]]" for kind in list(REASONS)], consecutive=True
    )


def test_an_api_that_verifies_tokens_with_joserfc_refuses_every_forgery(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(API_SUITE.format(verify=True))

    with_apps.runpytest().assert_outcomes(passed=len(list(REASONS)))


def test_a_sloppy_api_fails_visibly_for_every_forgery(with_apps: pytest.Pytester) -> None:
    with_apps.makepyfile(API_SUITE.format(verify=False))

    result = with_apps.runpytest()

    result.assert_outcomes(failed=len(list(REASONS)))
    result.stdout.fnmatch_lines(
        [
            line
            for kind, reason in REASONS.items()
            for line in (f"*_ test_the_api_refuses_a_forged_token[[]{kind}[]] _*", f"E       AssertionError: {reason}")
        ]
    )


def test_idp_forge_makes_one_defect_on_the_claims_you_ask_for(strict_pytester: pytest.Pytester) -> None:
    strict_pytester.makepyfile(
        """
        import jwt

        def test_forge(idp):
            idp.add_user("bob")
            token = idp.forge("wrong_audience", user="bob", scope="orders:read", claims={"tenant": "t1"})

            claims = jwt.decode(token, options={"verify_signature": False})
            assert (claims["sub"], claims["scope"], claims["tenant"]) == ("bob", "orders:read", "t1")
            assert claims["aud"] == "another-client"
            assert (token.kind, token.reason) == ("wrong_audience", "meant for another audience")

        def test_unknown_kind(idp):
            import pytest
            with pytest.raises(ValueError, match="unknown kind 'expird' .did you mean 'expired'..; choose one of"):
                idp.forge("expird")
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=2)


def test_forged_tokens_come_from_the_live_provider_when_the_test_uses_idp_live(
    strict_pytester: pytest.Pytester,
) -> None:
    # Otherwise an API configured for idp_live would refuse every forgery for its issuer alone, and a
    # test would pass even if the API never checked what the forgery is about.
    strict_pytester.makepyfile(
        """
        import jwt

        def test_forgery_issuer(idp_live, forged_token):
            claims = jwt.decode(forged_token, options={"verify_signature": False})
            if forged_token.kind == "wrong_issuer":
                assert claims["iss"] != idp_live.issuer
            else:
                assert claims["iss"] == idp_live.issuer
        """
    )

    strict_pytester.runpytest().assert_outcomes(passed=len(REASONS))
