"""A web app that logs users in with authlib's Starlette client, configured from the environment.

Plugin tests copy this module into pytester's directory and build it through the ``app`` fixture
(``@pytest.mark.app_factory("login_app:create_app", ...)``), so ``idp_env`` has set
``SERVER_METADATA_URL``, ``CLIENT_ID`` and ``CLIENT_SECRET`` first. The keyword arguments give it
the bugs and habits real apps have.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jwt
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import FastAPI
from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

CALLBACK = "http://testserver/callback"
LOGGED_OUT = "http://testserver/logged-out"
INTERACTION_NEEDED = ("login_required", "interaction_required", "consent_required")


def create_app(
    *,
    validate_id_token: bool = True,
    secure_cookie: bool = False,
    handle_errors: bool = True,
    retry_interactively: bool = False,
    fastapi: bool = False,
) -> Starlette:
    """The app; each keyword turns on one habit.

    ``validate_id_token=False``: decodes the ID token without verifying it (a classic bug).
    ``secure_cookie=True``: a ``Secure`` session cookie, never sent back over http://testserver.
    ``handle_errors=False``: lets authlib's errors escape the callback (a 500).
    ``retry_interactively=True``: after a failed silent login (``/silent``), asks again with a login page.
    ``fastapi=True``: the same routes on FastAPI.
    """
    oauth = OAuth()
    oidc: Any = oauth.register(
        "idp",
        server_metadata_url=os.environ["SERVER_METADATA_URL"],
        client_id=os.environ["CLIENT_ID"],
        client_secret=os.environ["CLIENT_SECRET"],
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    async def home(request: Request) -> Response:
        user = request.session.get("user")
        if user is None or time.time() >= user["exp"]:
            response: Response = await oidc.authorize_redirect(request, CALLBACK)
            return response
        return JSONResponse({"sub": user["sub"], "email": user["email"]})

    async def silent(request: Request) -> Response:
        request.session["silent"] = True
        response: Response = await oidc.authorize_redirect(request, CALLBACK, prompt="none")
        return response

    async def redeem(request: Request) -> tuple[dict[str, Any], str]:
        """The ID token's claims, and the ID token."""
        if validate_id_token:
            token: dict[str, Any] = await oidc.authorize_access_token(request)
            return dict(token["userinfo"]), token["id_token"]
        state = await oidc.framework.get_state_data(request.session, request.query_params["state"])
        if state is None:
            raise MismatchingStateError()
        token = await oidc.fetch_access_token(
            code=request.query_params["code"], redirect_uri=CALLBACK, code_verifier=state["code_verifier"]
        )
        claims: dict[str, Any] = jwt.decode(token["id_token"], options={"verify_signature": False})
        return claims, token["id_token"]

    async def callback(request: Request) -> Response:
        error = request.query_params.get("error")
        was_silent = request.session.pop("silent", False)
        if error is not None:
            if retry_interactively and was_silent and error in INTERACTION_NEEDED:
                response: Response = await oidc.authorize_redirect(request, CALLBACK)
                return response
            return JSONResponse({"error": error}, status_code=401)
        if not handle_errors:
            claims, id_token = await redeem(request)
        else:
            try:
                claims, id_token = await redeem(request)
            except MismatchingStateError:
                return JSONResponse({"error": "invalid_state"}, status_code=400)
            except OAuthError as exc:
                return JSONResponse({"error": "token_error", "provider_error": exc.error}, status_code=502)
            except JoseError:
                return JSONResponse({"error": "invalid_id_token"}, status_code=401)
        request.session["user"] = {"sub": claims["sub"], "email": claims.get("email"), "exp": claims["exp"]}
        request.session["id_token"] = id_token
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        id_token = request.session.pop("id_token", None)
        request.session.clear()
        response: Response = await oidc.logout_redirect(
            request, post_logout_redirect_uri=LOGGED_OUT, id_token_hint=id_token
        )
        return response

    async def logged_out(request: Request) -> Response:
        return JSONResponse({"logged_out": True, "user": request.session.get("user")})

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/silent", silent),
        Route("/callback", callback),
        Route("/logout", logout),
        Route("/logged-out", logged_out),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key="test-only", https_only=secure_cookie)]
    if fastapi:
        return FastAPI(routes=routes, middleware=middleware)
    return Starlette(routes=routes, middleware=middleware)
