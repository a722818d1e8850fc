"""The items API with an async client (``async_app_client``, pytest-asyncio): the same bearer-token and
scope rules (RFC 6750, RFC 9068 §4) when requests run concurrently on one event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx2
import pytest
from freezegun import freeze_time
from mockidp import MockIdP, User

from tests._support import REFUSALS, bearer, insufficient_scope

if TYPE_CHECKING:
    from mockidp._forgery import ForgedToken  # the type of the forged_token fixture's values

pytestmark = pytest.mark.asyncio


async def test_read_and_write_with_the_right_scopes(idp: MockIdP, async_app_client: httpx2.AsyncClient) -> None:
    token = idp.issue_tokens(scope="items:read items:write").access_token

    created = await async_app_client.post("/items", json={"name": "tea"}, headers=bearer(token))
    listed = await async_app_client.get("/items", headers=bearer(token))

    assert created.status_code == 201
    assert listed.json() == [{"id": 1, "name": "tea", "owner": "alice"}]


@pytest.mark.mockidp(users=[User.named(f"user{n}") for n in range(5)])
async def test_concurrent_writers_each_own_their_item(idp: MockIdP, async_app_client: httpx2.AsyncClient) -> None:
    users = [f"user{n}" for n in range(5)]
    tokens = {user: idp.issue_tokens(user=user, scope="items:write").access_token for user in users}

    responses = await asyncio.gather(
        *(async_app_client.post("/items", json={"name": user}, headers=bearer(tokens[user])) for user in users)
    )

    assert [r.status_code for r in responses] == [201] * len(users)
    assert {r.json()["name"]: r.json()["owner"] for r in responses} == {user: user for user in users}


async def test_a_token_without_the_scope_gets_403(idp: MockIdP, async_app_client: httpx2.AsyncClient) -> None:
    token = idp.issue_tokens(scope="items:read").access_token

    response = await async_app_client.post("/items", json={"name": "tea"}, headers=bearer(token))

    body, challenge = insufficient_scope("items:write")
    assert response.status_code == 403
    assert response.json() == body
    assert response.headers["WWW-Authenticate"] == challenge


async def test_every_forged_token_is_refused(async_app_client: httpx2.AsyncClient, forged_token: ForgedToken) -> None:
    response = await async_app_client.get("/items", headers=bearer(forged_token))

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": REFUSALS[forged_token.kind]}


async def test_a_token_is_refused_once_it_expires(idp: MockIdP, async_app_client: httpx2.AsyncClient) -> None:
    with freeze_time() as clock:
        token = idp.issue_tokens(scope="items:read", expires_in=60).access_token
        assert (await async_app_client.get("/items", headers=bearer(token))).status_code == 200

        clock.tick(60)
        response = await async_app_client.get("/items", headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["error_description"] == "The token has expired."
