"""The minimal app of a login: authlib's Starlette client and a signed session cookie, nothing else.

``/other`` answers the logged-in user's e-mail, or sends the browser to the provider (PKCE S256, a
nonce, a state in the session); ``/auth/callback`` redeems the code, validates the ID token, keeps the
user in the session and redirects back to ``/other``. No database, no error pages: what every authlib
login must do and no more, so that what a provider costs is not lost among the example app's
SQLAlchemy write and middleware.
"""

from __future__ import annotations

from typing import Any

SECRET_KEY = "not-a-secret-only-for-benchmarks"
CALLBACK = "http://testserver/auth/callback"


def minimal_app(metadata_url: str, client_id: str, client_secret: str) -> Any:
    from authlib.integrations.starlette_client import OAuth
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    oidc: Any = OAuth().register(
        "oidc",
        server_metadata_url=metadata_url,
        client_id=client_id,
        client_secret=client_secret,
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )

    async def other(request: Request) -> Response:
        user = request.session.get("user")
        if user is None:
            response: Response = await oidc.authorize_redirect(request, CALLBACK)
            return response
        return JSONResponse({"email": user["email"]})

    async def callback(request: Request) -> Response:
        token = await oidc.authorize_access_token(request)
        request.session["user"] = {"sub": token["userinfo"]["sub"], "email": token["userinfo"].get("email")}
        return RedirectResponse("/other", status_code=303)

    routes = [Route("/other", other), Route("/auth/callback", callback)]
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, secret_key=SECRET_KEY)])


def from_environ() -> Any:
    """The minimal app configured from the environment, for ``mockidp_app_factory`` (with ``mockidp_env``)."""
    import os

    return minimal_app(os.environ["SERVER_METADATA_URL"], os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])
