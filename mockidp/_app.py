"""The provider as a Starlette ASGI app: the route table, the request log, faults and CORS.

Routes sit under the issuer's path, so ``https://idp.example/realms/a`` serves
``/realms/a/.well-known/openid-configuration`` (OIDC Discovery §4.1) and also
``/.well-known/oauth-authorization-server/realms/a`` (RFC 8414 §3.1). CORS (Fetch standard) is
answered on the discovery, JWKS, token and userinfo endpoints for the configured origins.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, request_response

from mockidp._authorize import authorize
from mockidp._discovery import OAUTH_WELL_KNOWN, OIDC_WELL_KNOWN, PATHS, metadata
from mockidp._errors import OAuthError
from mockidp._http import Exchange, error_json, json_response
from mockidp._introspection import introspect
from mockidp._journal import Endpoint, RequestRecord
from mockidp._logout import end_session
from mockidp._revocation import revoke
from mockidp._token import token
from mockidp._userinfo import userinfo

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

logger = logging.getLogger("mockidp")

Handler = Callable[[Exchange], Awaitable[Response]]


async def discovery(ex: Exchange) -> Response:
    await ex.checkpoint()
    return json_response(metadata(ex.idp), headers={"Cache-Control": "no-cache"})


async def jwks(ex: Exchange) -> Response:
    await ex.checkpoint()
    return json_response(ex.idp.keys.jwks(), headers={"Cache-Control": "no-cache"})


#: Endpoints whose GET changes state (issues a code, ends a session): Starlette would also run them for
#: HEAD, which must not log anyone in or out (RFC 9110 §9.3.2: HEAD is GET without the body *and* safe).
_NO_HEAD = frozenset({"authorize", "end_session"})


def _endpoint(idp: MockIdP, name: Endpoint, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        if request.method == "HEAD" and name in _NO_HEAD:
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        record = RequestRecord(endpoint=name, method=request.method, url=str(request.url), time=idp.now())
        ex = Exchange(idp, request, record, {})
        try:
            response = await handler(ex)
        except OAuthError as error:
            record.error, record.error_description = error.error, error.description
            response = error_json(error)
        except Exception as exc:  # a bug in mockidp: answer, log, keep serving
            logger.exception("mockidp: unexpected error at the %s endpoint", name)
            record.error, record.error_description = "server_error", f"{type(exc).__name__}: {exc}"
            response = error_json(OAuthError("server_error", f"mockidp failed: {type(exc).__name__}", status=500))
        record.status = response.status_code
        idp._record(record)
        return response

    return run


#: Endpoint name, handler, methods, and whether browsers may call it across origins.
_TABLE: tuple[tuple[Endpoint, str, Handler, tuple[str, ...], bool], ...] = (
    ("authorize", PATHS["authorization_endpoint"], authorize, ("GET", "POST"), False),
    ("token", PATHS["token_endpoint"], token, ("GET", "POST"), True),
    ("userinfo", PATHS["userinfo_endpoint"], userinfo, ("GET", "POST"), True),
    ("jwks", PATHS["jwks_uri"], jwks, ("GET",), True),
    ("introspection", PATHS["introspection_endpoint"], introspect, ("GET", "POST"), False),
    ("revocation", PATHS["revocation_endpoint"], revoke, ("GET", "POST"), False),
    ("end_session", PATHS["end_session_endpoint"], end_session, ("GET", "POST"), False),
)


def create_app(idp: MockIdP) -> Starlette:
    prefix = urlsplit(idp.config.issuer).path.rstrip("/")
    origins = list(idp.config.cors_origins)

    def route(path: str, name: Endpoint, handler: Handler, methods: tuple[str, ...], cors: bool) -> Route:
        run = _endpoint(idp, name, handler)
        if not (cors and origins):
            return Route(path, run, methods=list(methods), name=f"{name}:{path}")
        app = CORSMiddleware(
            request_response(run),
            allow_origins=origins,
            allow_methods=list(methods),
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
        return Route(path, app, methods=[*methods, "OPTIONS"], name=f"{name}:{path}")

    routes: list[BaseRoute] = [
        route(prefix + path, name, handler, methods, cors) for name, path, handler, methods, cors in _TABLE
    ]
    for well_known in dict.fromkeys((prefix + OIDC_WELL_KNOWN, prefix + OAUTH_WELL_KNOWN, OAUTH_WELL_KNOWN + prefix)):
        routes.append(route(well_known, "discovery", discovery, ("GET",), True))
    return Starlette(routes=routes)
