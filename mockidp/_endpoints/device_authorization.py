"""Device authorization endpoint: RFC 8628 §3.1 (request) and §3.2 (response).

The client authenticates as at the token endpoint (a public client sends its ``client_id``) and must
be allowed the device grant. The answer carries the ``device_code`` to poll with, the ``user_code``
a person enters at ``verification_uri`` (or opens ``verification_uri_complete``, which carries it),
``expires_in`` and the polling ``interval``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from mockidp import _device as device_flow
from mockidp._client_auth import authenticated_form
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange, json_response
from mockidp._params import client_scopes


async def device_authorization(ex: Exchange) -> Response:
    ctx = ex.ctx
    client, params = await authenticated_form(ex, "device authorization endpoint", "RFC 8628 section 3.1")
    await ex.checkpoint()
    if device_flow.GRANT_TYPE not in client.grant_types:
        raise OAuthError(
            "unauthorized_client",
            f"client {client.client_id!r} may not use the device authorization grant (list"
            f" {device_flow.GRANT_TYPE} in its grant_types); it may use {', '.join(client.grant_types) or 'none'}",
        )
    scopes = client_scopes(params, client)
    ex.record.scopes = scopes
    device = device_flow.start(ctx, client, scopes)
    user_code = device_flow.display(device.user_code)
    verification_uri = ctx.url("device_verification")
    return json_response(
        {
            "device_code": device.device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?{urlencode({'user_code': user_code})}",
            "expires_in": ctx.config.device_code_ttl,
            "interval": device.interval,
        }
    )
