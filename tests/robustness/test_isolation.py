"""Isolation: nothing of one test's provider reaches the next test's, serially and under pytest-xdist.

A generated suite runs as users run the plugin. Its first test gets a code (not redeemed), an access
token, a refresh token and an IdP session cookie from its ``idp``, and arms a fault, a queued login
and a tampered ID token it never uses; the second test, on the same issuer, presents each of them to
its own ``idp`` and sees each refused or absent.
"""

from __future__ import annotations

import pytest

from tests.plugin.conftest import STRICT_INI

SUITE = """
import json
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
from joserfc import jwt
from joserfc.jwk import KeySet

CARRIED = Path(__file__).with_suffix(".json")
CALLBACK = "http://testserver/callback"
AUTH = ("mockidp-client", "mockidp-secret")


def authorize(idp, **params):
    query = {"response_type": "code", "client_id": "mockidp-client", "redirect_uri": CALLBACK,
             "scope": "openid", "state": "s", "nonce": "n", **params}
    return httpx2.get(idp.endpoint("authorize"), params=query, follow_redirects=False)


def answer(response):
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_first(idp):
    tokens = idp.issue_tokens()
    login = authorize(idp)
    CARRIED.write_text(json.dumps({
        "code": answer(login)["code"],
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "session": login.cookies["mockidp_session"],
    }))
    idp.fail("token", times=10)
    idp.login_as({"sub": "intruder"})
    idp.tamper_next_id_token("iss")


def test_second(idp):
    carried = json.loads(CARRIED.read_text())
    userinfo = httpx2.get(idp.endpoint("userinfo"), headers={"Authorization": "Bearer " + carried["access_token"]})
    assert userinfo.status_code == 401
    assert userinfo.json()["error"] == "invalid_token"

    refresh = httpx2.post(idp.endpoint("token"), auth=AUTH,
                          data={"grant_type": "refresh_token", "refresh_token": carried["refresh_token"]})
    assert refresh.json() == {"error": "invalid_grant",
                              "error_description": "the refresh token is not known to this provider"}

    redeem = httpx2.post(idp.endpoint("token"), auth=AUTH,
                         data={"grant_type": "authorization_code", "code": carried["code"], "redirect_uri": CALLBACK})
    assert redeem.json()["error"] == "invalid_grant"
    assert redeem.json()["error_description"] == "the authorization code is not known to this provider"

    silent = authorize(idp, prompt="none", nonce=secrets.token_hex(4))
    assert answer(silent)["error"] == "login_required"  # no cookie of its own: the old one names nothing
    # httpx2.get keeps no cookies, so the old session cookie is sent on purpose:
    with httpx2.Client(cookies={"mockidp_session": carried["session"]}) as browser:
        old_session = browser.get(idp.endpoint("authorize"), follow_redirects=False, params={
            "response_type": "code", "client_id": "mockidp-client", "redirect_uri": CALLBACK,
            "scope": "openid", "prompt": "none"})
    assert answer(old_session)["error"] == "login_required"

    # no fault, queued user or tamper came along: a fresh code flow logs alice in with a sound ID token
    code = answer(authorize(idp))["code"]
    tokens = httpx2.post(idp.endpoint("token"), auth=AUTH,
                         data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json()["id_token"], KeySet.import_key_set(idp.jwks())).claims
    assert (claims["sub"], claims["iss"]) == ("alice", idp.issuer)
    assert [u.sub for u in idp.users.values()] == ["alice"]
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_tenant_a=SUITE, test_tenant_b=SUITE)
    return pytester


def test_nothing_of_one_test_reaches_the_next(suite: pytest.Pytester) -> None:
    suite.runpytest().assert_outcomes(passed=4)


def test_nothing_of_one_test_reaches_the_next_under_xdist(suite: pytest.Pytester) -> None:
    """Each file runs in order on one of two workers, the two workers side by side."""
    result = suite.runpytest_subprocess("-p", "xdist", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*2 workers*"])


# -- the app_client's event loop thread, shared by the session (pytest_mockidp._portal) ------------------

APP_SUITE = """
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import pytest

CARRIED = Path(__file__).with_suffix(".json")
STOPPED = []
TIMERS = []
CLOSED = []


async def stream():
    try:
        while True:
            yield 1
    finally:
        CLOSED.append(True)


def create_app():
    @asynccontextmanager
    async def lifespan(app):
        yield {"started": True}
        STOPPED.append(True)

    async def leave_behind(request):
        loop = asyncio.get_running_loop()
        asyncio.create_task(asyncio.sleep(3600), name="left-behind")  # never awaited: the test leaves it
        loop.set_exception_handler(lambda loop, context: None)
        loop.set_debug(True)
        loop.slow_callback_duration = 9.0
        loop.set_default_executor(ThreadPoolExecutor(1, thread_name_prefix="left-behind"))
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        TIMERS.append(loop.call_later(3600, STOPPED.clear))  # would fire in some later test
        gen = stream()
        await gen.__anext__()
        request.app.state.gen = gen  # abandoned unfinished: only a close runs its finally
        return JSONResponse({"loop": id(loop)})

    async def look(request):
        loop = asyncio.get_running_loop()
        names = sorted(t.get_name() for t in asyncio.all_tasks())
        executor = getattr(loop, "_default_executor", None)
        return JSONResponse({"loop": id(loop), "tasks": names, "handler": loop.get_exception_handler() is None,
                             "debug": loop.get_debug(), "state": request.state.started,
                             "slow": loop.slow_callback_duration,
                             "executor": getattr(executor, "_thread_name_prefix", None),
                             "tokens": anyio.to_thread.current_default_thread_limiter().total_tokens})

    return Starlette(routes=[Route("/leave", leave_behind), Route("/look", look)], lifespan=lifespan)


@pytest.mark.app_factory.with_args(create_app)
def test_first(idp, app_client):
    idp.login_as("alice")
    app_client.cookies.set("app_cookie", "1")
    CARRIED.write_text(json.dumps(app_client.get("/leave").json()))
    seen = app_client.get("/look").json()
    assert "left-behind" in seen["tasks"]
    assert (seen["slow"], seen["executor"], seen["tokens"]) == (9.0, "left-behind", 1)
    assert not TIMERS[0].cancelled()


@pytest.mark.app_factory.with_args(create_app)
def test_second(idp, app_client):
    carried = json.loads(CARRIED.read_text())
    seen = app_client.get("/look").json()
    assert seen["loop"] == carried["loop"]  # the same event loop thread: what follows is the isolation at work
    assert "left-behind" not in seen["tasks"]
    assert (seen["handler"], seen["debug"], seen["state"]) == (True, False, True)
    assert (seen["slow"], seen["executor"], seen["tokens"]) == (0.1, None, 40)
    assert STOPPED == [True]  # the first app's lifespan was shut down
    assert CLOSED == [True]  # its unfinished async generator was closed when its client left
    assert TIMERS[0].cancelled()
    assert not app_client.cookies
    assert idp.context.controls.take_queued_login() is None
"""


def test_apps_on_the_shared_event_loop_leave_nothing_behind(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_apps=APP_SUITE)
    pytester.runpytest_subprocess().assert_outcomes(passed=2)
