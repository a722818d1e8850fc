"""The bearer-token dependency: ``Security(require_token, scopes=[...])`` on a route.

A request without a bearer token gets 401 with a bare challenge; a token the issuer did not sign
for this API gets 401 ``invalid_token``; a valid token without every scope the route names gets
403 ``insufficient_scope`` with the scopes it needs (RFC 6750 §3, §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from fastapi_api.bearer import BearerVerifier, InvalidToken, IssuerUnavailable

REALM = "items"

bearer_scheme = HTTPBearer(auto_error=False, description="An access token (JWT) from the OIDC issuer")


@dataclass(frozen=True)
class Principal:
    """Who the token speaks for, and what it allows."""

    sub: str
    scopes: frozenset[str]
    claims: dict[str, Any]


class BearerError(Exception):
    """A refusal, answered by ``bearer_error_handler`` with RFC 6750's challenge."""

    def __init__(
        self, status: int, error: str | None = None, description: str | None = None, scope: str | None = None
    ) -> None:
        super().__init__(description or error or "no bearer token")
        self.status, self.error, self.description, self.scope = status, error, description, scope


async def bearer_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, BearerError):  # pragma: no cover - registered for BearerError only
        raise exc
    challenge = f'Bearer realm="{REALM}"'
    body: dict[str, str] = {}
    for name, value in (("error", exc.error), ("error_description", exc.description), ("scope", exc.scope)):
        if value is not None:
            challenge += f', {name}="{value}"'
            body[name] = value
    return JSONResponse(body, status_code=exc.status, headers={"WWW-Authenticate": challenge})


async def issuer_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "The token issuer cannot be reached."},
        status_code=503,
    )


async def require_token(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise BearerError(401)
    verifier: BearerVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(credentials.credentials.strip())
    except InvalidToken as exc:
        raise BearerError(401, "invalid_token", exc.description) from None
    granted = frozenset(str(claims.get("scope", "")).split())
    missing = [scope for scope in security_scopes.scopes if scope not in granted]
    if missing:
        raise BearerError(
            403,
            "insufficient_scope",
            f"This request needs the scope {' '.join(missing)}.",
            scope=security_scopes.scope_str,
        )
    return Principal(sub=str(claims["sub"]), scopes=granted, claims=claims)


__all__ = [
    "BearerError",
    "IssuerUnavailable",
    "Principal",
    "bearer_error_handler",
    "issuer_unavailable_handler",
    "require_token",
]
