"""Logging users in with OpenID Connect through authlib: the login middleware, the callback and logout.

Every path but ``LoginMiddleware.PUBLIC_PATHS`` (and the callback and logout paths) needs a logged-in
user; without one the browser goes to the provider (authorization code flow, PKCE S256, nonce).
A login lasts as long as the ID token: once it has expired the browser goes back with
``prompt=none`` (a silent re-login while the provider's own session lasts), and if the provider
answers ``login_required`` it goes back once more for an interactive login.

Whatever the provider answers, the user gets a clear JSON error with a 4xx or 502 status, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, ClassVar

import httpx2
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from oidc_login.db import DB

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/auth/callback"
LOGOUT_PATH = "/logout"
LOGGED_OUT_PATH = "/auth/logged-out"

#: Errors the provider answers to ``prompt=none`` when it needs to see the user (OIDC Core §3.1.2.6).
INTERACTION_NEEDED = frozenset(
    {"login_required", "interaction_required", "consent_required", "account_selection_required"}
)
#: Claims of the ID token that are about the token, not the user: kept out of the session.
TOKEN_CLAIMS = frozenset({"iss", "aud", "azp", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "sid"})


def current_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user's claims, or ``None`` if nobody is logged in or the login has expired."""
    user = request.session.get("user")
    expires_at = request.session.get("expires_at", 0)
    if not isinstance(user, dict) or time.time() >= expires_at:
        return None
    return user


def error_response(status: int, error: str, description: str, **extra: str) -> JSONResponse:
    """The page a user sees when logging in failed: what happened, and nothing a 500 would leak."""
    body = {"error": error, "error_description": description, **extra}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def provider_unreachable(exc: Exception) -> JSONResponse:
    logger.warning("the identity provider could not be reached: %s", exc)
    return error_response(502, "provider_unreachable", "The identity provider cannot be reached. Try again later.")


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def _return_path(request: Request) -> str:
    """Where to go back after the login: this path, always on this site.

    A path such as ``//evil.example`` would be a link to another site once used as a ``Location``.
    """
    path = "/" + str(request.scope["path"]).lstrip("/\\")
    query = request.url.query
    return path + (f"?{query}" if query else "")


def token_failure(exc: Exception, provider_error: str | None) -> JSONResponse:
    """The token endpoint failed or refused the code: the provider's fault, so 502."""
    logger.warning("the token endpoint failed: %r", exc)
    extra = {"provider_error": provider_error} if provider_error else {}
    return error_response(
        502, "token_error", "The identity provider failed to complete the sign-in. Try again later.", **extra
    )


def _oauth_error_of(response: httpx2.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


async def start_login(request: Request, *, silent: bool = False) -> Response:
    """Send the browser to the provider, remembering where it was going."""
    oidc = request.app.state.oidc
    if request.scope["path"] != CALLBACK_PATH:
        request.session["next"] = _return_path(request)
    if silent:
        request.session["silent_login"] = True
    else:
        request.session.pop("silent_login", None)
    extra = {"prompt": "none"} if silent else {}
    try:
        response: Response = await oidc.authorize_redirect(request, _absolute(request, CALLBACK_PATH), **extra)
    except (httpx2.HTTPError, ValueError) as exc:
        return provider_unreachable(exc)
    return response


class LoginMiddleware:
    """Pure ASGI middleware: a request for any path but the public ones needs a logged-in user.

    It must run inside ``SessionMiddleware`` (which puts the session in the scope).
    """

    PUBLIC_PATHS: ClassVar[frozenset[str]] = frozenset({"/public"})
    OWN_PATHS: ClassVar[frozenset[str]] = frozenset({CALLBACK_PATH, LOGOUT_PATH, LOGGED_OUT_PATH})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.PUBLIC_PATHS | self.OWN_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if current_user(request) is not None:
            await self.app(scope, receive, send)
            return
        # A user whose login expired is logged in again silently, if the provider still knows them.
        response = await start_login(request, silent="user" in request.session)
        await response(scope, receive, send)


async def callback(request: Request) -> Response:
    """The redirect URI: redeem the code, check the ID token, keep the user and store the tokens."""
    oidc = request.app.state.oidc
    db: DB = request.app.state.db
    error = request.query_params.get("error")
    if error is not None:
        state = request.query_params.get("state", "")
        if not await oidc.framework.get_state_data(request.session, state):
            return error_response(
                400,
                "invalid_state",
                "This sign-in response does not belong to a sign-in started in this browser. Start again.",
            )
        await oidc.framework.clear_state_data(request.session, state)
        if error in INTERACTION_NEEDED and request.session.pop("silent_login", False):
            return await start_login(request)  # the silent attempt failed: log in interactively
        request.session.pop("silent_login", None)
        description = request.query_params.get("error_description")
        provider_says = {"provider_error_description": description} if description else {}
        if error == "access_denied":
            return error_response(403, error, "Sign-in was cancelled at the identity provider.", **provider_says)
        return error_response(400, error, f"The identity provider refused the sign-in ({error}).", **provider_says)

    try:
        token: dict[str, Any] = await oidc.authorize_access_token(request)
    except MismatchingStateError:
        return error_response(
            400,
            "invalid_state",
            "This sign-in response does not belong to a sign-in started in this browser. Start again.",
        )
    except OAuthError as exc:
        # The token endpoint answered an OAuth error (RFC 6749 §5.2), e.g. invalid_grant.
        return token_failure(exc, str(exc.error))
    except JoseError as exc:
        # The ID token's signature, alg, iss, aud, exp, nonce or at_hash is wrong (OIDC Core §3.1.3.7).
        logger.warning("the ID token failed validation: %r", exc)
        return error_response(
            401, "invalid_id_token", "The identity provider's ID token failed validation, so you were not signed in."
        )
    except httpx2.HTTPStatusError as exc:
        # A 5xx from the token endpoint: authlib raises it before reading the body.
        return token_failure(exc, _oauth_error_of(exc.response))
    except (httpx2.HTTPError, ValueError) as exc:
        return token_failure(exc, None)
    finally:
        request.session.pop("silent_login", None)

    userinfo = token.pop("userinfo", None)
    if not userinfo:
        return error_response(
            502, "missing_id_token", "The identity provider sent no ID token, so you were not signed in."
        )
    user = {k: v for k, v in userinfo.items() if k not in TOKEN_CLAIMS}
    request.session["user"] = user
    request.session["expires_at"] = int(userinfo["exp"])
    db.put(user["sub"], token)
    return RedirectResponse(request.session.pop("next", "/"), status_code=303)


async def logout(request: Request) -> Response:
    """Forget the user here, delete their tokens, then log them out at the provider (RP-Initiated Logout)."""
    oidc = request.app.state.oidc
    db: DB = request.app.state.db
    user = request.session.get("user")
    request.session.clear()
    if not isinstance(user, dict):
        return RedirectResponse("/public", status_code=303)
    tokens = db.get(user["sub"]) or {}
    db.delete(user["sub"])
    try:
        response: Response = await oidc.logout_redirect(
            request,
            post_logout_redirect_uri=_absolute(request, LOGGED_OUT_PATH),
            id_token_hint=tokens.get("id_token"),
            client_id=oidc.client_id,
        )
    except (httpx2.HTTPError, ValueError, RuntimeError) as exc:
        return provider_unreachable(exc)
    return response


async def logged_out(request: Request) -> Response:
    """Where the provider sends the browser after logging out."""
    oidc = request.app.state.oidc
    with contextlib.suppress(OAuthError):  # nothing depends on it: the user is logged out here either way
        await oidc.validate_logout_response(request)
    return JSONResponse({"message": "Logged out"})


routes = [
    Route(CALLBACK_PATH, callback, name="auth_callback"),
    Route(LOGOUT_PATH, logout, name="logout"),
    Route(LOGGED_OUT_PATH, logged_out, name="logged_out"),
]
