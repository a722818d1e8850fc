"""Plugin tests run pytest as users do, through ``pytester``, with a strict configuration."""

from __future__ import annotations

import pytest

STRICT_INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def strict_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs are strict and treat warnings as errors, like a careful user's suite."""
    pytester.makeini(STRICT_INI)
    return pytester
