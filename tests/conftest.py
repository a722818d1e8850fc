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
