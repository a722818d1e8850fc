"""Shared fixtures for mockidp's own tests: one key pool per session, a fresh provider per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockidp import KeyPool, MockIdP


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    """Keys are slow to make: one pool serves every provider of the session."""
    return KeyPool()


@pytest.fixture
def provider(key_pool: KeyPool) -> MockIdP:
    """A provider with the default configuration."""
    return MockIdP(keys=key_pool)


@pytest.fixture
def routed(provider: MockIdP) -> Iterator[MockIdP]:
    """The default provider with this process's httpx and httpx2 calls to its issuer routed to it."""
    with provider.intercept():
        yield provider


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        metavar="N",
        help="examples per property-based fuzz test (tests/robustness); CI runs a small budget",
    )


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import HealthCheck, settings

    examples = config.getoption("--fuzz-examples")
    settings.register_profile(
        "mockidp",
        max_examples=examples if examples is not None else 40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=examples is None,  # CI's small budget is the same every run; a larger one explores
    )
    settings.load_profile("mockidp")
