"""The login page (OIDC Core §3.1.2.3 and §3.1.2.4): one-click users, ad-hoc users, extra claims, CSRF
protection, the prompts that show it (§3.1.2.1), and a page that is accessible and escapes what it echoes."""

from __future__ import annotations

import html

import httpx2
import pytest

from mockidp import KeyPool, MockIdP, User
from tests.flows import Browser, callback_params
from tests.provider.test_authorize import (
    BOB,
    Sent,
    click_user,
    id_token_of,
    make,
    parse_form,
    parse_forms,
    redeem,
    redirected_error,
    send,
    submit,
)

CSRF_MESSAGE = "This form expired or came from another site: nothing was sent. Check the choice and send it again."


@pytest.fixture
def interactive(key_pool: KeyPool) -> MockIdP:
    return make(key_pool, interactive=True, users=(User.named("alice", sub="alice"), BOB))


@pytest.fixture
def adhoc(key_pool: KeyPool) -> MockIdP:
    return make(key_pool, interactive=True, adhoc_users=True, users=(User.named("alice", sub="alice"), BOB))


def alert(response: httpx2.Response) -> str:
    """The text of the page's ``role=alert`` message."""
    assert response.status_code == 200, response.text
    start = response.text.index('<p role="alert" id="mockidp-alert">') + len('<p role="alert" id="mockidp-alert">')
    return html.unescape(response.text[start : response.text.index("</p>", start)])


def test_a_known_user_logs_in_with_one_click(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = click_user(browser, sent.response, "bob")

    assert response.status_code == 302
    assert redeem(interactive, callback_params(response)["code"], sent.request.verifier)["sub"] == "bob-sub"


def test_the_page_shows_each_known_users_name_and_email(interactive: MockIdP) -> None:
    sent = send(interactive)

    assert (
        '<button name="mockidp_username" value="bob">Bob Example<small>bob &middot; bob@example.com</small></button>'
    ) in sent.response.text


def test_an_adhoc_user_is_made_with_the_typed_sub_and_claims(adhoc: MockIdP) -> None:
    browser = Browser(adhoc)
    sent = send(adhoc, browser)

    response = submit(adhoc, browser, sent.response, mockidp_username="zoe", mockidp_claims='{"roles": ["admin"]}')

    assert response.status_code == 302
    claims = redeem(adhoc, callback_params(response)["code"], sent.request.verifier)
    assert (claims["sub"], claims["email"], claims["roles"]) == ("zoe", "zoe@example.com", ["admin"])
    assert adhoc.users["zoe"].claims["roles"] == ["admin"]
    assert adhoc.requests[-1].user == "zoe"


def test_adhoc_claims_override_the_derived_ones(adhoc: MockIdP) -> None:
    browser = Browser(adhoc)
    sent = send(adhoc, browser)

    submit(adhoc, browser, sent.response, mockidp_username="zoe", mockidp_claims='{"email": "z@corp.example"}')

    assert adhoc.users["zoe"].claims["email"] == "z@corp.example"


def test_claims_typed_for_a_known_user_go_into_this_logins_tokens_only(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = submit(interactive, browser, sent.response, mockidp_username="bob", mockidp_claims='{"tier": "gold"}')

    claims = redeem(interactive, callback_params(response)["code"], sent.request.verifier)
    assert (claims["sub"], claims["tier"]) == ("bob-sub", "gold")
    assert "tier" not in interactive.users["bob-sub"].claims


def test_an_adhoc_user_that_clashes_with_a_known_one_says_so(adhoc: MockIdP) -> None:
    browser = Browser(adhoc)
    sent = send(adhoc, browser)

    again = submit(adhoc, browser, sent.response, mockidp_username="x", mockidp_claims='{"preferred_username": "bob"}')

    assert alert(again) == "Cannot make the user 'x': a user named 'bob' is already registered."
    assert "x" not in adhoc.users


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (
            "{roles: admin}",
            'Claims must be a JSON object, such as {"roles": ["admin"], "email": "zoe@corp.example"}; that is not'
            " JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1).",
        ),
        (
            '["admin"]',
            'Claims must be a JSON object, such as {"roles": ["admin"], "email": "zoe@corp.example"}; got a list.',
        ),
        ('{"iss": "https://evil.example", "aud": "x"}', "Claims may not set aud, iss: mockidp sets them itself."),
        ('{"password": "p"}', "Claims may not set password: mockidp sets them itself."),
    ],
    ids=["not-json", "not-an-object", "protected", "password"],
)
def test_bad_claims_show_the_form_again_with_why_and_what_was_typed(adhoc: MockIdP, claims: str, message: str) -> None:
    browser = Browser(adhoc)
    sent = send(adhoc, browser)

    again = submit(adhoc, browser, sent.response, mockidp_username="zoe", mockidp_claims=claims)

    assert alert(again) == message
    assert f">{html.escape(claims)}</textarea>" in again.text
    assert 'value="zoe"' in again.text
    assert "zoe" not in adhoc.users
    assert adhoc.state.codes == {}


def test_whitespace_in_the_claims_box_is_no_claims(adhoc: MockIdP) -> None:
    browser = Browser(adhoc)
    sent = send(adhoc, browser)

    response = submit(adhoc, browser, sent.response, mockidp_username="zoe", mockidp_claims="  \n")

    assert response.status_code == 302


# -- CSRF -----------------------------------------------------------------------------------------


def test_the_csrf_cookie_is_scoped_to_the_issuer_and_hidden_from_scripts(key_pool: KeyPool) -> None:
    idp = make(key_pool, interactive=True, issuer="https://login.example/realms/a")

    sent = send(idp)

    header = sent.response.headers["set-cookie"]
    assert header.startswith(f"mockidp_csrf={parse_form(sent.response.text).hidden['mockidp_csrf']};")
    for attribute in ("HttpOnly", "Path=/realms/a", "SameSite=strict", "Secure"):
        assert attribute in header


def test_a_browser_keeps_its_csrf_token_across_pages(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    first = send(interactive, browser)
    second = send(interactive, browser)

    assert (
        parse_form(first.response.text).hidden["mockidp_csrf"]
        == parse_form(second.response.text).hidden["mockidp_csrf"]
    )


@pytest.mark.parametrize("token", [None, "", "forged-token-forged-token"], ids=["missing", "empty", "other"])
def test_a_post_without_the_browsers_token_shows_the_form_again(interactive: MockIdP, token: str | None) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)
    fields = {**parse_form(sent.response.text).hidden, "mockidp_username": "bob", "mockidp_action": "login"}
    if token is None:
        del fields["mockidp_csrf"]
    else:
        fields["mockidp_csrf"] = token

    again = browser.client.post(interactive.endpoint("authorize"), data=fields)

    assert alert(again) == CSRF_MESSAGE
    assert interactive.state.codes == {}
    assert interactive.state.sessions == {}


def test_a_cross_site_post_from_a_browser_without_the_cookie_is_refused(interactive: MockIdP) -> None:
    sent = send(interactive)  # another browser saw the page; this one has no cookie
    fields = {**parse_form(sent.response.text).hidden, "mockidp_username": "bob", "mockidp_action": "login"}

    again = Browser(interactive).client.post(interactive.endpoint("authorize"), data=fields)

    assert alert(again) == CSRF_MESSAGE
    assert interactive.state.codes == {}


def test_deny_needs_the_token_too(interactive: MockIdP) -> None:
    sent = send(interactive)

    again = Browser(interactive).client.post(
        interactive.endpoint("authorize"), data={**sent.request.params, "mockidp_action": "deny"}
    )

    assert alert(again) == CSRF_MESSAGE


def test_deny_from_the_page_is_access_denied(interactive: MockIdP) -> None:
    browser = Browser(interactive)
    sent = send(interactive, browser)

    response = submit(interactive, browser, sent.response, mockidp_action="deny")

    assert redirected_error(interactive, Sent(sent.request, response)) == (
        "access_denied",
        "the user denied the request",
    )


# -- prompts, hints and max_age (OIDC Core §3.1.2.1) ----------------------------------------------


def logged_in(idp: MockIdP) -> Browser:
    browser = Browser(idp)
    sent = send(idp, browser)
    assert click_user(browser, sent.response, "alice").status_code == 302
    return browser


def title(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    return response.text.split("<h1>")[1].split("</h1>")[0]


def test_a_session_answers_without_the_page(interactive: MockIdP) -> None:
    browser = logged_in(interactive)

    assert "code" in callback_params(send(interactive, browser).response)


@pytest.mark.parametrize(
    ("prompt", "heading"),
    [("login", "Log in again"), ("select_account", "Choose an account"), ("consent", "Log in")],
)
def test_prompts_show_the_page_despite_a_session(interactive: MockIdP, prompt: str, heading: str) -> None:
    browser = logged_in(interactive)

    assert title(send(interactive, browser, prompt=prompt).response) == heading


def test_max_age_zero_shows_the_page_despite_a_session(interactive: MockIdP) -> None:
    browser = logged_in(interactive)

    assert title(send(interactive, browser, max_age="0").response) == "Log in"


def test_login_hint_fills_in_and_focuses_the_username(interactive: MockIdP) -> None:
    sent = send(interactive, login_hint="bob@example.com")

    assert (
        '<input id="mockidp-username" name="mockidp_username" value="bob@example.com" autocomplete="username"'
    ) in sent.response.text
    assert "autofocus>" in sent.response.text


def test_the_page_with_no_users_says_so_and_asks_for_a_name(key_pool: KeyPool) -> None:
    idp = make(key_pool, interactive=True, adhoc_users=True, users=())

    sent = send(idp)

    assert len(parse_forms(sent.response.text)) == 1
    assert "<legend>Log in as</legend>" in sent.response.text
    assert "Type any username: a new user is made for one not known." in sent.response.text


def test_a_request_for_no_scopes_says_so(key_pool: KeyPool) -> None:
    idp = make(key_pool, interactive=True)

    assert "<p>No scopes.</p>" in send(idp, scope=None).response.text


# -- accessibility and escaping -------------------------------------------------------------------


def test_the_page_is_readable_on_a_phone_and_labels_its_fields(interactive: MockIdP) -> None:
    text = send(interactive).response.text

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "@media (max-width:30rem)" in text
    assert '<label for="mockidp-username">Username</label><input id="mockidp-username"' in text
    assert '<label for="mockidp-claims">Extra claims (optional)</label><textarea id="mockidp-claims"' in text
    assert "<html lang=en>" in text


def test_the_page_escapes_everything_it_echoes(key_pool: KeyPool) -> None:
    evil = '"><script>alert(1)</script>'
    idp = make(key_pool, interactive=True, users=(User.named("mallory", name=evil, email=evil),))

    sent = send(idp, state=evil, login_hint=evil, scope="openid <b>x</b>")

    assert "<script>" not in sent.response.text
    assert "<li><code>&lt;b&gt;x&lt;/b&gt;</code></li>" in sent.response.text
    assert parse_form(sent.response.text).hidden["state"] == evil


def test_without_ad_hoc_users_id_token_claims_match_the_known_user(interactive: MockIdP) -> None:
    interactive.login_as("bob")

    assert id_token_of(interactive, send(interactive))["email"] == "bob@example.com"
