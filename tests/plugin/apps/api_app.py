"""A bearer-token API that loads the provider's keys in its lifespan, configured from the environment.

Plugin tests copy this module into pytester's directory and build it through the ``app`` fixture
(after ``idp_env`` set ``OIDC_ISSUER``, ``SERVER_METADATA_URL`` and ``CLIENT_ID``). The lifespan
fetches the discovery document and the JWKS with httpx2, so it needs the provider's routing too,
and yields the keys as lifespan state; ``EVENTS`` records startup and shutdown.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import jwt as pyjwt
from fastapi import FastAPI
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

EVENTS: list[str] = []
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


def create_app(*, verify: bool = True, fastapi: bool = False) -> Starlette:
    """``verify=False`` is a sloppy API: it decodes tokens with PyJWT without checking the signature."""
    issuer, audience = os.environ["OIDC_ISSUER"], os.environ["CLIENT_ID"]
    metadata_url = os.environ["SERVER_METADATA_URL"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with httpx2.AsyncClient() as client:
            metadata = (await client.get(metadata_url)).json()
            jwks = (await client.get(metadata["jwks_uri"])).json()
        app.state.issuer = metadata["issuer"]
        EVENTS.append("startup")
        yield {"keys": KeySet.import_key_set(jwks)}
        EVENTS.append("shutdown")

    def claims_of(token: str, keys: KeySet) -> dict[str, Any]:
        if not verify:
            sloppy: dict[str, Any] = pyjwt.decode(token, options={"verify_signature": False})
            return sloppy
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
        return decoded.claims

    async def me(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return JSONResponse({"error": "invalid_request"}, status_code=401)
        try:
            claims = claims_of(token, request.state.keys)
        except (JoseError, ValueError):
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"sub": claims.get("sub"), "scope": claims.get("scope")})

    async def health(request: Request) -> Response:
        return JSONResponse({"issuer": request.app.state.issuer})

    routes: list[BaseRoute] = [Route("/me", me), Route("/health", health)]
    if fastapi:
        return FastAPI(routes=routes, lifespan=lifespan)
    return Starlette(routes=routes, lifespan=lifespan)
