"""Request objects: OIDC Core §6.1 (``request`` at the authorization endpoint, claims overriding the
parameters beside them, §6.3.3), RFC 9101 (signed by the client: its secret or its registered keys;
``aud`` the issuer, ``exp``), and inside a pushed request (RFC 9126 §3). joserfc signs them; raw HTTP
drives the negative matrix.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx2
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from mockidp import Client, MockIdP
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, client_auth, token_request
from tests.proofs import request_object, with_jwks

ISSUER = "https://idp.mockidp.test"
CONFIDENTIAL = Client(client_id="mockidp-client", client_secret="mockidp-secret")
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
STRANGER = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


def authorize(idp: MockIdP, params: dict[str, str]) -> httpx2.Response:
    return Browser(idp).client.get(idp.endpoint("authorize"), params=params)


def redeem(idp: MockIdP, response: httpx2.Response, verifier: str | None) -> dict[str, Any]:
    code = callback_params(response)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    answer = token_request(idp, {k: v for k, v in data.items() if v is not None}, auth=client_auth(idp))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def id_token_claims(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_request_object_carries_the_authorization_request(provider: MockIdP) -> None:
    request = auth_request(provider, nonce="n-in-object")
    signed = request_object(CONFIDENTIAL, ISSUER, request.params)

    response = authorize(provider, {"client_id": "mockidp-client", "response_type": "code", "request": signed})

    assert callback_params(response)["state"] == request.state
    tokens = redeem(provider, response, request.verifier)
    assert id_token_claims(provider, tokens["id_token"])["nonce"] == "n-in-object"
    record = provider.requests.filter(endpoint="authorize")[0]
    assert record.request_object is True
    assert (record.params["nonce"], "request" in record.params) == ("n-in-object", False)


def test_the_objects_claims_override_the_parameters_beside_it(provider: MockIdP) -> None:
    request = auth_request(provider, scope="openid")
    signed = request_object(CONFIDENTIAL, ISSUER, {**request.params, "max_age": 3600})

    response = authorize(provider, {**auth_request(provider, scope="openid email").params, "request": signed})

    assert callback_params(response)["state"] == request.state
    assert redeem(provider, response, request.verifier)["scope"] == "openid"


@pytest.mark.parametrize("key", [EC, RSA], ids=["ES256", "RS256"])
def test_a_client_signs_with_a_key_of_its_jwks(provider: MockIdP, key: ECKey | RSAKey) -> None:
    provider.add_client(with_jwks(Client(client_id="signer"), EC, RSA))
    request = auth_request(provider, client_id="signer")

    signed = request_object(provider.clients["signer"], ISSUER, request.params, key=key)
    response = authorize(provider, {"client_id": "signer", "request": signed})

    assert "code" in callback_params(response)


def test_a_pushed_request_may_be_a_request_object(provider: MockIdP) -> None:
    request = auth_request(provider)
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        pushed = client.post(
            provider.endpoint("par"),
            data={"request": request_object(CONFIDENTIAL, ISSUER, request.params)},
            auth=client_auth(provider),
        )

    response = authorize(provider, {"client_id": "mockidp-client", "request_uri": pushed.json()["request_uri"]})

    assert pushed.status_code == 201
    assert provider.requests[0].request_object is True
    assert redeem(provider, response, request.verifier)["scope"] == "openid profile email"


def test_a_pushed_request_object_of_another_client_is_refused(provider: MockIdP) -> None:
    other = Client(client_id="other", client_secret="mockidp-secret")
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        pushed = client.post(
            provider.endpoint("par"),
            data={"request": request_object(other, ISSUER, auth_request(provider).params)},
            auth=client_auth(provider),
        )

    assert pushed.json() == {
        "error": "invalid_request_object",
        "error_description": "the request object's iss is 'other', not the client's id 'mockidp-client'",
    }


def unsigned() -> str:
    return f"{b64({'alg': 'none'})}.{b64({'aud': ISSUER, 'exp': int(time.time()) + 60})}."


def es384() -> str:
    key = ECKey.generate_key("P-384")
    return jwt.encode({"alg": "ES384"}, {"aud": ISSUER, "exp": int(time.time()) + 60}, key, algorithms=["ES384"])


def not_json() -> str:
    return jws.serialize_compact({"alg": "HS256"}, b"[1, 2]", OctKey.import_key("mockidp-secret"))


def signed(**claims: Any) -> str:
    return request_object(CONFIDENTIAL, ISSUER, {"state": "in-object", **claims})


RO = "the request object"
BAD_OBJECTS: list[tuple[str, Any, str]] = [
    ("garbage", lambda: "abc",
     f"{RO} is not a signed JWT in compact form (decode_error: Invalid JSON Web Signature); see RFC 9101 section 4"),
    ("jwe", lambda: "a.b.c.d.e",
     "encrypted request objects (JWE) are not supported: send a signed JWT (RFC 9101 section 4)"),
    ("none", unsigned,
     f"{RO} is unsigned (alg none), and mockidp refuses unsigned request objects: sign it with the client's secret"
     " (HS256) or its key (RFC 9101 section 10.2)"),
    ("es384", es384,
     "request object alg 'ES384' is not supported; use one of RS256, PS256, ES256, EdDSA, Ed25519, HS256, HS384,"
     " HS512"),
    ("typ", lambda: jwt.encode({"alg": "HS256", "typ": "dpop+jwt"}, {}, OctKey.import_key("mockidp-secret")),
     "request object typ 'dpop+jwt' is not one of oauth-authz-req+jwt, JWT (RFC 9101 section 10.8)"),
    ("wrong-secret", lambda: request_object(Client(client_id="mockidp-client", client_secret="x" * 32), ISSUER),
     f"{RO}'s signature does not verify with the client_secret of client 'mockidp-client'"),
    ("no-jwks", lambda: request_object(CONFIDENTIAL, ISSUER, key=EC),
     f"{RO} is signed with ES256, but client 'mockidp-client' registered no jwks to verify it with; register its"
     " public keys, or sign with its client_secret (HS256)"),
    ("not-json", not_json, f"{RO} could not be verified (invalid_payload); see RFC 9101 section 4"),
    ("iss", lambda: signed(iss="someone"), f"{RO}'s iss is 'someone', not the client's id 'mockidp-client'"),
    ("client_id", lambda: signed(client_id="someone"),
     f"{RO}'s client_id is 'someone', not the client's id 'mockidp-client'"),
    ("no-aud", lambda: signed(aud=None),
     f"{RO} has no aud; its aud must be the issuer 'https://idp.mockidp.test' (RFC 9101 section 4)"),
    ("wrong-aud", lambda: signed(aud=["https://other.example"]),
     f"{RO} has aud ['https://other.example']; its aud must be the issuer 'https://idp.mockidp.test'"
     " (RFC 9101 section 4)"),
    ("no-exp", lambda: signed(exp=None), f"{RO} has no exp: give it a lifetime (RFC 9101 section 10.2)"),
    ("expired", lambda: signed(exp=int(time.time()) - 1), f"{RO} expired (its exp has passed)"),
    ("nbf", lambda: signed(nbf=int(time.time()) + 60),
     f"{RO} is not valid yet (its nbf is in the future or not a number)"),
    ("nested", lambda: signed(request_uri="urn:x"), "a request object must not contain request_uri (OIDC Core"
     " section 6.1)"),
    ("list-claim", lambda: signed(scope=["openid"]),
     "request object claim 'scope' must be a string, got list ['openid']"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "description"), [c[1:] for c in BAD_OBJECTS], ids=[c[0] for c in BAD_OBJECTS])
def test_bad_request_objects_go_back_as_invalid_request_object(provider: MockIdP, make: Any, description: str) -> None:
    request = auth_request(provider)

    response = authorize(provider, {**request.params, "request": make()})

    assert response.status_code == 302
    params = callback_params(response)
    assert (params["error"], params["error_description"], params["state"]) == (
        "invalid_request_object",
        description,
        request.state,
    )
    assert provider.requests[-1].error_description == description


def test_a_public_client_cannot_sign_with_a_secret(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="spa"))
    request = auth_request(provider, client_id="spa")

    response = authorize(provider, {**request.params, "request": signed()})

    assert callback_params(response)["error_description"] == (
        "the request object is signed with HS256, but client 'spa' is public and has no client_secret; sign it with"
        " a key of the client's jwks (RS256, PS256, ES256, EdDSA, Ed25519)"
    )


@pytest.mark.parametrize(
    ("jwks_keys", "key", "description"),
    [
        ([EC], STRANGER, "the request object's signature does not verify with the jwks of client 'signer'"),
        (
            [{"kty": "EC", "crv": "P-256"}],
            EC,
            "the jwks of client 'signer' is not a usable JWK Set (key_parameter: 'x' is required)",
        ),
    ],
    ids=["other-key", "bad-jwks"],
)
def test_a_key_signed_object_needs_the_registered_key(
    provider: MockIdP, jwks_keys: list[Any], key: ECKey, description: str
) -> None:
    client = with_jwks(Client(client_id="signer"), *jwks_keys)
    provider.add_client(client)
    request = auth_request(provider, client_id="signer")

    response = authorize(provider, {**request.params, "request": request_object(client, ISSUER, key=key)})

    assert callback_params(response)["error_description"] == description


def test_an_object_that_alone_names_the_redirect_uri_gets_an_error_page(provider: MockIdP) -> None:
    response = authorize(provider, {"client_id": "mockidp-client", "request": signed(exp=int(time.time()) - 1)})

    assert response.status_code == 400
    assert provider.requests[-1].error == "invalid_request_object"


def test_an_unknown_client_with_a_request_object_gets_an_error_page(provider: MockIdP) -> None:
    response = authorize(provider, {"client_id": "nobody", "request": signed()})

    assert response.status_code == 400
    assert provider.requests[-1].error_description == "unknown client_id 'nobody'; registered clients: mockidp-client"


def test_discovery_says_request_objects_are_supported(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        meta = client.get(provider.metadata_url).json()

    assert (meta["request_parameter_supported"], meta["request_uri_parameter_supported"]) == (True, False)
    assert meta["request_object_signing_alg_values_supported"] == [
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
        "Ed25519",
        "HS256",
        "HS384",
        "HS512",
    ]


def test_object_valued_claims_become_json_parameters(provider: MockIdP) -> None:
    request = auth_request(provider)
    claims = {"userinfo": {"email": {"essential": True}}}

    response = authorize(provider, {**request.params, "request": signed(claims=claims)})

    assert "code" in callback_params(response)
    assert provider.requests[-1].params["claims"] == '{"userinfo":{"email":{"essential":true}}}'
