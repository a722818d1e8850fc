"""Client authentication with signed JWTs (RFC 7523 §2.2 and §3, OIDC Core §9): ``client_secret_jwt`` and
``private_key_jwt`` through authlib's clients, the negative matrix through raw HTTP, and the registered
``token_endpoint_auth_method`` enforced."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from freezegun import freeze_time
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from mockidp._server import base_url, bind, serve_socket
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET = "a-shared-secret-of-thirty-two-bytes!"


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "svc-1"})


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "svc-ec"})


@pytest.fixture
def idp(key_pool: KeyPool, rsa_key: RSAKey, ec_key: ECKey) -> MockIdP:
    clients = (
        Client(client_id="svc", jwks={"keys": [rsa_key.as_dict(private=False), ec_key.as_dict(private=False)]}),
        Client(client_id="hmac", client_secret=SECRET, token_endpoint_auth_method="client_secret_jwt"),
        Client(client_id="web", client_secret=SECRET),
        Client(client_id="post", client_secret=SECRET, token_endpoint_auth_method="client_secret_post"),
    )
    return MockIdP(ProviderConfig(clients=clients), keys=key_pool)


def assertion(idp: MockIdP, key: Any, alg: str = "RS256", *, client_id: str = "svc", **claims: Any) -> str:
    """A client assertion as RFC 7523 §3 asks for it; ``claims`` override (None drops one)."""
    now = int(idp.now())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": idp.endpoint("token"),
        "exp": now + 60,
        "iat": now,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    signer = OctKey.import_key(key) if isinstance(key, str) else key
    return jwt.encode({"alg": alg}, {k: v for k, v in body.items() if v is not None}, signer)


def provider_keys(idp: MockIdP) -> KeySet:
    return KeySet.import_key_set(idp.jwks())  # type: ignore[arg-type]


def post(idp: MockIdP, endpoint: str, data: dict[str, str], **kwargs: Any) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as http:
        return http.post(idp.endpoint(endpoint), data=data, **kwargs)


def credentials(idp: MockIdP, token: str, **extra: str) -> httpx2.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": token}
    return post(idp, "token", {**data, **extra})


def refused(response: httpx2.Response, status: int = 401) -> str:
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert body["error"] == ("invalid_client" if status == 401 else "invalid_request")
    return body["error_description"]


# -- through authlib ------------------------------------------------------------------------------


def test_authlib_gets_tokens_with_client_secret_jwt(idp: MockIdP) -> None:
    with OAuth2Client(
        "hmac", SECRET, token_endpoint_auth_method="client_secret_jwt", transport=idp.transport("httpx2")
    ) as client:
        client.register_client_auth_method(ClientSecretJWT(idp.endpoint("token")))
        token = client.fetch_token(idp.endpoint("token"), grant_type="client_credentials")

    assert token["token_type"] == "Bearer"
    assert (idp.requests[-1].client_id, idp.requests[-1].client_auth_method) == ("hmac", "client_secret_jwt")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_authlib_gets_tokens_with_private_key_jwt(idp: MockIdP, rsa_key: RSAKey, ec_key: ECKey, alg: str) -> None:
    key = ec_key if alg == "ES256" else rsa_key
    with OAuth2Client(
        "svc", key, token_endpoint_auth_method="private_key_jwt", transport=idp.transport("httpx2")
    ) as client:
        client.register_client_auth_method(PrivateKeyJWT(idp.endpoint("token"), alg=alg))
        token = client.fetch_token(idp.endpoint("token"), grant_type="client_credentials")

    claims = jwt.decode(token["access_token"], provider_keys(idp)).claims
    assert (claims["client_id"], idp.requests[-1].client_auth_method) == ("svc", "private_key_jwt")


def test_a_private_key_jwt_client_runs_the_code_flow(idp: MockIdP, rsa_key: RSAKey) -> None:
    request = auth_request(idp, True, client_id="svc")
    code = callback_params(Browser(idp).authorize(request))["code"]
    with OAuth2Client(
        "svc", rsa_key, token_endpoint_auth_method="private_key_jwt", transport=idp.transport("httpx2")
    ) as client:
        client.register_client_auth_method(PrivateKeyJWT(idp.endpoint("token")))
        token = client.fetch_token(
            idp.endpoint("token"), grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI,
            code_verifier=request.verifier,
        )  # fmt: skip

    claims = jwt.decode(token["id_token"], provider_keys(idp)).claims
    assert (claims["aud"], claims["sub"]) == ("svc", "alice")


@pytest.mark.parametrize("endpoint", ["introspection", "revocation", "par"])
def test_the_other_authenticated_endpoints_take_an_assertion(idp: MockIdP, rsa_key: RSAKey, endpoint: str) -> None:
    tokens = idp.issue_tokens(client="svc")
    data = {"token": tokens.access_token} if endpoint != "par" else {
        "response_type": "code", "client_id": "svc", "redirect_uri": "http://testserver/cb", "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
    }  # fmt: skip
    token = assertion(idp, rsa_key, aud=idp.endpoint(endpoint))

    answer = post(idp, endpoint, {**data, "client_assertion_type": ASSERTION_TYPE, "client_assertion": token})

    assert answer.status_code in (200, 201), answer.text
    assert idp.requests[-1].client_auth_method == "private_key_jwt"


def test_the_issuer_is_an_audience_too(idp: MockIdP, rsa_key: RSAKey) -> None:
    assert credentials(idp, assertion(idp, rsa_key, aud=[idp.issuer, "https://other.example"])).status_code == 200


# -- jwks_uri -------------------------------------------------------------------------------------


@pytest.fixture
def key_server(rsa_key: RSAKey) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A client's JWK Set served over loopback: a list the test may change, and its URL."""
    served: list[dict[str, Any]] = [rsa_key.as_dict(private=False)]

    async def jwks(request: Request) -> Response:
        if not served:
            return Response(status_code=404)
        return JSONResponse({"keys": served})

    sock = bind("127.0.0.1", 0)
    try:
        with serve_socket(Starlette(routes=[Route("/jwks", jwks)]), sock):
            yield f"{base_url(sock)}/jwks", served
    finally:
        sock.close()


def test_keys_are_fetched_from_the_jwks_uri_when_needed(
    key_pool: KeyPool, rsa_key: RSAKey, ec_key: ECKey, key_server: tuple[str, list[dict[str, Any]]]
) -> None:
    uri, served = key_server
    idp = MockIdP(ProviderConfig(clients=(Client(client_id="svc", jwks_uri=uri),)), keys=key_pool)

    first = credentials(idp, assertion(idp, rsa_key))
    served[:] = [ec_key.as_dict(private=False)]  # the client rotates its key
    rotated = credentials(idp, assertion(idp, ec_key, "ES256"))
    old = credentials(idp, assertion(idp, rsa_key))
    served.clear()
    gone = credentials(idp, assertion(idp, ec_key, "ES256"))

    assert (first.status_code, rotated.status_code) == (200, 200)
    assert refused(old) == (
        "the client_assertion is signed with RS256, but the client's keys hold no RSA key (its keys: svc-ec EC)"
        " (RFC 7523 section 3)"
    )
    assert (
        refused(gone)
        == f"the client_assertion cannot be checked: the jwks_uri {uri!r} answered HTTP 404 (RFC 7523 section 3)"
    )


def test_an_unreachable_jwks_uri_is_refused_not_a_500(key_pool: KeyPool, rsa_key: RSAKey) -> None:
    sock = bind("127.0.0.1", 0)
    uri = f"{base_url(sock)}/jwks"
    sock.close()  # nobody listens there now
    idp = MockIdP(ProviderConfig(clients=(Client(client_id="svc", jwks_uri=uri),)), keys=key_pool)

    description = refused(credentials(idp, assertion(idp, rsa_key)))

    assert description.startswith(
        f"the client_assertion cannot be checked: the jwks_uri {uri!r} of client 'svc' failed: "
    )


# -- the negative matrix --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": None}, "the client_assertion has no sub: it must be the client_id"),
        ({"iss": "someone"}, "the client_assertion has iss 'someone' and sub 'svc'; both must be the client_id"),
        ({"aud": None}, "the client_assertion has no aud; its aud must be the token endpoint"
                        " 'https://idp.mockidp.test/token' or the issuer 'https://idp.mockidp.test'"),
        ({"aud": "https://idp.mockidp.test/userinfo"},
         "the client_assertion has aud 'https://idp.mockidp.test/userinfo'; its aud must be the token endpoint"
         " 'https://idp.mockidp.test/token' or the issuer 'https://idp.mockidp.test'"),
        ({"exp": None}, "the client_assertion has no exp: give it a short lifetime"),
        ({"exp": 1_000_000_000}, "the client_assertion expired: its exp 2001-09-09T01:46:40Z is not after now"),
        ({"nbf": 4_000_000_000}, "the client_assertion is not valid yet: its nbf is in the future or not a number"),
        ({"jti": None}, "the client_assertion has no jti: give each assertion a unique one (OIDC Core section 9)"),
    ],
)  # fmt: skip
def test_an_assertion_that_does_not_hold_is_refused_saying_why(
    idp: MockIdP, rsa_key: RSAKey, claims: dict[str, Any], message: str
) -> None:
    assert refused(credentials(idp, assertion(idp, rsa_key, **claims))).startswith(message)


def test_an_assertion_is_used_once(idp: MockIdP, rsa_key: RSAKey) -> None:
    token = assertion(idp, rsa_key, jti="once")

    assert credentials(idp, token).status_code == 200
    assert refused(credentials(idp, token)) == (
        "the client_assertion with jti 'once' was already used; make a new assertion for each request"
        " (RFC 7523 section 3)"
    )


def test_a_signature_by_another_key_is_refused(idp: MockIdP) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "svc-1"})

    assert refused(credentials(idp, assertion(idp, stranger))) == (
        "the client_assertion signature does not verify with the registered keys of client 'svc' (RFC 7523 section 3)"
    )


def test_a_secret_signed_assertion_needs_the_right_secret(idp: MockIdP) -> None:
    wrong = assertion(idp, "x" * 32, "HS256", client_id="hmac")

    assert refused(credentials(idp, wrong)) == (
        "the client_assertion signature does not verify with the client_secret of client 'hmac' (RFC 7523 section 3)"
    )


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"client_assertion_type": "jwt"}, 400,
         f"client_assertion_type is 'jwt'; send {ASSERTION_TYPE!r} (RFC 7523 section 3)"),
        ({"client_assertion": "x.y.z"}, 400,
         f"client_assertion_type is missing; send {ASSERTION_TYPE!r} (RFC 7523 section 3)"),
        ({"client_assertion_type": ASSERTION_TYPE}, 400,
         "client_assertion_type was sent without a client_assertion (RFC 7523 section 3)"),
        ({"client_assertion_type": ASSERTION_TYPE, "client_assertion": "not-a-jwt"}, 401,
         "the client_assertion is not a signed JWT in compact form (three base64url parts joined by dots)"
         " (RFC 7523 section 3)"),
        ({"client_assertion_type": ASSERTION_TYPE, "client_assertion": "a.b.c"}, 401,
         "the client_assertion is not a readable JWT"),
    ],
)  # fmt: skip
def test_a_malformed_assertion_request_is_refused(
    idp: MockIdP, data: dict[str, str], status: int, message: str
) -> None:
    answer = post(idp, "token", {"grant_type": "client_credentials", **data})

    assert refused(answer, status).startswith(message)


def test_an_unsigned_assertion_is_refused(idp: MockIdP) -> None:
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    payload = jwt.encode({"alg": "HS256"}, {"iss": "svc", "sub": "svc"}, OctKey.import_key("k" * 32)).split(".")[1]

    assert refused(credentials(idp, f"{header}.{payload}.")) == (
        "the client_assertion is signed with alg 'none'; sign it with one of RS256, RS384, RS512, PS256, PS384, PS512,"
        " ES256, ES384, ES512, EdDSA, Ed25519, HS256, HS384, HS512 (RFC 7523 section 3)"
    )


def test_an_assertion_and_a_secret_are_two_methods(idp: MockIdP, rsa_key: RSAKey) -> None:
    answer = credentials(idp, assertion(idp, rsa_key), client_secret="s")

    assert refused(answer, 400) == "the client authenticated twice (a client_assertion and a secret); use one method"


def test_a_client_id_beside_the_assertion_must_be_its_sub(idp: MockIdP, rsa_key: RSAKey) -> None:
    answer = credentials(idp, assertion(idp, rsa_key), client_id="web")

    assert refused(answer, 400) == "client_id 'web' differs from the client_assertion's sub 'svc'"


def test_an_unknown_client_gets_the_nearest(idp: MockIdP, rsa_key: RSAKey) -> None:
    answer = credentials(idp, assertion(idp, rsa_key, client_id="svcs"))

    assert refused(answer) == "unknown client 'svcs' (did you mean 'svc'?); registered clients: hmac, post, svc, web"


def test_a_keyless_client_cannot_sign_with_a_key(idp: MockIdP, rsa_key: RSAKey) -> None:
    assert refused(credentials(idp, assertion(idp, rsa_key, client_id="web"))) == (
        "the client_assertion is signed with a key, but client 'web' registered no jwks or jwks_uri to verify it with;"
        " register its public keys, or sign with its client_secret (client_secret_jwt) (RFC 7523 section 3)"
    )


def test_a_client_without_a_secret_cannot_sign_with_one(idp: MockIdP) -> None:
    assert refused(credentials(idp, assertion(idp, "k" * 32, "HS256"))) == (
        "the client_assertion is signed with HS256, but client 'svc' has no client_secret; sign it with a key of"
        " the client's jwks (private_key_jwt) (RFC 7523 section 3)"
    )


def test_time_is_the_providers_clock(idp: MockIdP, rsa_key: RSAKey) -> None:
    token = assertion(idp, rsa_key)
    with freeze_time(datetime.fromtimestamp(time.time() + 3600, tz=UTC)):
        assert refused(credentials(idp, token)).startswith("the client_assertion expired: its exp ")


# -- the registered method is enforced (OIDC Registration §2) --------------------------------------


def basic(client_id: str) -> httpx2.BasicAuth:
    return httpx2.BasicAuth(client_id, SECRET)


@pytest.mark.parametrize(
    ("client_id", "data", "auth", "message"),
    [
        ("post", {}, True,
         "client 'post' registered token_endpoint_auth_method 'client_secret_post', so it must send client_id and"
         " client_secret in the form; it used 'client_secret_basic'"),
        ("hmac", {"client_id": "hmac", "client_secret": SECRET}, False,
         "client 'hmac' registered token_endpoint_auth_method 'client_secret_jwt', so it must send a"
         " client_assertion signed with its secret (HS256); it used 'client_secret_post'"),
        ("svc", {"client_id": "svc"}, False,
         "client 'svc' authenticates with private_key_jwt: send a client_assertion signed with a key of its jwks"
         " (RFC 7523 section 2.2)"),
    ],
)  # fmt: skip
def test_a_client_uses_the_method_it_registered(
    idp: MockIdP, client_id: str, data: dict[str, str], auth: bool, message: str
) -> None:
    answer = post(idp, "token", {"grant_type": "client_credentials", **data}, auth=basic(client_id) if auth else None)

    assert refused(answer) == message


def test_a_client_that_registered_client_secret_jwt_is_not_taken_with_a_key_jwt(idp: MockIdP) -> None:
    signed = assertion(idp, SECRET, "HS256", client_id="post")

    assert refused(credentials(idp, signed)) == (
        "client 'post' registered token_endpoint_auth_method 'client_secret_post', so it must send client_id and"
        " client_secret in the form; it used 'client_secret_jwt'"
    )


@pytest.mark.parametrize("how", ["basic", "post", "jwt"])
def test_a_client_that_registered_no_method_may_use_any_its_secret_allows(idp: MockIdP, how: str) -> None:
    if how == "jwt":
        answer = credentials(idp, assertion(idp, SECRET, "HS256", client_id="web"))
    else:
        data = {"client_id": "web", "client_secret": SECRET} if how == "post" else {}
        answer = post(
            idp, "token", {"grant_type": "client_credentials", **data}, auth=basic("web") if how == "basic" else None
        )

    assert answer.status_code == 200, answer.text


def test_a_payload_that_is_no_object_is_refused(idp: MockIdP) -> None:
    token = jwt.encode({"alg": "HS256"}, {"iss": "svc"}, OctKey.import_key("k" * 32))
    header, _, signature = token.split(".")

    assert refused(credentials(idp, f"{header}.WzFd.{signature}")) == (  # the payload is [1]
        "the client_assertion has a payload that is not a JSON object of claims (RFC 7523 section 3)"
    )


def test_a_kid_the_client_does_not_hold_is_named(idp: MockIdP, rsa_key: RSAKey) -> None:
    token = jwt.encode({"alg": "RS256", "kid": "svc-2"}, jwt.decode(assertion(idp, rsa_key), rsa_key).claims, rsa_key)

    assert refused(credentials(idp, token)) == (
        "the client_assertion names the key 'svc-2', which is not among the client's keys (svc-1, svc-ec)"
        " (RFC 7523 section 3)"
    )


def test_a_key_of_the_wrong_curve_says_why(key_pool: KeyPool, ec_key: ECKey) -> None:
    other = ECKey.generate_key("P-384", parameters={"kid": "svc-ec"})
    idp = MockIdP(ProviderConfig(clients=(Client(client_id="svc", jwks={"keys": [other.as_dict()]}),)), keys=key_pool)

    assert refused(credentials(idp, assertion(idp, ec_key, "ES256"))) == (
        "the client_assertion could not be verified (invalid_key_curve: Key for 'ES256' not supported, only 'P-256'"
        " allowed) (RFC 7523 section 3)"
    )


def test_registered_keys_that_are_no_jwk_set_are_said_so(key_pool: KeyPool, rsa_key: RSAKey) -> None:
    idp = MockIdP(
        ProviderConfig(clients=(Client(client_id="svc", jwks={"keys": [{"kty": "RSA", "kid": "x"}]}),)), keys=key_pool
    )

    assert refused(credentials(idp, assertion(idp, rsa_key))).startswith(
        "the client_assertion cannot be checked: the keys of client 'svc' are no JWK Set ("
    )


def test_a_jwks_uri_that_answers_no_json_is_said_so(key_pool: KeyPool, rsa_key: RSAKey) -> None:
    async def page(request: Request) -> Response:
        return Response("<html>")

    sock = bind("127.0.0.1", 0)
    try:
        with serve_socket(Starlette(routes=[Route("/jwks", page)]), sock):
            uri = f"{base_url(sock)}/jwks"
            idp = MockIdP(ProviderConfig(clients=(Client(client_id="svc", jwks_uri=uri),)), keys=key_pool)
            answer = credentials(idp, assertion(idp, rsa_key))
    finally:
        sock.close()

    assert (
        refused(answer)
        == f"the client_assertion cannot be checked: the jwks_uri {uri!r} answered no JSON (RFC 7523 section 3)"
    )


def test_a_kid_picks_the_key(idp: MockIdP, rsa_key: RSAKey) -> None:
    claims = jwt.decode(assertion(idp, rsa_key), rsa_key).claims

    assert credentials(idp, jwt.encode({"alg": "RS256", "kid": "svc-1"}, claims, rsa_key)).status_code == 200


def test_over_loopback_too(idp: MockIdP, ec_key: ECKey) -> None:
    with idp.serve(), OAuth2Client("svc", ec_key, token_endpoint_auth_method="private_key_jwt") as client:
        client.register_client_auth_method(PrivateKeyJWT(alg="ES256"))  # aud: the URL it posts to
        token = client.fetch_token(idp.endpoint("token"), grant_type="client_credentials")
        claims = jwt.decode(token["access_token"], provider_keys(idp)).claims

    assert claims["iss"].startswith("http://127.0.0.1:")
