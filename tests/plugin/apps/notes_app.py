"""A notes app: an authlib Starlette login at /notes and a bearer API at /api/notes (RFC 6750, RFC 9068).

The README shows this module as the app of its recipes, and tests/test_readme.py checks that it is
the same; tests/plugin/test_canonical.py runs the three canonical tests against it.
"""

import os

from authlib.integrations.starlette_client import OAuth
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route


def create_app() -> Starlette:
    oauth = OAuth()
    oidc = oauth.register(
        "idp",
        server_metadata_url=os.environ["SERVER_METADATA_URL"],
        client_id=os.environ["CLIENT_ID"],
        client_secret=os.environ["CLIENT_SECRET"],
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    async def notes(request: Request) -> Response:
        user = request.session.get("user")
        if user is None:
            redirect: Response = await oidc.authorize_redirect(request, "http://testserver/callback")
            return redirect
        return HTMLResponse(f"<h1>Notes of {user['email']}</h1>")

    async def callback(request: Request) -> Response:
        token = await oidc.authorize_access_token(request)
        request.session["user"] = {"sub": token["userinfo"]["sub"], "email": token["userinfo"]["email"]}
        return RedirectResponse("/notes", status_code=303)

    async def api_notes(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise ValueError("no bearer token")
            metadata = await oidc.load_server_metadata()
            keys = KeySet.import_key_set(await oidc.fetch_jwk_set())
            claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": metadata["issuer"]},
                aud={"essential": True, "value": oidc.client_id},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError) as exc:
            challenge = f'Bearer error="invalid_token", error_description="{str(exc).replace(chr(34), chr(39))}"'
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge})
        return JSONResponse({"owner": claims["sub"], "notes": []})

    return Starlette(
        routes=[Route("/notes", notes), Route("/callback", callback), Route("/api/notes", api_notes)],
        middleware=[Middleware(SessionMiddleware, secret_key="dev")],
    )
