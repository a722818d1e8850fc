"""pytest plugin for mockidp: an in-process OpenID provider per test, and fixtures to test apps against it.

Registered through the ``pytest11`` entry point ``mockidp``; disable with ``-p no:mockidp``. Start-up
stays cheap: the provider (Starlette, joserfc, ...) is imported only when a fixture is used.
"""

from __future__ import annotations

import pytest

from pytest_mockidp._fixtures import (
    _mockidp_anyio_app_client as _mockidp_anyio_app_client,
)
from pytest_mockidp._fixtures import (
    _mockidp_portal as _mockidp_portal,
)
from pytest_mockidp._fixtures import (
    _mockidp_reused as _mockidp_reused,
)
from pytest_mockidp._fixtures import (
    app,
    app_client,
    async_app_client,
    forged_token,
    idp,
    idp_env,
    idp_live,
    make_idp,
    mockidp_config,
    mockidp_keys,
    tampered_id_token,
)
from pytest_mockidp._options import add_options, configure
from pytest_mockidp._reuse import NEXT_ITEM

__all__ = [
    "app",
    "app_client",
    "async_app_client",
    "forged_token",
    "idp",
    "idp_env",
    "idp_live",
    "make_idp",
    "mockidp_config",
    "mockidp_keys",
    "tampered_id_token",
]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before the test's fixtures are torn down: the test after it, for ``mockidp_reuse_app``."""
    item.stash[NEXT_ITEM] = nextitem


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    configure(config)
    if config.pluginmanager.has_plugin("asyncio"):
        from pytest_mockidp import _asyncio

        config.pluginmanager.register(_asyncio, "mockidp-asyncio")
    config.addinivalue_line(
        "markers",
        "mockidp(**options): configure this test's provider; options are ProviderConfig fields"
        " (users, clients, algorithm, issuer, strict, interactive, ...); see: python -m mockidp docs configuration",
    )
    config.addinivalue_line(
        "markers",
        "app_factory(factory, *args, **kwargs): build the `app` fixture by calling factory ('package.module:name',"
        " or a callable; a callable alone goes in .with_args(create_app)) with these arguments;"
        " see: python -m mockidp docs the-app-fixture",
    )
