"""The JWT bearer grant: RFC 7523 §2.1 (the request) and §3 (iss, sub, aud, exp, nbf, iat, jti, signature),
with assertions signed by a key registered with ``MockIdP.trust``, checked on the provider's clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Final

import httpx2
import pytest
from authlib.integrations.httpx_client import AssertionClient, OAuthError
from freezegun import freeze_time
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from mockidp._errors import ConfigError
from tests.flows import client_auth, token_request

BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISSUER = "https://issuer.example"
TOKEN_ENDPOINT = "https://idp.mockidp.test/token"
T0 = 1893456000  # 2030-01-01 00:00:00 UTC


@pytest.fixture(scope="module")
def key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"alg": "ES256", "kid": "issuer-1"})


@pytest.fixture
def clock() -> Iterator[Any]:
    with freeze_time("2030-01-01 00:00:00") as frozen:
        yield frozen


@pytest.fixture
def idp(key_pool: KeyPool, key: ECKey, clock: Any) -> MockIdP:
    idp = MockIdP(ProviderConfig(users=(User.named("alice"), User.named("bob"))), keys=key_pool)
    idp.trust(ISSUER, key)
    return idp


def assertion(key: ECKey | RSAKey, header: dict[str, Any] | None = None, **claims: Any) -> str:
    body = {"iss": ISSUER, "sub": "bob", "aud": TOKEN_ENDPOINT, "iat": T0, "exp": T0 + 300, "jti": "j-1", **claims}
    head = {"alg": "ES256", "kid": key.kid, **(header or {})}
    return jwt.encode(head, {k: v for k, v in body.items() if v is not None}, key)


def grant(idp: MockIdP, value: str, **extra: str) -> httpx2.Response:
    return token_request(idp, {"grant_type": BEARER, "assertion": value, **extra}, auth=client_auth(idp))


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


def error_of(response: httpx2.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    return f"{body['error']}: {body['error_description']}"


def test_a_trusted_assertion_gets_tokens_for_its_subject(idp: MockIdP, key: ECKey) -> None:
    response = grant(idp, assertion(key), scope="openid profile")

    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "id_token", "scope", "token_type"]
    access = claims_of(idp, body["access_token"])
    assert (access["sub"], access["client_id"], access["scope"], access["name"]) == (
        "bob",
        "mockidp-client",
        "openid profile",
        "Bob Example",
    )
    assert claims_of(idp, body["id_token"])["sub"] == "bob"
    entry = idp.requests[-1]
    assert (entry.grant_type, entry.user, entry.scopes) == (BEARER, "bob", ("openid", "profile"))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://idp.mockidp.test"},
        {"aud": ["https://elsewhere.example", TOKEN_ENDPOINT]},
        {"sub": "bob@example.com"},
        {"jti": None},
        {"nbf": T0},
    ],
    ids=["aud is the issuer", "aud is a list", "sub is an email", "no jti", "nbf is now"],
)
def test_what_an_assertion_may_also_say(idp: MockIdP, key: ECKey, claims: dict[str, Any]) -> None:
    assert grant(idp, assertion(key, **claims)).status_code == 200


def test_a_jti_is_used_once(idp: MockIdP, key: ECKey) -> None:
    first, again = grant(idp, assertion(key)), grant(idp, assertion(key))

    assert first.status_code == 200
    assert error_of(again) == (
        "invalid_grant: the assertion with jti 'j-1' from 'https://issuer.example' was already used; an assertion is"
        " used once (RFC 7523 section 3, item 7)"
    )


def test_the_same_jti_from_another_issuer_is_another_assertion(idp: MockIdP, key: ECKey) -> None:
    idp.trust("https://second.example", key)

    assert grant(idp, assertion(key)).status_code == 200
    assert grant(idp, assertion(key, iss="https://second.example")).status_code == 200


@pytest.mark.parametrize(("seconds", "status"), [(299, 200), (300, 400)])
def test_exp_is_checked_on_the_providers_clock(idp: MockIdP, key: ECKey, clock: Any, seconds: int, status: int) -> None:
    clock.tick(seconds)

    response = grant(idp, assertion(key))

    assert response.status_code == status
    if status == 400:
        assert error_of(response) == (
            f"invalid_grant: the assertion expired: its exp {T0 + 300} is not after now ({T0 + 300})"
            " (RFC 7523 section 3, item 4)"
        )


def test_trust_takes_a_joserfc_key_set(key_pool: KeyPool, key: ECKey, clock: Any) -> None:
    idp = MockIdP(ProviderConfig(users=(User.named("bob"),)), keys=key_pool)
    idp.trust(ISSUER, KeySet([key]))

    assert grant(idp, assertion(key)).status_code == 200


def test_trust_takes_a_jwk_set_as_json(key_pool: KeyPool, key: ECKey, clock: Any) -> None:
    idp = MockIdP(ProviderConfig(users=(User.named("bob"),)), keys=key_pool)
    idp.trust(ISSUER, json.dumps(KeySet([key]).as_dict(private=False)))

    assert grant(idp, assertion(key)).status_code == 200


@pytest.mark.parametrize(
    ("key_arg", "message"),
    [
        ("not json", "a key given as text must be a JWK or JWK Set in JSON"),
        ({"kty": "nope"}, "the key is not a JWK or JWK Set this provider can use (RFC 7517):"),
        (
            {"keys": []},
            "the key is not a JWK or JWK Set this provider can use (RFC 7517): missing_key: No keys to import",
        ),
        (42, "a trusted key must be a joserfc key, a JWK or a JWK Set (a dict or its JSON), got int"),
    ],
)
def test_trust_refuses_what_is_not_a_key(idp: MockIdP, key_arg: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        idp.trust(ISSUER, key_arg)

    assert str(caught.value).startswith(message)


def test_trust_refuses_an_empty_issuer(idp: MockIdP, key: ECKey) -> None:
    with pytest.raises(ConfigError, match=r"^a trusted issuer must be a non-empty string, got ''\nsee: "):
        idp.trust("", key)


# -- the negative matrix --------------------------------------------------------------------------

OTHER_KEY = ECKey.generate_key("P-256", parameters={"alg": "ES256", "kid": "issuer-1"})

BAD_ASSERTIONS: list[tuple[str, Any, str]] = [
    (
        "not a JWT",
        lambda key: "opaque",
        "the assertion is not usable: it is not a signed JWT (a JWS in compact form has 3 parts, this has 1)"
        " (RFC 7523 section 3, item 9)",
    ),
    (
        "three parts, not base64",
        lambda key: "a.b.c",
        "the assertion is not usable: it is not a JWT (DecodeError) (RFC 7523 section 3, item 9)",
    ),
    (
        "a payload that is not an object",
        lambda key: "eyJhbGciOiJFUzI1NiJ9.WzFd.c2ln",
        "the assertion is not usable: it is not a JWT: its payload is not a JSON object (RFC 7523 section 3, item 9)",
    ),
    (
        "no iss",
        lambda key: assertion(key, iss=None),
        "the assertion has no iss claim naming who signed it (RFC 7523 section 3, item 1)",
    ),
    (
        "untrusted iss",
        lambda key: assertion(key, iss="https://issuer.exampel"),
        "the assertion is from 'https://issuer.exampel' (did you mean 'https://issuer.example'?), which this"
        " provider does not trust; trusted: https://issuer.example (MockIdP.trust registers an issuer's key)"
        " (RFC 7523 section 3, item 1)",
    ),
    (
        "signed by another key",
        lambda key: assertion(OTHER_KEY),
        "the assertion from 'https://issuer.example' is refused: its signature does not verify with the issuer's keys"
        " (bad_signature) (RFC 7523 section 3, item 9)",
    ),
    (
        "unsigned",
        lambda key: "eyJhbGciOiJub25lIn0." + assertion(key).split(".")[1] + ".",
        "the assertion from 'https://issuer.example' is refused: its signature does not verify with the issuer's keys"
        " (unsupported_algorithm) (RFC 7523 section 3, item 9)",
    ),
    (
        "no sub",
        lambda key: assertion(key, sub=None),
        "the assertion has no sub claim naming the user it is about (RFC 7523 section 3, item 2)",
    ),
    (
        "unknown sub",
        lambda key: assertion(key, sub="bobb"),
        "the assertion is about 'bobb' (did you mean 'bob'?), who is not a user of this provider; users: alice, bob"
        " (MockIdP.add_user adds one) (RFC 7523 section 3, item 2)",
    ),
    (
        "wrong aud",
        lambda key: assertion(key, aud="https://idp.mockidp.test/authorize"),
        "the assertion has the aud 'https://idp.mockidp.test/authorize'; it must name this provider's token endpoint"
        " 'https://idp.mockidp.test/token' or its issuer 'https://idp.mockidp.test' (RFC 7523 section 3, item 3)",
    ),
    (
        "no aud",
        lambda key: assertion(key, aud=None),
        "the assertion has the aud None; it must name this provider's token endpoint"
        " 'https://idp.mockidp.test/token' or its issuer 'https://idp.mockidp.test' (RFC 7523 section 3, item 3)",
    ),
    ("no exp", lambda key: assertion(key, exp=None), "the assertion has no exp claim (RFC 7523 section 3, item 4)"),
    (
        "exp not a number",
        lambda key: assertion(key, exp="tomorrow"),
        "the assertion has a exp that is not a number of seconds: 'tomorrow' (RFC 7523 section 3, item 4)",
    ),
    (
        "expired",
        lambda key: assertion(key, exp=T0 - 1),
        f"the assertion expired: its exp {T0 - 1} is not after now ({T0}) (RFC 7523 section 3, item 4)",
    ),
    (
        "not valid yet",
        lambda key: assertion(key, nbf=T0 + 1),
        f"the assertion is not valid yet: its nbf {T0 + 1} is after now ({T0}) (RFC 7523 section 3, item 5)",
    ),
    (
        "iat not a number",
        lambda key: assertion(key, iat=True),
        "the assertion has a iat that is not a number of seconds: True (RFC 7523 section 3, item 6)",
    ),
    (
        "jti not a string",
        lambda key: assertion(key, jti=7),
        "the assertion has a jti that is not a non-empty string: 7 (RFC 7523 section 3, item 7)",
    ),
]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in BAD_ASSERTIONS], ids=[c[0] for c in BAD_ASSERTIONS])
def test_bad_assertions(idp: MockIdP, key: ECKey, make: Any, message: str) -> None:
    response = grant(idp, make(key))

    assert error_of(response) == f"invalid_grant: {message}"
    assert idp.requests[-1].error == "invalid_grant"


def test_no_issuer_is_trusted_by_default(key_pool: KeyPool, key: ECKey, clock: Any) -> None:
    idp = MockIdP(keys=key_pool)

    assert error_of(grant(idp, assertion(key, sub="alice"))) == (
        "invalid_grant: the assertion is from 'https://issuer.example', which this provider does not trust;"
        " trusted: none (MockIdP.trust registers an issuer's key) (RFC 7523 section 3, item 1)"
    )


def test_the_assertion_is_required(idp: MockIdP) -> None:
    response = token_request(idp, {"grant_type": BEARER}, auth=client_auth(idp))

    assert error_of(response) == f"invalid_request: assertion is required for grant_type {BEARER}"


def test_the_clients_scope_limits_apply(idp: MockIdP, key: ECKey) -> None:
    idp.add_client(Client(client_id="svc", client_secret="s", scope=("read",)))

    response = token_request(
        idp, {"grant_type": BEARER, "assertion": assertion(key), "scope": "read write"}, auth=("svc", "s")
    )

    assert error_of(response) == "invalid_scope: client 'svc' may not ask for write; allowed: read"


def test_a_client_that_does_not_list_the_grant_may_not_use_it(idp: MockIdP, key: ECKey) -> None:
    idp.add_client(Client(client_id="web", client_secret="s", grant_types=("authorization_code",)))

    response = token_request(idp, {"grant_type": BEARER, "assertion": assertion(key)}, auth=("web", "s"))

    assert (
        error_of(response) == f"unauthorized_client: client 'web' may not use {BEARER}; it may use authorization_code"
    )


# -- authlib and a real socket ---------------------------------------------------------------------


def test_authlibs_assertion_client(key_pool: KeyPool) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"alg": "RS256", "kid": "svc"})
    idp = MockIdP(ProviderConfig(clients=(Client(client_id="svc"),)), keys=key_pool)
    idp.trust("svc-issuer", rsa.as_dict(private=False))
    client = AssertionClient(
        token_endpoint=idp.endpoint("token"),
        issuer="svc-issuer",
        subject="alice",
        key=rsa,
        header={"alg": "RS256", "kid": "svc"},
        client_id="svc",
        scope="openid",
        transport=idp.transport("httpx2"),
    )
    with client:
        token = client.refresh_token()
        with pytest.raises(OAuthError) as refused:
            AssertionClient(
                token_endpoint=idp.endpoint("token"),
                issuer="svc-issuer",
                subject="mallory",
                key=rsa,
                header={"alg": "RS256", "kid": "svc"},
                client_id="svc",
                transport=idp.transport("httpx2"),
            ).refresh_token()

    assert claims_of(idp, token["id_token"])["sub"] == "alice"
    assert refused.value.error == "invalid_grant"
    assert refused.value.description.startswith("the assertion is about 'mallory', who is not a user of this provider")


def test_the_grant_over_a_real_socket(key_pool: KeyPool, key: ECKey) -> None:
    idp = MockIdP(keys=key_pool)
    idp.trust(ISSUER, key)
    with idp.serve() as issuer, httpx2.Client() as client:
        now = int(time.time())
        signed = assertion(key, sub="alice", aud=issuer + "/token", iat=now, exp=now + 60)
        response = client.post(
            issuer + "/token", data={"grant_type": BEARER, "assertion": signed}, auth=client_auth(idp)
        )
        keys = KeySet.import_key_set(client.get(issuer + "/jwks").json())

    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], keys).claims
    assert (claims["iss"], claims["sub"]) == (issuer, "alice")
