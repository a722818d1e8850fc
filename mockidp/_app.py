"""The provider as a Starlette ASGI app: routes made from the endpoint table, the request log, CORS.

Routes sit under the issuer's path, so ``https://idp.example/realms/a`` serves
``/realms/a/.well-known/openid-configuration`` (OIDC Discovery §4.1) and also
``/.well-known/oauth-authorization-server/realms/a`` (RFC 8414 §3.1). CORS (Fetch standard) is
answered on the endpoints the table marks for it, for the configured origins.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, request_response

from mockidp._context import Context
from mockidp._endpoints import TABLE, Endpoint
from mockidp._endpoints.discovery import OAUTH_WELL_KNOWN, OIDC_WELL_KNOWN
from mockidp._errors import ConfigError, OAuthError
from mockidp._exchange import Exchange, error_json
from mockidp._journal import RequestRecord

logger = logging.getLogger("mockidp")


def _run(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    name, handler = endpoint.name, endpoint.handler

    async def run(request: Request) -> Response:
        # The provider whose app this is (``create_app``); a bare Router sets no scope["app"] at all.
        ctx = getattr(getattr(request.scope.get("app"), "state", None), "mockidp", None)
        if not isinstance(ctx, Context):
            raise ConfigError(
                f"the {name} endpoint ran in an app that is not a MockIdP's: its routes find their provider"
                " on the app that serves them (idp.app); mount that app, e.g."
                " Mount('/idp', app=idp.app), rather than copying its routes into another"
            )
        if request.method == "HEAD" and endpoint.unsafe_get:
            return Response(status_code=405, headers={"Allow": ", ".join(endpoint.methods)})
        record = RequestRecord(endpoint=name, method=request.method, url=str(request.url), time=ctx.now())
        ex = Exchange(ctx, request, record, {})
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
        ctx.record(record)
        return response

    return run


@functools.lru_cache(maxsize=64)
def _routes(prefix: str, origins: tuple[str, ...], enabled: tuple[str, ...]) -> tuple[BaseRoute, ...]:
    """The routes of a provider with this issuer path, CORS origins and endpoints. They hold no provider (each
    request finds its own on the app, ``request.app.state.mockidp``), so providers of one shape share them:
    making them is ~0.5-1 ms, a few per cent of a login test."""

    def route(path: str, endpoint: Endpoint) -> Route:
        run = _run(endpoint)
        methods = list(endpoint.methods)
        if not (endpoint.cors and origins):
            return Route(path, run, methods=methods, name=f"{endpoint.name}:{path}")
        app = CORSMiddleware(
            request_response(run),
            allow_origins=list(origins),
            allow_methods=methods,
            allow_headers=["Authorization", "Content-Type", "DPoP"],  # DPoP: RFC 9449 section 4.1
            expose_headers=["DPoP-Nonce", "WWW-Authenticate"],  # a browser client reads nonces (section 8)
            max_age=600,
        )
        return Route(path, app, methods=[*methods, "OPTIONS"], name=f"{endpoint.name}:{path}")

    routes: list[BaseRoute] = []
    for endpoint in TABLE:
        if endpoint.name not in enabled:
            continue
        if endpoint.name == "discovery":  # one document, at OIDC Discovery's and RFC 8414's paths
            paths = dict.fromkeys((prefix + OIDC_WELL_KNOWN, prefix + OAUTH_WELL_KNOWN, OAUTH_WELL_KNOWN + prefix))
        else:
            paths = dict.fromkeys((prefix + endpoint.path,))
        routes.extend(route(path, endpoint) for path in paths)
    return tuple(routes)


def create_app(ctx: Context) -> Starlette:
    prefix = urlsplit(ctx.config.issuer).path.rstrip("/")
    enabled = tuple(e.name for e in TABLE if e.enabled(ctx.config))
    app = Starlette(routes=list(_routes(prefix, ctx.config.cors_origins, enabled)))
    app.state.mockidp = ctx
    return app
