"""A small web app for the assertion helpers: a redirect anywhere, and a JSON API with CORS for one origin.

``/go?to=URL`` answers 302 to ``URL``; ``/loop`` redirects to itself; ``/api`` answers JSON. CORS is
allowed for ``SPA_ORIGIN`` only, with credentials, for GET and POST and the ``Authorization`` header.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

SPA_ORIGIN = "https://spa.example"


def create_app() -> Starlette:
    async def go(request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def api(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def loop(request: Request) -> Response:
        return RedirectResponse("/loop", status_code=302)

    return Starlette(
        routes=[Route("/go", go), Route("/loop", loop), Route("/api", api, methods=["GET", "POST"])],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[SPA_ORIGIN],
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization"],
                allow_credentials=True,
            )
        ],
    )
