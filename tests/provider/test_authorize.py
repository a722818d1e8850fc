"""The authorization endpoint: OIDC Core §3.1.2 over RFC 6749 §4.1.

Also PKCE (RFC 7636), the ``iss`` response parameter (RFC 9207), loopback redirect URIs on any port
(RFC 8252 §7.3), the client rules of RFC 9700 in strict mode, the query, fragment and form_post
response modes, and the interactive login form.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from freezegun.api import FrozenDateTimeFactory
from joserfc import jwt
from joserfc.jwk import KeySet

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User
from tests.flows import (
    REDIRECT_URI,
    AuthRequest,
    Browser,
    auth_request,
    callback_params,
    client_auth,
    s256,
    token_request,
)
from tests.provider.conftest import START_TS

BOB = User.named("bob", sub="bob-sub")
VERIFIER = "v" * 43


def make(key_pool: KeyPool, **config: Any) -> MockIdP:
    return MockIdP(ProviderConfig(**config), keys=key_pool)


def send(idp: MockIdP, browser: Browser | None = None, pkce: bool = True, /, **overrides: str | None) -> Sent:
    request = auth_request(idp, pkce, **overrides)
    return Sent(request, (browser or Browser(idp)).authorize(request))


@dataclass
class Sent:
    request: AuthRequest
    response: httpx2.Response


def redirected_error(idp: MockIdP, sent: Sent) -> tuple[str, str]:
    """The error an authorization response carries back; it echoes state and names the issuer (RFC 9207)."""
    assert sent.response.status_code == 302, sent.response.text
    params = callback_params(sent.response)
    assert "code" not in params
    assert params["iss"] == idp.issuer
    assert params.get("state") == sent.request.state
    return params["error"], params["error_description"]


def error_page(response: httpx2.Response) -> str:
    """The text of an error page shown instead of a redirect to an untrusted URI (RFC 6749 §4.1.2.1)."""
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def redeem(idp: MockIdP, code: str, verifier: str | None) -> dict[str, Any]:
    """Exchange ``code`` at the token endpoint; returns the ID token's claims."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    answer = token_request(idp, data, auth=client_auth(idp))
    assert answer.status_code == 200, answer.text
    keys = KeySet.import_key_set(idp.jwks())  # type: ignore[arg-type]
    claims: dict[str, Any] = jwt.decode(answer.json()["id_token"], keys).claims
    return claims


def id_token_of(idp: MockIdP, sent: Sent) -> dict[str, Any]:
    return redeem(idp, callback_params(sent.response)["code"], sent.request.verifier)


@dataclass
class Form:
    """The first form of an HTML page: where it posts, its hidden and other inputs, its options and buttons."""

    action: str = ""
    method: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=values["action"], method=values["method"]))
        elif not self.forms:
            return
        elif tag == "input" and values.get("type") == "hidden":
            self.forms[-1].hidden[values["name"]] = values["value"]
        elif tag in ("input", "textarea"):
            self.forms[-1].inputs[values["name"]] = values.get("value", "")
        elif tag == "option":
            self.forms[-1].options.append(values["value"])
        elif tag == "button" and "name" in values:
            self.forms[-1].buttons.append((values["name"], values["value"]))


def parse_forms(text: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(text)
    return parser.forms


def parse_form(text: str) -> Form:
    """The page's last form: the only one of a form_post response, the typed-username one of the login page."""
    return parse_forms(text)[-1]


def known_users(text: str) -> list[str]:
    """The usernames the login page offers as one-click choices (the buttons of its first form)."""
    forms = parse_forms(text)
    return [value for _, value in forms[0].buttons] if len(forms) > 1 else []


# -- the code response -------------------------------------------------------------------------


def test_code_response_carries_code_state_and_iss(provider: MockIdP) -> None:
    sent = send(provider)

    assert sent.response.status_code == 302
    location = urlsplit(sent.response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert location.fragment == ""
    params = callback_params(sent.response)
    assert sorted(params) == ["code", "iss", "state"]
    assert params["state"] == sent.request.state
    assert params["iss"] == "https://idp.mockidp.test"
    assert sent.response.headers["cache-control"] == "no-store"


def test_iss_names_an_issuer_with_a_path(key_pool: KeyPool) -> None:
    idp = make(key_pool, issuer="https://login.example/realms/a/")

    params = callback_params(send(idp).response)

    assert params["iss"] == "https://login.example/realms/a"


def test_state_is_echoed_exactly_and_left_out_when_not_sent(provider: MockIdP) -> None:
    state = "a b&c=d/é?#%"

    assert callback_params(send(provider, state=state).response)["state"] == state
    assert "state" not in callback_params(send(provider, state=None).response)


def test_query_of_the_registered_redirect_uri_is_kept(provider: MockIdP) -> None:
    sent = send(provider, redirect_uri="http://testserver/cb?tenant=a")

    location = urlsplit(sent.response.headers["location"])
    assert location.path == "/cb"
    assert location.query.startswith("tenant=a&code=")


def test_nonce_and_auth_time_land_in_the_id_token(provider: MockIdP, clock: FrozenDateTimeFactory) -> None:
    sent = send(provider, nonce="n-0S6_WzA2Mj")

    claims = id_token_of(provider, sent)

    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["auth_time"] == START_TS
    assert claims["sub"] == "alice"


def test_without_a_nonce_the_id_token_has_none(provider: MockIdP) -> None:
    assert "nonce" not in id_token_of(provider, send(provider, nonce=None))


@pytest.mark.parametrize(
    ("response_type", "in_fragment", "error", "description"),
    [
        (None, False, "invalid_request", "response_type is required (RFC 6749 section 4.1.1)"),
        ("token", True, "unsupported_response_type", "response_type 'token' is not supported; use 'code'"),
        (
            "code id_token",
            True,
            "unsupported_response_type",
            "response_type 'code id_token' is not supported; use 'code'",
        ),
        ("none", False, "unsupported_response_type", "response_type 'none' is not supported; use 'code'"),
    ],
    ids=["missing", "token", "hybrid", "none"],
)
def test_response_type_other_than_code_is_an_error_for_the_client(
    provider: MockIdP, response_type: str | None, in_fragment: bool, error: str, description: str
) -> None:
    """Errors for response types that issue tokens go in the fragment (RFC 6749 §4.2.2.1)."""
    sent = send(provider, response_type=response_type)

    assert redirected_error(provider, sent) == (error, description)
    assert bool(urlsplit(sent.response.headers["location"]).fragment) is in_fragment


def test_client_without_the_code_grant_is_unauthorized(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="machine", client_secret="s", grant_types=("client_credentials",)))

    sent = send(provider, client_id="machine")

    assert redirected_error(provider, sent) == (
        "unauthorized_client",
        "client 'machine' may not use the authorization code grant",
    )


def test_injected_fault_goes_back_to_the_client(provider: MockIdP) -> None:
    provider.fail("authorize", error="temporarily_unavailable", description="down for a test")

    assert redirected_error(provider, send(provider)) == ("temporarily_unavailable", "down for a test")
    assert "code" in callback_params(send(provider).response)


# -- PKCE (RFC 7636) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "challenge"),
    [
        ("S256", s256(VERIFIER)),
        ("plain", VERIFIER),
        (None, VERIFIER),  # the method defaults to plain (RFC 7636 §4.3)
    ],
)
def test_pkce_challenge_is_checked_against_the_verifier(provider: MockIdP, method: str | None, challenge: str) -> None:
    sent = send(provider, None, False, code_challenge=challenge, code_challenge_method=method)
    code = callback_params(sent.response)["code"]

    assert redeem(provider, code, VERIFIER)["sub"] == "alice"
    assert provider.requests.filter(endpoint="authorize")[0].pkce is True


def test_pkce_verifier_that_does_not_match_is_refused(provider: MockIdP) -> None:
    sent = send(provider)
    code = callback_params(sent.response)["code"]

    answer = token_request(
        provider,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER},
        auth=client_auth(provider),
    )

    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        (
            {"code_challenge": VERIFIER, "code_challenge_method": "S512"},
            "code_challenge_method 'S512' is not supported; use S256",
        ),
        (
            {"code_challenge": VERIFIER, "code_challenge_method": "s256"},
            "code_challenge_method 's256' is not supported; use S256",
        ),
        (
            {"code_challenge": "too-short", "code_challenge_method": "S256"},
            "code_challenge must be 43 to 128 unreserved characters (RFC 7636 section 4.2)",
        ),
        (
            {"code_challenge": "+" * 43, "code_challenge_method": "S256"},
            "code_challenge must be 43 to 128 unreserved characters (RFC 7636 section 4.2)",
        ),
        (
            {"code_challenge": "a" * 129, "code_challenge_method": "plain"},
            "code_challenge must be 43 to 128 unreserved characters (RFC 7636 section 4.2)",
        ),
        ({"code_challenge_method": "S256"}, "code_challenge_method was sent without a code_challenge"),
    ],
    ids=["unknown-method", "lowercase-method", "short", "bad-characters", "long", "method-alone"],
)
def test_bad_pkce_parameters_are_invalid_request(
    provider: MockIdP, overrides: dict[str, str], description: str
) -> None:
    sent = send(provider, None, False, **overrides)

    assert redirected_error(provider, sent) == ("invalid_request", description)


def test_public_client_must_use_pkce(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="spa", client_secret=None))

    refused = send(provider, None, False, client_id="spa")
    accepted = send(provider, None, True, client_id="spa")

    assert redirected_error(provider, refused) == (
        "invalid_request",
        "client 'spa' is public and must use PKCE: send a code_challenge (RFC 9700 section 2.1.1)",
    )
    assert "code" in callback_params(accepted.response)


def test_confidential_client_may_skip_pkce_outside_strict_mode(provider: MockIdP) -> None:
    sent = send(provider, None, False)

    assert redeem(provider, callback_params(sent.response)["code"], None)["sub"] == "alice"
    assert provider.requests.filter(endpoint="authorize")[0].pkce is False


# -- scope (RFC 6749 §3.3) ---------------------------------------------------------------------


def test_any_scope_is_allowed_by_default(provider: MockIdP) -> None:
    sent = send(provider, scope="openid api:read openid offline_access")

    assert "code" in callback_params(sent.response)
    assert provider.requests[0].scopes == ("openid", "api:read", "offline_access")


def test_client_scope_limits_what_it_may_ask_for(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="limited", client_secret="s", scope=("openid", "profile")))

    refused = send(provider, client_id="limited", scope="openid email profile admin")
    accepted = send(provider, client_id="limited", scope="profile openid")

    assert redirected_error(provider, refused) == (
        "invalid_scope",
        "client 'limited' may not ask for email, admin; allowed: openid profile",
    )
    assert "code" in callback_params(accepted.response)


@pytest.mark.parametrize(
    ("scope", "shown"),
    # The description itself may carry only %x20-21 / %x23-5B / %x5D-7E (RFC 6749 section 4.1.2.1), so the
    # offending token is shown with quotes and backslashes replaced and non-ASCII letters folded.
    [('openid "quoted"', "''quoted''"), ("openid caf\u00e9", "'cafe'"), ("openid a\\b", "'a//b'")],
)
def test_scope_with_characters_outside_nqchar_is_invalid_scope(provider: MockIdP, scope: str, shown: str) -> None:
    sent = send(provider, scope=scope)

    assert redirected_error(provider, sent) == (
        "invalid_scope",
        f"scope {shown} has a character RFC 6749 section 3.3 does not allow",
    )


# -- prompt (OIDC Core §3.1.2.1) ---------------------------------------------------------------


def test_prompt_none_without_a_session_is_login_required(provider: MockIdP) -> None:
    sent = send(provider, prompt="none")

    assert redirected_error(provider, sent) == (
        "login_required",
        "prompt=none, but the user has no session at the provider",
    )


def test_prompt_none_with_a_session_is_silent(provider: MockIdP, browser: Browser) -> None:
    first = send(provider, browser)
    silent = send(provider, browser, prompt="none")

    assert "mockidp_session" in first.response.cookies
    assert id_token_of(provider, silent)["sid"] == id_token_of(provider, first)["sid"]
    assert [r.user for r in provider.requests.filter(endpoint="authorize")] == ["alice", "alice"]


def test_session_is_reused_until_prompt_login_forces_a_new_login(
    provider: MockIdP, browser: Browser, clock: FrozenDateTimeFactory
) -> None:
    def auth_time(**overrides: str) -> int:
        claims = id_token_of(provider, send(provider, browser, **overrides))
        return int(claims["auth_time"])

    first = auth_time()
    clock.tick(30)
    reused = auth_time()
    clock.tick(30)
    fresh = auth_time(prompt="login")

    assert (first, reused, fresh) == (START_TS, START_TS, START_TS + 60)


@pytest.mark.parametrize("prompt", ["none login", "consent none"])
def test_prompt_none_with_other_values_is_invalid_request(provider: MockIdP, prompt: str) -> None:
    assert redirected_error(provider, send(provider, prompt=prompt)) == (
        "invalid_request",
        "prompt=none cannot be combined with other prompt values (OIDC Core section 3.1.2.1)",
    )


@pytest.mark.parametrize(("prompt", "named"), [("bogus", "bogus"), ("login create zz", "create zz")])
def test_unknown_prompt_is_invalid_request(provider: MockIdP, prompt: str, named: str) -> None:
    assert redirected_error(provider, send(provider, prompt=prompt)) == (
        "invalid_request",
        f"prompt {named!r} is not supported; use none, login, consent, select_account",
    )


@pytest.mark.parametrize("prompt", ["consent", "select_account", "login consent"])
def test_other_prompts_log_in_without_a_form(provider: MockIdP, prompt: str) -> None:
    assert "code" in callback_params(send(provider, prompt=prompt).response)


# -- login_hint --------------------------------------------------------------------------------


@pytest.mark.parametrize("hint", ["bob", "bob-sub", "bob@example.com"])
def test_login_hint_picks_the_user(provider: MockIdP, hint: str) -> None:
    provider.add_user(BOB)

    sent = send(provider, login_hint=hint)

    assert id_token_of(provider, sent)["sub"] == "bob-sub"
    assert provider.requests[0].user == "bob-sub"


def test_unknown_login_hint_is_login_required(provider: MockIdP) -> None:
    assert redirected_error(provider, send(provider, login_hint="nobody")) == (
        "login_required",
        "login_hint 'nobody' names no known user",
    )


def test_login_hint_naming_another_user_replaces_the_session(provider: MockIdP, browser: Browser) -> None:
    provider.add_user(BOB)
    send(provider, browser)

    silent = send(provider, browser, prompt="none", login_hint="bob")
    switched = send(provider, browser, login_hint="bob")
    same = send(provider, browser, prompt="none", login_hint="bob")

    assert redirected_error(provider, silent) == ("login_required", "prompt=none, but login_hint names another user")
    assert id_token_of(provider, switched)["sub"] == "bob-sub"
    assert id_token_of(provider, same)["sub"] == "bob-sub"


# -- max_age -----------------------------------------------------------------------------------


def test_session_older_than_max_age_forces_a_new_login(
    provider: MockIdP, browser: Browser, clock: FrozenDateTimeFactory
) -> None:
    send(provider, browser)
    clock.tick(100)
    within = id_token_of(provider, send(provider, browser, max_age="100"))
    clock.tick(1)
    silent = send(provider, browser, max_age="100", prompt="none")
    renewed = id_token_of(provider, send(provider, browser, max_age="100"))

    assert within["auth_time"] == START_TS
    assert redirected_error(provider, silent) == (
        "login_required",
        "prompt=none, but the session is older than max_age",
    )
    assert renewed["auth_time"] == START_TS + 101
    assert renewed["sid"] != within["sid"]


def test_max_age_zero_is_prompt_login(provider: MockIdP, browser: Browser, clock: FrozenDateTimeFactory) -> None:
    """OIDC Core §3.1.2.1: "max_age=0 is equivalent to prompt=login", even within the same second."""
    first = send(provider, browser)
    silent = send(provider, browser, max_age="0", prompt="none")
    again = send(provider, browser, max_age="0")

    assert redirected_error(provider, silent) == ("login_required", "prompt=none, but max_age=0 asks for a new login")
    assert id_token_of(provider, again)["sid"] != id_token_of(provider, first)["sid"]


@pytest.mark.parametrize(
    ("max_age", "shown"),
    [("-1", "'-1'"), ("1.5", "'1.5'"), ("ten", "'ten'"), (" 5", "' 5'"), ("\u00b2", "'2'"), ("1" * 13, repr("1" * 13))],
)
def test_malformed_max_age_is_invalid_request(provider: MockIdP, max_age: str, shown: str) -> None:
    assert redirected_error(provider, send(provider, max_age=max_age)) == (
        "invalid_request",
        f"max_age must be a whole number of seconds, got {shown}",
    )


# -- response modes ----------------------------------------------------------------------------


def test_fragment_response_mode(provider: MockIdP) -> None:
    sent = send(provider, response_mode="fragment")

    location = urlsplit(sent.response.headers["location"])
    assert location.query == ""
    assert location.fragment.startswith("code=")
    assert callback_params(sent.response)["state"] == sent.request.state


def test_form_post_response_mode_is_an_auto_submitting_form(provider: MockIdP) -> None:
    sent = send(provider, response_mode="form_post")

    response = sent.response
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "mockidp_session" in response.cookies
    assert 'onload="document.forms[0].submit()"' in response.text
    form = parse_form(response.text)
    assert (form.action, form.method) == (REDIRECT_URI, "post")
    assert sorted(form.hidden) == ["code", "iss", "state"]
    assert form.hidden["state"] == sent.request.state
    assert form.hidden["iss"] == provider.issuer
    assert redeem(provider, form.hidden["code"], sent.request.verifier)["sub"] == "alice"


def test_form_post_escapes_what_it_echoes(provider: MockIdP) -> None:
    state = "\"><script>alert('x')</script>&amp;"

    sent = send(provider, response_mode="form_post", state=state, redirect_uri="http://testserver/cb?a=1&b=2")

    assert "<script>" not in sent.response.text
    form = parse_form(sent.response.text)
    assert form.hidden["state"] == state
    assert form.action == "http://testserver/cb?a=1&b=2"


def test_form_post_carries_errors_too(provider: MockIdP) -> None:
    sent = send(provider, response_mode="form_post", prompt="none")

    form = parse_form(sent.response.text)
    assert form.hidden == {
        "error": "login_required",
        "error_description": "prompt=none, but the user has no session at the provider",
        "state": sent.request.state,
        "iss": provider.issuer,
    }


def test_unknown_response_mode_is_invalid_request_sent_in_the_query(provider: MockIdP) -> None:
    sent = send(provider, response_mode="web_message")

    assert redirected_error(provider, sent) == (
        "invalid_request",
        "response_mode 'web_message' is not supported; use one of query, fragment, form_post",
    )
    assert urlsplit(sent.response.headers["location"]).query.startswith("error=")


# -- redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7.3) ---------------------------------------------


@pytest.fixture
def app_client(provider: MockIdP) -> Client:
    return provider.add_client(
        Client(
            client_id="app",
            client_secret="s",
            redirect_uris=(
                "https://app.example/cb",
                "https://app.example/spa/*",
                "http://127.0.0.1/cb",
                "http://[::1]/cb",
                "http://localhost:3000/cb",
                "com.example.app:/oauth2redirect",
            ),
        )
    )


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb",
        "https://app.example/spa/",
        "https://app.example/spa/deep/path?x=1",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:51234/cb",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
        "http://localhost:9999/cb",  # any port, even one other than the registered (RFC 8252 §7.3)
        "http://localhost/cb",
        "com.example.app:/oauth2redirect",  # a private-use scheme, matched exactly (RFC 8252 §7.1)
    ],
)
def test_registered_redirect_uri_is_used(provider: MockIdP, app_client: Client, uri: str) -> None:
    sent = send(provider, client_id="app", redirect_uri=uri)

    assert sent.response.status_code == 302
    assert sent.response.headers["location"].startswith(uri + ("&" if "?" in uri else "?") + "code=")


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://app.example/CB",
        "https://APP.example/cb",
        "http://app.example/cb",
        "https://app.example:8443/cb",
        "https://app.example/spa",
        "https://app.example/spa/../admin",
        "https://app.example/spa/%2e%2e/admin",
        "https://app.example/spa/x#frag",
        "https://evil@app.example/spa/x",
        "https://app.example.evil/spa/x",
        "https://127.0.0.1/cb",  # loopback: any port, but the scheme must match
        "http://127.0.0.1:5000/other",  # ... and the path
        "http://127.0.0.1:5000/cb?x=1",  # ... and the query
        "http://127.0.0.2:5000/cb",
        "http://user@127.0.0.1:5000/cb",
        "http://127.0.0.1:abc/cb",
        "http://127.0.0.1:99999/cb",
        "http://[::1/cb",
        "http://[evil]/cb",
        "com.example.app:/other",
        "/cb",
        "not a uri",
    ],
)
def test_unregistered_redirect_uri_shows_an_error_page(provider: MockIdP, app_client: Client, uri: str) -> None:
    sent = send(provider, client_id="app", redirect_uri=uri)

    text = error_page(sent.response)
    registered = ", ".join(app_client.redirect_uris)
    assert (
        f"<code>invalid_request</code>: redirect_uri {uri!r} is not registered for client 'app';"
        f" registered: {registered}"
    ) in text
    assert "could not trust the redirect URI" in text


@pytest.mark.parametrize(
    "uri", ["http://testserver/", "http://testserver/any/path?q=1", "http://localhost:8000/cb", "http://127.0.0.1:1/x"]
)
def test_default_client_accepts_test_hosts(provider: MockIdP, uri: str) -> None:
    assert "code" in callback_params(send(provider, redirect_uri=uri).response)


@pytest.mark.parametrize(
    "uri", ["https://testserver/cb", "http://testserver:8080/cb", "http://testserver.evil/cb", "http://evil/cb"]
)
def test_default_client_refuses_other_hosts(provider: MockIdP, uri: str) -> None:
    assert "is not registered for client 'mockidp-client'" in error_page(send(provider, redirect_uri=uri).response)


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"client_id": None}, "client_id is required (RFC 6749 section 4.1.1)"),
        ({"client_id": "nope"}, "unknown client_id 'nope'; registered clients: mockidp-client"),
        ({"redirect_uri": None}, "redirect_uri is required (OIDC Core section 3.1.2.1)"),
    ],
)
def test_client_errors_show_an_error_page_and_never_redirect(
    provider: MockIdP, overrides: dict[str, str | None], description: str
) -> None:
    sent = send(provider, response_type=None, prompt="bogus", **overrides)

    assert f"<code>invalid_request</code>: {description}" in error_page(sent.response)
    record = provider.requests[0]
    assert (record.status, record.error, record.error_description) == (400, "invalid_request", description)


def test_missing_redirect_uri_uses_the_one_registered(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="one", client_secret="s", redirect_uris=("https://one.example/cb",)))
    sent = send(provider, client_id="one", redirect_uri=None, scope="profile")

    assert sent.response.headers["location"].startswith("https://one.example/cb?code=")
    code = callback_params(sent.response)["code"]
    answer = token_request(
        provider,
        {"grant_type": "authorization_code", "code": code, "code_verifier": sent.request.verifier or ""},
        auth=("one", "s"),
    )
    assert answer.status_code == 200, answer.text


def test_an_openid_request_must_send_redirect_uri_even_with_one_registered(provider: MockIdP) -> None:
    # OIDC Core section 3.1.2.1 makes redirect_uri required; only plain OAuth may leave it out.
    provider.add_client(Client(client_id="one", client_secret="s", redirect_uris=("https://one.example/cb",)))

    sent = send(provider, client_id="one", redirect_uri=None)

    assert sent.response.status_code == 400
    assert "location" not in sent.response.headers
    assert provider.requests[-1].error_description == "redirect_uri is required (OIDC Core section 3.1.2.1)"


def test_missing_redirect_uri_is_an_error_when_a_prefix_is_registered(provider: MockIdP) -> None:
    """RFC 6749 §3.1.2.3: with only part of a URI registered, the client must send redirect_uri."""
    provider.add_client(
        Client(client_id="two", client_secret="s", redirect_uris=("https://two.example/cb", "https://two.example/x/*"))
    )

    sent = send(provider, client_id="two", redirect_uri=None)

    assert "<code>invalid_request</code>: redirect_uri is required (OIDC Core section 3.1.2.1)" in error_page(
        sent.response
    )


# -- strict mode (RFC 9700) --------------------------------------------------------------------


@pytest.fixture
def strict(key_pool: KeyPool) -> MockIdP:
    return make(key_pool, strict=True)


def test_strict_mode_accepts_a_careful_client(strict: MockIdP) -> None:
    assert "code" in callback_params(send(strict).response)
    assert "code" in callback_params(send(strict, scope="api", nonce=None).response)


@pytest.mark.parametrize(
    ("pkce", "overrides", "description"),
    [
        (False, {}, "strict mode: send a PKCE code_challenge (RFC 9700 section 2.1.1)"),
        (
            False,
            {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
            "strict mode: use code_challenge_method S256, not plain (RFC 9700 section 2.1.1)",
        ),
        (
            False,
            {"code_challenge": VERIFIER},
            "strict mode: use code_challenge_method S256, not plain (RFC 9700 section 2.1.1)",
        ),
        (True, {"state": None}, "strict mode: send a state to protect against CSRF (RFC 9700 section 4.7.1)"),
        (True, {"nonce": None}, "strict mode: send a nonce with an OpenID request (RFC 9700 section 4.5.3.2)"),
    ],
    ids=["no-pkce", "plain", "implicit-plain", "no-state", "no-nonce"],
)
def test_strict_mode_refuses_what_rfc_9700_advises_against(
    strict: MockIdP, pkce: bool, overrides: dict[str, str | None], description: str
) -> None:
    sent = send(strict, None, pkce, **overrides)

    assert redirected_error(strict, sent) == ("invalid_request", description)


# -- interactive mode --------------------------------------------------------------------------


@pytest.fixture
def interactive(key_pool: KeyPool) -> MockIdP:
    return make(key_pool, interactive=True, users=(User.named("alice", sub="alice"), BOB))


def test_interactive_mode_shows_a_login_form(interactive: MockIdP) -> None:
    sent = send(interactive)

    assert sent.response.status_code == 200
    assert sent.response.headers["cache-control"] == "no-store"
    picks, typed = parse_forms(sent.response.text)
    for form in (picks, typed):
        assert (form.action, form.method) == (interactive.endpoint("authorization_endpoint"), "post")
        csrf = form.hidden.pop("mockidp_csrf")
        assert csrf == sent.response.cookies["mockidp_csrf"]
    assert picks.hidden == {**sent.request.params, "mockidp_action": "login"}
    assert picks.buttons == [("mockidp_username", "alice"), ("mockidp_username", "bob")]
    assert typed.hidden == sent.request.params
    assert typed.inputs == {"mockidp_username": "", "mockidp_claims": ""}
    assert typed.buttons == [("mockidp_action", "login"), ("mockidp_action", "deny")]
    assert "<strong>mockidp-client</strong> asks to know:" in sent.response.text
    assert "<li><code>email</code>: your email address</li>" in sent.response.text
    record = interactive.requests[0]
    assert (record.status, record.user, record.error) == (200, None, None)
    assert interactive.state.codes == {}


def submit(idp: MockIdP, browser: Browser, page: httpx2.Response, **fields: str) -> httpx2.Response:
    """Send the login page's typed-username form with ``fields``, as the browser that was shown it."""
    form = parse_form(page.text)
    return browser.client.post(form.action, data={**form.hidden, **fields})


def click_user(browser: Browser, page: httpx2.Response, username: str) -> httpx2.Response:
    """Press a known user's button on the login page."""
    picks = parse_forms(page.text)[0]
    assert ("mockidp_username", username) in picks.buttons
    return browser.client.post(picks.action, data={**picks.hidden, "mockidp_username": username})


def test_posting_the_login_form_logs_that_user_in(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = submit(interactive, browser, sent.response, mockidp_username="bob", mockidp_action="login")

    assert response.status_code == 302
    params = callback_params(response)
    assert (params["state"], params["iss"]) == (sent.request.state, interactive.issuer)
    claims = redeem(interactive, params["code"], sent.request.verifier)
    assert (claims["sub"], claims["nonce"]) == ("bob-sub", sent.request.params["nonce"])
    # the session now answers without the form
    assert "code" in callback_params(send(interactive, browser, prompt="none").response)


@pytest.mark.parametrize("username", ["bob", "bob@example.com", "bob-sub"])
@pytest.mark.parametrize("action", [{"mockidp_action": "login"}, {}], ids=["button", "no-button"])
def test_the_login_form_takes_a_username_email_or_sub_with_or_without_the_button(
    interactive: MockIdP, username: str, action: dict[str, str]
) -> None:
    """A form submitted by script or by Enter in some clients carries no button value: it still logs in."""
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = submit(interactive, browser, sent.response, mockidp_username=username, **action)

    assert response.status_code == 302
    assert redeem(interactive, callback_params(response)["code"], sent.request.verifier)["sub"] == "bob-sub"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mockidp_action": "login"}, "Type a username, or pick one of the users listed."),
        ({"mockidp_username": " "}, "Type a username, or pick one of the users listed."),
        (
            {"mockidp_username": "bob", "mockidp_action": "maybe"},
            "Unknown action 'maybe': the form's buttons send login or deny.",
        ),
    ],
)
def test_a_login_form_post_it_cannot_act_on_says_why(
    interactive: MockIdP, fields: dict[str, str], message: str
) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    again = submit(interactive, browser, sent.response, **fields)

    assert again.status_code == 200
    assert f'<p role="alert" id="mockidp-alert">{message}</p>' in html.unescape(again.text)
    assert interactive.state.codes == {}


def test_login_form_with_an_unknown_username_is_shown_again(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    again = submit(interactive, browser, sent.response, mockidp_username="mallory", mockidp_action="login")

    assert again.status_code == 200
    assert (
        '<p role="alert" id="mockidp-alert">No user named \'mallory\'; known users: alice, bob. To log in anyone'
        " typed, start the provider with adhoc_users on (mockidp serve --adhoc-users).</p>"
    ) in html.unescape(again.text)
    hidden = parse_form(again.text).hidden
    assert hidden.pop("mockidp_csrf") == sent.response.cookies["mockidp_csrf"]
    assert hidden == sent.request.params


def test_denying_at_the_login_form_is_access_denied(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = submit(interactive, browser, sent.response, mockidp_action="deny")

    assert redirected_error(interactive, Sent(sent.request, response)) == (
        "access_denied",
        "the user denied the request",
    )
    assert interactive.requests[-1].error == "access_denied"


def test_login_as_skips_the_form_once(interactive: MockIdP) -> None:
    interactive.login_as("bob")

    first = send(interactive)
    second = send(interactive)

    assert id_token_of(interactive, first)["sub"] == "bob-sub"
    assert second.response.status_code == 200
    assert known_users(second.response.text) == ["alice", "bob"]


def test_login_as_picks_the_user_outside_interactive_mode(provider: MockIdP) -> None:
    provider.login_as({"sub": "carol", "email": "carol@example.com"})

    assert id_token_of(provider, send(provider))["sub"] == "carol"
    assert id_token_of(provider, send(provider))["sub"] == "alice"


def test_login_form_is_filled_in_from_login_hint(interactive: MockIdP) -> None:
    sent = send(interactive, login_hint='bob"><b>')

    assert parse_form(sent.response.text).inputs == {"mockidp_username": 'bob"><b>', "mockidp_claims": ""}
    assert "<b>" not in sent.response.text


def test_prompt_select_account_shows_the_form_despite_a_session(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    interactive.login_as("alice")
    send(interactive, browser)

    silent = send(interactive, browser)
    choose = send(interactive, browser, prompt="select_account")
    chosen = submit(interactive, browser, choose.response, mockidp_username="bob", mockidp_action="login")

    assert "code" in callback_params(silent.response)
    assert choose.response.status_code == 200
    assert redeem(interactive, callback_params(chosen)["code"], choose.request.verifier)["sub"] == "bob-sub"


def test_prompt_login_in_interactive_mode_shows_the_form(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    interactive.login_as("alice")
    send(interactive, browser)

    assert send(interactive, browser, prompt="login").response.status_code == 200
    assert redirected_error(interactive, send(interactive, prompt="none")) == (
        "login_required",
        "prompt=none, but the user has no session at the provider",
    )


# -- parameters (RFC 6749 §3.1) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "description"),
    [
        (
            "request",
            "invalid_request_object",
            "the request object is unsigned (alg none), and mockidp refuses unsigned request objects:"
            " sign it with the client's secret (HS256) or its key (RFC 9101 section 10.2)",
        ),
        (
            "request_uri",
            "request_uri_not_supported",
            "request_uri 'eyJhbGciOiJub25lIn0.e30.' is not one this provider issued: it takes only the"
            " urn:ietf:params:oauth:request_uri:... values its pushed authorization request endpoint"
            " https://idp.mockidp.test/par answers (RFC 9126 section 4), and does not fetch request objects"
            " by URL (OIDC Core section 6.2)",
        ),
    ],
)
def test_request_objects_answer_the_oidc_error_code(provider: MockIdP, name: str, error: str, description: str) -> None:
    sent = send(provider, **{name: "eyJhbGciOiJub25lIn0.e30."})

    assert redirected_error(provider, sent) == (error, description)


def send_pairs(idp: MockIdP, request: AuthRequest, *extra: tuple[str, str]) -> Sent:
    pairs = (*request.params.items(), *extra)
    return Sent(request, Browser(idp).client.get(idp.endpoint("authorization_endpoint"), params=pairs))


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        (("scope", "admin"), "parameter 'scope' was sent more than once (RFC 6749 section 3.1)"),
        (("nonce", "n2"), "parameter 'nonce' was sent more than once (RFC 6749 section 3.1)"),
        (("prompt", "a\x00b"), "parameter 'prompt' contains a NUL character"),
        (("login_hint", "x" * 8193), "parameter 'login_hint' is longer than 8192 characters"),
    ],
    ids=["duplicate-scope", "duplicate-nonce", "nul", "oversized"],
)
def test_malformed_parameters_are_invalid_request_sent_back(
    provider: MockIdP, extra: tuple[str, str], description: str
) -> None:
    """RFC 6749 §4.1.2.1: a parameter "included more than once" is invalid_request for the client."""
    sent = send_pairs(provider, auth_request(provider), extra)

    assert redirected_error(provider, sent) == ("invalid_request", description)
    record = provider.requests[0]
    assert (record.client_id, record.error, record.error_description) == (
        "mockidp-client",
        "invalid_request",
        description,
    )


def test_malformed_parameters_keep_the_response_mode(provider: MockIdP) -> None:
    sent = send_pairs(provider, auth_request(provider, response_mode="fragment"), ("scope", "admin"))

    assert urlsplit(sent.response.headers["location"]).fragment.startswith("error=invalid_request")


def test_duplicated_state_is_not_echoed(provider: MockIdP) -> None:
    request = auth_request(provider)
    sent = send_pairs(provider, request, ("state", "other"))

    params = callback_params(sent.response)
    assert (params["error"], params["iss"]) == ("invalid_request", provider.issuer)
    assert params["error_description"] == "parameter 'state' was sent more than once (RFC 6749 section 3.1)"
    assert "state" not in params


@pytest.mark.parametrize(("name", "value"), [("client_id", "other"), ("redirect_uri", "http://evil/cb")])
def test_doubtful_routing_parameters_show_an_error_page(provider: MockIdP, name: str, value: str) -> None:
    sent = send_pairs(provider, auth_request(provider, response_mode="form_post"), (name, value))

    text = error_page(sent.response)
    assert f"<code>invalid_request</code>: parameter {name!r} was sent more than once (RFC 6749 section 3.1)" in text
    assert provider.requests[0].error == "invalid_request"


def test_duplicated_response_mode_shows_an_error_page(provider: MockIdP) -> None:
    sent = send_pairs(provider, auth_request(provider, response_mode="form_post"), ("response_mode", "query"))

    text = error_page(sent.response)
    assert (
        "<code>invalid_request</code>: parameter 'response_mode' was sent more than once (RFC 6749 section 3.1)" in text
    )


def test_oversized_redirect_uri_shows_an_error_page(provider: MockIdP) -> None:
    request = auth_request(provider, redirect_uri="http://testserver/" + "x" * 9000)

    text = error_page(Browser(provider).authorize(request))

    assert "<code>invalid_request</code>: parameter 'redirect_uri' is longer than 8192 characters" in text


def test_broken_parameters_with_an_unknown_client_show_an_error_page(provider: MockIdP) -> None:
    sent = send_pairs(provider, auth_request(provider, client_id="nope"), ("scope", "x"))

    text = error_page(sent.response)
    assert "<code>invalid_request</code>: unknown client_id 'nope'; registered clients: mockidp-client" in text


def test_too_many_parameters_show_an_error_page(provider: MockIdP) -> None:
    sent = send_pairs(provider, auth_request(provider), *((f"x{i}", "1") for i in range(100)))

    assert "<code>invalid_request</code>: the query string could not be parsed" in error_page(sent.response)


def test_post_with_a_form_body_works_like_get(provider: MockIdP, browser: Browser) -> None:
    request = auth_request(provider)

    response = browser.client.post(provider.endpoint("authorization_endpoint"), data=request.params)

    assert response.status_code == 302
    assert id_token_of(provider, Sent(request, response))["nonce"] == request.params["nonce"]
    assert provider.requests[0].method == "POST"


def test_post_ignores_the_query_string(provider: MockIdP, browser: Browser) -> None:
    request = auth_request(provider)

    response = browser.client.post(
        provider.endpoint("authorization_endpoint"), params={"client_id": "x"}, data=request.params
    )

    assert "code" in callback_params(response)


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        (
            {"json": {"client_id": "mockidp-client"}},
            "a POST to the authorization endpoint needs an application/x-www-form-urlencoded body"
            " (OIDC Core section 3.1.2.1), got 'application/json'",
        ),
        (
            {"content": b"client_id=\xff", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            "the request body is not valid UTF-8",
        ),
        (
            {"content": b"x" * 70000, "headers": {"content-type": "application/x-www-form-urlencoded"}},
            "the request body is larger than 65536 bytes",
        ),
    ],
)
def test_post_with_an_unreadable_body_shows_an_error_page(
    provider: MockIdP, browser: Browser, kwargs: dict[str, Any], description: str
) -> None:
    response = browser.client.post(provider.endpoint("authorization_endpoint"), **kwargs)

    assert f"<code>invalid_request</code>: {description}" in error_page(response)


def test_empty_parameters_count_as_omitted(provider: MockIdP) -> None:
    sent = send(provider, prompt="", max_age="", login_hint="")

    assert "code" in callback_params(sent.response)


# -- the request log ---------------------------------------------------------------------------


def test_request_log_records_each_authorization(provider: MockIdP) -> None:
    provider.add_user(BOB)
    send(provider, scope="openid email", login_hint="bob")
    send(provider, None, False, scope="openid", prompt="none")

    ok, failed = provider.requests.filter(endpoint="authorize")
    assert (ok.method, ok.status, ok.client_id, ok.scopes, ok.pkce, ok.user, ok.error) == (
        "GET",
        302,
        "mockidp-client",
        ("openid", "email"),
        True,
        "bob-sub",
        None,
    )
    assert ok.params["login_hint"] == "bob"
    assert (failed.status, failed.client_id, failed.scopes, failed.pkce, failed.user) == (
        302,
        "mockidp-client",
        ("openid",),
        False,
        None,
    )
    assert (failed.error, failed.error_description) == (
        "login_required",
        "prompt=none, but the user has no session at the provider",
    )
    assert str(failed) == (
        "GET authorize -> 302 client_id=mockidp-client"
        " error=login_required (prompt=none, but the user has no session at the provider)"
    )
