"""The app of the seed, on Starlette and authlib: ``/public`` for anyone, every other path after a login."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.config import Config
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oidc_login import auth
from oidc_login.db import DB
from oidc_login.settings import Settings, default_config


async def homepage(request: Request) -> JSONResponse:
    """The logged-in user's claims (the middleware let the request through, so there is one)."""
    return JSONResponse(auth.current_user(request))


async def public(request: Request) -> JSONResponse:
    user = auth.current_user(request)
    payload = {"message": "User not authenticated"} if user is None else user
    return JSONResponse(payload)


async def other(request: Request) -> JSONResponse:
    user = auth.current_user(request) or {}
    return JSONResponse({"email": user.get("email")})


def create_app(config: Config | None = None) -> Starlette:
    """Build the app from ``config`` (default: the environment, then ``.env``); every setting is read now."""
    settings = Settings.from_config(config if config is not None else default_config())
    db = DB(settings.database_url)
    oauth = OAuth()
    oidc = oauth.register(
        name="oidc",
        server_metadata_url=settings.server_metadata_url,
        client_id=settings.client_id,
        client_secret=str(settings.client_secret),
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        db.close()

    app = Starlette(
        routes=[
            Route("/", homepage),
            Route("/public", public),
            Route("/other", other),
            *auth.routes,
        ],
        middleware=[
            Middleware(SessionMiddleware, secret_key=str(settings.secret_key), session_cookie="oidc_login"),
            Middleware(auth.LoginMiddleware),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.oidc = oidc
    return app
