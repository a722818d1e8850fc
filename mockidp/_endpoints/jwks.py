"""The JWK Set endpoint: RFC 7517 §5, the provider's published public keys (OIDC Core §10.1)."""

from __future__ import annotations

from starlette.responses import Response

from mockidp._exchange import Exchange, json_response


async def jwks(ex: Exchange) -> Response:
    await ex.checkpoint()
    return json_response(ex.ctx.keys.jwks(), headers={"Cache-Control": "no-cache"})
