"""One grammar for users and clients given as text (``mockidp._specs``), wherever text is accepted:
``mockidp serve`` flags, config files, ``ProviderConfig.from_dict`` / ``replace`` (which the pytest marker,
ini options and ``make_idp`` go through)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockidp import Client, ConfigError, ProviderConfig, User
from mockidp._cli import build_parser, config_values

FORM = "write CLIENT_ID[:SECRET][,field=value...], e.g."


def test_a_client_spec_carries_its_metadata() -> None:
    (client,) = ProviderConfig.from_dict(
        {
            "clients": [
                "web:s3cret,redirect_uris=http://testserver/callback https://app.example/cb,"
                "redirect_uris=http://localhost/cb,grant_types=authorization_code refresh_token,"
                "scope=openid email,id_token_signed_response_alg=ES256"
            ]
        }
    ).clients
    assert client == Client(
        client_id="web",
        client_secret="s3cret",
        redirect_uris=("http://testserver/callback", "https://app.example/cb", "http://localhost/cb"),
        grant_types=("authorization_code", "refresh_token"),
        scope=("openid", "email"),
        id_token_signed_response_alg="ES256",
    )


def test_the_secret_ends_at_the_first_comma() -> None:
    """The ini line that used to register the secret 'mockidp-secret,redirect_uris=...' in silence."""
    (client,) = ProviderConfig.from_dict(
        {"clients": ["mockidp-client:mockidp-secret,redirect_uris=http://testserver/callback"]}
    ).clients
    assert (client.client_secret, client.redirect_uris) == ("mockidp-secret", ("http://testserver/callback",))


def test_a_public_client_spec_has_no_secret() -> None:
    (client,) = ProviderConfig.from_dict({"clients": ["spa,redirect_uris=http://localhost/cb"]}).clients
    assert client.is_public
    assert client.redirect_uris == ("http://localhost/cb",)


def test_a_user_spec_repeats_a_claim_for_a_list_and_reads_booleans() -> None:
    (user,) = ProviderConfig.from_dict({"users": ["bob,roles=admin,roles=dev,email_verified=false,sub=u-1"]}).users
    assert user.sub == "u-1"
    assert user.claims["roles"] == ["admin", "dev"]
    assert user.claims["email_verified"] is False
    assert user.username == "bob"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "web:s3cret,redirect_uri=http://testserver/cb",
            "client 'web:s3cret,redirect_uri=http://testserver/cb': unknown client field 'redirect_uri' (did you"
            " mean 'redirect_uris'?); choose one of redirect_uris, post_logout_redirect_uris, grant_types,"
            " token_endpoint_auth_method, scope, id_token_signed_response_alg, require_pushed_authorization_requests,"
            " dpop_bound_access_tokens, jwks_uri, default_max_age, default_acr_values, backchannel_logout_uri,"
            f" backchannel_logout_session_required; {FORM}",
        ),
        ("web:s3cret,http://testserver/cb", "expected name=value after the first comma, got 'http://testserver/cb'"),
        ("redirect_uris=http://x/cb", "client 'redirect_uris=http://x/cb': a client needs its id first"),
        (
            "web:s,token_endpoint_auth_method=none,token_endpoint_auth_method=none",
            "token_endpoint_auth_method was given twice; it holds one value",
        ),
        ("web,grant_types=implicit", "client 'web,grant_types=implicit': unknown grant type 'implicit'"),
    ],
)
def test_a_bad_client_spec_is_refused_with_the_accepted_form(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        ProviderConfig.from_dict({"clients": [spec]})


def test_a_config_file_takes_specs_next_to_tables(tmp_path: Path) -> None:
    path = tmp_path / "idp.toml"
    path.write_text(
        'users = ["bob,email=bob@corp.example"]\n'
        'clients = ["web:s3cret,redirect_uris=https://app.example/cb", {client_id = "spa"}]\n'
    )
    config = ProviderConfig.from_dict(config_values(build_parser().parse_args(["serve", "--config", str(path)])))
    assert [u.claims["email"] for u in config.users] == ["bob@corp.example"]
    assert [(c.client_id, c.redirect_uris[0]) for c in config.clients] == [
        ("web", "https://app.example/cb"),
        ("spa", "http://testserver/*"),
    ]


def test_the_cli_flag_takes_the_same_grammar() -> None:
    args = build_parser().parse_args(["serve", "--client", "web:s3cret,redirect_uris=https://app.example/cb"])
    (client,) = ProviderConfig.from_dict(config_values(args)).clients
    assert client.redirect_uris == ("https://app.example/cb",)


def test_replace_takes_specs_as_make_idp_does() -> None:
    config = ProviderConfig().replace(users=["carol,email=c@corp.example"], clients=["api:pw"])
    assert config.users == (User.named("carol", email="c@corp.example"),)
    assert config.clients == (Client(client_id="api", client_secret="pw"),)
