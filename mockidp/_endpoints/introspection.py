"""Token introspection: RFC 7662 §2. Any token this provider does not vouch for is ``{"active": false}``."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mockidp._client_auth import authenticated_form
from mockidp._errors import OAuthError, invalid_client
from mockidp._exchange import Exchange, json_response


async def introspect(ex: Exchange) -> Response:
    client, params = await authenticated_form(ex, "introspection endpoint", "RFC 7662 section 2.1")
    if client.is_public:
        raise invalid_client(
            f"client {client.client_id!r} is public and may not introspect tokens (RFC 7662 section 2.1)"
        )
    await ex.checkpoint()
    value = params.get("token")
    if value is None:
        raise OAuthError("invalid_request", "token is required (RFC 7662 section 2.1)")
    minter = ex.ctx.minter
    body: dict[str, Any] = {"active": False}
    refresh = minter.check_refresh_token(value)
    if refresh is not None:
        grant = refresh.grant
        body = {
            "active": True,
            "token_type": "refresh_token",
            "client_id": grant.client.client_id,
            "scope": " ".join(grant.scopes),
            "exp": int(refresh.expires_at),
            "iss": ex.ctx.issuer,
        }
        if grant.user is not None:
            body.update(sub=grant.user.sub, username=grant.user.username)
    elif "." in value:
        try:
            record, claims = minter.check_access_token(value)
        except OAuthError:
            pass
        else:
            body = {**claims, "active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer"}
            if record.grant.user is not None:
                body["username"] = record.grant.user.username
    return json_response(body)
