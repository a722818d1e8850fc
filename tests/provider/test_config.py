"""Configuration: ``ProviderConfig``, ``User`` (OIDC Core §5.1 claims) and ``Client`` (RFC 7591 §2 metadata),
and the provider's registry of users and clients (``add_user``, ``add_client``, ``find_user``, ``login_as``).

Every mistake is a ``ConfigError`` whose message says what to change; the messages are checked verbatim.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from mockidp import Client, ConfigError, KeyPool, MockIdP, ProviderConfig, User
from tests.flows import Browser, auth_request, callback_params, client_auth, token_request

DEFAULT_URIS = ("http://testserver/*", "http://localhost/*", "http://127.0.0.1/*")
ISSUER_ERROR = "issuer must be an http(s) URL with a host and no query or fragment (OIDC Discovery section 2), got {!r}"
#: RFC 8628, RFC 8693, RFC 7523: the grants with URN names, which every client may use by default.
EXTENSION_GRANTS = (
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
)
TTLS = ("access_token_ttl", "id_token_ttl", "refresh_token_ttl", "code_ttl", "session_ttl", "device_code_ttl")
OPTIONS = ", ".join(sorted(f.name for f in dataclasses.fields(ProviderConfig)))
CLIENT_OPTIONS = ", ".join(sorted(f.name for f in dataclasses.fields(Client)))


def config_error(message: str) -> pytest.RaisesExc[ConfigError]:
    """``pytest.raises`` for a ``ConfigError`` with exactly ``message``, and its note on where to read more."""
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}\nsee: python -m mockidp docs configuration$")


# -- ProviderConfig -----------------------------------------------------------------------------


def test_the_default_configuration() -> None:
    config = ProviderConfig()

    assert config.issuer == "https://idp.mockidp.test"
    assert [u.sub for u in config.users] == ["alice"]
    assert [c.client_id for c in config.clients] == ["mockidp-client"]
    assert (config.algorithm, config.access_token_ttl, config.code_ttl) == ("RS256", 3600, 60)
    assert config.cors_origins == ()


@pytest.mark.parametrize(
    "issuer",
    ["ftp://idp.example", "https://idp.example/?tenant=a", "https://idp.example/#x", "/realms/a", "idp.example", ""],
)
def test_a_bad_issuer_is_refused(issuer: str) -> None:
    with config_error(ISSUER_ERROR.format(issuer)):
        ProviderConfig(issuer=issuer)


def test_an_issuer_that_is_not_a_string_is_refused() -> None:
    with config_error(ISSUER_ERROR.format(8080)):
        ProviderConfig(issuer=8080)  # type: ignore[arg-type]


@pytest.mark.parametrize("issuer", ["http://localhost:8080", "https://idp.example/realms/a"])
def test_http_and_path_issuers_are_accepted(issuer: str) -> None:
    assert ProviderConfig(issuer=issuer + "/").issuer == issuer


@pytest.mark.parametrize(
    ("algorithm", "hint"),
    [
        ("HS256", " (did you mean 'RS256'?)"),
        ("none", ""),
        ("rs256", " (did you mean 'RS256'?)"),
        ("es256", " (did you mean 'ES256'?)"),
        ("", ""),
    ],
)
def test_an_unknown_algorithm_is_refused(algorithm: str, hint: str) -> None:
    with config_error(f"unknown algorithm {algorithm!r}{hint}; choose one of RS256, PS256, ES256, EdDSA, Ed25519"):
        ProviderConfig(algorithm=algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", TTLS)
@pytest.mark.parametrize("value", [0, -5, 1.5, True, "60", None])
def test_lifetimes_must_be_positive_whole_seconds(name: str, value: Any) -> None:
    with config_error(f"ProviderConfig.{name} must be a positive number of seconds, got {value!r}"):
        ProviderConfig(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("users", "alice"),
        ("users", User(sub="bob")),
        ("users", 5),
        ("clients", Client(client_id="spa")),
        ("clients", "spa"),
        ("cors_origins", "https://spa.example"),
    ],
)
def test_a_single_value_where_a_sequence_is_expected_is_refused(name: str, value: Any) -> None:
    with config_error(f"ProviderConfig.{name} must be a sequence, got {value!r}"):
        ProviderConfig(**{name: value})


@pytest.mark.parametrize(
    ("name", "value", "kind", "wrong"),
    [
        ("users", ("alice",), "User", "alice"),
        ("users", [{"sub": "bob"}], "User", {"sub": "bob"}),
        ("clients", ("spa",), "Client", "spa"),
        ("cors_origins", ("https://spa.example", 443), "str", 443),
    ],
)
def test_sequences_must_hold_the_right_objects(name: str, value: Any, kind: str, wrong: Any) -> None:
    with config_error(f"ProviderConfig.{name} must hold {kind} objects, got {wrong!r}"):
        ProviderConfig(**{name: value})


def test_lists_are_stored_as_tuples() -> None:
    config = ProviderConfig(users=[User(sub="bob")], cors_origins=["https://spa.example"])  # type: ignore[arg-type]

    assert config.users == (User(sub="bob"),)
    assert config.cors_origins == ("https://spa.example",)


@pytest.mark.parametrize(
    "origin", ["https://spa.example/", "spa.example", "https://spa.example/app", "ftp://spa.example", "null"]
)
def test_a_cors_origin_must_be_an_origin(origin: str) -> None:
    with config_error(
        f"a CORS origin is scheme://host[:port] with no path, such as 'https://app.example', got {origin!r}"
    ):
        ProviderConfig(cors_origins=(origin,))


@pytest.mark.parametrize("origin", ["https://spa.example", "http://localhost:5173", "*"])
def test_cors_origins_are_accepted(origin: str) -> None:
    assert ProviderConfig(cors_origins=(origin,)).cors_origins == (origin,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": (User(sub="a"), User(sub="a"))}, "duplicate user sub 'a': each must be unique in one provider"),
        (
            {"users": (User.named("bob", sub="1"), User.named("bob", sub="2"))},
            "duplicate username 'bob': each must be unique in one provider",
        ),
        (
            {"clients": (Client(client_id="spa"), Client(client_id="spa"))},
            "duplicate client id 'spa': each must be unique in one provider",
        ),
    ],
)
def test_duplicates_are_refused(changes: dict[str, Any], message: str) -> None:
    with config_error(message):
        ProviderConfig(**changes)


def test_replace_returns_a_validated_copy() -> None:
    config = ProviderConfig()

    strict = config.replace(strict=True, issuer="https://idp.example/")

    assert (strict.strict, strict.issuer) == (True, "https://idp.example")
    assert (config.strict, config.issuer) == (False, "https://idp.mockidp.test")
    with config_error("ProviderConfig.code_ttl must be a positive number of seconds, got 0"):
        config.replace(code_ttl=0)


def test_replace_refuses_unknown_options() -> None:
    with config_error(f"unknown ProviderConfig option 'ttl'; choose one of {OPTIONS}"):
        ProviderConfig().replace(ttl=5)


def test_from_dict_reads_users_and_clients_tables() -> None:
    config = ProviderConfig.from_dict(
        {
            "issuer": "https://idp.example",
            "algorithm": "ES256",
            "cors_origins": ["https://spa.example"],
            "users": [{"sub": "bob", "email": "bob@example.com", "password": "hunter2"}, User(sub="carol")],
            "clients": [
                {"client_id": "web", "client_secret": "s3", "redirect_uris": ["https://app.example/cb"]},
                {"client_id": "spa", "grant_types": ["authorization_code"], "scope": ["openid", "email"]},
            ],
        }
    )

    bob, carol = config.users
    web, spa = config.clients
    assert (config.issuer, config.algorithm, config.cors_origins) == (
        "https://idp.example",
        "ES256",
        ("https://spa.example",),
    )
    assert (bob.sub, dict(bob.claims), bob.password) == ("bob", {"email": "bob@example.com"}, "hunter2")
    assert carol == User(sub="carol")
    assert (web.redirect_uris, web.token_endpoint_auth_method) == (("https://app.example/cb",), None)
    assert (spa.is_public, spa.grant_types, spa.scope) == (True, ("authorization_code",), ("openid", "email"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"isuser": "x", "algo": "RS256"},
            f"unknown ProviderConfig option 'algo' (did you mean 'algorithm'?); choose one of {OPTIONS}",
        ),
        (
            {"clients": [{"client_id": "web", "secret": "s"}]},
            f"unknown Client option 'secret' (did you mean 'client_secret'?); choose one of {CLIENT_OPTIONS}",
        ),
        ({"users": [{"name": "Bob"}]}, "a user needs a 'sub' claim; got the keys ['name']"),
        ({"users": "bob"}, "users must be a list of tables or specs, got 'bob'"),
        ({"users": {"sub": "bob"}}, "users must be a list of tables or specs, got {'sub': 'bob'}"),
        (
            {"users": [",email=x"]},
            (
                "user ',email=x': a user needs a username first;"
                " write USERNAME[,claim=value...], e.g. 'bob,email=bob@corp.example,roles=admin'"
            ),
        ),
        (
            {"clients": [Client(client_id="x"), 5]},
            "each entry of clients must be a table of settings or a spec string, got 5",
        ),
        ({"clients": 5}, "clients must be a sequence, got 5"),
    ],
)
def test_from_dict_errors(data: dict[str, Any], message: str) -> None:
    with config_error(message):
        ProviderConfig.from_dict(data)


def test_a_provider_needs_a_provider_config() -> None:
    with pytest.raises(TypeError, match=r"^config must be a ProviderConfig, got dict\nsee: python -m mockidp docs"):
        MockIdP({"issuer": "https://idp.example"})  # type: ignore[arg-type]


# -- User -----------------------------------------------------------------------------------------


def test_user_named_fills_in_the_standard_claims() -> None:
    bob = User.named("bob", locale="nl", password="pw", sub="u-1")

    assert (bob.sub, bob.username, bob.password) == ("u-1", "bob", "pw")
    assert dict(bob.claims) == {
        "preferred_username": "bob",
        "name": "Bob Example",
        "given_name": "Bob",
        "family_name": "Example",
        "email": "bob@example.com",
        "email_verified": True,
        "locale": "nl",
    }


def test_a_users_username_defaults_to_its_sub() -> None:
    assert User(sub="u-1").username == "u-1"
    assert User(sub="u-1", claims={"preferred_username": "bob"}).username == "bob"


def test_a_users_claims_are_read_only() -> None:
    source = {"email": "bob@example.com"}
    bob = User(sub="bob", claims=source)
    source["email"] = "changed@example.com"

    assert bob.claims["email"] == "bob@example.com"
    with pytest.raises(TypeError):
        bob.claims["email"] = "x"  # type: ignore[index]


def test_a_sub_claim_equal_to_sub_is_allowed_and_kept_out_of_claims() -> None:
    assert dict(User(sub="bob", claims={"sub": "bob", "email": "b@example.com"}).claims) == {"email": "b@example.com"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sub": ""}, "User.sub must be a non-empty string, got ''"),
        ({"sub": 42}, "User.sub must be a non-empty string, got 42"),
        (
            {"sub": "bob", "claims": {"sub": "robert"}},
            "User 'bob' has claims['sub'] = 'robert'; pass the subject as sub= only",
        ),
        (
            {"sub": "bob", "claims": ["email"]},
            "User 'bob': claims must be a mapping of claim names to values, got ['email']",
        ),
        ({"sub": "bob", "password": None}, "User 'bob': password must be a string, got None"),
    ],
)
def test_user_errors(options: dict[str, Any], message: str) -> None:
    with config_error(message):
        User(**options)


def test_a_user_from_a_table_needs_a_sub() -> None:
    with config_error("a user needs a 'sub' claim; got the keys ['email']"):
        User.from_dict({"email": "b@example.com"})


# -- Client ---------------------------------------------------------------------------------------


def test_a_client_with_a_secret_is_confidential_and_registers_no_method_by_default() -> None:
    client = Client(client_id="web", client_secret="s3")

    assert (client.token_endpoint_auth_method, client.is_public) == (None, False)
    assert client.grant_types == (
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        *EXTENSION_GRANTS,
    )
    assert client.redirect_uris == client.post_logout_redirect_uris == DEFAULT_URIS
    assert client.scope is None


def test_a_client_with_keys_and_no_secret_uses_private_key_jwt_and_keeps_only_public_keys() -> None:
    private = {"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ", "d": "ZA", "kid": "k1"}

    client = Client(client_id="svc", jwks={"keys": [private]})

    assert (client.token_endpoint_auth_method, client.is_public) == ("private_key_jwt", False)
    assert dict(client.jwks or {}) == {"keys": [{"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ", "kid": "k1"}]}
    assert "client_credentials" in client.grant_types


def test_a_client_goes_to_json_and_back() -> None:
    client = Client(
        client_id="svc", jwks={"keys": [{"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ"}]}, scope=("openid",)
    )

    data = client.to_dict()

    assert json.loads(json.dumps(data)) == data
    assert (data["jwks"], data["scope"]) == (
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ"}]},
        ["openid"],
    )
    assert Client.from_dict(data) == client


def test_a_client_without_a_secret_is_public_and_cannot_use_client_credentials() -> None:
    client = Client(client_id="spa")

    assert (client.token_endpoint_auth_method, client.is_public) == ("none", True)
    assert client.grant_types == ("authorization_code", "refresh_token", "password", *EXTENSION_GRANTS)


def test_client_lists_are_stored_as_tuples() -> None:
    client = Client(client_id="spa", redirect_uris=["https://spa.example/cb"], scope=["openid"])  # type: ignore[arg-type]

    assert (client.redirect_uris, client.scope) == (("https://spa.example/cb",), ("openid",))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"client_id": ""}, "Client.client_id must be a non-empty string, got ''"),
        ({"client_id": None}, "Client.client_id must be a non-empty string, got None"),
        (
            {"redirect_uris": "https://app.example/cb"},
            "Client.redirect_uris must be a sequence of strings, not the string 'https://app.example/cb'",
        ),
        ({"scope": "openid email"}, "Client.scope must be a sequence of strings, not the string 'openid email'"),
        (
            {"redirect_uris": ("https://app.example/cb", 5)},
            "Client.redirect_uris must be a sequence of strings, got 5 in it",
        ),
        ({"grant_types": 5}, "Client.grant_types must be a sequence, got 5"),
        (
            {"grant_types": ("authorization_code", "implicit")},
            "unknown grant type 'implicit'; supported: authorization_code, refresh_token, client_credentials, password,"
            f" {', '.join(EXTENSION_GRANTS)}",
        ),
        (
            {"client_secret": "s", "token_endpoint_auth_method": "none"},
            "client 'web' has a secret but authenticates with 'none'",
        ),
        (
            {"token_endpoint_auth_method": "client_secret_post"},
            "client 'web' authenticates with 'client_secret_post' but has no client_secret",
        ),
        (
            {"client_secret": "s", "token_endpoint_auth_method": "tls_client_auth"},
            "unknown token_endpoint_auth_method 'tls_client_auth';"
            " supported: client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none",
        ),
        (
            {"client_secret": "s", "token_endpoint_auth_method": "private_key_jwt"},
            "client 'web' authenticates with 'private_key_jwt' but has no keys: give it jwks (its public JWK Set)"
            " or jwks_uri (RFC 7591 section 2)",
        ),
        (
            {"jwks": {"keys": []}},
            "client 'web': jwks must be a JWK Set, {\"keys\": [{...}, ...]} with at least one key (RFC 7517"
            " section 5), got {'keys': []}",
        ),
        (
            {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
            "client 'web': jwks holds public keys (kty RSA, EC or OKP); a shared secret is the client_secret,"
            " which client_secret_jwt signs with",
        ),
        (
            {"jwks": {"keys": [{"kty": "EC"}]}, "jwks_uri": "https://app.example/jwks"},
            "client 'web' has both jwks and jwks_uri; give one (RFC 7591 section 2)",
        ),
        ({"jwks_uri": "/jwks"}, "client 'web': jwks_uri must be an http(s) URL, got '/jwks'"),
        (
            {"redirect_uris": ("/callback",)},
            "client 'web': redirect URI '/callback' must be absolute and carry no fragment (RFC 6749 section 3.1.2)",
        ),
        (
            {"post_logout_redirect_uris": ("https://app.example/bye#top",)},
            "client 'web': redirect URI 'https://app.example/bye#top' must be absolute and carry no fragment"
            " (RFC 6749 section 3.1.2)",
        ),
    ],
)
def test_client_errors(options: dict[str, Any], message: str) -> None:
    with config_error(message):
        Client(**{"client_id": "web", **options})


# -- the provider's users and clients -----------------------------------------------------------


def test_add_user_by_name_with_claims(provider: MockIdP) -> None:
    bob = provider.add_user("bob", email="robert@example.com")

    assert provider.users["bob"] is bob
    assert (bob.claims["email"], bob.claims["name"]) == ("robert@example.com", "Bob Example")


def test_add_user_refuses_claims_with_a_user_object(provider: MockIdP) -> None:
    with pytest.raises(
        TypeError, match=r"^pass claims with a username, not with a User object\nsee: python -m mockidp"
    ):
        provider.add_user(User(sub="bob"), email="b@example.com")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        (User(sub="alice"), "a user with sub 'alice' is already registered"),
        (User(sub="u-2", claims={"preferred_username": "alice"}), "a user named 'alice' is already registered"),
    ],
)
def test_add_user_refuses_a_duplicate(provider: MockIdP, user: User, message: str) -> None:
    with config_error(message):
        provider.add_user(user)

    assert list(provider.users) == ["alice"]


def test_add_client_refuses_a_duplicate(provider: MockIdP) -> None:
    with config_error("a client with id 'mockidp-client' is already registered"):
        provider.add_client(Client(client_id="mockidp-client"))


def test_an_added_client_can_use_the_token_endpoint(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="batch", client_secret="s3"))

    response = token_request(provider, {"grant_type": "client_credentials"}, auth=("batch", "s3"))

    assert response.status_code == 200


@pytest.mark.parametrize("name", ["alice", "alice@example.com"])
def test_find_user_by_sub_username_or_email(key_pool: KeyPool, name: str) -> None:
    idp = MockIdP(ProviderConfig(users=(User.named("alice", sub="u-1"),)), keys=key_pool)

    assert idp.find_user(name) is idp.users["u-1"]
    assert idp.find_user("u-1") is idp.users["u-1"]


def test_find_user_answers_none_for_a_stranger(provider: MockIdP) -> None:
    assert provider.find_user("mallory") is None


def test_without_users_or_clients_the_defaults_say_what_to_do(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(users=(), clients=()), keys=key_pool)

    see = r"\nsee: python -m mockidp docs users-and-clients$"
    with pytest.raises(LookupError, match=r"^this provider has no users; add one with add_user\(\)" + see):
        _ = idp.user
    with pytest.raises(LookupError, match=r"^this provider has no clients; add one with add_client\(\)" + see):
        _ = idp.client


def logged_in_sub(idp: MockIdP) -> str:
    """Run a code flow in a fresh browser and answer the ``sub`` the userinfo endpoint reports."""
    request = auth_request(idp, False)
    code = callback_params(Browser(idp).authorize(request))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": request.params["redirect_uri"]}
    body = token_request(idp, data, auth=client_auth(idp)).json()
    claims = idp.minter.check_access_token(body["access_token"])[1]
    return str(claims["sub"])


def test_login_as_logs_users_in_in_turn(provider: MockIdP) -> None:
    provider.add_user("bob")
    provider.login_as("bob")
    provider.login_as({"sub": "carol", "email": "carol@example.com"})

    assert [logged_in_sub(provider) for _ in range(3)] == ["bob", "carol", "alice"]


def test_login_as_refuses_an_unknown_user(provider: MockIdP) -> None:
    with pytest.raises(LookupError, match=r"^mockidp: no user named 'bob'; the nearest is 'alice' \(known"):
        provider.login_as("bob")


def test_endpoint_takes_a_name_or_a_metadata_key(provider: MockIdP) -> None:
    assert provider.endpoint("token") == provider.endpoint("token_endpoint") == "https://idp.mockidp.test/token"
    assert provider.endpoint("discovery") == provider.metadata_url


def test_endpoint_refuses_an_unknown_name(provider: MockIdP) -> None:
    with pytest.raises(
        ValueError,
        match=r"^unknown endpoint 'tokens' \(did you mean 'token'\?\); choose one of discovery, jwks, authorize, ",
    ):
        provider.endpoint("tokens")


def test_the_provider_repr(provider: MockIdP) -> None:
    assert repr(provider) == "<MockIdP issuer='https://idp.mockidp.test' users=1 clients=1>"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"strict": "false"}, "ProviderConfig.strict must be true or false, got 'false'"),
        ({"password_grant": 1}, "ProviderConfig.password_grant must be true or false, got 1"),
        ({"interactive": None}, "ProviderConfig.interactive must be true or false, got None"),
        ({"access_token_audience": 5}, "ProviderConfig.access_token_audience must be a non-empty string, got 5"),
        ({"access_token_audience": ""}, "ProviderConfig.access_token_audience must be a non-empty string, got ''"),
        (
            {"clients": [{"client_id": "web", "client_secret": 123}]},
            "client 'web': client_secret must be a string (or None for a public client), got 123",
        ),
    ],
)
def test_values_of_the_wrong_type_from_a_file_are_config_errors(values: dict[str, Any], message: str) -> None:
    # A TOML or JSON file can say "false" where a boolean belongs; it must not turn strict mode on.
    with pytest.raises(ConfigError) as error:
        ProviderConfig.from_dict(values)
    assert str(error.value) == message
