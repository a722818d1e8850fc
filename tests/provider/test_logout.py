"""RP-Initiated Logout: OpenID Connect RP-Initiated Logout 1.0 §2 (the request, ``id_token_hint`` and
``client_id``), §3 (redirect only to a registered ``post_logout_redirect_uri``, with ``state``) and §4
(errors are shown to the user, never redirected).
"""

from __future__ import annotations

import html
from typing import Any

import httpx2
import pytest
from freezegun import freeze_time

from mockidp import Client, KeyPool, MockIdP, ProviderConfig
from tests.flows import REDIRECT_URI, Browser, auth_request, callback_params, client_auth, token_request

BYE = "http://testserver/logged-out"


def browser_login(idp: MockIdP) -> tuple[Browser, dict[str, Any]]:
    """A browser with a session at the provider, and the tokens its code flow got."""
    browser = Browser(idp)
    request = auth_request(idp)
    code = callback_params(browser.authorize(request))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    answer = token_request(idp, {**data, "code_verifier": request.verifier or ""}, auth=client_auth(idp))
    tokens: dict[str, Any] = answer.json()
    return browser, tokens


def logout(browser: Browser, **params: str) -> httpx2.Response:
    return browser.client.get(browser.idp.endpoint("end_session_endpoint"), params=params)


def silent_login(browser: Browser) -> dict[str, str]:
    """The authorization response to a ``prompt=none`` request: a code only while the session lives."""
    return callback_params(browser.authorize(auth_request(browser.idp, True, prompt="none")))


def error_page(response: httpx2.Response, message: str) -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert f"<code>invalid_request</code>: {html.escape(message)}" in response.text


def test_a_hint_and_a_registered_uri_redirect_there_with_state(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)
    assert "code" in silent_login(browser)

    response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE, state="s-1")

    assert response.status_code == 302
    assert response.headers["location"] == f"{BYE}?state=s-1"
    assert response.headers["cache-control"] == "no-store"
    assert silent_login(browser)["error"] == "login_required"


def test_the_session_cookie_is_cleared(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)
    assert "mockidp_session" in browser.client.cookies

    response = logout(browser, id_token_hint=tokens["id_token"])

    assert response.headers["set-cookie"].startswith('mockidp_session=""; ')
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert "mockidp_session" not in browser.client.cookies


@pytest.mark.parametrize(
    ("target", "params", "location"),
    [
        (BYE, {}, BYE),
        ("http://testserver/bye?from=idp", {"state": "a b"}, "http://testserver/bye?from=idp&state=a+b"),
    ],
)
def test_the_redirect_keeps_the_uri_and_adds_only_state(
    provider: MockIdP, target: str, params: dict[str, str], location: str
) -> None:
    browser, tokens = browser_login(provider)
    response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=target, **params)
    assert response.headers["location"] == location


def test_client_id_may_name_the_client_instead_of_a_hint(provider: MockIdP) -> None:
    browser, _ = browser_login(provider)

    response = logout(browser, client_id="mockidp-client", post_logout_redirect_uri=BYE)

    assert (response.status_code, response.headers["location"]) == (302, BYE)
    assert silent_login(browser)["error"] == "login_required"
    assert provider.requests.filter(endpoint="end_session")[0].client_id == "mockidp-client"


def test_the_session_of_the_hint_ends_even_from_another_browser(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)

    response = logout(Browser(provider), id_token_hint=tokens["id_token"])

    assert response.status_code == 200
    assert silent_login(browser)["error"] == "login_required"


def test_an_expired_hint_is_still_accepted(key_pool: KeyPool) -> None:
    idp = MockIdP(ProviderConfig(id_token_ttl=60, session_ttl=7200), keys=key_pool)
    with freeze_time("2030-01-01") as frozen:
        browser, tokens = browser_login(idp)
        frozen.tick(3600)
        response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=BYE)
    assert (response.status_code, response.headers["location"]) == (302, BYE)


def test_an_unregistered_uri_is_an_error_page_never_a_redirect(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)

    response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://evil.example/")

    error_page(
        response,
        "post_logout_redirect_uri 'https://evil.example/' is not registered for client 'mockidp-client'",
    )
    record = provider.requests.filter(endpoint="end_session")[0]
    assert (record.status, record.error) == (400, "invalid_request")


def test_a_uri_without_a_hint_or_client_id_is_an_error_page(provider: MockIdP) -> None:
    response = logout(Browser(provider), post_logout_redirect_uri=BYE)
    error_page(response, "post_logout_redirect_uri needs id_token_hint or client_id to identify the client (section 3)")


def test_client_id_must_match_the_hints_audience(provider: MockIdP) -> None:
    provider.add_client(Client(client_id="other", client_secret="s"))
    browser, tokens = browser_login(provider)

    response = logout(browser, id_token_hint=tokens["id_token"], client_id="other")

    error_page(response, "client_id differs from the audience of id_token_hint (section 2)")
    assert "code" in silent_login(browser)


def test_an_unknown_client_id_is_an_error_page(provider: MockIdP) -> None:
    error_page(logout(Browser(provider), client_id="nobody"), "unknown client_id 'nobody'")


def test_a_hint_not_signed_here_is_an_error_page(provider: MockIdP) -> None:
    error_page(
        logout(Browser(provider), id_token_hint="not.a.token"),
        "id_token_hint is not an ID token signed by this provider",
    )


def test_an_access_token_is_not_an_id_token_hint(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)
    response = logout(browser, id_token_hint=tokens["access_token"], post_logout_redirect_uri=BYE)
    error_page(response, "id_token_hint is not an ID token issued by this provider")


def test_another_issuers_id_token_is_not_a_hint(key_pool: KeyPool, provider: MockIdP) -> None:
    """Providers of one test session share signing keys; the issuer still tells them apart."""
    other = MockIdP(ProviderConfig(issuer="https://other.example"), keys=key_pool)
    id_token = other.issue_tokens().id_token or ""

    response = logout(Browser(provider), id_token_hint=id_token, post_logout_redirect_uri=BYE)

    error_page(response, "id_token_hint is not an ID token issued by this provider")


def test_a_plain_get_shows_the_logged_out_page(provider: MockIdP) -> None:
    browser, _ = browser_login(provider)

    response = logout(browser)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<p>You are logged out of mockidp.</p>" in response.text
    assert silent_login(browser)["error"] == "login_required"


def test_the_session_ends_at_the_provider_not_only_in_the_browser(provider: MockIdP) -> None:
    browser, _ = browser_login(provider)
    replay = Browser(provider)
    replay.client.cookies.set("mockidp_session", browser.client.cookies["mockidp_session"], "idp.mockidp.test")
    assert "code" in silent_login(replay)

    logout(browser)

    assert silent_login(replay)["error"] == "login_required"


def test_logout_also_takes_a_form_post(provider: MockIdP) -> None:
    browser, tokens = browser_login(provider)

    response = browser.client.post(
        provider.endpoint("end_session_endpoint"),
        data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "x"},
    )

    assert (response.status_code, response.headers["location"]) == (302, f"{BYE}?state=x")
    assert silent_login(browser)["error"] == "login_required"
