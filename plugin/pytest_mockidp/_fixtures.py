"""The plugin's fixtures. Each is a thin layer over the mockidp library, imported when first used."""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from mockidp._forgery import FORGE_KINDS, TAMPER_KINDS
from pytest_mockidp._options import DEFAULT_ENV, suite_defaults
from pytest_mockidp._reuse import ReusedApp, plugins_app_client

if TYPE_CHECKING:
    from mockidp import KeyPool, MockIdP, ProviderConfig
    from mockidp._forgery import ForgedToken
    from pytest_mockidp._portal import SharedPortal

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fail(message: str, topic: str) -> NoReturn:
    """Fail the test with ``message`` and where to read more (a README section every install can print)."""
    __tracebackhide__ = True
    pytest.fail(f"{message}\nsee: python -m mockidp docs {topic}", pytrace=False)


def _did_you_mean(name: str, choices: Iterable[str], shape: str = "{!r}") -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``name``, if one is close; ``shape`` formats it."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(choices)), n=1)
    return f" (did you mean {shape.format(close[0])}?)" if close else ""


def _module_hint(module_name: str, exc: ImportError) -> str:
    """`` (did you mean 'myapp'?)`` for a module that is not there, from the importable names beside it."""
    import pkgutil

    missing = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not missing or not module_name.startswith(missing):
        return ""  # the module exists but fails to import: its own error says why
    parent, _, last = missing.rpartition(".")
    if parent:
        try:
            path = importlib.import_module(parent).__path__
        except (ImportError, AttributeError):
            return ""
        return _did_you_mean(last, (m.name for m in pkgutil.iter_modules(path)))
    return _did_you_mean(last, (m.name for m in pkgutil.iter_modules()))


@pytest.fixture(scope="session")
def mockidp_keys() -> KeyPool:
    """Signing keys shared by every provider of the session (an RSA key takes ~40 ms to make)."""
    from mockidp import KeyPool

    return KeyPool()


def _marker_problem(kwargs: dict[str, Any]) -> str | None:
    """What is wrong with a marker's option names: an unknown one, with the nearest known name."""
    import dataclasses
    import difflib

    from mockidp import ProviderConfig

    known = sorted(f.name for f in dataclasses.fields(ProviderConfig))
    for name in kwargs:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown option {name!r}{hint}; the options are ProviderConfig fields: {', '.join(known)}"
    return None


#: The suite's ProviderConfig (ini and flags, no marker), made once: most tests have no marker, and the
#: config is immutable (a frozen dataclass of tuples), so they can all share it.
_SUITE_CONFIG = pytest.StashKey["ProviderConfig"]()


@pytest.fixture
def mockidp_config(request: pytest.FixtureRequest) -> ProviderConfig:
    """This test's ProviderConfig: --mockidp-*/ini defaults, then @pytest.mark.mockidp from module to test."""
    from mockidp import ConfigError, ProviderConfig

    markers = list(request.node.iter_markers_with_node("mockidp"))
    if not markers and _SUITE_CONFIG in request.config.stash:
        return request.config.stash[_SUITE_CONFIG]
    values = suite_defaults(request.config)
    problem = None
    for node, marker in reversed(markers):
        where = f"@pytest.mark.mockidp on {node.nodeid or node.name}"
        if marker.args:
            problem = f"{where}: takes keyword arguments only (ProviderConfig fields), got {marker.args!r}"
        elif (wrong := _marker_problem(marker.kwargs)) is not None:
            problem = f"{where}: {wrong}"
        if problem is not None:
            _fail(problem, "configuration")
        values.update(marker.kwargs)
    try:
        config = ProviderConfig.from_dict(values)
    except (ConfigError, TypeError) as exc:
        problem = f"@pytest.mark.mockidp: {exc}"
    if problem is not None:
        _fail(problem, "configuration")
    if not markers:
        request.config.stash[_SUITE_CONFIG] = config
    return config


@pytest.fixture
def idp(request: pytest.FixtureRequest, mockidp_config: ProviderConfig, mockidp_keys: KeyPool) -> Iterator[MockIdP]:
    """A fresh in-process OpenID provider; httpx/httpx2 calls to its issuer reach it with no socket."""
    from mockidp import MockIdP

    _mocks_first(request)
    provider = MockIdP(mockidp_config, keys=mockidp_keys)
    with provider.intercept():
        yield provider


#: Fixtures of HTTP mocking plugins that patch httpx's transports too. The provider's routing goes on top
#: of theirs, so requests to the issuer reach the provider and every other request reaches the mock,
#: whatever order the test names the fixtures in.
_HTTP_MOCKS = ("httpx_mock", "respx_mock")


def _mocks_first(request: pytest.FixtureRequest) -> None:
    for name in _HTTP_MOCKS:
        if name in request.fixturenames:
            request.getfixturevalue(name)


@pytest.fixture
def make_idp(
    request: pytest.FixtureRequest, mockidp_config: ProviderConfig, mockidp_keys: KeyPool
) -> Iterator[Callable[..., MockIdP]]:
    """A factory for more providers in one test: ``make_idp(issuer="https://tenant-b.test", ...)``."""
    from mockidp import ConfigError, MockIdP

    _mocks_first(request)
    with ExitStack() as stack:

        def make(**options: Any) -> MockIdP:
            try:
                config = mockidp_config.replace(**options)
            except (ConfigError, TypeError) as exc:
                raise TypeError(f"make_idp: {exc}") from None
            provider = MockIdP(config, keys=mockidp_keys)
            stack.enter_context(provider.intercept())
            return provider

        yield make


@pytest.fixture
def idp_live(mockidp_config: ProviderConfig, mockidp_keys: KeyPool) -> Iterator[MockIdP]:
    """The provider on a real socket (127.0.0.1, a free port), for requests, urllib or a browser."""
    from mockidp import MockIdP

    provider = MockIdP(mockidp_config, keys=mockidp_keys)
    with provider.serve():
        yield provider


def _provider_for(request: pytest.FixtureRequest) -> MockIdP:
    """The provider the test uses: ``idp_live`` if it asked for it, else ``idp``."""
    name = "idp_live" if "idp_live" in request.fixturenames else "idp"
    provider: MockIdP = request.getfixturevalue(name)
    return provider


@pytest.fixture
def idp_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment variables for app settings (SERVER_METADATA_URL, CLIENT_ID, ...), undone after the test."""
    provider = _provider_for(request)
    client = provider.client
    values = {
        "issuer": provider.issuer,
        "metadata_url": provider.metadata_url,
        "jwks_uri": provider.jwks_uri,
        "client_id": client.client_id,
        "client_secret": client.client_secret or "",
        "authorization_endpoint": provider.endpoint("authorization_endpoint"),
        "token_endpoint": provider.endpoint("token_endpoint"),
        "userinfo_endpoint": provider.endpoint("userinfo_endpoint"),
        "end_session_endpoint": provider.endpoint("end_session_endpoint"),
    }
    lines = request.config.getini("mockidp_env") or list(DEFAULT_ENV)
    env: dict[str, str] = {}
    for line in lines:
        name, sep, template = line.partition("=")
        if not sep or not name.strip():
            _fail(f"mockidp_env: expected NAME={{placeholder}}, got {line!r}", "idp_env")
        unknown = [p for p in _PLACEHOLDER.findall(template) if p not in values]
        if unknown:
            hint = _did_you_mean(unknown[0], values, "{{{}}}")
            _fail(
                f"mockidp_env: unknown placeholder {{{unknown[0]}}}{hint} in {line!r};"
                " known: " + ", ".join(f"{{{k}}}" for k in values),
                "idp_env",
            )
        env[name.strip()] = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.strip())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _resolve(spec: str, source: str) -> Callable[..., Any]:
    """The callable ``package.module:name`` (or ``package.module.name``) names; fails the test saying why not."""
    module_name, sep, attribute = spec.partition(":")
    if not sep:
        module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        _fail(f"{source}: expected 'package.module:callable', got {spec!r}", "the-app-fixture")
    problem = None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = _module_hint(module_name, exc)
        problem = f"{source}: cannot import {module_name!r}: {type(exc).__name__}: {exc}{hint}"
    if problem is not None:
        _fail(problem, "the-app-fixture")
    factory: Callable[..., Any] | None = getattr(module, attribute, None)
    if factory is None:
        callables = [name for name, value in vars(module).items() if callable(value) and not name.startswith("_")]
        _fail(
            f"{source}: the module {module_name!r} has no attribute {attribute!r}{_did_you_mean(attribute, callables)}",
            "the-app-fixture",
        )
    return factory


@pytest.fixture
def app(request: pytest.FixtureRequest, idp_env: dict[str, str]) -> Any:
    """The app under test, built by its factory after idp_env: @pytest.mark.app_factory or mockidp_app_factory."""
    __tracebackhide__ = True
    marker = request.node.get_closest_marker("app_factory")
    if marker is not None:
        source = "@pytest.mark.app_factory"
        if not marker.args:
            _fail(f"{source} needs the factory first: a callable or 'package.module:callable'", "the-app-fixture")
        target, args, kwargs = marker.args[0], marker.args[1:], marker.kwargs
    else:
        source = "the ini option mockidp_app_factory"
        target = request.config.getini("mockidp_app_factory")
        args, kwargs = (), {}
        if not target:
            _fail(
                "no app factory: set the ini option mockidp_app_factory = package.module:create_app, mark the"
                " test @pytest.mark.app_factory('package.module:create_app'), or define your own `app` fixture",
                "the-app-fixture",
            )
    factory = _resolve(target, source) if isinstance(target, str) else target
    if not callable(factory):
        _fail(f"{source}: {target!r} is not callable", "the-app-fixture")
    name = getattr(factory, "__qualname__", repr(factory))

    def build() -> Any:
        try:
            return factory(*args, **kwargs)
        except Exception as exc:
            exc.add_note(
                f"mockidp: the app factory {name} (from {source}) raised this while building the `app` fixture"
            )
            exc.add_note("see: python -m mockidp docs the-app-fixture")
            raise

    # Kept only for the plugin's app_client, whose lifespan it runs; an async client runs it on the test's loop.
    if (
        not request.config.getini("mockidp_reuse_app")
        or not plugins_app_client(request.node)
        or "async_app_client" in request.fixturenames
    ):
        return build()
    reused: ReusedApp = request.getfixturevalue("_mockidp_reused")
    key = (factory, args, kwargs, sorted(idp_env.items()), _provider_for(request).config)
    return reused.app(key, build, request.node.nodeid)


@pytest.fixture(scope="session")
def _mockidp_portal() -> Iterator[SharedPortal]:
    """The event loop thread every `app_client` of the session (of the xdist worker) enters on."""
    from pytest_mockidp._portal import SharedPortal

    portal = SharedPortal()
    yield portal
    portal.close()


@pytest.fixture(scope="session")
def _mockidp_reused(_mockidp_portal: SharedPortal) -> Iterator[ReusedApp]:
    """The app and app_client kept from test to test under the ini option mockidp_reuse_app (left before
    the portal they run on stops)."""
    reused = ReusedApp()
    yield reused
    reused.close()


@pytest.fixture
def app_client(request: pytest.FixtureRequest, app: Any, _mockidp_portal: SharedPortal) -> Iterator[Any]:
    """A Starlette TestClient on `app`: lifespan run, cookies kept, redirects not followed, IdP URLs routed."""
    from mockidp._browser import portal_site
    from mockidp._login import remember
    from pytest_mockidp._clients import routed_test_client

    provider = _provider_for(request)  # the test's provider (idp, or idp_live if the test asked for it) is up

    def enter() -> Any:
        return routed_test_client(app, _mockidp_portal)

    entered = enter()
    if request.config.getini("mockidp_reuse_app"):
        reused: ReusedApp = request.getfixturevalue("_mockidp_reused")
        entered = reused.client(app, enter, request.node)
    with entered as client:
        remember(provider, client, portal_site(client))  # back-channel logout reaches the app in-process
        yield client


@pytest.fixture
def async_app_client(request: pytest.FixtureRequest, app: Any) -> Any:
    """An async httpx2 client on `app` for pytest-asyncio and anyio tests: lifespan run, IdP URLs routed."""
    __tracebackhide__ = True
    _provider_for(request)
    if "anyio_backend" in request.fixturenames:
        return request.getfixturevalue("_mockidp_anyio_app_client")
    marker = request.node.get_closest_marker("asyncio")
    if marker is not None and request.config.pluginmanager.has_plugin("asyncio"):
        from pytest_mockidp._asyncio import fixture_name

        scope = marker.kwargs.get("loop_scope") or request.config.getini("asyncio_default_test_loop_scope")
        return request.getfixturevalue(fixture_name(scope or "function"))
    _fail(
        "async_app_client runs the app's lifespan on the test's event loop: use it in a test marked"
        " @pytest.mark.asyncio (pytest-asyncio) or @pytest.mark.anyio (anyio's plugin)",
        "async-tests-with-pytest-asyncio",
    )


@pytest.fixture
async def _mockidp_anyio_app_client(app: Any) -> AsyncIterator[Any]:
    """async_app_client under anyio's plugin: the lifespan runs in a task group of the test's runner."""
    __tracebackhide__ = True
    import anyio

    from pytest_mockidp._clients import lifespan_client

    try:
        async with anyio.create_task_group() as tasks, lifespan_client(app, tasks.start_soon) as client:
            yield client
    except ExceptionGroup as group:  # anyio's task group wraps even one error: show the app's own
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@pytest.fixture(params=list(TAMPER_KINDS), ids=list(TAMPER_KINDS))
def tampered_id_token(request: pytest.FixtureRequest) -> str:
    """One test per way an ID token can be bad; pass it as idp.login(..., tamper=tampered_id_token)."""
    kind: str = request.param
    return kind


@pytest.fixture(params=list(FORGE_KINDS), ids=list(FORGE_KINDS))
def forged_token(request: pytest.FixtureRequest) -> ForgedToken:
    """One test per forged bearer token an API must reject (expired, wrong issuer, alg none, ...)."""
    return _provider_for(request).forge(request.param)
