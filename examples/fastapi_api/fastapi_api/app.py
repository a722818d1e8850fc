"""A small items API on FastAPI: reading needs the scope items:read, writing needs items:write."""

from __future__ import annotations

import itertools
from typing import Annotated

from fastapi import FastAPI, Security
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

from fastapi_api.bearer import BearerVerifier, IssuerUnavailable
from fastapi_api.security import (
    BearerError,
    Principal,
    bearer_error_handler,
    issuer_unavailable_handler,
    require_token,
)


class Settings(BaseSettings):
    """Read from OIDC_ISSUER and OIDC_AUDIENCE (the audience access tokens must name: this API)."""

    oidc_issuer: str
    oidc_audience: str


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class Item(NewItem):
    id: int
    owner: str


class Health(BaseModel):
    okay: bool


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; with no ``settings``, read them from the environment now."""
    settings = settings if settings is not None else Settings()  # type: ignore[call-arg]
    app = FastAPI(title="Items", exception_handlers={BearerError: bearer_error_handler})
    app.add_exception_handler(IssuerUnavailable, issuer_unavailable_handler)
    app.state.verifier = BearerVerifier(settings.oidc_issuer, settings.oidc_audience)
    items: list[Item] = []
    ids = itertools.count(1)

    @app.get("/health")
    async def health() -> Health:
        return Health(okay=True)

    @app.get("/items")
    async def list_items(principal: Annotated[Principal, Security(require_token, scopes=["items:read"])]) -> list[Item]:
        return items

    @app.post("/items", status_code=201)
    async def add_item(
        item: NewItem, principal: Annotated[Principal, Security(require_token, scopes=["items:write"])]
    ) -> Item:
        created = Item(id=next(ids), name=item.name, owner=principal.sub)
        items.append(created)
        return created

    return app
