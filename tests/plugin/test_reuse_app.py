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
        if label == "fails-to-start" and number == 1:
            raise RuntimeError("the first one does not start")
        EVENTS.append(f"start {label} {number}")
        yield
        EVENTS.append(f"stop {label} {number}")
        if label == "fails-to-stop":
            raise RuntimeError("the database went away")

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


def test_a_kept_app_that_fails_to_stop_fails_the_last_test_that_used_it(
    strict_pytester: pytest.Pytester, ini: Ini
) -> None:
    tests = """
import pytest
import reuse_app

pytestmark = pytest.mark.app_factory.with_args(reuse_app.create_app, "fails-to-stop")

def test_first(app_client):
    app_client.get("/")

def test_second(app_client):
    app_client.get("/")

@pytest.mark.skip(reason="not today")
def test_skipped(app_client):  # never runs: test_second was the kept app's last test
    pass

@pytest.mark.app_factory.with_args(reuse_app.create_app, "other")
def test_other(app_client):
    assert app_client.get("/").json()["app"] == 2
"""
    result = run(strict_pytester, ini, tests, *REUSE)

    result.assert_outcomes(passed=3, skipped=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_second*",
            "*RuntimeError: the database went away",
            "*mockidp: leaving the app kept since test_module.py::test_first (mockidp_reuse_app) raised this",
        ]
    )


def test_an_app_that_fails_to_start_is_not_kept(strict_pytester: pytest.Pytester, ini: Ini) -> None:
    tests = """
import pytest
import reuse_app

pytestmark = pytest.mark.app_factory.with_args(reuse_app.create_app, "fails-to-start")

def test_first(app_client):
    pass

def test_second(app_client):
    assert app_client.get("/").json()["app"] == 2
"""
    result = run(strict_pytester, ini, tests, *REUSE)

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_first*", "*RuntimeError: the first one does not start"])


#: Suites whose every test passes: (what it shows, the test module, the ini lines, how many tests).
SCENARIOS: list[tuple[str, str, tuple[str, ...], int]] = [
    (
        "without the option, each test builds its own",
        """
def test_first(app_client):
    assert app_client.get("/").json()["app"] == 1

def test_second(app_client):
    assert app_client.get("/").json()["app"] == 2
""",
        (REUSE[0],),
        2,
    ),
    (
        "an app fixture of the user's own is never kept",
        """
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
""",
        (REUSE[1],),
        2,
    ),
    (
        "a test with the async client builds its own app",
        """
import pytest
import reuse_app

def test_first(app_client):
    assert app_client.get("/").json()["app"] == 1

@pytest.mark.asyncio
async def test_async(async_app_client):
    assert (await async_app_client.get("/")).json()["app"] == 2

def test_third(app_client):  # the kept app was left at test_first's teardown: test_async does not take it
    assert app_client.get("/").json()["app"] == 3
    assert reuse_app.EVENTS == [
        "start default 1", "stop default 1", "start default 2", "stop default 2", "start default 3"
    ]
""",
        REUSE,
        3,
    ),
    (
        "the next test sees none of the client settings the last changed",
        """
def test_first(app_client):
    app_client.follow_redirects = True
    app_client.params = {"page": "2"}
    app_client.auth = ("user", "password")
    app_client.event_hooks["request"].append(print)

def test_second(app_client):
    assert app_client.get("/").json()["app"] == 1
    assert (app_client.follow_redirects, str(app_client.params), app_client.auth) == (False, "", None)
    assert app_client.event_hooks == {"request": [], "response": []}
""",
        REUSE,
        2,
    ),
    (
        "a test's own TestClient or app fixture does not share the kept app",
        """
import pytest
from starlette.testclient import TestClient
import reuse_app

def test_kept(app_client):
    assert app_client.get("/").json()["app"] == 1

def test_app_alone(app):
    with TestClient(app) as client:  # its own lifespan: on an app of its own, not the kept one
        assert client.get("/").json()["app"] == 2

def test_kept_again(app_client):  # left at test_kept's teardown, as the next test did not take it
    assert app_client.get("/").json()["app"] == 3

class TestOwn:
    @pytest.fixture
    def app(self):
        return reuse_app.create_app("own")

    def test_own(self, app_client):  # the kept app is left before this one enters the event loop thread
        assert app_client.get("/").json()["app"] == 4
        assert reuse_app.EVENTS[-2:] == ["stop default 3", "start own 4"]

def test_kept_once_more(app_client):
    assert app_client.get("/").json()["app"] == 5

class TestOwnClient:
    @pytest.fixture
    def app_client(self, app):  # enters the app itself: it gets one of its own, never the kept one
        with TestClient(app) as client:
            yield client

    def test_own_client(self, app_client):
        assert app_client.get("/").json()["app"] == 6
        assert reuse_app.EVENTS[-3:] == ["start default 5", "stop default 5", "start default 6"]
""",
        REUSE,
        6,
    ),
    (
        "idp_live or incomparable marker arguments build their own",
        """
import pytest
import reuse_app

class Incomparable:
    def __eq__(self, other):
        if isinstance(other, Incomparable):
            raise TypeError("cannot compare")
        return NotImplemented

    __hash__ = object.__hash__

def test_kept(app_client):
    assert app_client.get("/").json()["app"] == 1

def test_live(idp_live, app_client):  # its own URL in idp_env: the kept app is left at test_kept's teardown
    assert app_client.get("/").json()["app"] == 2
    assert reuse_app.EVENTS == ["start default 1", "stop default 1", "start default 2"]

@pytest.mark.app_factory.with_args(reuse_app.create_app, Incomparable())
def test_odd(app_client):
    assert app_client.get("/").json()["app"] == 3

@pytest.mark.app_factory.with_args(reuse_app.create_app, Incomparable())
def test_odd_again(app_client):
    assert app_client.get("/").json()["app"] == 4
""",
        REUSE,
        4,
    ),
]


@pytest.mark.parametrize(("shows", "tests", "lines", "passed"), SCENARIOS, ids=[c[0] for c in SCENARIOS])
def test_scenario(
    strict_pytester: pytest.Pytester, ini: Ini, shows: str, tests: str, lines: tuple[str, ...], passed: int
) -> None:
    run(strict_pytester, ini, tests, *lines).assert_outcomes(passed=passed)
