"""Security properties a relying party's tests rely on, each its own test.

Redirect URIs match exactly (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3), with opted-in ``*`` prefixes and
loopback ports (RFC 8252 §7.3) as the only relaxations; no error path redirects to an unregistered URI
(RFC 6749 §4.1.2.1); ``post_logout_redirect_uri`` is checked the same way (RP-Initiated Logout §3); a
code is single use and its replay revokes what it issued (RFC 6749 §4.1.2, §10.5); codes and refresh
tokens are bound to their client (§4.1.3, §6); every HTML page escapes what it echoes. (That
``mockidp serve`` warns when it binds beyond loopback is tested in tests/provider/test_cli.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from mockidp import Client, KeyPool, MockIdP, ProviderConfig, User

REGISTERED = ("https://app.example/cb", "https://pre.example/app/*", "http://127.0.0.1/cb", "com.example.app:/cb")
APP = Client(
    client_id="app",
    client_secret="s3cret",
    redirect_uris=REGISTERED,
    post_logout_redirect_uris=("https://app.example/bye",),
)
OTHER = Client(client_id="other", client_secret="other-secret", redirect_uris=("https://other.example/cb",))


@pytest.fixture
def idp(key_pool: KeyPool) -> MockIdP:
    return MockIdP(ProviderConfig(clients=(APP, OTHER)), keys=key_pool)


@pytest.fixture
def browser(idp: MockIdP) -> Iterator[httpx2.Client]:
    with httpx2.Client(transport=idp.transport(httpx2), follow_redirects=False) as client:
        yield client


def authorize(browser: httpx2.Client, idp: MockIdP, **params: str) -> httpx2.Response:
    query = {"response_type": "code", "client_id": "app", "scope": "openid", "state": "s", "nonce": "n", **params}
    return browser.get(idp.endpoint("authorize"), params={k: v for k, v in query.items() if v != ""})


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb",
        "https://pre.example/app/",
        "https://pre.example/app/callback?x=1",
        "http://127.0.0.1:49152/cb",
        "com.example.app:/cb",
    ],
)
def test_registered_uris_are_accepted(browser: httpx2.Client, idp: MockIdP, uri: str) -> None:
    response = authorize(browser, idp, redirect_uri=uri)
    assert response.status_code == 302
    assert response.headers["location"].startswith(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb/evil",  # extra path
        "https://app.example/c",  # a prefix of the registration
        "https://app.example/cbx",  # a suffix added
        "https://app.example/cb?next=https://evil.example",  # a query added
        "https://app.example/cb#frag",  # a fragment
        "https://app.example:8443/cb",  # another port
        "http://app.example/cb",  # another scheme
        "https://APP.example/cb",  # another spelling
        "https://app.example@evil.example/cb",  # user info that hides the host
        "https://evil.example@app.example/cb",  # user info in front of the real host
        "https://app.example.evil.example/cb",  # the host as a prefix of another
        "https://app.example/cb/../evil",  # dot segments
        "https://pre.example/application",  # the prefix without its slash
        "https://pre.example/app/../admin",  # climbing out of a prefix
        "https://pre.example/app/%2e%2e/admin",  # the same, percent-encoded
        "https://pre.example/app/..%5cadmin",  # with a backslash
        "https://user@pre.example/app/x",  # user info on a prefix match
        "https://pre.example:444/app/x",  # a port on a prefix match
        "http://127.0.0.1:49152/cb/x",  # loopback, another path
        "https://127.0.0.1/cb",  # loopback, another scheme
        "http://localhost/cb",  # another loopback name than the registered one
        "http://127.0.0.1:notaport/cb",
        "com.example.app:/cb/x",
        "//app.example/cb",  # relative
    ],
)
def test_anything_but_an_exact_match_is_refused_without_a_redirect(
    browser: httpx2.Client, idp: MockIdP, uri: str
) -> None:
    response = authorize(browser, idp, redirect_uri=uri)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not registered for client &#x27;app&#x27;" in response.text


#: Authorization requests that each fail a different check, all of them after the redirect URI's.
BROKEN = [
    {"response_type": ""},
    {"response_type": "token"},
    {"scope": "openid bad\\scope"},
    {"prompt": "none login"},
    {"prompt": "bogus"},
    {"max_age": "soon"},
    {"code_challenge_method": "S256"},
    {"code_challenge": "short", "code_challenge_method": "S256"},
    {"code_challenge": "x" * 43, "code_challenge_method": "md5"},
    {"response_mode": "web_message"},
    {"request": "eyJ.x.y"},
    {"request_uri": "urn:x"},
    {"prompt": "none"},
    {"login_hint": "nobody", "prompt": "none"},
]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: ",".join(f"{k}={v[:12]}" for k, v in b.items()))
@pytest.mark.parametrize("uri", ["https://evil.example/cb", "https://app.example/cb/evil"])
def test_no_error_redirects_to_an_unregistered_uri(
    browser: httpx2.Client, idp: MockIdP, broken: dict[str, str], uri: str
) -> None:
    response = authorize(browser, idp, redirect_uri=uri, **broken)

    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: ",".join(f"{k}={v[:12]}" for k, v in b.items()))
def test_the_same_errors_do_redirect_to_a_registered_uri(
    browser: httpx2.Client, idp: MockIdP, broken: dict[str, str]
) -> None:
    response = authorize(browser, idp, redirect_uri="https://app.example/cb", **broken)

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example", "/cb")
    assert "error" in parse_qs(location.query or location.fragment)  # the fragment for response_type=token


def test_an_injected_fault_with_a_status_shows_a_page_not_a_redirect(browser: httpx2.Client, idp: MockIdP) -> None:
    idp.fail("authorize", status=503, error="temporarily_unavailable")
    response = authorize(browser, idp, redirect_uri="https://app.example/cb")
    assert (response.status_code, "location" in response.headers) == (503, False)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/bye",
        "https://app.example/bye/x",
        "https://app.example/byebye",
        "https://app.example@evil.example/bye",
    ],
)
def test_an_unregistered_post_logout_redirect_uri_gets_a_page(
    browser: httpx2.Client, idp: MockIdP, target: str
) -> None:
    response = browser.get(
        idp.endpoint("end_session"), params={"client_id": "app", "post_logout_redirect_uri": target, "state": "x"}
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_a_registered_post_logout_redirect_uri_is_followed(browser: httpx2.Client, idp: MockIdP) -> None:
    response = browser.get(
        idp.endpoint("end_session"),
        params={"client_id": "app", "post_logout_redirect_uri": "https://app.example/bye", "state": "x"},
    )
    assert (response.status_code, response.headers["location"]) == (302, "https://app.example/bye?state=x")


def code_for(browser: httpx2.Client, idp: MockIdP, client: str = "app", redirect_uri: str = REGISTERED[0]) -> str:
    response = authorize(browser, idp, client_id=client, redirect_uri=redirect_uri)
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def redeem(
    browser: httpx2.Client, idp: MockIdP, code: str, auth: tuple[str, str] = ("app", "s3cret")
) -> httpx2.Response:
    return browser.post(
        idp.endpoint("token"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REGISTERED[0]},
        auth=auth,
    )


def test_a_code_is_single_use_and_its_replay_revokes_what_it_issued(browser: httpx2.Client, idp: MockIdP) -> None:
    code = code_for(browser, idp)
    tokens = redeem(browser, idp, code).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert browser.get(idp.endpoint("userinfo"), headers=bearer).status_code == 200

    replay = redeem(browser, idp, code)

    assert replay.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code was already used; the tokens it issued are now revoked"
        " (RFC 6749 section 4.1.2)",
    }
    assert browser.get(idp.endpoint("userinfo"), headers=bearer).json()["error"] == "invalid_token"
    refresh = browser.post(
        idp.endpoint("token"),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("app", "s3cret"),
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(browser: httpx2.Client, idp: MockIdP) -> None:
    code = code_for(browser, idp)

    stolen = redeem(browser, idp, code, auth=("other", "other-secret"))

    assert stolen.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code was issued to another client, not 'other'",
    }
    assert redeem(browser, idp, code).json()["error"] == "invalid_grant"  # and the theft used it up


def test_a_refresh_token_is_bound_to_its_client(browser: httpx2.Client, idp: MockIdP) -> None:
    refresh_token = redeem(browser, idp, code_for(browser, idp)).json()["refresh_token"]

    def refresh(auth: tuple[str, str]) -> httpx2.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return browser.post(idp.endpoint("token"), data=data, auth=auth)

    assert refresh(("other", "other-secret")).json() == {
        "error": "invalid_grant",
        "error_description": "the refresh token was issued to another client, not 'other'",
    }
    assert refresh(("app", "s3cret")).status_code == 200  # the attempt did not spend it
    revoke = browser.post(idp.endpoint("revocation"), data={"token": refresh_token}, auth=("other", "other-secret"))
    assert revoke.json()["error"] == "unauthorized_client"


PAYLOADS = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "'; alert(1); '"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_html_page_escapes_what_it_echoes(key_pool: KeyPool, payload: str) -> None:
    idp = MockIdP(ProviderConfig(clients=(APP,), users=(User.named("alice"),), interactive=True), keys=key_pool)
    pages: dict[str, httpx2.Response] = {}
    with httpx2.Client(transport=idp.transport(httpx2), follow_redirects=False) as browser:
        everything = {
            "state": payload,
            "nonce": payload,
            "login_hint": payload,
            "scope": "openid " + payload.replace(" ", ""),
            "x": payload,
        }
        pages["unknown client"] = authorize(browser, idp, client_id=payload, redirect_uri=REGISTERED[0])
        pages["unregistered redirect"] = authorize(browser, idp, redirect_uri="https://app.example/" + payload)
        pages["login form"] = authorize(browser, idp, redirect_uri=REGISTERED[0], **{**everything, "scope": "openid"})
        pages["login form, bad user"] = browser.post(
            idp.endpoint("authorize"),
            data={"response_type": "code", "client_id": "app", "redirect_uri": REGISTERED[0], "state": payload,
                  "mockidp_username": payload, "mockidp_action": "login"},
        )  # fmt: skip
        pages["form_post"] = browser.post(
            idp.endpoint("authorize"),
            data={"response_type": "code", "client_id": "app", "redirect_uri": REGISTERED[0], "state": payload,
                  "response_mode": "form_post", "mockidp_username": "alice", "mockidp_action": "login"},
        )  # fmt: skip
        pages["logout error"] = browser.get(
            idp.endpoint("end_session"), params={"client_id": "app", "post_logout_redirect_uri": payload}
        )
        pages["logout"] = browser.get(idp.endpoint("end_session"), params={"state": payload, "x": payload})
    for name, page in pages.items():
        assert page.headers["content-type"].startswith("text/html"), name
        assert payload not in page.text, f"{name} echoes {payload!r} unescaped"
    assert pages["form_post"].status_code == 200
    assert "&lt;" in pages["login form"].text or "&#x27;" in pages["login form"].text
