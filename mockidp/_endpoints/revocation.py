"""Token revocation: RFC 7009 §2. Revoking a refresh token also revokes the access tokens of its grant
(§2.1); an unknown or already invalid token is answered with 200, as §2.2 requires.
"""

from __future__ import annotations

from starlette.responses import Response

from mockidp._client_auth import authenticated_form
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._state import Grant


async def revoke(ex: Exchange) -> Response:
    client, params = await authenticated_form(ex, "revocation endpoint", "RFC 7009 section 2.1")
    await ex.checkpoint()
    value = params.get("token")
    if value is None:
        raise OAuthError("invalid_request", "token is required (RFC 7009 section 2.1)")
    state = ex.ctx.state
    grant: Grant | None = None
    revoke_all = False
    with state.lock:
        refresh = state.refresh_tokens.get(value)
        if refresh is not None:
            grant, revoke_all = refresh.grant, True
        elif "." in value:
            try:
                _, claims = ex.ctx.keys.verify(value)
            except Exception:
                claims = {}
            access = state.access_tokens.get(str(claims.get("jti")))
            if access is not None:
                grant = access.grant
        if grant is not None:
            if grant.client.client_id != client.client_id:
                raise OAuthError(
                    "unauthorized_client",
                    f"the token was issued to another client, not {client.client_id!r} (RFC 7009 section 2.1)",
                )
            if revoke_all:
                state.revoke_grant(grant)
            else:
                state.access_tokens[str(claims["jti"])].revoked = True
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
