"""The token debugger (``/debugger``): a relying party inside the provider that runs the authorization
code flow (OIDC Core §3.1) and shows every answer, decoded."""

from __future__ import annotations

import html
import re

import httpx2
import pytest

from mockidp import Client, KeyPool, MockIdP, ProviderConfig


@pytest.fixture
def idp(key_pool: KeyPool) -> MockIdP:
    spa = Client(client_id="spa")
    post = Client(client_id="post", client_secret="s", token_endpoint_auth_method="client_secret_post")
    return MockIdP(ProviderConfig(debugger=True, clients=(ProviderConfig().clients[0], spa, post)), keys=key_pool)


def browser(idp: MockIdP) -> httpx2.Client:
    return httpx2.Client(transport=idp.transport(httpx2), base_url=idp.issuer, follow_redirects=False)


def text(response: httpx2.Response) -> str:
    """The page's text, its tags and runs of white space each one space."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def run(idp: MockIdP, client: httpx2.Client, **choices: str) -> httpx2.Response:
    """Press "Run the flow" with ``choices`` and follow the browser's way back to the debugger."""
    form = {"mockidp_debugger": "start", "client_id": "mockidp-client", "scope": "openid profile email offline_access"}
    response = client.post("/debugger", data={**form, "pkce": "S256", "response_mode": "query", **choices})
    assert response.status_code == 303, response.text
    response = client.get(response.headers["location"])
    if response.status_code == 302:
        location = response.headers["location"].replace("#", "?")  # what the page's script does for a fragment
        return client.get(location)
    action = re.search(r'action="([^"]+)"', response.text)
    assert action is not None, response.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', response.text))
    return client.post(html.unescape(action.group(1)), data=fields)  # form_post


def test_the_start_page_offers_the_clients_and_choices(idp: MockIdP) -> None:
    page = browser(idp).get("/debugger")

    assert page.status_code == 200
    assert '<option value="spa">spa</option>' in page.text
    for choice in ("S256", "plain", "none", "query", "fragment", "form_post"):
        assert f'<option value="{choice}"' in page.text
    assert "Redirect URI: https://idp.mockidp.test/debugger , accepted for every client" in text(page)


@pytest.mark.parametrize("mode", ["query", "fragment", "form_post"])
def test_a_whole_run_shows_every_answer(idp: MockIdP, mode: str) -> None:
    client = browser(idp)

    page = run(idp, client, response_mode=mode)

    shown = text(page)
    assert page.status_code == 200, shown
    for heading in ("Authorization response", "Token response", "ID token", "Access token", "Userinfo",
                    "Introspection"):  # fmt: skip
        assert f" {heading} " in shown
    assert "Signature: valid against this provider's JWKS" in shown
    assert "nonce: matches" in shown
    assert re.search(r" exp \d+ \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in 3\d\d\d s\)", shown)
    assert '"active": true' in shown
    assert '"email": "alice@example.com"' in shown
    assert [r.endpoint for r in idp.requests] == ["debugger", "authorize", "token", "userinfo", "introspection",
                                                  "debugger"]  # fmt: skip


def test_refresh_runs_the_refresh_token_grant(idp: MockIdP) -> None:
    client = browser(idp)
    page = run(idp, client)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text.split("Refresh the tokens")[0][-2000:]))

    refreshed = client.post("/debugger", data=fields)

    assert " Refreshed " in text(refreshed)
    assert idp.requests.filter(endpoint="token")[-1].grant_type == "refresh_token"
    assert "Refresh the tokens" in refreshed.text


@pytest.mark.parametrize(("client_id", "pkce"), [("spa", "S256"), ("post", "plain"), ("mockidp-client", "none")])
def test_each_kind_of_client_and_pkce(idp: MockIdP, client_id: str, pkce: str) -> None:
    page = run(idp, browser(idp), client_id=client_id, pkce=pkce, scope="openid")

    assert "Token response HTTP 200" in text(page)
    token = idp.requests.filter(endpoint="token")[-1]
    assert (token.client_id, token.pkce) == (client_id, pkce != "none")


def test_a_public_client_does_not_introspect(idp: MockIdP) -> None:
    page = run(idp, browser(idp), client_id="spa")

    assert "Not asked: a public client may not introspect tokens (RFC 7662 section 2.1)." in text(page)


def test_an_error_from_the_provider_is_shown(idp: MockIdP) -> None:
    page = run(idp, browser(idp), prompt="none")

    assert page.status_code == 200
    assert "The provider answered with an error." in text(page)
    assert '"error": "login_required"' in text(page)


def test_a_failed_token_request_is_shown(idp: MockIdP) -> None:
    idp.fail("token", error="invalid_grant")

    page = run(idp, browser(idp))

    assert "Token response HTTP 400" in text(page)
    assert " ID token " not in text(page)


def test_an_answer_for_another_run_is_refused(idp: MockIdP) -> None:
    client = browser(idp)
    client.post("/debugger", data={"mockidp_debugger": "start", "client_id": "spa"})

    page = client.get("/debugger", params={"code": "x", "state": "not-mine"})

    assert page.status_code == 400
    assert "The state does not match the run this browser started" in text(page)
    assert "This browser started no debugger run" in text(browser(idp).get("/debugger", params={"state": "x"}))


def test_a_broken_run_cookie_is_no_run(idp: MockIdP) -> None:
    client = browser(idp)
    client.cookies.set("mockidp_debugger", "%%%", domain="idp.mockidp.test")

    assert "This browser started no debugger run" in text(client.get("/debugger", params={"state": "x"}))


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"client_id": "nope"}, "Pick a client; 'nope' is not registered."),
        ({"pkce": "S512"}, "PKCE must be one of S256, plain, none, got 'S512'."),
        ({"response_mode": "jwt"}, "The response mode must be one of query, fragment, form_post, got 'jwt'."),
    ],
)
def test_bad_choices_show_the_start_page_again(idp: MockIdP, choices: dict[str, str], message: str) -> None:
    form = {"mockidp_debugger": "start", "client_id": "mockidp-client", **choices}

    page = browser(idp).post("/debugger", data=form)

    assert page.status_code == 400
    assert f'<p role="alert">{html.escape(message)}</p>' in page.text


def test_refresh_for_an_unknown_client_says_so(idp: MockIdP) -> None:
    page = browser(idp).post("/debugger", data={"mockidp_debugger": "refresh", "client_id": "gone"})

    assert "No client 'gone' to refresh for." in text(page)


def test_the_debugger_is_off_unless_asked(key_pool: KeyPool) -> None:
    idp = MockIdP(keys=key_pool)
    client = browser(idp)

    assert client.get("/debugger").status_code == 404
    sent = client.get("/authorize", params={"client_id": "mockidp-client", "redirect_uri": idp.issuer + "/debugger"})
    assert sent.status_code == 400


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("signature", "Signature: not valid: "),
        ("expired", " s ago)"),
        ("nonce", "nonce: differs"),
    ],
)
def test_a_bad_id_token_is_shown_for_what_it_is(idp: MockIdP, kind: str, shown: str) -> None:
    idp.tamper_next_id_token(kind)

    assert shown in text(run(idp, browser(idp)))


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("opaque", "ID token Not a JWT: opaque"),
        ("a.b.c", "ID token Not a JWT: its parts are not base64url JSON."),
    ],
)
def test_what_is_not_a_jwt_is_said_so(idp: MockIdP, token: str, shown: str) -> None:
    from mockidp._endpoints.debugger import _decoded

    assert shown in text(httpx2.Response(200, text=_decoded(idp.context, "ID token", token, None)))


def test_a_run_cookie_that_is_not_a_run_is_no_run(idp: MockIdP) -> None:
    client = browser(idp)
    client.cookies.set("mockidp_debugger", "WzFd", domain="idp.mockidp.test")  # base64url of [1]

    assert "This browser started no debugger run" in text(client.get("/debugger", params={"state": "x"}))
