"""Token endpoint: RFC 6749 §3.2 and the grants of §4.1.3 (authorization code), §6 (refresh token),
§4.4 (client credentials) and §4.3 (resource owner password, off unless enabled); PKCE verification
(RFC 7636 §4.6); OIDC Core §3.1.3 (ID token in the response) and §12 (refresh).
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable

from starlette.responses import Response

from mockidp import _pkce as pkce
from mockidp._client_auth import authenticated_form
from mockidp._config import GRANT_TYPES, Client
from mockidp._errors import OAuthError
from mockidp._http import Exchange, json_response
from mockidp._params import client_scopes, scopes_of
from mockidp._state import Grant, RefreshToken, new_id
from mockidp._tokens import TokenSet

Handler = Callable[[Exchange, Client], TokenSet]


async def token(ex: Exchange) -> Response:
    client, params = await authenticated_form(ex, "token endpoint", "RFC 6749 section 3.2")
    grant_type = params.get("grant_type")
    await ex.checkpoint()
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required (RFC 6749 section 4.1.3)")
    handler = _GRANTS.get(grant_type)
    if handler is None or (grant_type == "password" and not ex.idp.config.password_grant):
        supported = [g for g in GRANT_TYPES if g != "password" or ex.idp.config.password_grant]
        hint = " (the password grant is off: enable it with password_grant=True)" if grant_type == "password" else ""
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type {grant_type!r} is not supported{hint}; supported: {', '.join(supported)}",
        )
    if grant_type not in client.grant_types:
        why = ""
        if grant_type == "client_credentials" and client.is_public:
            why = " (a public client has no credentials to use it with, RFC 6749 section 4.4)"
        elif grant_type == "password":
            why = " (list 'password' in its grant_types)"
        raise OAuthError(
            "unauthorized_client",
            f"client {client.client_id!r} may not use {grant_type}{why};"
            f" it may use {', '.join(client.grant_types) or 'no grant type'}",
        )
    # One grant at a time: a replayed code or refresh token that races its first use must still find
    # the tokens that use issued, to revoke them (RFC 6749 section 4.1.2, RFC 9700 section 4.14.2).
    with ex.idp.state.lock:
        tokens = handler(ex, client)
    tokens = ex.idp._apply_tamper(tokens)
    ex.record.scopes = tuple(tokens.scope.split())
    return json_response(tokens.as_dict())


def _require(ex: Exchange, name: str) -> str:
    value = ex.params.get(name)
    if value is None:
        raise OAuthError("invalid_request", f"{name} is required for grant_type {ex.params['grant_type']}")
    return value


def authorization_code(ex: Exchange, client: Client) -> TokenSet:
    idp, state = ex.idp, ex.idp.state
    value = _require(ex, "code")
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
    if idp.now() >= code.expires_at:
        raise OAuthError("invalid_grant", f"the authorization code expired (it lives {idp.config.code_ttl} s)")
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
    return idp.minter.issue(
        grant,
        id_token="openid" in grant.scopes,
        refresh_token="refresh_token" in client.grant_types,
    )


def refresh_token(ex: Exchange, client: Client) -> TokenSet:
    idp, state = ex.idp, ex.idp.state
    value = _require(ex, "refresh_token")
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
        if idp.now() >= record.expires_at:
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
    tokens = idp.minter.issue(
        narrowed,
        id_token="openid" in narrowed.scopes and grant.user is not None,
        refresh_token=False,
    )
    rotated = new_id(32)
    with state.lock:
        state.refresh_tokens[rotated] = RefreshToken(
            value=rotated, grant=kept, expires_at=idp.now() + idp.config.refresh_token_ttl
        )
        grant.refresh_tokens.append(rotated)
    return dataclasses.replace(tokens, refresh_token=rotated)


def client_credentials(ex: Exchange, client: Client) -> TokenSet:
    scopes = client_scopes(ex.params, client)
    grant = Grant(client=client, user=None, scopes=scopes)
    return ex.idp.minter.issue(grant, id_token=False, refresh_token=False)


def password(ex: Exchange, client: Client) -> TokenSet:
    idp = ex.idp
    username, secret = _require(ex, "username"), _require(ex, "password")
    user = idp.find_user(username)
    if user is None or not hmac.compare_digest(user.password.encode(), secret.encode()):
        raise OAuthError("invalid_grant", "wrong username or password")
    scopes = client_scopes(ex.params, client)
    ex.record.user = user.sub
    grant = Grant(client=client, user=user, scopes=scopes, auth_time=int(idp.now()))
    return idp.minter.issue(grant, id_token="openid" in scopes, refresh_token="refresh_token" in client.grant_types)


_GRANTS: dict[str, Handler] = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
    "client_credentials": client_credentials,
    "password": password,
}
