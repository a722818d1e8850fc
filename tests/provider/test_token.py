"""The token endpoint: RFC 6749 §3.2 (the endpoint), §4.1.3 (authorization code), §6 (refresh token),
§4.4 (client credentials), §4.3 (password), §5.1/§5.2 (responses); PKCE verification (RFC 7636 §4.6);
OIDC Core §12.2 (the ID token of a refresh).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx2
import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from tests.flows import (
    REDIRECT_URI,
    Browser,
    auth_request,
    callback_params,
    client_auth,
    login,
    s256,
    token_request,
)

OTHER = Client(client_id="other", client_secret="other-secret")
EXTENSION_GRANTS = (
    "urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange,"
    " urn:ietf:params:oauth:grant-type:jwt-bearer"
)


def oauth_error(response: httpx2.Response, status: int = 400) -> str:
    """``error: error_description`` of an RFC 6749 §5.2 error response, after checking its status."""
    assert response.status_code == status, response.text
    body = response.json()
    return f"{body['error']}: {body['error_description']}"


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(idp.jwks())  # type: ignore[arg-type]
    return dict(jwt.decode(token, keys).claims)


def get_code(idp: MockIdP, pkce: bool = True, /, **overrides: str | None) -> tuple[str, str | None]:
    """A fresh authorization code (and its PKCE verifier) from the authorization endpoint."""
    request = auth_request(idp, pkce, **overrides)
    return callback_params(Browser(idp).authorize(request))["code"], request.verifier


def redeem(
    idp: MockIdP,
    code: str,
    verifier: str | None,
    *,
    auth: tuple[str, str] | None = None,
    **extra: str,
) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    return token_request(idp, data, auth=auth or client_auth(idp))


def refresh(idp: MockIdP, refresh_token: str, *, auth: tuple[str, str] | None = None, **extra: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return token_request(idp, data, auth=auth or client_auth(idp))


def userinfo(idp: MockIdP, access_token: str) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})


# -- authorization_code -----------------------------------------------------------------------


def test_a_code_redeems_once_and_its_reuse_revokes_the_tokens_it_issued(provider: MockIdP) -> None:
    code, verifier = get_code(provider)
    first = redeem(provider, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert userinfo(provider, tokens["access_token"]).status_code == 200

    again = redeem(provider, code, verifier)

    assert oauth_error(again) == (
        "invalid_grant: the authorization code was already used;"
        " the tokens it issued are now revoked (RFC 6749 section 4.1.2)"
    )
    revoked = userinfo(provider, tokens["access_token"])
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["www-authenticate"]
    assert oauth_error(refresh(provider, tokens["refresh_token"])).startswith("invalid_grant: the refresh token was")


def test_a_replay_racing_the_first_redemption_still_revokes_what_it_issued(
    provider: MockIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay arrives (from another thread) while the first redemption is still minting its tokens."""
    code, verifier = get_code(provider)
    replays: list[httpx2.Response] = []
    threads: list[threading.Thread] = []
    issue = provider.minter.issue

    def issue_while_a_replay_arrives(*args: Any, **kwargs: Any) -> Any:
        replay = threading.Thread(target=lambda: replays.append(redeem(provider, code, verifier)))
        replay.start()
        threads.append(replay)
        return issue(*args, **kwargs)

    monkeypatch.setattr(provider.minter, "issue", issue_while_a_replay_arrives)
    first = redeem(provider, code, verifier)
    threads[0].join()

    assert first.status_code == 200
    assert oauth_error(replays[0]).startswith("invalid_grant: the authorization code was already used;")
    assert userinfo(provider, first.json()["access_token"]).status_code == 401


def test_a_failed_redemption_uses_the_code_up_and_says_so(provider: MockIdP) -> None:
    code, verifier = get_code(provider)
    assert redeem(provider, code, "x" * 43).status_code == 400

    assert oauth_error(redeem(provider, code, verifier)) == (
        "invalid_grant: the authorization code was already used, by a redemption that failed (RFC 6749 section 4.1.2)"
    )


@pytest.mark.parametrize(("seconds", "status"), [(29, 200), (30, 400)])
def test_a_code_lives_code_ttl_seconds(key_pool: KeyPool, seconds: int, status: int) -> None:
    idp = MockIdP(ProviderConfig(code_ttl=30), keys=key_pool)
    with freeze_time("2030-01-01") as frozen:
        code, verifier = get_code(idp)
        frozen.tick(seconds)
        response = redeem(idp, code, verifier)
    assert response.status_code == status
    if status == 400:
        assert oauth_error(response) == "invalid_grant: the authorization code expired (it lives 30 s)"


def test_a_code_issued_to_another_client_is_refused(provider: MockIdP) -> None:
    provider.add_client(OTHER)
    code, verifier = get_code(provider)

    response = redeem(provider, code, verifier, auth=("other", "other-secret"))

    assert oauth_error(response) == "invalid_grant: the authorization code was issued to another client, not 'other'"


def test_an_unknown_or_missing_code_is_refused(provider: MockIdP) -> None:
    assert oauth_error(redeem(provider, "nope", None)) == (
        "invalid_grant: the authorization code is not known to this provider"
    )
    response = token_request(provider, {"grant_type": "authorization_code"}, auth=client_auth(provider))
    assert oauth_error(response) == "invalid_request: code is required for grant_type authorization_code"


def test_redirect_uri_is_required_when_the_authorization_request_sent_one(provider: MockIdP) -> None:
    code, verifier = get_code(provider)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier or ""}

    response = token_request(provider, data, auth=client_auth(provider))

    assert oauth_error(response) == (
        "invalid_request: redirect_uri is required: the authorization request sent one (RFC 6749 section 4.1.3)"
    )


def test_redirect_uri_must_be_identical_to_the_authorization_requests(provider: MockIdP) -> None:
    code, verifier = get_code(provider)

    response = redeem(provider, code, verifier, redirect_uri="http://testserver/callback/")

    assert oauth_error(response) == (
        "invalid_grant: redirect_uri 'http://testserver/callback/' differs from the authorization request's"
        " 'http://testserver/callback'"
    )


def test_redirect_uri_may_be_left_out_when_the_authorization_request_left_it_out(key_pool: KeyPool) -> None:
    client = Client(client_id="app", client_secret="s", redirect_uris=("https://app.example/cb",))
    idp = MockIdP(ProviderConfig(clients=(client,)), keys=key_pool)
    request = auth_request(idp, True, redirect_uri=None, scope="profile")
    response = Browser(idp).authorize(request)
    assert response.headers["location"].startswith("https://app.example/cb?")
    data = {"grant_type": "authorization_code", "code": callback_params(response)["code"]}

    answer = token_request(idp, {**data, "code_verifier": request.verifier or ""}, auth=("app", "s"))

    assert answer.status_code == 200


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_a_matching_pkce_verifier_redeems_the_code(provider: MockIdP, method: str) -> None:
    verifier = "v" * 43
    challenge = verifier if method == "plain" else s256(verifier)
    code, _ = get_code(provider, False, code_challenge=challenge, code_challenge_method=method)

    response = redeem(provider, code, verifier)

    assert response.status_code == 200
    assert provider.requests.filter(endpoint="token")[-1].pkce is True


def test_pkce_s256_is_the_rfc_7636_appendix_b_transform(provider: MockIdP) -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
    code, _ = get_code(
        provider, False, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method="S256"
    )
    assert redeem(provider, code, verifier).status_code == 200


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        (None, "code_verifier is required: the authorization request sent a code_challenge"),
        ("w" * 43, "code_verifier does not match the code_challenge (RFC 7636 section 4.6)"),
        ("short", "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)"),
        ("v" * 42 + "!", "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)"),
        ("v" * 129, "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)"),
    ],
)
def test_a_missing_wrong_or_malformed_verifier_is_refused(
    provider: MockIdP, verifier: str | None, message: str
) -> None:
    code, _ = get_code(provider)
    assert oauth_error(redeem(provider, code, verifier)) == f"invalid_grant: {message}"


def test_a_plain_challenge_is_not_accepted_as_an_s256_verifier(provider: MockIdP) -> None:
    verifier = "v" * 43
    code, _ = get_code(provider, False, code_challenge=verifier, code_challenge_method="S256")
    assert oauth_error(redeem(provider, code, verifier)) == (
        "invalid_grant: code_verifier does not match the code_challenge (RFC 7636 section 4.6)"
    )


def test_a_verifier_without_a_challenge_is_refused(provider: MockIdP) -> None:
    code, _ = get_code(provider, False)

    response = redeem(provider, code, "v" * 43)

    assert oauth_error(response) == (
        "invalid_grant: code_verifier was sent,"
        " but the authorization request had no code_challenge (RFC 9700 section 2.1.1)"
    )


def test_a_confidential_client_may_redeem_a_code_without_pkce(provider: MockIdP) -> None:
    code, _ = get_code(provider, False)
    response = redeem(provider, code, None)
    assert response.status_code == 200
    assert provider.requests.filter(endpoint="token")[-1].pkce is False


# -- response shape ---------------------------------------------------------------------------


def test_the_token_response_is_a_bearer_token_that_must_not_be_cached(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(access_token_ttl=600), keys=key_pool)
    code, verifier = get_code(idp, True, scope="openid email")

    response = redeem(idp, code, verifier)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"]
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 600, "openid email")
    access = claims_of(idp, body["access_token"])
    assert access["exp"] - access["iat"] == 600
    assert access["scope"] == "openid email"


def test_an_error_response_must_not_be_cached_either(provider: MockIdP) -> None:
    response = redeem(provider, "nope", None)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"


def test_the_code_id_token_carries_the_nonce(provider: MockIdP) -> None:
    code, verifier = get_code(provider, True, nonce="n-0S6_WzA2Mj")
    claims = claims_of(provider, redeem(provider, code, verifier).json()["id_token"])
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["aud"] == "mockidp-client"


def test_no_id_token_without_the_openid_scope(provider: MockIdP) -> None:
    code, verifier = get_code(provider, True, scope="profile")
    body = redeem(provider, code, verifier).json()
    assert "id_token" not in body
    assert body["scope"] == "profile"


def test_no_refresh_token_for_a_client_without_the_refresh_grant(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="once", client_secret="s", grant_types=("authorization_code",)))
    code, verifier = get_code(provider, True, client_id="once")
    body = redeem(provider, code, verifier, auth=("once", "s")).json()
    assert "refresh_token" not in body
    assert "access_token" in body


# -- refresh_token ----------------------------------------------------------------------------


def test_a_refresh_rotates_the_refresh_token(provider: MockIdP) -> None:
    tokens = login(provider)

    response = refresh(provider, tokens["refresh_token"])

    assert response.status_code == 200
    fresh = response.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["scope"] == "openid profile email"
    assert refresh(provider, fresh["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(provider: MockIdP) -> None:
    tokens = login(provider)
    fresh = refresh(provider, tokens["refresh_token"]).json()

    reuse = refresh(provider, tokens["refresh_token"])

    assert oauth_error(reuse) == (
        "invalid_grant: the refresh token was revoked or already used; refresh tokens rotate (RFC 9700 section 4.14.2)"
    )
    assert userinfo(provider, fresh["access_token"]).status_code == 401
    assert userinfo(provider, tokens["access_token"]).status_code == 401
    assert oauth_error(refresh(provider, fresh["refresh_token"])).startswith("invalid_grant: the refresh token was")


def test_a_refresh_may_narrow_the_scope_and_later_return_to_the_grant(provider: MockIdP) -> None:
    tokens = login(provider)

    narrow = refresh(provider, tokens["refresh_token"], scope="openid").json()

    assert narrow["scope"] == "openid"
    assert claims_of(provider, narrow["access_token"])["scope"] == "openid"
    assert "email" not in claims_of(provider, narrow["id_token"])
    # RFC 6749 §6: an omitted scope is the one originally granted; the refresh token keeps it.
    back = refresh(provider, narrow["refresh_token"]).json()
    assert back["scope"] == "openid profile email"
    assert refresh(provider, back["refresh_token"], scope="email openid").json()["scope"] == "email openid"


def test_a_refresh_may_not_widen_the_scope_and_the_token_survives(provider: MockIdP) -> None:
    tokens = login(provider, scope="openid email")

    response = refresh(provider, tokens["refresh_token"], scope="openid email phone")

    assert oauth_error(response) == (
        "invalid_scope: a refresh may not widen the scope; not granted: phone (RFC 6749 section 6)"
    )
    assert refresh(provider, tokens["refresh_token"]).status_code == 200


def test_a_refresh_token_expires_after_refresh_token_ttl(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(refresh_token_ttl=300), keys=key_pool)
    with freeze_time("2030-01-01") as frozen:
        tokens = login(idp)
        frozen.tick(300)
        response = refresh(idp, tokens["refresh_token"])
    assert oauth_error(response) == "invalid_grant: the refresh token expired"


def test_another_clients_refresh_token_is_refused_and_survives(provider: MockIdP) -> None:
    provider.add_client(OTHER)
    tokens = login(provider)

    response = refresh(provider, tokens["refresh_token"], auth=("other", "other-secret"))

    assert oauth_error(response) == "invalid_grant: the refresh token was issued to another client, not 'other'"
    assert refresh(provider, tokens["refresh_token"]).status_code == 200


def test_an_unknown_or_missing_refresh_token_is_refused(provider: MockIdP) -> None:
    assert oauth_error(refresh(provider, "nope")) == "invalid_grant: the refresh token is not known to this provider"
    response = token_request(provider, {"grant_type": "refresh_token"}, auth=client_auth(provider))
    assert oauth_error(response) == "invalid_request: refresh_token is required for grant_type refresh_token"


def test_the_refresh_id_token_has_no_nonce_and_keeps_auth_time(provider: MockIdP) -> None:
    with freeze_time("2030-01-01") as frozen:
        tokens = login(provider, nonce="abc")
        frozen.tick(120)
        fresh = refresh(provider, tokens["refresh_token"]).json()
    first, second = claims_of(provider, tokens["id_token"]), claims_of(provider, fresh["id_token"])

    assert first["nonce"] == "abc"
    assert "nonce" not in second
    assert second["auth_time"] == first["auth_time"]
    assert second["iat"] == first["iat"] + 120
    assert (second["sub"], second["aud"], second["iss"]) == (first["sub"], first["aud"], first["iss"])


def test_the_request_log_names_the_user_of_a_refresh(provider: MockIdP) -> None:
    refresh(provider, login(provider)["refresh_token"])
    assert provider.requests.filter(endpoint="token", grant_type="refresh_token")[0].user == "alice"


# -- client_credentials -----------------------------------------------------------------------


def test_client_credentials_issues_only_an_access_token_for_the_client(provider: MockIdP) -> None:
    data = {"grant_type": "client_credentials", "scope": "read write"}

    response = token_request(provider, data, auth=client_auth(provider))

    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "scope", "token_type"]
    assert body["scope"] == "read write"
    claims = claims_of(provider, body["access_token"])
    assert (claims["sub"], claims["client_id"], claims["scope"]) == ("mockidp-client", "mockidp-client", "read write")


def test_a_public_client_may_not_use_client_credentials(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="spa"))

    response = token_request(provider, {"grant_type": "client_credentials", "client_id": "spa"})

    assert oauth_error(response) == (
        "unauthorized_client: client 'spa' may not use client_credentials (a public client has no credentials"
        " to use it with, RFC 6749 section 4.4); it may use authorization_code, refresh_token, password, "
        + EXTENSION_GRANTS
    )


def test_client_credentials_scopes_are_limited_to_the_clients(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="svc", client_secret="s", scope=("read",)))

    response = token_request(provider, {"grant_type": "client_credentials", "scope": "read admin"}, auth=("svc", "s"))

    assert oauth_error(response) == "invalid_scope: client 'svc' may not ask for admin; allowed: read"


# -- password ---------------------------------------------------------------------------------

PASSWORD_CLIENT = Client(client_id="legacy", client_secret="s", grant_types=("password", "refresh_token"))


def test_the_password_grant_is_off_by_default(provider: MockIdP) -> None:
    data = {"grant_type": "password", "username": "alice", "password": "password"}

    response = token_request(provider, data, auth=client_auth(provider))

    assert oauth_error(response) == (
        "unsupported_grant_type: grant_type 'password' is not supported (the password grant is off: enable it"
        " with password_grant=True); supported: authorization_code, refresh_token, client_credentials, "
        + EXTENSION_GRANTS
    )


@pytest.fixture
def password_idp(key_pool: KeyPool) -> MockIdP:
    users = (User.named("alice", password="wonderland"),)
    return MockIdP(ProviderConfig(password_grant=True, users=users, clients=(PASSWORD_CLIENT,)), keys=key_pool)


@pytest.mark.parametrize("username", ["alice", "alice@example.com"])
def test_the_password_grant_logs_the_user_in_when_enabled(password_idp: MockIdP, username: str) -> None:
    data = {"grant_type": "password", "username": username, "password": "wonderland", "scope": "openid email"}

    response = token_request(password_idp, data, auth=("legacy", "s"))

    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"]
    assert claims_of(password_idp, body["id_token"])["sub"] == "alice"
    record = password_idp.requests.filter(endpoint="token")[0]
    assert record.user == "alice"
    assert "password" not in record.params


@pytest.mark.parametrize(("username", "password"), [("alice", "password"), ("bob", "wonderland")])
def test_the_password_grant_refuses_a_wrong_password_or_user(
    password_idp: MockIdP, username: str, password: str
) -> None:
    data = {"grant_type": "password", "username": username, "password": password}
    response = token_request(password_idp, data, auth=("legacy", "s"))
    assert oauth_error(response) == "invalid_grant: wrong username or password"


def test_the_default_client_may_use_the_password_grant_once_the_provider_enables_it(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(password_grant=True), keys=key_pool)
    data = {"grant_type": "password", "username": "alice", "password": "password", "scope": "openid"}

    response = token_request(idp, data, auth=client_auth(idp))

    assert response.status_code == 200
    assert set(response.json()) >= {"access_token", "id_token", "refresh_token"}


def test_the_password_grant_needs_the_client_to_list_it(key_pool: KeyPool) -> None:
    client = Client(client_id="web", client_secret="s", grant_types=("authorization_code",))
    idp = MockIdP(ProviderConfig(password_grant=True, clients=(client,)), keys=key_pool)
    data = {"grant_type": "password", "username": "alice", "password": "password"}

    response = token_request(idp, data, auth=("web", "s"))

    assert oauth_error(response) == (
        "unauthorized_client: client 'web' may not use password (list 'password' in its grant_types);"
        " it may use authorization_code"
    )


def test_the_password_grant_needs_username_and_password(password_idp: MockIdP) -> None:
    response = token_request(password_idp, {"grant_type": "password", "username": "alice"}, auth=("legacy", "s"))
    assert oauth_error(response) == "invalid_request: password is required for grant_type password"


# -- grant_type and the HTTP request ----------------------------------------------------------


def test_grant_type_is_required(provider: MockIdP) -> None:
    response = token_request(provider, {"code": "x"}, auth=client_auth(provider))
    assert oauth_error(response) == "invalid_request: grant_type is required (RFC 6749 section 4.1.3)"


def test_an_unknown_grant_type_is_unsupported(provider: MockIdP) -> None:
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer"}
    response = token_request(provider, data, auth=client_auth(provider))
    assert oauth_error(response) == (
        "unsupported_grant_type: grant_type 'urn:ietf:params:oauth:grant-type:saml2-bearer' is not supported;"
        " supported: authorization_code, refresh_token, client_credentials, " + EXTENSION_GRANTS
    )


def test_a_grant_type_the_client_may_not_use_is_unauthorized(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="web", client_secret="s", grant_types=("authorization_code",)))
    response = token_request(provider, {"grant_type": "client_credentials"}, auth=("web", "s"))
    assert oauth_error(response) == (
        "unauthorized_client: client 'web' may not use client_credentials; it may use authorization_code"
    )


def post(
    idp: MockIdP, content: bytes, content_type: str | None = "application/x-www-form-urlencoded"
) -> httpx2.Response:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(idp.endpoint("token_endpoint"), content=content, headers=headers, auth=client_auth(idp))


def test_the_token_endpoint_takes_post_only(provider: MockIdP) -> None:
    with httpx2.Client(transport=provider.transport(httpx2)) as client:
        response = client.get(provider.endpoint("token_endpoint"), params={"grant_type": "client_credentials"})
    assert oauth_error(response) == "invalid_request: the token endpoint takes POST only (RFC 6749 section 3.2)"


@pytest.mark.parametrize(
    ("content_type", "shown"), [("application/json", "'application/json'"), (None, "'no content type'")]
)
def test_the_body_must_be_a_form(provider: MockIdP, content_type: str | None, shown: str) -> None:
    assert oauth_error(post(provider, b'{"grant_type": "client_credentials"}', content_type)) == (
        f"invalid_request: the body must be application/x-www-form-urlencoded (RFC 6749 section 4.1.3), got {shown}"
    )


def test_a_form_content_type_with_a_charset_is_a_form(provider: MockIdP) -> None:
    response = post(provider, b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=UTF-8")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"grant_type=client_credentials&grant_type=password",
            "parameter 'grant_type' was sent more than once (RFC 6749 section 3.1)",
        ),
        (b"grant_type=client_credentials&scope=a\xff", "the request body is not valid UTF-8"),
        (b"grant_type=client_credentials&" + b"x" * 65536, "the request body is larger than 65536 bytes"),
        (b"grant_type=client_credentials&scope=" + b"a" * 8193, "parameter 'scope' is longer than 8192 characters"),
        (b"grant_type=client_credentials&" + b"n" * 257 + b"=1", "a parameter name is longer than 256 characters"),
        (b"grant_type=client_credentials&scope=%00", "parameter 'scope' contains a NUL character"),
        (
            b"&".join(b"p%d=1" % i for i in range(101)),
            "the request body could not be parsed: Max number of fields exceeded",
        ),
    ],
)
def test_malformed_bodies_are_invalid_requests(provider: MockIdP, body: bytes, message: str) -> None:
    assert oauth_error(post(provider, body)) == f"invalid_request: {message}"


def test_a_parameter_without_a_value_counts_as_omitted(provider: MockIdP) -> None:
    response = post(provider, b"grant_type=client_credentials&grant_type=&scope=")
    assert response.status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_no_form_body_crashes_the_token_endpoint(key_pool: KeyPool, body: bytes) -> None:
    idp = MockIdP(keys=key_pool)
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.post(
            idp.endpoint("token_endpoint"),
            content=b"grant_type=authorization_code&code=x&" + body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            auth=client_auth(idp),
        )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_request", "invalid_grant", "invalid_client", "invalid_scope")


# -- the request log --------------------------------------------------------------------------


def test_the_request_log_describes_each_token_request(provider: MockIdP) -> None:
    login(provider)
    token_request(provider, {"grant_type": "client_credentials", "scope": "read"}, auth=client_auth(provider))
    redeem(provider, "nope", None)

    success, service, failure = provider.requests.filter(endpoint="token")

    assert (success.grant_type, success.client_id, success.client_auth_method, success.pkce) == (
        "authorization_code",
        "mockidp-client",
        "client_secret_basic",
        True,
    )
    assert (success.scopes, success.status, success.error) == (("openid", "profile", "email"), 200, None)
    assert (service.grant_type, service.pkce, service.scopes) == ("client_credentials", None, ("read",))
    assert (failure.status, failure.error, failure.error_description, failure.pkce) == (
        400,
        "invalid_grant",
        "the authorization code is not known to this provider",
        False,
    )
    assert "mockidp-secret" not in repr(provider.requests)
