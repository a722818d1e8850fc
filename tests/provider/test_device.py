"""The device authorization grant: RFC 8628 §3.1-§3.2 (device authorization endpoint), §3.3 (the
verification page), §3.4-§3.5 (polling the token endpoint: ``authorization_pending``, ``slow_down``,
``access_denied``, ``expired_token``), with the provider's clock under freezegun.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from freezegun import freeze_time
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from mockidp._device import USER_CODE_ALPHABET
from tests.flows import client_auth

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
START = "2030-01-01 00:00:00"
USER_CODE = re.compile(f"^[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}$")
TV = Client(client_id="tv", grant_types=(DEVICE_GRANT, "refresh_token"))


@pytest.fixture
def clock() -> Iterator[Any]:
    with freeze_time(START) as frozen:
        yield frozen


@pytest.fixture
def idp(key_pool: KeyPool, clock: Any) -> MockIdP:
    return MockIdP(ProviderConfig(users=(User.named("alice"), User.named("bob")), clients=(TV,)), keys=key_pool)


def post(idp: MockIdP, endpoint: str, data: dict[str, str], auth: tuple[str, str] | None = None) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(idp.endpoint(endpoint), data=data, auth=auth or httpx2.USE_CLIENT_DEFAULT)


def start(idp: MockIdP, client_id: str = "tv", **extra: str) -> dict[str, Any]:
    response = post(idp, "device_authorization", {"client_id": client_id, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(idp: MockIdP, device_code: str, client_id: str = "tv") -> httpx2.Response:
    return post(idp, "token", {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id})


def error_of(response: httpx2.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    return f"{body['error']}: {body['error_description']}"


def claims_of(idp: MockIdP, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(idp.jwks())).claims)  # type: ignore[arg-type]


# -- the device authorization endpoint ---------------------------------------------------------


def test_the_device_authorization_response_has_every_field_of_section_3_2(idp: MockIdP) -> None:
    body = start(idp, scope="openid profile")

    assert sorted(body) == [
        "device_code",
        "expires_in",
        "interval",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
    ]
    assert USER_CODE.match(body["user_code"])
    assert body["verification_uri"] == "https://idp.mockidp.test/device"
    assert body["verification_uri_complete"] == f"https://idp.mockidp.test/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    entry = idp.requests.filter(endpoint="device_authorization")[0]
    assert (entry.client_id, entry.client_auth_method, entry.scopes) == ("tv", "none", ("openid", "profile"))


def test_discovery_announces_the_endpoint_and_the_grant(idp: MockIdP) -> None:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        meta = client.get(idp.metadata_url).json()

    assert meta["device_authorization_endpoint"] == "https://idp.mockidp.test/device_authorization"
    assert DEVICE_GRANT in meta["grant_types_supported"]


def test_the_lifetime_and_interval_come_from_the_config(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(clients=(TV,), device_code_ttl=120, device_interval=2), keys=key_pool)

    body = start(idp)

    assert (body["expires_in"], body["interval"]) == (120, 2)


@pytest.mark.parametrize(
    ("data", "auth", "status", "message"),
    [
        (
            {"scope": "openid"},
            ("web", "s"),
            400,
            "unauthorized_client: client 'web' may not use the device authorization grant (list"
            f" {DEVICE_GRANT} in its grant_types); it may use authorization_code",
        ),
        ({"client_id": "nobody"}, None, 401, "invalid_client: unknown client 'nobody'; registered clients: tv, web"),
        (
            {"scope": "openid"},
            None,
            401,
            "invalid_client: no client authentication: send Basic credentials, client_secret or client_id",
        ),
        (
            {"client_id": "tv", "scope": 'a"b'},
            None,
            400,
            "invalid_scope: scope 'a\"b' has a character RFC 6749 section 3.3 does not allow",
        ),
    ],
)
def test_bad_device_authorization_requests(
    idp: MockIdP, data: dict[str, str], auth: tuple[str, str] | None, status: int, message: str
) -> None:
    idp.add_client(Client(client_id="web", client_secret="s", grant_types=("authorization_code",)))

    response = post(idp, "device_authorization", data, auth)

    assert response.status_code == status, response.text
    body = response.json()
    assert f"{body['error']}: {body['error_description']}" == message.replace('"', "'")


def test_the_device_authorization_endpoint_takes_post_only(idp: MockIdP) -> None:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        response = client.get(idp.endpoint("device_authorization"), params={"client_id": "tv"})

    assert response.status_code == 405


def test_a_confidential_client_authenticates_with_its_secret(idp: MockIdP) -> None:
    idp.add_client(Client(client_id="box", client_secret="s3", grant_types=(DEVICE_GRANT,)))

    wrong = post(idp, "device_authorization", {"scope": "openid"}, ("box", "nope"))
    right = post(idp, "device_authorization", {"scope": "openid"}, ("box", "s3"))

    assert wrong.status_code == 401
    assert wrong.json()["error_description"] == "wrong client_secret for client 'box'"
    assert right.status_code == 200


# -- polling ----------------------------------------------------------------------------------


def test_the_device_gets_tokens_once_the_user_approves(idp: MockIdP, clock: Any) -> None:
    body = start(idp, scope="openid profile")

    assert error_of(poll(idp, body["device_code"])) == (
        f"authorization_pending: the user has not yet approved or denied user code {body['user_code']};"
        " poll again in 5 s (RFC 8628 section 3.5)"
    )
    idp.approve_device(body["user_code"], user="bob")
    clock.tick(5)
    answer = poll(idp, body["device_code"])

    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert sorted(tokens) == ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"]
    assert claims_of(idp, tokens["id_token"])["sub"] == "bob"
    access = claims_of(idp, tokens["access_token"])
    assert (access["sub"], access["client_id"], access["scope"]) == ("bob", "tv", "openid profile")
    assert idp.requests[-1].user == "bob"


def test_the_device_code_is_used_once(idp: MockIdP) -> None:
    body = start(idp)
    idp.approve_device(body["user_code"])

    assert poll(idp, body["device_code"]).status_code == 200
    assert error_of(poll(idp, body["device_code"])) == (
        "invalid_grant: the device code was already used to get tokens (RFC 8628 section 3.5)"
    )


def test_the_poll_that_collects_the_tokens_is_not_told_to_slow_down(idp: MockIdP) -> None:
    body = start(idp)
    poll(idp, body["device_code"])
    idp.approve_device(body["user_code"])

    assert poll(idp, body["device_code"]).status_code == 200  # no time passed since the last poll


def test_polling_faster_than_the_interval_slows_the_device_down_by_5_s_each_time(idp: MockIdP, clock: Any) -> None:
    code = start(idp)["device_code"]
    poll(idp, code)
    clock.tick(4)

    assert error_of(poll(idp, code)) == (
        "slow_down: polled 4 s after the last poll, sooner than the interval; wait at least 10 s between polls"
        " from now on (RFC 8628 section 3.5)"
    )
    clock.tick(9)
    assert error_of(poll(idp, code)).startswith(
        "slow_down: polled 9 s after the last poll, sooner than the interval; wait at least 15 s"
    )
    clock.tick(15)
    assert error_of(poll(idp, code)).startswith("authorization_pending:")
    assert error_of(poll(idp, code)).endswith("wait at least 20 s between polls from now on (RFC 8628 section 3.5)")


def test_a_denied_device_gets_access_denied(idp: MockIdP) -> None:
    body = start(idp)

    idp.deny_device(body["user_code"])

    assert error_of(poll(idp, body["device_code"])) == (
        "access_denied: the user denied the device authorization request (RFC 8628 section 3.5)"
    )


@pytest.mark.parametrize(("seconds", "expired"), [(599, False), (600, True)])
def test_a_device_code_lives_device_code_ttl_seconds(idp: MockIdP, clock: Any, seconds: int, expired: bool) -> None:
    body = start(idp)
    clock.tick(seconds)

    message = error_of(poll(idp, body["device_code"]))

    if expired:
        assert message == (
            "expired_token: the device code expired (it lives 600 s); start a new device authorization"
            " (RFC 8628 section 3.5)"
        )
    else:
        assert message.startswith("authorization_pending:")


def test_an_expired_code_cannot_be_approved(idp: MockIdP, clock: Any) -> None:
    body = start(idp)
    clock.tick(600)

    with pytest.raises(LookupError) as caught:
        idp.approve_device(body["user_code"])

    assert str(caught.value) == (
        f"the user code {body['user_code']} expired (device codes live 600 s); start again on the device"
    )


def test_a_device_code_is_bound_to_its_client(idp: MockIdP) -> None:
    idp.add_client(Client(client_id="radio", grant_types=(DEVICE_GRANT,)))
    body = start(idp)
    idp.approve_device(body["user_code"])

    assert error_of(poll(idp, body["device_code"], "radio")) == (
        "invalid_grant: the device code was issued to another client, not 'radio'"
    )


def test_bad_polls(idp: MockIdP) -> None:
    assert error_of(post(idp, "token", {"grant_type": DEVICE_GRANT, "client_id": "tv"})) == (
        f"invalid_request: device_code is required for grant_type {DEVICE_GRANT}"
    )
    assert error_of(poll(idp, "nope")) == "invalid_grant: the device code is not known to this provider"


def test_the_device_grant_is_only_for_clients_that_list_it(idp: MockIdP) -> None:
    idp.add_client(Client(client_id="web", client_secret="s", grant_types=("authorization_code",)))
    body = start(idp)

    response = post(idp, "token", {"grant_type": DEVICE_GRANT, "device_code": body["device_code"]}, ("web", "s"))

    assert error_of(response) == (
        f"unauthorized_client: client 'web' may not use {DEVICE_GRANT}; it may use authorization_code"
    )


def test_the_default_client_may_use_the_device_grant(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    response = post(idp, "device_authorization", {"scope": "openid"}, client_auth(idp))
    body = response.json()
    idp.approve_device(body["user_code"])

    tokens = post(idp, "token", {"grant_type": DEVICE_GRANT, "device_code": body["device_code"]}, client_auth(idp))

    assert tokens.status_code == 200
    assert claims_of(idp, tokens.json()["id_token"])["sub"] == "alice"


def test_a_new_user_code_never_repeats_a_live_one(idp: MockIdP, monkeypatch: pytest.MonkeyPatch) -> None:
    letters = iter("B" * 16 + "C" * 8)
    monkeypatch.setattr("mockidp._device.secrets.choice", lambda alphabet: next(letters))

    codes = [start(idp)["user_code"], start(idp)["user_code"]]

    assert codes == ["BBBB-BBBB", "CCCC-CCCC"]


def test_a_bounded_state_forgets_settled_device_codes_first(idp: MockIdP) -> None:
    idp.state.limit = 16
    started = [start(idp) for _ in range(16)]
    idp.deny_device(started[4]["user_code"])

    start(idp)  # one past the limit: room is made for a sixteenth of it

    assert (
        error_of(poll(idp, started[4]["device_code"])) == "invalid_grant: the device code is not known to this provider"
    )
    assert (
        error_of(poll(idp, started[0]["device_code"])) == "invalid_grant: the device code is not known to this provider"
    )
    assert error_of(poll(idp, started[1]["device_code"])).startswith("authorization_pending:")


# -- approve_device / deny_device ---------------------------------------------------------------


def test_approve_device_takes_the_code_as_a_person_types_it(idp: MockIdP) -> None:
    body = start(idp)

    idp.approve_device(body["user_code"].lower().replace("-", " "))

    assert poll(idp, body["device_code"]).status_code == 200


def test_approve_device_logs_in_the_first_user_by_default(idp: MockIdP) -> None:
    body = start(idp, scope="openid")
    idp.approve_device(body["user_code"])

    assert claims_of(idp, poll(idp, body["device_code"]).json()["id_token"])["sub"] == "alice"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda idp, code: idp.approve_device("BCDF-GHJK"),
            LookupError,
            "no device authorization has the user code 'BCDF-GHJK'; type the code the device shows",
        ),
        (
            lambda idp, code: idp.approve_device(code, user="carol"),
            LookupError,
            "mockidp: no user named 'carol'; the nearest is 'alice' (known users: alice, bob).\n"
            "To log in a new user, give its claims: idp.login(client, path, user='carol', email='carol@example.com');\n"
            "or register it: idp.add_user('carol', email='carol@example.com'), or for the test"
            " @pytest.mark.mockidp(users=[User.named('alice'), User.named('carol', email='carol@example.com')])"
            " (users= replaces the default users)",
        ),
        (
            lambda idp, code: idp.deny_device(code) or idp.approve_device(code),
            LookupError,
            "the user code {} was already denied",
        ),
        (
            lambda idp, code: idp.approve_device(code) or idp.deny_device(code),
            LookupError,
            "the user code {} was already approved",
        ),
    ],
)
def test_approve_and_deny_explain_what_they_cannot_do(
    idp: MockIdP, call: Any, error: type[Exception], message: str
) -> None:
    code = start(idp)["user_code"]

    with pytest.raises(error) as caught:
        call(idp, code)

    assert str(caught.value) == message.format(code)


def test_a_used_code_cannot_be_approved_again(idp: MockIdP) -> None:
    body = start(idp)
    idp.approve_device(body["user_code"])
    poll(idp, body["device_code"])

    with pytest.raises(LookupError, match="was already approved"):
        idp.approve_device(body["user_code"])


# -- the verification page -----------------------------------------------------------------------


@pytest.fixture
def browser(idp: MockIdP) -> Iterator[httpx2.Client]:
    with httpx2.Client(transport=idp.transport(httpx2), follow_redirects=False) as client:
        yield client


def test_the_page_at_verification_uri_complete_shows_the_request(idp: MockIdP, browser: httpx2.Client) -> None:
    body = start(idp, scope="openid profile")

    page = browser.get(body["verification_uri_complete"])

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<code>tv</code> asks for <code>openid profile</code> on a device." in page.text
    assert f'name="user_code" value="{body["user_code"]}"' in page.text
    assert '<option value="bob">bob (bob@example.com)</option>' in page.text


def test_a_person_approves_at_the_page(idp: MockIdP, browser: httpx2.Client) -> None:
    body = start(idp, scope="openid")

    page = browser.post(
        body["verification_uri"],
        data={"user_code": body["user_code"], "mockidp_username": "bob@example.com", "mockidp_action": "approve"},
    )

    assert page.status_code == 200
    assert "Device approved for <code>bob</code>." in page.text
    assert idp.requests[-1].user == "bob"
    assert claims_of(idp, poll(idp, body["device_code"]).json()["id_token"])["sub"] == "bob"


def test_a_person_denies_at_the_page(idp: MockIdP, browser: httpx2.Client) -> None:
    body = start(idp)

    page = browser.post(body["verification_uri"], data={"user_code": body["user_code"], "mockidp_action": "deny"})

    assert page.status_code == 200
    assert "Access denied." in page.text
    assert error_of(poll(idp, body["device_code"])).startswith("access_denied:")


def test_the_page_without_a_code_asks_for_one(idp: MockIdP, browser: httpx2.Client) -> None:
    page = browser.get(idp.endpoint("device_verification"))

    assert page.status_code == 200
    assert 'name="user_code" value=""' in page.text
    assert "alert" not in page.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"mockidp_username": "bob"}, "Type the code your device shows."),
        (
            {"user_code": "ZZZZ-ZZZZ", "mockidp_username": "bob"},
            "No device authorization has the user code &#x27;ZZZZ-ZZZZ&#x27;; type the code the device shows.",
        ),
        ({"user_code": "{code}", "mockidp_username": ""}, "Type a username, or pick one of the users listed."),
        ({"user_code": "{code}", "mockidp_username": "carol"}, "No user named &#x27;carol&#x27;."),
        (
            {"user_code": "{code}", "mockidp_username": "bob", "mockidp_action": "dance"},
            "Unknown action &#x27;dance&#x27;: the buttons send approve or deny.",
        ),
    ],
)
def test_the_page_says_what_it_cannot_act_on(
    idp: MockIdP, browser: httpx2.Client, form: dict[str, str], message: str
) -> None:
    code = start(idp)["user_code"]

    page = browser.post(idp.endpoint("device_verification"), data={k: v.format(code=code) for k, v in form.items()})

    assert page.status_code == 400
    assert f'<p role="alert">{message}</p>' in page.text
    assert error_of(poll(idp, start(idp)["device_code"])).startswith("authorization_pending:")


def test_the_page_escapes_what_it_echoes(idp: MockIdP, browser: httpx2.Client) -> None:
    evil = '"><script>alert(1)</script>'

    page = browser.get(idp.endpoint("device_verification"), params={"user_code": evil, "mockidp_username": evil})

    assert page.status_code == 400
    assert "<script>" not in page.text
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page.text


def test_the_page_fills_in_the_user_of_the_idp_session(idp: MockIdP, browser: httpx2.Client) -> None:
    from tests.flows import auth_request

    idp.add_client(Client(client_id="web", client_secret="s"))
    browser.get(idp.endpoint("authorize"), params=auth_request(idp, True, client_id="web", login_hint="bob").params)
    code = start(idp)["user_code"]

    page = browser.get(idp.endpoint("device_verification"), params={"user_code": code})

    assert 'name="mockidp_username" value="bob"' in page.text


# -- third-party clients and a real socket ---------------------------------------------------------


def test_authlib_polls_until_the_user_approves(idp: MockIdP) -> None:
    with OAuth2Client(client_id="tv", token_endpoint_auth_method="none", transport=idp.transport("httpx2")) as client:
        answer = client.request(
            "POST",
            idp.endpoint("device_authorization"),
            data={"client_id": "tv", "scope": "openid"},
            withhold_token=True,
        )
        body = answer.json()
        with pytest.raises(OAuthError) as pending:
            client.fetch_token(idp.endpoint("token"), grant_type=DEVICE_GRANT, device_code=body["device_code"])
        idp.approve_device(body["user_code"], user="bob")
        token = client.fetch_token(idp.endpoint("token"), grant_type=DEVICE_GRANT, device_code=body["device_code"])

    assert pending.value.error == "authorization_pending"
    assert claims_of(idp, token["id_token"])["sub"] == "bob"


def test_the_device_flow_over_a_real_socket(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(clients=(TV,)), keys=key_pool)
    with idp.serve() as issuer, httpx2.Client() as client:
        body = client.post(issuer + "/device_authorization", data={"client_id": "tv", "scope": "openid"}).json()
        assert body["verification_uri"] == issuer + "/device"
        page = client.post(body["verification_uri"], data={"user_code": body["user_code"], "mockidp_username": "alice"})
        answer = client.post(
            issuer + "/token", data={"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": "tv"}
        )
        keys = KeySet.import_key_set(client.get(issuer + "/jwks").json())

    assert "Device approved" in page.text
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["id_token"], keys).claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (issuer, "alice", "tv")
    assert parse_qs(urlsplit(body["verification_uri_complete"]).query) == {"user_code": [body["user_code"]]}
