"""What relying parties check of a login: ``acr`` and ``amr`` (OIDC Core §2), ``acr_values`` (§3.1.2.1),
the ``claims`` parameter (§5.5), and a client's ``default_max_age`` and ``default_acr_values``
(OIDC Registration §2)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from freezegun.api import FrozenDateTimeFactory
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import Client, ConfigError, KeyPool, MockIdP, User
from tests.flows import REDIRECT_URI, Browser, callback_params, client_auth, token_request
from tests.provider.conftest import START_TS
from tests.provider.test_authorize import Sent, id_token_of, make, parse_form, redirected_error, send

BOB = User.named("bob", sub="bob-sub", employee_id="E-7")


def tokens_of(idp: MockIdP, sent: Sent) -> dict[str, Any]:
    data = {"grant_type": "authorization_code", "code": callback_params(sent.response)["code"]}
    data |= {"redirect_uri": REDIRECT_URI, "code_verifier": sent.request.verifier or ""}
    answer = token_request(idp, data, auth=client_auth(idp))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def decoded(idp: MockIdP, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims  # type: ignore[arg-type]
    return claims


def userinfo(idp: MockIdP, access_token: str) -> dict[str, Any]:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        answer = client.get(idp.endpoint("userinfo"), headers={"Authorization": f"Bearer {access_token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def claims_param(**targets: dict[str, Any]) -> str:
    return json.dumps(targets)


# -- acr and amr ---------------------------------------------------------------------------------


def test_a_login_says_how_the_user_authenticated(provider: MockIdP) -> None:
    """RFC 8176 §2: mockidp's users log in with a password; no acr is claimed that nobody asked for."""
    tokens = tokens_of(provider, send(provider))
    id_token, access = decoded(provider, tokens["id_token"]), decoded(provider, tokens["access_token"])

    assert id_token["amr"] == access["amr"] == ["pwd"]
    assert "acr" not in id_token
    assert "acr" not in access


def test_the_first_acr_value_asked_for_is_reached(provider: MockIdP) -> None:
    tokens = tokens_of(provider, send(provider, acr_values="urn:mace:incommon:iap:silver phr"))

    assert decoded(provider, tokens["id_token"])["acr"] == "urn:mace:incommon:iap:silver"
    assert decoded(provider, tokens["access_token"])["acr"] == "urn:mace:incommon:iap:silver"  # RFC 9068 §2.2.3.1
    (record,) = provider.requests.filter(endpoint="authorize")
    assert record.acr == "urn:mace:incommon:iap:silver"


def test_configured_acr_values_are_advertised_and_the_first_one_listed_is_reached(key_pool: KeyPool) -> None:
    idp = make(key_pool, acr_values=("silver", "gold"))

    assert idp.app is not None
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        assert client.get(idp.metadata_url).json()["acr_values_supported"] == ["silver", "gold"]
    assert id_token_of(idp, send(idp))["acr"] == "silver"  # nothing asked: the provider's default
    assert id_token_of(idp, send(idp, acr_values="bronze gold"))["acr"] == "gold"
    assert id_token_of(idp, send(idp, acr_values="bronze"))["acr"] == "silver"  # acr_values are voluntary


def test_an_essential_acr_the_provider_cannot_reach_fails_the_request(key_pool: KeyPool) -> None:
    idp = make(key_pool, acr_values=("silver",))
    claims = claims_param(id_token={"acr": {"essential": True, "values": ["gold", "platinum"]}})

    assert redirected_error(idp, send(idp, claims=claims)) == (
        "unmet_authentication_requirements",
        "the claims parameter asks for acr 'gold' or 'platinum' as essential; this provider reaches 'silver'"
        " (ProviderConfig.acr_values; OIDC Core section 5.5.1.1)",
    )


def test_acr_asked_for_in_the_claims_parameter_comes_before_acr_values(provider: MockIdP) -> None:
    claims = claims_param(id_token={"acr": {"essential": True, "value": "gold"}})

    assert id_token_of(provider, send(provider, claims=claims, acr_values="silver"))["acr"] == "gold"


def test_a_session_at_another_acr_logs_in_again_for_step_up(
    provider: MockIdP, browser: Browser, clock: FrozenDateTimeFactory
) -> None:
    first = id_token_of(provider, send(provider, browser, acr_values="silver"))
    clock.tick(30)
    same = id_token_of(provider, send(provider, browser, acr_values="silver"))
    silent = send(provider, browser, acr_values="gold", prompt="none")
    stepped_up = id_token_of(provider, send(provider, browser, acr_values="gold"))

    assert same["sid"] == first["sid"]
    assert redirected_error(provider, silent) == (
        "login_required",
        "prompt=none, but the session's acr 'silver' is not the 'gold' the request asks for",
    )
    assert (stepped_up["acr"], stepped_up["auth_time"]) == ("gold", START_TS + 30)
    assert stepped_up["sid"] != first["sid"]


def test_a_client_default_acr_values_stand_in_for_a_request_without_them(key_pool: KeyPool) -> None:
    client = Client(client_id="mockidp-client", client_secret="mockidp-secret", default_acr_values=("phr", "phrh"))
    idp = make(key_pool, clients=(client,))

    assert id_token_of(idp, send(idp))["acr"] == "phr"
    assert id_token_of(idp, send(idp, acr_values="phrh"))["acr"] == "phrh"


def test_a_test_can_claim_any_acr_and_amr_for_a_login(provider: MockIdP) -> None:
    """A user's own claims of those names win: a test can make the login look like MFA."""
    provider.add_user(User.named("mfa", acr="gold", amr=["pwd", "otp"]))
    claims = id_token_of(provider, send(provider, login_hint="mfa"))

    assert (claims["acr"], claims["amr"]) == ("gold", ["pwd", "otp"])


# -- the claims parameter ----------------------------------------------------------------------


def test_claims_asked_for_by_name_are_released_beyond_the_scopes(provider: MockIdP) -> None:
    provider.add_user(BOB)
    claims = claims_param(id_token={"email": {"essential": True}}, userinfo={"name": None, "picture": None})
    tokens = tokens_of(provider, send(provider, login_hint="bob", scope="openid", claims=claims))
    id_token = decoded(provider, tokens["id_token"])
    info = userinfo(provider, tokens["access_token"])

    assert id_token["email"] == "bob@example.com"
    assert "name" not in id_token  # asked for at UserInfo only
    assert info["name"] == "Bob Example"
    assert "email" not in info  # asked for in the ID token only
    assert "picture" not in info  # asked for, but bob has none
    assert info["employee_id"] == "E-7"  # not a standard claim: released as before


def test_a_sub_asked_for_names_the_user_who_logs_in(provider: MockIdP, browser: Browser) -> None:
    provider.add_user(BOB)
    alice = id_token_of(provider, send(provider, browser))
    bob = id_token_of(provider, send(provider, browser, claims=claims_param(id_token={"sub": {"value": "bob-sub"}})))

    assert (alice["sub"], bob["sub"]) == ("alice", "bob-sub")
    assert bob["sid"] != alice["sid"]


def test_a_sub_asked_for_that_no_user_has_is_login_required(provider: MockIdP) -> None:
    sent = send(provider, claims=claims_param(userinfo={"sub": {"value": "nobody"}}))

    assert redirected_error(provider, sent) == (
        "login_required",
        "the claims parameter asks for sub 'nobody', which names no known user (OIDC Core section 5.5.1)",
    )


def test_a_sub_asked_for_must_be_the_user_who_logs_in_on_the_form(key_pool: KeyPool) -> None:
    idp = make(key_pool, users=(User.named("alice"), BOB), interactive=True)
    browser = Browser(idp)
    claims = claims_param(id_token={"sub": {"value": "bob-sub"}})
    page = send(idp, browser, claims=claims)
    assert page.response.status_code == 200
    form = parse_form(page.response.text)
    posted = browser.client.post(
        idp.endpoint("authorize"), data={**form.hidden, "mockidp_username": "alice", "mockidp_action": "login"}
    )

    assert redirected_error(idp, Sent(page.request, posted)) == (
        "access_denied",
        "the claims parameter asks for sub 'bob-sub', but 'alice' logged in (OIDC Core section 5.5.1)",
    )


@pytest.mark.parametrize(  # RFC 6749 §5.2: a description holds no double quote, so the JSON shows with single ones
    ("claims", "description"),
    [
        ("{", "claims must be a JSON object such as {'id_token': {'acr': null}}, got '{'"),
        ("[1]", "claims must be a JSON object with id_token and/or userinfo members, got '[1]'"),
        ('{"id_token": ["email"]}', "claims.id_token must be an object of claim names, got ['email']"),
        (
            '{"userinfo": {"email": true}}',
            "claims.userinfo.email must be null or an object such as {'essential': true}, got true",
        ),
        (
            '{"id_token": {"acr": {"essential": "yes"}}}',
            "claims.id_token.acr.essential must be true or false, got 'yes'",
        ),
        ('{"id_token": {"acr": {"values": []}}}', "claims.id_token.acr.values must be a non-empty array, got []"),
        (
            '{"id_token": {"acr": {"value": "a", "values": ["b"]}}}',
            "claims.id_token.acr has both value and values; send one",
        ),
    ],
)
def test_a_malformed_claims_parameter_is_invalid_request(provider: MockIdP, claims: str, description: str) -> None:
    assert redirected_error(provider, send(provider, claims=claims)) == (
        "invalid_request",
        f"{description} (OIDC Core section 5.5)",
    )


def test_members_of_the_claims_parameter_other_than_id_token_and_userinfo_are_ignored(provider: MockIdP) -> None:
    assert id_token_of(provider, send(provider, claims='{"vendor_extension": [1, 2]}'))["sub"] == "alice"


# -- max_age -----------------------------------------------------------------------------------


def test_a_client_default_max_age_forces_a_new_login_when_the_request_sends_none(
    key_pool: KeyPool, clock: FrozenDateTimeFactory
) -> None:
    client = Client(client_id="mockidp-client", client_secret="mockidp-secret", default_max_age=60)
    idp = make(key_pool, clients=(client,))
    browser = Browser(idp)
    first = id_token_of(idp, send(idp, browser))
    clock.tick(61)
    again = id_token_of(idp, send(idp, browser))
    clock.tick(61)
    asked_longer = id_token_of(idp, send(idp, browser, max_age="3600"))

    assert (first["auth_time"], again["auth_time"]) == (START_TS, START_TS + 61)
    assert asked_longer["sid"] == again["sid"]  # the request's own max_age wins


def test_a_wrong_default_max_age_is_refused_when_the_client_is_made() -> None:
    with pytest.raises(ConfigError, match="client 'c': default_max_age must be a whole number of seconds, got -1"):
        Client(client_id="c", default_max_age=-1)
