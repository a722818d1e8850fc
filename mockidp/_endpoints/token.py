"""Token endpoint: RFC 6749 §3.2 and §5. It authenticates the client (``mockidp._client_auth``), picks the
grant from ``mockidp._grants.TABLE`` by ``grant_type``, checks the client may use it, and answers the
tokens the grant issued (RFC 6749 §5.1) or its error (§5.2). A DPoP proof (RFC 9449 §5, ``mockidp._dpop``)
binds the tokens to its key, whatever the grant.
"""

from __future__ import annotations

import dataclasses

from starlette.responses import Response

from mockidp import _dpop as dpop
from mockidp import _grants as grants
from mockidp._client_auth import authenticated_form
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange, json_response
from mockidp._forgery import tamper_id_token


async def token(ex: Exchange) -> Response:
    ctx = ex.ctx
    client, params = await authenticated_form(ex, "token endpoint", "RFC 6749 section 3.2")
    grant_type = params.get("grant_type")
    await ex.checkpoint()
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required (RFC 6749 section 4.1.3)")
    grant = grants.BY_NAME.get(grant_type)
    if grant is None or not grant.enabled(ctx.config):
        hint = f" (the {grant_type} grant is off: {grant.how_to_enable})" if grant is not None else ""
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type {grant_type!r} is not supported{hint}; supported: {', '.join(grants.offered(ctx.config))}",
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
    proof = dpop.at_token(ex, client, params)
    with ctx.state.lock, ctx.minter.bound_to(proof.jkt if proof is not None else None):
        tokens = grant.issue(ex, client)
    kind = ctx.controls.take_tamper()  # MockIdP.tamper_next_id_token: the app must refuse this ID token
    if kind is not None and tokens.id_token is not None:
        tokens = dataclasses.replace(tokens, id_token=tamper_id_token(ctx.keys, ctx.now(), tokens.id_token, kind))
    ex.record.scopes = tuple(tokens.scope.split())
    return json_response(tokens.as_dict())
