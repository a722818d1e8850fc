"""The authorization code grant: RFC 6749 §4.1.3 and §4.1.4, with PKCE verification (RFC 7636 §4.6)
and the ID token of OIDC Core §3.1.3.

A code is single use: a second redemption is refused and revokes what the first one issued (RFC 6749
§4.1.2). It is bound to its client and to the redirect URI of its authorization request.
"""

from __future__ import annotations

from mockidp import _pkce as pkce
from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._tokens import TokenSet


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx, state = ex.ctx, ex.ctx.state
    value = require(ex, "code")
    verifier = ex.params.get("code_verifier")
    ex.record.pkce = verifier is not None
    with state.lock:
        code = state.codes.get(value)
        if code is None:
            raise OAuthError("invalid_grant", "the authorization code is not known to this provider")
        if code.used:
            # §4.1.2: deny, and revoke what the code issued. A failed redemption uses the code up too.
            issued = bool(code.grant.access_jtis)
            state.revoke_grant(code.grant)
            raise OAuthError(
                "invalid_grant",
                "the authorization code was already used; the tokens it issued are now revoked (RFC 6749 section 4.1.2)"
                if issued
                else "the authorization code was already used, by a redemption that failed (RFC 6749 section 4.1.2)",
            )
        code.used = True
    if code.grant.client.client_id != client.client_id:
        raise OAuthError(
            "invalid_grant", f"the authorization code was issued to another client, not {client.client_id!r}"
        )
    if ctx.now() >= code.expires_at:
        raise OAuthError("invalid_grant", f"the authorization code expired (it lives {ctx.config.code_ttl} s)")
    redirect_uri = ex.params.get("redirect_uri")
    if code.redirect_uri_sent and redirect_uri is None:
        raise OAuthError(
            "invalid_request",
            "redirect_uri is required: the authorization request sent one (RFC 6749 section 4.1.3)",
        )
    if redirect_uri is not None and redirect_uri != code.redirect_uri:
        raise OAuthError(
            "invalid_grant",
            f"redirect_uri {redirect_uri!r} differs from the authorization request's {code.redirect_uri!r}",
        )
    if code.code_challenge is None:
        if verifier is not None:
            raise OAuthError(
                "invalid_grant",
                "code_verifier was sent, but the authorization request had no code_challenge (RFC 9700 section 2.1.1)",
            )
    else:
        if verifier is None:
            raise OAuthError(
                "invalid_grant", "code_verifier is required: the authorization request sent a code_challenge"
            )
        if not pkce.well_formed(verifier):
            raise OAuthError(
                "invalid_grant", "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)"
            )
        if not pkce.matches(code.code_challenge_method or "plain", code.code_challenge, verifier):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (RFC 7636 section 4.6)")
    grant = code.grant
    ex.record.user = grant.user.sub if grant.user else None
    return ctx.minter.issue(
        grant,
        id_token="openid" in grant.scopes,
        refresh_token="refresh_token" in client.grant_types,
    )
