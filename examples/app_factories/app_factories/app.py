"""The seed's app factories on plain Starlette: CORS on the router mounted at /v1 only, /health open.

``create_app(config)`` builds the app; ``create_production_app()`` reads ``AppConfig`` from the
environment; ``create_debug_app()`` passes fixed values that fit a local frontend and a local
``mockidp serve``. The two differ only in where the settings come from.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from app_factories.bearer import BearerVerifier, InvalidToken, IssuerUnavailable

REALM = "app_factories"
DEBUG_ORIGINS = ("http://localhost:8000", "http://localhost:5000")
DEBUG_ISSUER = "http://127.0.0.1:8900"  # `mockidp serve` with no options
DEBUG_AUDIENCE = "mockidp-client"  # the aud of its access tokens, unless --access-token-audience says otherwise


class AppHealth(BaseModel):
    okay: bool


class Greeting(BaseModel):
    message: str


class Identity(BaseModel):
    sub: str
    scope: str


class AppConfig(BaseSettings):
    """Settings; ``AppConfig()`` reads CORS_ORIGINS (comma-separated), OIDC_ISSUER and OIDC_AUDIENCE."""

    model_config = SettingsConfigDict(frozen=True)

    cors_origins: Annotated[tuple[str, ...], NoDecode]
    oidc_issuer: str
    oidc_audience: str

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value


async def healthcheck(request: Request) -> JSONResponse:
    return JSONResponse(AppHealth(okay=True).model_dump())


async def greet_user(request: Request) -> JSONResponse:
    return JSONResponse(Greeting(message="Hello!").model_dump())


def bearer_error(status: int, error: str | None = None, description: str | None = None) -> JSONResponse:
    """A refusal with the ``WWW-Authenticate`` challenge of RFC 6750 §3."""
    challenge = f'Bearer realm="{REALM}"'
    body: dict[str, str] = {}
    if error is not None:
        challenge += f', error="{error}"'
        body["error"] = error
    if description is not None:
        challenge += f', error_description="{description}"'
        body["error_description"] = description
    return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": challenge})


async def me(request: Request) -> Response:
    """Who the bearer token says the caller is: its ``sub`` and ``scope``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return bearer_error(401)  # no credentials: a bare challenge (RFC 6750 §3.1)
    verifier: BearerVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(token.strip())
    except InvalidToken as exc:
        return bearer_error(401, "invalid_token", exc.description)
    except IssuerUnavailable:
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": "The token issuer cannot be reached."},
            status_code=503,
        )
    return JSONResponse(Identity(sub=claims["sub"], scope=str(claims.get("scope", ""))).model_dump())


def create_app(config: AppConfig) -> Starlette:
    v1 = Mount(
        "/v1",
        routes=[Route("/landing", greet_user), Route("/me", me)],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=config.cors_origins,
                allow_credentials=True,
                allow_methods=["*"],
                allow_headers=["*"],
            )
        ],
    )
    app = Starlette(routes=[v1, Route("/health", healthcheck)])
    app.state.config = config
    app.state.verifier = BearerVerifier(config.oidc_issuer, config.oidc_audience)
    return app


def create_production_app() -> Starlette:
    config = AppConfig()  # type: ignore[call-arg]  # loaded from environment variables
    return create_app(config)


def create_debug_app() -> Starlette:
    config = AppConfig(cors_origins=DEBUG_ORIGINS, oidc_issuer=DEBUG_ISSUER, oidc_audience=DEBUG_AUDIENCE)
    return create_app(config)
