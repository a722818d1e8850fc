"""The plugin's fixtures. Each is a thin layer over the mockidp library, imported when first used."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from mockidp._forgery import FORGE_KINDS, TAMPER_KINDS
from pytest_mockidp._options import DEFAULT_ENV, suite_defaults

if TYPE_CHECKING:
    from mockidp import KeyPool, MockIdP, ProviderConfig
    from mockidp._forgery import ForgedToken

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class AppFactoryError(Exception):
    """The ``app`` fixture could not build the app: which factory, from where, and what went wrong."""


@pytest.fixture(scope="session")
def mockidp_keys() -> KeyPool:
    """Signing keys shared by every provider of the session (an RSA key takes ~40 ms to make)."""
    from mockidp import KeyPool

    return KeyPool()


@pytest.fixture
def mockidp_config(request: pytest.FixtureRequest) -> ProviderConfig:
    """This test's ProviderConfig: --mockidp-*/ini defaults, then @pytest.mark.mockidp from module to test."""
    from mockidp import ConfigError, ProviderConfig

    values = suite_defaults(request.config)
    for marker in reversed(list(request.node.iter_markers("mockidp"))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.mockidp takes keyword arguments only (ProviderConfig fields), got {marker.args!r}",
                pytrace=False,
            )
        values.update(marker.kwargs)
    try:
        return ProviderConfig.from_dict(values)
    except (ConfigError, TypeError) as exc:
        pytest.fail(f"@pytest.mark.mockidp: {exc}", pytrace=False)


@pytest.fixture
def idp(mockidp_config: ProviderConfig, mockidp_keys: KeyPool) -> Iterator[MockIdP]:
    """A fresh in-process OpenID provider; httpx/httpx2 calls to its issuer reach it with no socket."""
    from mockidp import MockIdP

    provider = MockIdP(mockidp_config, keys=mockidp_keys)
    with provider.intercept():
        yield provider


@pytest.fixture
def make_idp(mockidp_config: ProviderConfig, mockidp_keys: KeyPool) -> Iterator[Callable[..., MockIdP]]:
    """A factory for more providers in one test: ``make_idp(issuer="https://tenant-b.test", ...)``."""
    from mockidp import ConfigError, MockIdP

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
            pytest.fail(f"mockidp_env: expected NAME={{placeholder}}, got {line!r}", pytrace=False)
        unknown = [p for p in _PLACEHOLDER.findall(template) if p not in values]
        if unknown:
            pytest.fail(
                f"mockidp_env: unknown placeholder {{{unknown[0]}}} in {line!r}; known: "
                + ", ".join(f"{{{k}}}" for k in values),
                pytrace=False,
            )
        env[name.strip()] = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.strip())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _resolve(spec: str, source: str) -> Callable[..., Any]:
    module_name, sep, attribute = spec.partition(":")
    if not sep:
        module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        raise AppFactoryError(f"{source}: expected 'package.module:callable', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppFactoryError(f"{source}: cannot import {module_name!r} ({exc})") from exc
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        raise AppFactoryError(f"{source}: module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(factory):
        raise AppFactoryError(f"{source}: {spec!r} is not callable")
    return factory  # type: ignore[no-any-return]


@pytest.fixture
def app(request: pytest.FixtureRequest, idp_env: dict[str, str]) -> Any:
    """The app under test, built by its factory after idp_env: @pytest.mark.app_factory or mockidp_app_factory."""
    marker = request.node.get_closest_marker("app_factory")
    if marker is not None:
        source = "@pytest.mark.app_factory"
        if not marker.args:
            raise AppFactoryError(f"{source} needs the factory as its first argument")
        target, args, kwargs = marker.args[0], marker.args[1:], marker.kwargs
    else:
        source = "the ini option mockidp_app_factory"
        target = request.config.getini("mockidp_app_factory")
        args, kwargs = (), {}
        if not target:
            raise AppFactoryError(
                "no app factory: set the ini option mockidp_app_factory = package.module:create_app, mark the test"
                " @pytest.mark.app_factory(create_app), or define your own `app` fixture"
            )
    factory = _resolve(target, source) if isinstance(target, str) else target
    if not callable(factory):
        raise AppFactoryError(f"{source}: {factory!r} is not callable")
    name = getattr(factory, "__qualname__", repr(factory))
    try:
        return factory(*args, **kwargs)
    except Exception as exc:
        raise AppFactoryError(f"{source}: the factory {name} failed: {type(exc).__name__}: {exc}") from exc


@pytest.fixture
def app_client(app: Any, idp: MockIdP) -> Iterator[Any]:
    """A Starlette TestClient on `app`: lifespan run, cookies kept, redirects not followed, IdP URLs routed."""
    from pytest_mockidp._clients import routed_test_client

    with routed_test_client(app) as client:
        yield client


@pytest.fixture
def async_app_client(app: Any, idp: MockIdP) -> Any:
    """An async httpx2 (or httpx) client on `app`, for async tests; IdP URLs routed, redirects not followed."""
    from pytest_mockidp._clients import routed_async_client

    return routed_async_client(app)


@pytest.fixture(params=list(TAMPER_KINDS), ids=list(TAMPER_KINDS))
def tampered_id_token(request: pytest.FixtureRequest) -> str:
    """One test per way an ID token can be bad; pass it as idp.login(..., tamper=tampered_id_token)."""
    kind: str = request.param
    return kind


@pytest.fixture(params=list(FORGE_KINDS), ids=list(FORGE_KINDS))
def forged_token(request: pytest.FixtureRequest, idp: MockIdP) -> ForgedToken:
    """One test per forged bearer token an API must reject (expired, wrong issuer, alg none, ...)."""
    return idp.forge(request.param)
