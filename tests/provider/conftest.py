"""Fixtures the authorization-endpoint tests share: a browser at the provider and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from mockidp import MockIdP
from tests.flows import Browser

#: When the frozen clock starts, as an ISO time and as a timestamp.
START = "2030-01-01T00:00:00Z"
START_TS = 1893456000


@pytest.fixture
def browser(provider: MockIdP) -> Iterator[Browser]:
    browser = Browser(provider)
    with browser.client:
        yield browser


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(START) as frozen:
        assert isinstance(frozen, FrozenDateTimeFactory)
        yield frozen
