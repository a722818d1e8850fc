"""The ini option mockidp_reuse_app: consecutive tests that build the same app share it and its entered
client; any other app is built anew, and each kept app's lifespan is shut down once, when it is left."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import Ini

APP = """
import itertools
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BUILT = itertools.count(1)
EVENTS = []


def create_app(label="default"):
    number = next(BUILT)

    @asynccontextmanager
    async def lifespan(app):
        EVENTS.append(f"start {label} {number}")
        yield
        EVENTS.append(f"stop {label} {number}")

    async def whoami(request):
        return JSONResponse({"app": number, "cookies": dict(request.cookies),
                             "header": request.headers.get("x-test")})

    return Starlette(routes=[Route("/", whoami)], lifespan=lifespan)
"""

SUITE = """
import pytest
import reuse_app


def test_first(app_client):
    seen = app_client.get("/").json()
    assert seen == {"app": 1, "cookies": {}, "header": None}
    app_client.cookies.set("left", "behind")
    app_client.headers["x-test"] = "left behind"


def test_second_gets_the_same_app_with_a_clean_client(app_client, app):
    assert app_client.get("/").json() == {"app": 1, "cookies": {}, "header": None}
    assert reuse_app.EVENTS == ["start default 1"]


@pytest.mark.app_factory.with_args(reuse_app.create_app, "other")
def test_another_factory_argument_builds_its_own(app_client):
    assert app_client.get("/").json()["app"] == 2
    assert reuse_app.EVENTS == ["start default 1", "stop default 1", "start other 2"]


@pytest.mark.mockidp(algorithm="ES256")
def test_another_provider_configuration_builds_its_own(app_client):
    assert app_client.get("/").json()["app"] == 3


def test_the_default_again_is_a_new_app(app_client):
    assert app_client.get("/").json()["app"] == 4
    assert reuse_app.EVENTS[-2:] == ["stop default 3", "start default 4"]
"""


REUSE = ("mockidp_app_factory = reuse_app:create_app", "mockidp_reuse_app = true")


def run(pytester: pytest.Pytester, ini: Ini, tests: str, *lines: str) -> pytest.RunResult:
    """Run ``tests`` (a module) next to the sample app, with these ini lines."""
    pytester.makepyfile(reuse_app=APP, test_module=tests)
    pytester.syspathinsert()
    ini(*lines)
    return pytester.runpytest()


@pytest.fixture
def suite(strict_pytester: pytest.Pytester) -> pytest.Pytester:
    strict_pytester.makepyfile(reuse_app=APP, test_reuse=SUITE)
    strict_pytester.syspathinsert()
    strict_pytester.makeconftest(
        """
import reuse_app

def pytest_sessionfinish(session):
    print("events:", reuse_app.EVENTS)
"""
    )
    return strict_pytester


def test_tests_that_build_the_same_app_share_it_and_each_app_stops_once(suite: pytest.Pytester, ini: Ini) -> None:
    ini(*REUSE)

    result = suite.runpytest("-s", "-p", "no:randomly")

    result.assert_outcomes(passed=5)
    assert (
        "events: ['start default 1', 'stop default 1', 'start other 2', 'stop other 2', 'start default 3',"
        " 'stop default 3', 'start default 4', 'stop default 4']"
    ) in result.stdout.str()


def test_without_the_option_each_test_builds_its_own_app(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    tests = """
def test_first(app_client):
    assert app_client.get("/").json()["app"] == 1

def test_second(app_client):
    assert app_client.get("/").json()["app"] == 2
"""
    run(strict_pytester, ini, tests, REUSE[0]).assert_outcomes(passed=2)


def test_an_app_fixture_of_the_users_own_gets_a_client_of_its_own(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    tests = """
import pytest
import reuse_app

@pytest.fixture
def app():
    return reuse_app.create_app("own")

def test_first(app_client):
    assert app_client.get("/").json()["app"] == 1

def test_second(app_client):
    assert app_client.get("/").json()["app"] == 2
    assert reuse_app.EVENTS == ["start own 1", "stop own 1", "start own 2"]
"""
    run(strict_pytester, ini, tests, REUSE[1]).assert_outcomes(passed=2)


def test_a_login_in_each_test_on_a_shared_app_logs_in_anew(with_apps: pytest.Pytester, ini: Ini) -> None:
    """Each test's provider is its own: the shared app redeems each test's code at that test's provider."""
    with_apps.makepyfile(
        test_logins="""
import pytest

@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
def test_login(idp, app, app_client, user):
    idp.add_user(user, email=f"{user}@example.com")
    idp.login_as(user)
    page = idp.login(app_client, "/")
    assert page.response.json()["email"] == f"{user}@example.com"
    assert [r.endpoint for r in idp.requests if r.endpoint == "token"] == ["token"]
"""
    )
    ini("mockidp_app_factory = login_app:create_app", "mockidp_reuse_app = true")

    with_apps.runpytest().assert_outcomes(passed=3)


def test_a_test_with_the_async_client_builds_its_own_app(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    tests = """
import pytest
import reuse_app

def test_first(app_client):
    assert app_client.get("/").json()["app"] == 1

@pytest.mark.asyncio
async def test_async(async_app_client):
    assert (await async_app_client.get("/")).json()["app"] == 2

def test_third(app_client):
    assert app_client.get("/").json()["app"] == 1  # the kept app, still running
    assert reuse_app.EVENTS == ["start default 1", "start default 2", "stop default 2"]
"""
    run(strict_pytester, ini, tests, *REUSE).assert_outcomes(passed=3)
