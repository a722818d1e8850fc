"""OpenID Connect Back-Channel Logout 1.0: when an IdP session ends, each of its clients that registered a
``backchannel_logout_uri`` gets a logout token (§2.4) POSTed to it (§2.5), in-process to an app a simulated
login ran through, over the network to any other; the client validates it as §2.6 says and its answer is kept.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx2
import pytest
from authlib.integrations.starlette_client import OAuth
from freezegun import freeze_time
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from mockidp import BackchannelLogout, Client, ConfigError, KeyPool, MockIdP, ProviderConfig
from mockidp._server import base_url, bind, serve_socket
from tests.flows import Browser, auth_request, callback_params

EVENT = "http://schemas.openid.net/event/backchannel-logout"
CALLBACK = "http://testserver/callback"


def web_client(uri: str | None = "http://testserver/backchannel-logout", **fields: Any) -> Client:
    return Client(client_id="web", client_secret="s3cret", backchannel_logout_uri=uri, **fields)


def make(key_pool: KeyPool, *clients: Client, **config: Any) -> MockIdP:
    return MockIdP(ProviderConfig(clients=clients or (web_client(),), **config), keys=key_pool)


async def form_of(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode()))


def relying_party(
    idp: MockIdP,
    *,
    accept: bool | None = True,
    client: tuple[str, str] = ("web", "s3cret"),
    loops: list[bool] | None = None,
    hang: bool = False,
) -> tuple[Starlette, dict[str, dict[str, Any]]]:
    """An authlib app that keeps its sessions server-side and ends them at a back-channel logout (§2.6);
    ``accept=False`` refuses every logout token (400), ``accept=None`` raises on one. Given ``loops``, it
    notes there, at each logout token, whether it runs on the event loop its lifespan ran on."""
    oauth = OAuth()
    oidc: Any = oauth.register(
        "idp",
        server_metadata_url=idp.metadata_url,
        client_id=client[0],
        client_secret=client[1],
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )
    store: dict[str, dict[str, Any]] = {}

    async def home(request: Request) -> Response:
        user = store.get(request.session.get("key", ""))
        if user is None:
            response: Response = await oidc.authorize_redirect(request, CALLBACK)
            return response
        return JSONResponse({"sub": user["sub"]})

    async def callback(request: Request) -> Response:
        token = await oidc.authorize_access_token(request)
        key = secrets.token_urlsafe(8)
        userinfo = token["userinfo"]
        store[key] = {"sub": userinfo["sub"], "sid": userinfo["sid"], "id_token": token["id_token"]}
        request.session["key"] = key
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        """Leaves its own session to the back channel: only the provider's word ends it."""
        hint = store[request.session["key"]]["id_token"]
        response: Response = await oidc.logout_redirect(
            request, post_logout_redirect_uri="http://testserver/bye", id_token_hint=hint
        )
        return response

    async def server_logout(request: Request) -> Response:
        """Logs out at the provider itself, with a sync client: its event loop waits for the provider's answer."""
        hint = store[request.session["key"]]["id_token"]
        with httpx2.Client() as http:
            answer = http.get(idp.endpoint("end_session"), params={"id_token_hint": hint})
        return PlainTextResponse(str(answer.status_code))

    async def bye(request: Request) -> Response:
        return PlainTextResponse("bye")

    async def backchannel_logout(request: Request) -> Response:
        if accept is None:
            raise RuntimeError("the app's store is down")
        if hang:
            await anyio.Event().wait()  # never answers
        if loops is not None:
            loops.append(request.state.loop is asyncio.get_running_loop())
        form = await form_of(request)
        metadata = await oidc.load_server_metadata()
        keys = KeySet.import_key_set(await oidc.fetch_jwk_set())
        try:
            token = jwt.decode(form["logout_token"], keys)
        except (JoseError, KeyError, ValueError):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        claims = token.claims
        valid = (
            token.header.get("typ") == "logout+jwt"
            and claims["iss"] == metadata["issuer"]
            and claims["aud"] == client[0]
            and EVENT in claims["events"]
            and "nonce" not in claims
        )
        if not valid or not accept:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        for key in [k for k, user in store.items() if user["sid"] == claims["sid"]]:
            del store[key]
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    routes = [
        Route("/", home),
        Route("/callback", callback),
        Route("/logout", logout),
        Route("/bye", bye),
        Route("/server-logout", server_logout),
        Route("/backchannel-logout", backchannel_logout, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"loop": asyncio.get_running_loop()}

    middleware = [Middleware(SessionMiddleware, secret_key="test-only")]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan), store


@pytest.fixture
def idp(key_pool: KeyPool) -> Iterator[MockIdP]:
    idp = make(key_pool)
    with idp.intercept():
        yield idp


def verified(idp: MockIdP, token: str) -> jwt.Token:
    return jwt.decode(token, KeySet.import_key_set(idp.jwks()))  # type: ignore[arg-type]


def test_ending_sessions_at_the_provider_logs_the_user_out_of_the_app(idp: MockIdP) -> None:
    app, store = relying_party(idp)
    with TestClient(app) as client:
        assert idp.login(client).response.json() == {"sub": "alice"}
        sid = next(iter(store.values()))["sid"]

        sent = idp.end_sessions()

        assert client.get("/", follow_redirects=False).status_code == 302  # the app asks for a new login
    assert store == {}
    assert [(s.client_id, s.uri, s.status_code, s.route, s.error) for s in sent] == [
        ("web", "http://testserver/backchannel-logout", 200, "in-process", None)
    ]
    assert idp.backchannel_logouts == sent
    assert sent[0].ok
    assert sent[0].claims["sid"] == sid


def test_the_logout_token_carries_what_section_2_4_lists(idp: MockIdP) -> None:
    app, _ = relying_party(idp)
    with freeze_time("2030-01-01T00:00:00Z"), TestClient(app) as client:
        idp.login(client)
        (sent,) = idp.end_sessions()
    token = verified(idp, sent.logout_token)

    assert token.header["typ"] == "logout+jwt"
    assert token.claims == sent.claims
    assert set(token.claims) == {"iss", "sub", "aud", "iat", "exp", "jti", "sid", "events"}
    assert (token.claims["iss"], token.claims["sub"], token.claims["aud"]) == (idp.issuer, "alice", "web")
    assert (token.claims["iat"], token.claims["exp"]) == (1893456000, 1893456000 + 120)
    assert token.claims["events"] == {EVENT: {}}


def test_rp_initiated_logout_tells_the_app_before_the_browser_comes_back(idp: MockIdP) -> None:
    app, store = relying_party(idp)
    with TestClient(app) as client:
        idp.login(client)
        assert store

        result = idp.logout(client)

        assert result.response.text == "bye"
        assert store == {}  # the app kept its session; the logout token ended it
        assert client.get("/", follow_redirects=False).status_code == 302
    assert [s.status_code for s in idp.backchannel_logouts] == [200]
    (record,) = idp.requests.filter(endpoint="end_session")
    assert record.backchannel_logout == ("web",)


def test_a_logout_the_test_follows_by_hand_tells_the_app_on_its_own_event_loop(idp: MockIdP) -> None:
    """The browser's hop to /logout made by the test itself (a routed TestClient, off the app's loop): the app is
    still called on its own loop, where its lifespan made what it holds (a pool, a lock)."""
    from pytest_mockidp._clients import routed_test_client

    loops: list[bool] = []
    app, store = relying_party(idp, loops=loops)
    with routed_test_client(app) as client:
        idp.login(client)
        to_idp = client.get("/logout")
        back = client.get(to_idp.headers["location"])

    assert (to_idp.status_code, back.status_code) == (302, 302)
    assert back.headers["location"].startswith("http://testserver/bye?state=")
    assert (loops, store) == ([True], {})


def test_a_testclient_not_entered_is_told_too(idp: MockIdP) -> None:
    app, store = relying_party(idp)
    client = TestClient(app)
    idp.login(client)

    (sent,) = idp.end_sessions()

    assert (sent.status_code, sent.route, store) == (200, "in-process", {})


def test_a_testclient_left_is_told_on_a_loop_of_its_own(idp: MockIdP) -> None:
    app, store = relying_party(idp)
    with TestClient(app) as client:
        idp.login(client)

    (sent,) = idp.end_sessions()

    assert (sent.status_code, sent.route, store) == (200, "in-process", {})


def test_no_session_no_logout_token(idp: MockIdP) -> None:
    assert idp.end_sessions() == []
    assert idp.backchannel_logouts == []


@pytest.mark.asyncio
async def test_an_async_client_on_the_app_is_told_in_its_event_loop(idp: MockIdP) -> None:
    app, store = relying_party(idp)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await idp.alogin(client)).response.json() == {"sub": "alice"}

        (sent,) = await idp.aend_sessions()

        assert (sent.status_code, sent.route, store) == (200, "in-process", {})
        assert (await client.get("/")).status_code == 302


def test_a_registered_client_is_told_too(idp: MockIdP) -> None:
    """A client registered over RFC 7591 with a backchannel_logout_uri is told as a configured one is."""
    with httpx2.Client(transport=idp.transport(httpx2)) as http:
        body = http.post(
            idp.endpoint("registration_endpoint"),
            json={"redirect_uris": [CALLBACK], "backchannel_logout_uri": "http://testserver/backchannel-logout"},
        ).json()
    app, store = relying_party(idp, client=(body["client_id"], body["client_secret"]))
    with TestClient(app) as client:
        idp.login(client)

        (sent,) = idp.end_sessions()

    assert (sent.client_id, sent.status_code, store) == (body["client_id"], 200, {})


def test_only_clients_given_a_code_in_the_session_and_with_a_logout_uri_are_told(key_pool: KeyPool) -> None:
    other = Client(client_id="other", client_secret="x", backchannel_logout_uri="http://other.test/bcl")
    silent = Client(client_id="silent", client_secret="y")
    idp = make(key_pool, web_client(), other, silent)
    app, _ = relying_party(idp)
    with idp.intercept(), TestClient(app) as client:
        idp.login(client)
        Browser(idp).authorize(auth_request(idp, True, client_id="silent"))  # another browser: another session

        sent = idp.end_sessions()

    assert [s.client_id for s in sent] == ["web"]


def test_a_client_that_cannot_be_reached_does_not_fail_the_logout(key_pool: KeyPool) -> None:
    sock = bind("127.0.0.1", 0)
    dead = base_url(sock) + "/backchannel-logout"
    sock.close()  # nothing listens there now
    idp = make(key_pool, web_client(dead))
    browser = Browser(idp)
    code = callback_params(browser.authorize(auth_request(idp, True, client_id="web")))
    assert "code" in code

    response = browser.client.get(idp.endpoint("end_session"), params={"client_id": "web"})

    assert response.status_code == 200
    (sent,) = idp.backchannel_logouts
    assert (sent.status_code, sent.route, sent.ok) == (None, "network", False)
    assert str(sent.error).startswith("ConnectError")


def test_an_app_that_refuses_the_token_is_recorded_with_its_status(idp: MockIdP) -> None:
    app, store = relying_party(idp, accept=False)
    with TestClient(app) as client:
        idp.login(client)

        (sent,) = idp.end_sessions()

    assert (sent.status_code, sent.ok, len(store)) == (400, False, 1)


def test_an_app_that_raises_is_recorded_with_its_error(idp: MockIdP) -> None:
    app, _ = relying_party(idp, accept=None)
    with TestClient(app) as client:
        idp.login(client)

        (sent,) = idp.end_sessions()

    assert (sent.status_code, sent.error) == (None, "RuntimeError: the app's store is down")


def test_an_app_on_a_socket_is_told_over_the_network(key_pool: KeyPool) -> None:
    received: list[dict[str, str]] = []

    async def backchannel_logout(request: Request) -> Response:
        received.append(await form_of(request))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/backchannel-logout", backchannel_logout, methods=["POST"])])
    sock = bind("127.0.0.1", 0)
    idp = make(key_pool, web_client(base_url(sock) + "/backchannel-logout"))
    with serve_socket(app, sock):
        browser = Browser(idp)
        browser.authorize(auth_request(idp, True, client_id="web"))
        (sent,) = idp.end_sessions()

    assert (sent.status_code, sent.route, sent.ok) == (204, "network", True)
    assert received == [{"logout_token": sent.logout_token}]


def test_a_provider_over_loopback_tells_an_app_on_a_socket(key_pool: KeyPool) -> None:
    received: list[str] = []

    async def backchannel_logout(request: Request) -> Response:
        received.append((await form_of(request))["logout_token"])
        return Response(status_code=200)

    app = Starlette(routes=[Route("/bcl", backchannel_logout, methods=["POST"])])
    sock = bind("127.0.0.1", 0)
    idp = make(key_pool, web_client(base_url(sock) + "/bcl"))
    with serve_socket(app, sock), idp.serve() as issuer, httpx2.Client(follow_redirects=False) as browser:
        request = auth_request(idp, True, client_id="web", redirect_uri="http://127.0.0.1/cb")
        assert "code" in callback_params(browser.get(issuer + "/authorize", params=request.params))
        bye = browser.get(issuer + "/logout", params={"client_id": "web"})

    assert bye.status_code == 200
    (token,) = received
    assert verified(idp, token).claims["iss"] == issuer


def test_a_backchannel_logout_uri_must_be_an_absolute_http_url() -> None:
    with pytest.raises(ConfigError) as caught:
        web_client("/backchannel-logout")
    assert str(caught.value).startswith(
        "client 'web': backchannel_logout_uri must be an absolute http(s) URL with no fragment"
        " (OIDC Back-Channel Logout 1.0 section 2.2), got '/backchannel-logout'"
    )


def test_the_spec_grammar_takes_a_backchannel_logout_uri() -> None:
    config = ProviderConfig().replace(clients=["web:s,backchannel_logout_uri=http://app.test/bcl"])

    assert config.clients[0].backchannel_logout_uri == "http://app.test/bcl"


def test_a_logout_is_ok_when_the_client_answered_200_or_204() -> None:
    assert [BackchannelLogout("web", "u", "t", {}, status).ok for status in (200, 204, 302, 400, None)] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_a_provider_with_a_log_limit_keeps_only_the_newest_deliveries(key_pool: KeyPool) -> None:
    idp = make(key_pool, request_log_limit=2)
    app, _ = relying_party(idp)
    sent: list[BackchannelLogout] = []
    with idp.intercept(), TestClient(app) as client:
        for _ in range(3):
            idp.login(client)
            client.cookies.clear()
            sent += idp.end_sessions()

    assert [s.ok for s in sent] == [True, True, True]
    assert idp.backchannel_logouts == sent[1:]


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockidp import _backchannel

    monkeypatch.setattr(_backchannel, "TIMEOUT", 0.3)


@pytest.mark.usefixtures("short_timeout")
def test_an_app_that_never_answers_is_recorded_and_the_logout_goes_on(idp: MockIdP) -> None:
    app, store = relying_party(idp, hang=True)
    with TestClient(app) as client:
        idp.login(client)

        (sent,) = idp.end_sessions()

    assert (sent.status_code, len(store)) == (None, 1)
    assert str(sent.error).startswith("TimeoutError: the app did not answer in 0.3 s")


@pytest.mark.usefixtures("short_timeout")
def test_an_app_whose_loop_waits_for_its_own_logout_does_not_hang_it(idp: MockIdP) -> None:
    """A sync httpx call to /logout from an async route blocks the app's loop: the token cannot reach it there."""
    app, _ = relying_party(idp)
    with TestClient(app) as client:
        idp.login(client)

        answer = client.get("/server-logout")

    assert answer.text == "200"
    (sent,) = idp.backchannel_logouts
    assert sent.status_code is None
    assert sent.error == (
        "TimeoutError: the app did not answer in 0.3 s (is its event loop blocked, waiting for this logout?)"
    )


@pytest.mark.usefixtures("short_timeout")
@pytest.mark.asyncio
async def test_an_app_on_this_loop_that_never_answers_is_recorded_too(idp: MockIdP) -> None:
    app, _ = relying_party(idp, hang=True)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as client:
        await idp.alogin(client)

        (sent,) = await idp.aend_sessions()

    assert (sent.status_code, sent.error) == (None, "TimeoutError: the app did not answer in 0.3 s")
