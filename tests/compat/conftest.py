"""Seed-compat tests: real tutorial apps on old pins, each in its own cached virtualenv, against mockidp.

Run only these with ``pytest -m compat``, or leave them out with ``-m "not compat"``. The first run builds
the environments from the package registry (about 20 s for authx, 5 s for xpresso); later runs reuse
``.cache/seed-envs``. They skip only when the registry cannot be reached to build an environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat._seedenv import EnvBuildError, RegistryUnreachable, build_env


def seed_python(name: str) -> Path:
    """The interpreter of the seed environment ``name``: skip if the registry is unreachable, fail on other errors."""
    try:
        return build_env(name)
    except RegistryUnreachable as exc:
        pytest.skip(str(exc))
    except EnvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def authx_python() -> Path:
    """Python with authx 0.9.1 (and Starlette 0.27, authlib 0.15.5, SQLAlchemy 1.4) installed."""
    return seed_python("authx")


@pytest.fixture(scope="session")
def xpresso_python() -> Path:
    """Python with xpresso 0.46.0 (and Starlette 0.34, pydantic 1) installed."""
    return seed_python("xpresso")


@pytest.fixture(scope="session")
def oldest_python() -> Path:
    """Python with the oldest releases mockidp supports (Starlette 0.40, joserfc 1.5, ...), httpx and authlib 1.3."""
    return seed_python("oldest")
