"""A notes app: a login at /notes (authlib's Starlette client) and a bearer API at /api/notes."""

import os

from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
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
        try:
            token = await oidc.authorize_access_token(request)  # an error=... from the provider raises too
        except (OAuthError, JoseError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        request.session["user"] = {"sub": token["userinfo"]["sub"], "email": token["userinfo"]["email"]}
        request.session["id_token"] = token["id_token"]
        return RedirectResponse("/notes", status_code=303)

    async def logout(request: Request) -> Response:
        id_token = request.session.pop("id_token", None)
        request.session.clear()
        done = "http://testserver/logged-out"
        redirect: Response = await oidc.logout_redirect(request, post_logout_redirect_uri=done, id_token_hint=id_token)
        return redirect

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

    routes = [
        Route("/notes", notes),
        Route("/callback", callback),
        Route("/logout", logout),
        Route("/logged-out", lambda request: HTMLResponse("<p>Logged out</p>")),
        Route("/api/notes", api_notes),
    ]
    cors = Middleware(CORSMiddleware, allow_origins=["https://spa.example"], allow_headers=["Authorization"])
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, secret_key="dev"), cors])
