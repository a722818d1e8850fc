"""Fixtures on top of mockidp's: the app's token table, and what the provider says a stored token is worth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mockidp import MockIdP
from starlette.applications import Starlette

from oidc_login import DB


@pytest.fixture
def db(app: Starlette) -> DB:
    """The token table of the app under test (the `app` fixture built it with create_app)."""
    database: DB = app.state.db
    return database


@pytest.fixture
def userinfo(idp: MockIdP) -> Callable[[str], dict[str, Any]]:
    """Ask the provider whose access token this is: a stored token must be a live one it issued."""

    def ask(access_token: str) -> dict[str, Any]:
        response = httpx2.get(idp.endpoint("userinfo_endpoint"), headers={"Authorization": f"Bearer {access_token}"})
        assert response.status_code == 200, response.text
        claims: dict[str, Any] = response.json()
        return claims

    return ask
