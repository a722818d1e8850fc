"""The refresh token grant: RFC 6749 §6 and OIDC Core §12, with rotation (RFC 9700 §4.14.2).

Every use hands out a new refresh token and revokes the one presented; presenting a revoked one revokes
the whole grant. A refresh may narrow the scope, never widen it.
"""

from __future__ import annotations

import dataclasses

from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._params import scopes_of
from mockidp._state import RefreshToken, new_id
from mockidp._tokens import TokenSet


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx, state = ex.ctx, ex.ctx.state
    value = require(ex, "refresh_token")
    requested = scopes_of(ex.params)
    with state.lock:
        record = state.refresh_tokens.get(value)
        if record is None:
            raise OAuthError("invalid_grant", "the refresh token is not known to this provider")
        if record.grant.client.client_id != client.client_id:
            raise OAuthError(
                "invalid_grant", f"the refresh token was issued to another client, not {client.client_id!r}"
            )
        if record.revoked:
            state.revoke_grant(record.grant)
            raise OAuthError(
                "invalid_grant",
                "the refresh token was revoked or already used; refresh tokens rotate (RFC 9700 section 4.14.2)",
            )
        if ctx.now() >= record.expires_at:
            raise OAuthError("invalid_grant", "the refresh token expired")
        grant = record.grant
        extra = [s for s in requested if s not in grant.scopes]
        if extra:
            raise OAuthError(
                "invalid_scope",
                f"a refresh may not widen the scope; not granted: {' '.join(extra)} (RFC 6749 section 6)",
            )
        record.revoked = True
    ex.record.user = grant.user.sub if grant.user else None
    # Copies share the grant's token lists, so revoking any of them revokes the whole grant. No nonce
    # outside the code exchange (OIDC Core §12.2). The new refresh token keeps the scope of the one
    # presented; only the access and ID tokens are narrowed (RFC 6749 §6).
    kept = dataclasses.replace(grant, nonce=None)
    narrowed = dataclasses.replace(kept, scopes=requested or grant.scopes)
    tokens = ctx.minter.issue(
        narrowed,
        id_token="openid" in narrowed.scopes and grant.user is not None,
        refresh_token=False,
    )
    rotated = new_id(32)
    with state.lock:
        state.refresh_tokens[rotated] = RefreshToken(
            value=rotated, grant=kept, expires_at=ctx.now() + ctx.config.refresh_token_ttl
        )
        grant.refresh_tokens.append(rotated)
    return dataclasses.replace(tokens, refresh_token=rotated)
