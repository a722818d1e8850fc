"""ID tokens signed with the client's algorithm: OIDC Dynamic Client Registration 1.0 §2
(``id_token_signed_response_alg``), OIDC Discovery 1.0 §3 (``id_token_signing_alg_values_supported``
MUST include RS256) and OIDC Core §3.1.3.6 (``at_hash`` uses the hash of the ID token's ``alg``).

The key of a client's algorithm is in the JWK Set before the client's first ID token; access
tokens keep the provider's own key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet

from mockidp import Client, ConfigError, KeyPool, MockIdP, ProviderConfig
from mockidp._config import DEFAULT_CLIENT, Algorithm
from mockidp._keys import SigningKey
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, login

CLIENT_ID, SECRET = "mockidp-client", "mockidp-secret"


def rp_client(alg: Algorithm | None, client_id: str = CLIENT_ID) -> Client:
    return Client(client_id=client_id, client_secret=SECRET, id_token_signed_response_alg=alg)


def provider(key_pool: KeyPool, algorithm: Algorithm, *clients: Client) -> MockIdP:
    return MockIdP(ProviderConfig(algorithm=algorithm, clients=clients), keys=key_pool)


def get_json(idp: MockIdP, url: str) -> dict[str, Any]:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.get(url)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def advertised(idp: MockIdP) -> list[str]:
    algs: list[str] = get_json(idp, idp.metadata_url)["id_token_signing_alg_values_supported"]
    return algs


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


def served_kids(jwks: dict[str, Any]) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]


def decode(token: str, jwks: dict[str, Any], alg: str) -> jwt.Token:
    """Verify ``token`` as a relying party does: against a JWK Set it fetched, for one algorithm."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc's note that EdDSA is deprecated
        return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])  # type: ignore[arg-type]


def expected_at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the hash that ``alg`` uses (SHA-512 for Ed25519)."""
    digest = (hashlib.sha512 if alg in ("EdDSA", "Ed25519") else hashlib.sha256)(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def userinfo_status(idp: MockIdP, access_token: str) -> int:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        url = idp.endpoint("userinfo_endpoint")
        return client.get(url, headers={"Authorization": f"Bearer {access_token}"}).status_code


def check_id_token(idp: MockIdP, tokens: dict[str, Any], jwks: dict[str, Any], alg: str) -> None:
    """The ID token is signed with ``alg`` by a key of ``jwks``; the access token with the provider's key."""
    id_token = decode(tokens["id_token"], jwks, alg)
    assert id_token.header["alg"] == alg
    assert id_token.header["kid"] in served_kids(jwks)
    assert id_token.claims["aud"] == idp.client.client_id
    assert id_token.claims["at_hash"] == expected_at_hash(tokens["access_token"], alg)
    access = decode(tokens["access_token"], jwks, idp.keys.alg)
    assert access.header == {"alg": idp.keys.alg, "kid": idp.keys.current.kid, "typ": "at+jwt"}
    assert userinfo_status(idp, tokens["access_token"]) == 200


# -- discovery ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["PS256", "ES256", "EdDSA", "Ed25519"])
def test_discovery_always_lists_rs256(key_pool: KeyPool, algorithm: Algorithm) -> None:
    idp = MockIdP(ProviderConfig(algorithm=algorithm), keys=key_pool)

    assert advertised(idp) == sorted({"RS256", algorithm})
    assert [key["alg"] for key in idp.jwks()["keys"]] == [algorithm]  # no RS256 key until a client needs one


def test_discovery_lists_the_clients_algorithms_sorted(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("PS256"), rp_client(None, "plain"))

    assert advertised(idp) == ["ES256", "PS256", "RS256"]

    idp.add_client(rp_client("Ed25519", "late"))

    assert advertised(idp) == ["ES256", "Ed25519", "PS256", "RS256"]


# -- ID tokens in the client's algorithm ----------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "client_alg"),
    [("ES256", "RS256"), ("EdDSA", "RS256"), ("RS256", "Ed25519"), ("PS256", "ES256")],
)
def test_a_code_flow_signs_the_id_token_with_the_clients_algorithm(
    key_pool: KeyPool, algorithm: Algorithm, client_alg: Algorithm
) -> None:
    idp = provider(key_pool, algorithm, rp_client(client_alg))
    jwks = get_json(idp, idp.jwks_uri)  # fetched before any token was issued

    tokens = login(idp)

    assert sorted(key["alg"] for key in jwks["keys"]) == sorted([algorithm, client_alg])
    check_id_token(idp, tokens, jwks, client_alg)
    assert get_json(idp, idp.jwks_uri) == jwks  # signing published nothing new


def test_a_client_added_later_has_its_key_published_at_once(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256")
    assert [key["alg"] for key in get_json(idp, idp.jwks_uri)["keys"]] == ["ES256"]

    idp.add_client(rp_client("RS256"))
    jwks = get_json(idp, idp.jwks_uri)  # after registering, before the client's first token
    tokens = login(idp)

    assert [key["alg"] for key in jwks["keys"]] == ["ES256", "RS256"]
    check_id_token(idp, tokens, jwks, "RS256")


def test_a_client_without_an_algorithm_gets_the_providers(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client(None), rp_client("RS256", "rs"))

    tokens = login(idp)

    check_id_token(idp, tokens, idp.jwks(), "ES256")


def test_refreshed_and_minted_id_tokens_use_the_clients_algorithm(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    first = login(idp)
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(
            idp.endpoint("token_endpoint"),
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(CLIENT_ID, SECRET),
        )
    minted = idp.issue_tokens()

    check_id_token(idp, response.json(), idp.jwks(), "RS256")
    check_id_token(idp, minted.as_dict(), idp.jwks(), "RS256")


@pytest.mark.parametrize("kind", ["nonce", "iss", "aud", "expired", "at_hash", "unknown_kid"])
def test_a_tampered_id_token_keeps_the_clients_algorithm(key_pool: KeyPool, kind: str) -> None:
    """The one defect is the one named: an RP that pins RS256 must not refuse it for its algorithm."""
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    idp.tamper_next_id_token(kind)

    id_token = login(idp)["id_token"]

    assert header_of(id_token)["alg"] == "RS256"
    published = header_of(id_token)["kid"] in served_kids(idp.jwks())
    assert published is (kind != "unknown_kid")
    if published:
        assert decode(id_token, idp.jwks(), "RS256").claims["aud"] in (CLIENT_ID, "another-client")


def test_an_id_token_in_the_clients_algorithm_is_a_valid_logout_hint(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    browser = Browser(idp)
    request = auth_request(idp)
    code = callback_params(browser.authorize(request))["code"]
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        tokens = client.post(
            idp.endpoint("token_endpoint"),
            data={**data, "code_verifier": request.verifier or ""},
            auth=(CLIENT_ID, SECRET),
        ).json()
    bye = "http://testserver/bye"

    response = browser.client.get(
        idp.endpoint("end_session_endpoint"),
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": bye},
    )

    assert header_of(tokens["id_token"])["alg"] == "RS256"
    assert response.status_code == 302
    assert response.headers["location"] == bye


# -- rotation and retirement ----------------------------------------------------------------------


def test_rotation_renews_the_clients_key_and_keeps_the_old_one_until_retired(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    es_old, rs_old = idp.keys.kids
    before = idp.issue_tokens()
    assert before.id_token is not None

    es_new = idp.rotate_keys()
    jwks = get_json(idp, idp.jwks_uri)  # right after the rotation, before any token needs the new keys
    after = idp.issue_tokens()
    assert after.id_token is not None
    rs_new = header_of(after.id_token)["kid"]

    assert rs_new not in (rs_old, es_new)
    assert served_kids(jwks) == [es_new, rs_new, es_old, rs_old]
    check_id_token(idp, after.as_dict(), jwks, "RS256")
    assert idp.keys.verify(before.id_token)[0]["kid"] == rs_old  # still published

    assert idp.retire_keys() == [es_old, rs_old]

    assert served_kids(get_json(idp, idp.jwks_uri)) == [es_new, rs_new]
    with pytest.raises(JoseError):
        idp.keys.verify(before.id_token)
    assert userinfo_status(idp, before.access_token) == 401
    check_id_token(idp, idp.issue_tokens().as_dict(), idp.jwks(), "RS256")


def test_retiring_nothing_old_keeps_every_clients_key(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))

    assert idp.retire_keys() == []
    assert [key["alg"] for key in idp.jwks()["keys"]] == ["ES256", "RS256"]


def test_retiring_a_clients_current_key_is_refused(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    kid = str(idp.keys.signing_key("RS256").kid)

    with pytest.raises(ConfigError) as caught:
        idp.retire_keys(kid)

    assert str(caught.value) == (
        f"key {kid!r} is the current RS256 key, which signs the ID tokens of clients with"
        " id_token_signed_response_alg 'RS256'; rotate_keys() before retiring it"
    )


def test_a_client_of_the_providers_algorithm_keeps_it_after_a_switch(key_pool: KeyPool) -> None:
    """The client shares the provider's key until a rotation to another algorithm, then gets its own."""
    idp = provider(key_pool, "RS256", rp_client("RS256"), rp_client(None, "plain"))
    assert len(idp.keys.kids) == 1

    idp.rotate_keys("ES256")
    tokens = idp.issue_tokens()
    plain = idp.issue_tokens(client="plain")

    assert [key["alg"] for key in idp.jwks()["keys"]] == ["ES256", "RS256", "RS256"]
    check_id_token(idp, tokens.as_dict(), idp.jwks(), "RS256")
    assert plain.id_token is not None
    assert header_of(plain.id_token)["alg"] == "ES256"


def test_a_rotation_to_the_clients_algorithm_shares_one_key(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    es_old, rs_old = idp.keys.kids

    new = idp.rotate_keys("RS256")
    tokens = idp.issue_tokens()

    assert idp.keys.kids == [new, es_old, rs_old]
    assert tokens.id_token is not None
    assert header_of(tokens.id_token)["kid"] == header_of(tokens.access_token)["kid"] == new
    check_id_token(idp, tokens.as_dict(), idp.jwks(), "RS256")


def test_a_stranger_key_of_the_clients_algorithm_is_never_published(key_pool: KeyPool) -> None:
    idp = provider(key_pool, "ES256", rp_client("RS256"))
    id_token = idp.issue_tokens().id_token
    assert id_token is not None
    _, claims = idp.keys.verify(id_token)

    forged = idp.keys.sign_as_stranger(claims, alg="RS256")
    idp.rotate_keys()

    assert header_of(forged)["alg"] == "RS256"
    assert header_of(forged)["kid"] not in idp.keys.kids
    with pytest.raises(JoseError):
        idp.keys.verify(forged)


def test_providers_of_one_pool_share_the_clients_key(key_pool: KeyPool) -> None:
    first = provider(key_pool, "ES256", rp_client("RS256"))
    second = provider(key_pool, "EdDSA", rp_client("RS256"))

    assert first.keys.signing_key("RS256") is second.keys.signing_key("RS256")


# -- configuration --------------------------------------------------------------------------------

HS256 = (
    "client 'spa': unknown id_token_signed_response_alg 'HS256' (did you mean 'RS256'?);"
    " choose one of RS256, PS256, ES256, EdDSA, Ed25519"
)


def test_an_unknown_algorithm_is_refused_naming_the_client() -> None:
    with pytest.raises(ConfigError) as caught:
        Client(client_id="spa", id_token_signed_response_alg="HS256")  # type: ignore[arg-type]

    assert str(caught.value) == HS256


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("HS256", HS256),
        (
            256,
            "client 'spa': unknown id_token_signed_response_alg 256; choose one of RS256, PS256, ES256, EdDSA, Ed25519",
        ),
    ],
)
def test_a_config_file_with_an_unknown_algorithm_is_refused(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProviderConfig.from_dict({"clients": [{"client_id": "spa", "id_token_signed_response_alg": value}]})

    assert str(caught.value) == message


def test_a_toml_client_registers_its_algorithm(key_pool: KeyPool) -> None:
    data = tomllib.loads(
        """
        algorithm = "ES256"

        [[clients]]
        client_id = "mockidp-client"
        client_secret = "mockidp-secret"
        id_token_signed_response_alg = "RS256"
        """
    )
    idp = MockIdP(ProviderConfig.from_dict(data), keys=key_pool)

    assert idp.client.id_token_signed_response_alg == "RS256"
    check_id_token(idp, login(idp), idp.jwks(), "RS256")


class WatchedPool(KeyPool):
    """A key pool that calls ``on_take`` each time a ring asks it for a key, before answering."""

    def __init__(self) -> None:
        super().__init__()
        self.on_take: Callable[[str], None] | None = None

    def take(self, alg: str, *, exclude: Iterable[str] = ()) -> SigningKey:
        if self.on_take is not None:
            self.on_take(alg)
        return super().take(alg, exclude=exclude)


def test_an_access_token_minted_while_keys_rotate_to_another_algorithm_is_signed() -> None:
    # A client with its own ID token algorithm makes rotate() take a second key from the pool after it
    # has switched the provider's algorithm but before it has installed the new keys. The pool may spend
    # ~40 ms there making an RSA key; a token request answered meanwhile (idp_live's server thread, or a
    # sync transport in another thread) reads ``keys.current`` without the lock, as this hook does.
    pool = WatchedPool()
    config = ProviderConfig(
        clients=(DEFAULT_CLIENT, Client(client_id="ps", client_secret="s", id_token_signed_response_alg="PS256"))
    )
    idp = MockIdP(config, keys=pool)
    failures: list[BaseException] = []

    def mint_meanwhile(alg: str) -> None:
        if alg == "PS256":
            try:
                idp.issue_tokens(scope="profile", refresh_token=False)  # an access token only
            except Exception as exc:
                failures.append(exc)

    pool.on_take = mint_meanwhile
    idp.rotate_keys("ES256")

    assert failures == []
