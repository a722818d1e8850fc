"""Token exchange: RFC 8693 §2.1 (the request), §2.2 (the response, ``issued_token_type``), §2.2.2
(``invalid_request``, ``invalid_target``), §3 (token types), §4.1 (``act``, nested) and §4.4 (``may_act``),
with subject and actor tokens of this provider and of issuers it trusts (``MockIdP.trust``).
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from freezegun import freeze_time
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from mockidp._errors import ConfigError
from tests.flows import client_auth, token_request

EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ID = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
PARTNER = "https://partner.example"


@pytest.fixture(scope="module")
def partner_key() -> ECKey:
    """The key the partner issuer signs its JWTs with."""
    return ECKey.generate_key("P-256", parameters={"alg": "ES256", "kid": "partner-1"})


def partner_jwt(key: ECKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": PARTNER, "sub": "p-123", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, {k: v for k, v in body.items() if v is not None}, key)


@pytest.fixture
def other(key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(issuer="https://other.example"), keys=key_pool)


@pytest.fixture
def idp(key_pool: KeyPool, other: MockIdP, partner_key: ECKey) -> MockIdP:
    idp = MockIdP(ProviderConfig(users=(User.named("alice"), User.named("bob"))), keys=key_pool)
    idp.trust(other)
    idp.trust(PARTNER, partner_key.as_dict(private=False))
    return idp


def exchange(idp: MockIdP, subject_token: str, subject_token_type: str = ACCESS, **extra: str) -> httpx2.Response:
    data = {"grant_type": EXCHANGE, "subject_token": subject_token, "subject_token_type": subject_token_type, **extra}
    return token_request(idp, data, auth=client_auth(idp))


def issued(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


def error_of(response: httpx2.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    return f"{body['error']}: {body['error_description']}"


def access_token(idp: MockIdP, user: str = "alice", **issue: Any) -> str:
    return idp.issue_tokens(user=user, scope=issue.pop("scope", "openid profile"), **issue).access_token


# -- what comes out --------------------------------------------------------------------------------


def test_an_access_token_becomes_one_for_another_audience(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp), audience="https://api.example"))

    assert (body["issued_token_type"], body["token_type"], body["scope"]) == (ACCESS, "Bearer", "openid profile")
    claims = claims_of(idp, body["access_token"])
    assert (claims["sub"], claims["aud"], claims["client_id"]) == ("alice", "https://api.example", "mockidp-client")
    assert "act" not in claims
    assert idp.requests[-1].grant_type == EXCHANGE
    assert idp.requests[-1].user == "alice"


def test_the_new_access_token_works_at_userinfo(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp)))

    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        answer = client.get(idp.endpoint("userinfo"), headers={"Authorization": f"Bearer {body['access_token']}"})

    assert answer.status_code == 200
    assert answer.json()["sub"] == "alice"


def test_audience_and_resource_both_go_in_aud(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp), audience="orders", resource="https://orders.example/v1"))

    assert claims_of(idp, body["access_token"])["aud"] == ["orders", "https://orders.example/v1"]


def test_an_id_token_can_be_asked_for(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp), requested_token_type=ID))

    assert (body["issued_token_type"], body["token_type"], body["expires_in"]) == (ID, "N_A", 3600)
    claims = claims_of(idp, body["access_token"])
    assert (claims["sub"], claims["aud"], claims["name"]) == ("alice", "mockidp-client", "Alice Example")


def test_a_jwt_can_be_asked_for(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp), requested_token_type=JWT))

    assert body["issued_token_type"] == JWT
    assert claims_of(idp, body["access_token"])["sub"] == "alice"


def test_an_id_token_is_a_subject_token_too(idp: MockIdP) -> None:
    id_token = idp.issue_tokens(user="bob").id_token
    assert id_token is not None

    body = issued(exchange(idp, id_token, ID, scope="openid"))

    assert claims_of(idp, body["access_token"])["sub"] == "bob"


# -- scope ------------------------------------------------------------------------------------------


def test_the_scope_may_narrow_the_subject_tokens_scope(idp: MockIdP) -> None:
    body = issued(exchange(idp, access_token(idp), scope="openid"))

    assert body["scope"] == "openid"


def test_the_scope_may_not_widen_it(idp: MockIdP) -> None:
    assert error_of(exchange(idp, access_token(idp), scope="openid admin")) == (
        "invalid_scope: a token exchange may narrow the subject token's scope, not widen it; not in it: admin"
    )


# -- act: delegation --------------------------------------------------------------------------------


def test_an_actor_token_adds_act(idp: MockIdP) -> None:
    actor = idp.issue_tokens(client=Client(client_id="gateway", client_secret="g"), user="bob").access_token

    body = issued(exchange(idp, access_token(idp), actor_token=actor, actor_token_type=ACCESS))

    claims = claims_of(idp, body["access_token"])
    assert (claims["sub"], claims["act"]) == ("alice", {"sub": "bob"})


def test_an_act_the_subject_token_had_nests_under_the_new_actor(idp: MockIdP) -> None:
    first = issued(exchange(idp, access_token(idp), actor_token=access_token(idp, "bob"), actor_token_type=ACCESS))
    idp.add_user(User.named("carol"))

    second = issued(
        exchange(idp, first["access_token"], actor_token=access_token(idp, "carol"), actor_token_type=ACCESS)
    )

    assert claims_of(idp, second["access_token"])["act"] == {"sub": "carol", "act": {"sub": "bob"}}


def test_without_an_actor_the_subject_tokens_act_is_kept(idp: MockIdP) -> None:
    first = issued(exchange(idp, access_token(idp), actor_token=access_token(idp, "bob"), actor_token_type=ACCESS))

    second = issued(exchange(idp, first["access_token"]))

    assert claims_of(idp, second["access_token"])["act"] == {"sub": "bob"}


def test_an_actor_of_another_issuer_is_named_with_its_iss(idp: MockIdP, other: MockIdP) -> None:
    actor = other.issue_tokens(user="alice").access_token

    body = issued(exchange(idp, access_token(idp, "bob"), actor_token=actor, actor_token_type=ACCESS))

    assert claims_of(idp, body["access_token"])["act"] == {"sub": "alice", "iss": "https://other.example"}


def test_may_act_names_who_may_act(idp: MockIdP) -> None:
    subject = access_token(idp, claims={"may_act": {"sub": "bob"}})

    allowed = exchange(idp, subject, actor_token=access_token(idp, "bob"), actor_token_type=ACCESS)
    refused = exchange(idp, subject, actor_token=access_token(idp, "alice"), actor_token_type=ACCESS)

    assert claims_of(idp, issued(allowed)["access_token"])["act"] == {"sub": "bob"}
    assert error_of(refused) == (
        "invalid_request: the actor_token is about 'alice', whom the subject token's may_act does not name"
        " ({'sub': 'bob'}, RFC 8693 section 4.4) (RFC 8693 section 2.2.2)"
    )


# -- tokens of other issuers -----------------------------------------------------------------------


def test_a_trusted_providers_access_token_is_a_subject_token(idp: MockIdP, other: MockIdP) -> None:
    foreign = other.issue_tokens(user="alice", scope="openid email").access_token

    body = issued(exchange(idp, foreign))

    claims = claims_of(idp, body["access_token"])
    assert (claims["iss"], claims["sub"], claims["scope"]) == ("https://idp.mockidp.test", "alice", "openid email")
    assert "email" not in claims  # the subject is the other issuer's alice, not this provider's


def test_trust_follows_the_other_providers_key_rotation(idp: MockIdP, other: MockIdP) -> None:
    other.rotate_keys("ES256")

    body = issued(exchange(idp, other.issue_tokens(user="alice").access_token))

    assert claims_of(idp, body["access_token"])["sub"] == "alice"


def test_a_jwt_signed_by_a_trusted_key_is_a_subject_token(idp: MockIdP, partner_key: ECKey) -> None:
    body = issued(exchange(idp, partner_jwt(partner_key, exp=None), JWT, audience="ledger"))

    claims = claims_of(idp, body["access_token"])
    assert (claims["sub"], claims["aud"], claims["scope"]) == ("p-123", "ledger", "")


def test_trust_refuses_what_it_cannot_use(idp: MockIdP, other: MockIdP) -> None:
    with pytest.raises(ValueError, match=r"^a provider trusts its own tokens already$"):
        idp.trust(idp)
    with pytest.raises(TypeError, match=r"^key= goes with an issuer name; another MockIdP's keys are read from its"):
        idp.trust(other, key={})
    with pytest.raises(TypeError, match=r"^trust\('https://x.example'\) needs key=, the key that issuer signs with"):
        idp.trust("https://x.example")


# -- the negative matrix ------------------------------------------------------------------------------

SUFFIX = " (RFC 8693 section 2.2.2)"


def stranger_token(idp: MockIdP) -> str:
    """A token naming this provider as issuer, signed by a key it never published."""
    now = int(time.time())
    claims = {"iss": idp.issuer, "sub": "alice", "exp": now + 60, "jti": "x"}
    return idp.keys.sign_as_stranger(claims, typ="at+jwt")


BAD_REQUESTS: list[tuple[str, Any, str]] = [
    (
        "no subject_token",
        lambda idp, key: {"subject_token_type": ACCESS},
        f"invalid_request: subject_token is required for grant_type {EXCHANGE}",
    ),
    (
        "no subject_token_type",
        lambda idp, key: {"subject_token": access_token(idp)},
        f"invalid_request: subject_token_type is required for grant_type {EXCHANGE}",
    ),
    (
        "unknown subject_token_type",
        lambda idp, key: {"subject_token": access_token(idp), "subject_token_type": "urn:x:access_token"},
        f"invalid_request: unknown subject_token_type 'urn:x:access_token'; choose one of {ACCESS}, {ID}, {JWT}"
        " (RFC 8693 section 3)",
    ),
    (
        "refresh token as subject",
        lambda idp, key: {
            "subject_token": "abc",
            "subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token",
        },
        "invalid_request: unknown subject_token_type 'urn:ietf:params:oauth:token-type:refresh_token'"
        f" (did you mean '{ACCESS}'?); choose one of {ACCESS}, {ID}, {JWT} (RFC 8693 section 3)",
    ),
    (
        "not a JWT",
        lambda idp, key: {"subject_token": "opaque", "subject_token_type": ACCESS},
        "invalid_request: the subject_token is not usable: it is not a signed JWT (a JWS in compact form has 3 parts,"
        " this has 1)" + SUFFIX,
    ),
    (
        "no iss",
        lambda idp, key: {"subject_token": partner_jwt(key, iss=None), "subject_token_type": JWT},
        "invalid_request: the subject_token has no iss claim naming who issued it" + SUFFIX,
    ),
    (
        "untrusted issuer",
        lambda idp, key: {"subject_token": partner_jwt(key, iss="https://evil.example"), "subject_token_type": JWT},
        "invalid_request: the subject_token was issued by 'https://evil.example', which this provider does not trust;"
        " trusted issuers: https://idp.mockidp.test, https://other.example, https://partner.example"
        " (MockIdP.trust adds one)" + SUFFIX,
    ),
    (
        "signed by another key",
        lambda idp, key: {
            "subject_token": partner_jwt(ECKey.generate_key("P-256", parameters={"alg": "ES256", "kid": "partner-1"})),
            "subject_token_type": JWT,
        },
        "invalid_request: the subject_token was not signed by 'https://partner.example': its signature does not verify"
        " with the issuer's keys (bad_signature)" + SUFFIX,
    ),
    (
        "forged with this issuer's name",
        lambda idp, key: {"subject_token": stranger_token(idp), "subject_token_type": ID},
        "invalid_request: the subject_token names this provider as its issuer, but its signature does not verify"
        + SUFFIX,
    ),
    (
        "an access token declared an ID token",
        lambda idp, key: {"subject_token": access_token(idp), "subject_token_type": ID},
        f"invalid_request: the subject_token is an access token, not an ID token: send subject_token_type {ACCESS}"
        + SUFFIX,
    ),
    (
        "expired",
        lambda idp, key: {"subject_token": partner_jwt(key, exp=int(time.time()) - 1), "subject_token_type": JWT},
        "invalid_request: the subject_token expired" + SUFFIX,
    ),
    (
        "not valid yet",
        lambda idp, key: {"subject_token": partner_jwt(key, nbf=int(time.time()) + 60), "subject_token_type": JWT},
        "invalid_request: the subject_token is not valid yet (its nbf is in the future)" + SUFFIX,
    ),
    (
        "exp not a number",
        lambda idp, key: {"subject_token": partner_jwt(key, exp="soon"), "subject_token_type": JWT},
        "invalid_request: the subject_token has a exp claim that is not a number: 'soon'" + SUFFIX,
    ),
    (
        "a foreign access token without exp",
        lambda idp, key: {"subject_token": partner_jwt(key, exp=None), "subject_token_type": ACCESS},
        "invalid_request: the subject_token has no exp claim" + SUFFIX,
    ),
    (
        "no sub",
        lambda idp, key: {"subject_token": partner_jwt(key, sub=None), "subject_token_type": JWT},
        "invalid_request: the subject_token has no sub claim naming whom it is about" + SUFFIX,
    ),
    (
        "actor_token_type alone",
        lambda idp, key: {
            "subject_token": access_token(idp),
            "subject_token_type": ACCESS,
            "actor_token_type": ACCESS,
        },
        "invalid_request: actor_token_type was sent without an actor_token (RFC 8693 section 2.1)",
    ),
    (
        "actor_token without its type",
        lambda idp, key: {"subject_token": access_token(idp), "subject_token_type": ACCESS, "actor_token": "x"},
        "invalid_request: actor_token_type is required with an actor_token (RFC 8693 section 2.1)",
    ),
    (
        "a bad actor token",
        lambda idp, key: {
            "subject_token": access_token(idp),
            "subject_token_type": ACCESS,
            "actor_token": "x.y",
            "actor_token_type": ACCESS,
        },
        "invalid_request: the actor_token is not usable: it is not a signed JWT (a JWS in compact form has 3 parts,"
        " this has 2)" + SUFFIX,
    ),
    (
        "unsupported requested_token_type",
        lambda idp, key: {
            "subject_token": access_token(idp),
            "subject_token_type": ACCESS,
            "requested_token_type": "urn:ietf:params:oauth:token-type:saml2",
        },
        "invalid_request: this provider cannot issue a token of type 'urn:ietf:params:oauth:token-type:saml2';"
        f" requested_token_type may be {ACCESS}, {ID}, {JWT} (RFC 8693 section 2.1)",
    ),
    (
        "a resource that is not an absolute URI",
        lambda idp, key: {"subject_token": access_token(idp), "subject_token_type": ACCESS, "resource": "/api"},
        "invalid_target: resource '/api' must be an absolute URI without a fragment (RFC 8693 section 2.1)",
    ),
    (
        "a resource with a fragment",
        lambda idp, key: {
            "subject_token": access_token(idp),
            "subject_token_type": ACCESS,
            "resource": "https://api.example/#x",
        },
        "invalid_target: resource 'https://api.example/#x' must be an absolute URI without a fragment"
        " (RFC 8693 section 2.1)",
    ),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_bad_exchanges(idp: MockIdP, partner_key: ECKey, data: Any, message: str) -> None:
    response = token_request(idp, {"grant_type": EXCHANGE, **data(idp, partner_key)}, auth=client_auth(idp))

    assert error_of(response) == message
    assert idp.requests[-1].error == message.split(":")[0]


def test_a_forged_access_token_is_refused(idp: MockIdP) -> None:
    token = stranger_token(idp)
    kid = jws.extract_compact(token.encode()).headers()["kid"]

    assert error_of(exchange(idp, token)) == (
        "invalid_request: the subject_token is not a live access token of this provider: the token is not a JWT"
        f" signed by this provider (invalid_key_id: No key for kid: {kid!r})" + SUFFIX
    )


def test_a_revoked_access_token_is_refused(idp: MockIdP) -> None:
    token = access_token(idp)
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        client.post(idp.endpoint("revocation"), data={"token": token}, auth=client_auth(idp)).raise_for_status()

    assert error_of(exchange(idp, token)) == (
        "invalid_request: the subject_token is not a live access token of this provider: the access token was revoked"
        + SUFFIX
    )


def test_an_expired_id_token_is_refused(idp: MockIdP) -> None:
    with freeze_time("2030-01-01") as clock:
        id_token = idp.issue_tokens(user="alice").id_token
        assert id_token is not None
        clock.tick(3600)

        assert error_of(exchange(idp, id_token, ID)) == "invalid_request: the subject_token expired" + SUFFIX


@pytest.fixture
def targeted(key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(token_exchange_targets=("orders", "https://billing.example")), keys=key_pool)


def test_token_exchange_targets_limit_audience_and_resource(targeted: MockIdP) -> None:
    token = access_token(targeted, scope="openid")

    allowed = exchange(targeted, token, audience="orders", resource="https://billing.example")
    audience = exchange(targeted, token, audience="order")
    resource = exchange(targeted, token, resource="https://shipping.example")

    assert claims_of(targeted, issued(allowed)["access_token"])["aud"] == ["orders", "https://billing.example"]
    assert error_of(audience) == (
        "invalid_target: unknown token exchange target 'order' (did you mean 'orders'?); choose one of orders,"
        " https://billing.example (ProviderConfig.token_exchange_targets)"
    )
    assert error_of(resource).startswith("invalid_target: unknown token exchange target 'https://shipping.example'")


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (("orders", ""), "ProviderConfig.token_exchange_targets must hold audiences or resource URIs, got ''"),
        ("orders", "ProviderConfig.token_exchange_targets must be a sequence, got 'orders'"),
        ((1,), "ProviderConfig.token_exchange_targets must hold str objects, got 1"),
    ],
)
def test_token_exchange_targets_are_checked(targets: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProviderConfig(token_exchange_targets=targets)

    assert str(caught.value) == message


def test_a_client_that_does_not_list_the_grant_may_not_exchange(idp: MockIdP) -> None:
    idp.add_client(Client(client_id="web", client_secret="s", grant_types=("authorization_code",)))
    data = {"grant_type": EXCHANGE, "subject_token": access_token(idp), "subject_token_type": ACCESS}

    response = token_request(idp, data, auth=("web", "s"))

    assert (
        error_of(response) == f"unauthorized_client: client 'web' may not use {EXCHANGE}; it may use authorization_code"
    )


# -- third-party clients and a real socket ---------------------------------------------------------


def test_authlib_exchanges_a_token(idp: MockIdP) -> None:
    with OAuth2Client("mockidp-client", "mockidp-secret", transport=idp.transport("httpx2")) as client:
        token = client.fetch_token(
            idp.endpoint("token"),
            grant_type=EXCHANGE,
            subject_token=access_token(idp),
            subject_token_type=ACCESS,
            audience="https://api.example",
        )

    assert token["issued_token_type"] == ACCESS
    assert claims_of(idp, token["access_token"])["aud"] == "https://api.example"


def test_exchange_over_a_real_socket_with_a_served_partner(key_pool: KeyPool, other: MockIdP) -> None:
    idp = MockIdP(keys=key_pool)
    idp.trust(other)
    with other.serve() as other_issuer, idp.serve() as issuer, httpx2.Client() as client:
        foreign = other.issue_tokens(user="alice").access_token
        response = client.post(
            issuer + "/token",
            data={"grant_type": EXCHANGE, "subject_token": foreign, "subject_token_type": ACCESS, "audience": "a"},
            auth=client_auth(idp),
        )
        keys = KeySet.import_key_set(client.get(issuer + "/jwks").json())

    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], keys).claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (issuer, "alice", "a")
    assert other_issuer != issuer
