"""UserInfo endpoint: OIDC Core §5.3, with bearer tokens as RFC 6750 §2.1 (header) and §2.2 (form body).

Errors answer 401 with a ``WWW-Authenticate: Bearer error="invalid_token"`` challenge (RFC 6750 §3.1);
a token without the ``openid`` scope answers 403 ``insufficient_scope``. A DPoP-bound token (RFC 9449 §7.1)
comes as ``Authorization: DPoP <token>`` with a proof of its key (``mockidp._dpop``).
"""

from __future__ import annotations

from starlette.responses import Response

from mockidp import _dpop as dpop
from mockidp._errors import OAuthError, invalid_token, missing_token
from mockidp._exchange import Exchange, json_response
from mockidp._params import read_form
from mockidp._tokens import claims_for_scopes


async def userinfo(ex: Exchange) -> Response:
    header = ex.request.headers.get("authorization")
    form = await read_form(ex.request, required=False) if ex.request.method == "POST" else {}
    ex.params.update({k: v for k, v in form.items() if k != "access_token"})
    await ex.checkpoint()
    token, scheme = None, "bearer"
    if header is not None:
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme not in ("bearer", "dpop") or not value.strip():
            raise invalid_token("the Authorization header must be 'Bearer <access token>' (RFC 6750 section 2.1)")
        token = value.strip()
    if "access_token" in form:
        if token is not None:
            raise OAuthError("invalid_request", "the access token was sent twice (header and body, RFC 6750 section 2)")
        token = form["access_token"]
    if token is None and "access_token" in ex.request.query_params:
        raise invalid_token(
            "the access_token query parameter is not supported (RFC 6750 section 2.3):"
            " send 'Authorization: Bearer <access token>'"
        )
    if token is None:
        raise missing_token("no access token: send 'Authorization: Bearer <access token>'")
    record, claims = ex.ctx.minter.check_access_token(token)
    dpop.at_resource(ex, token, claims, scheme=scheme)
    grant = record.grant
    ex.record.client_id = grant.client.client_id
    ex.record.scopes = grant.scopes
    if grant.user is None:
        raise invalid_token("the access token was issued to a client, not for a user (client_credentials)")
    if "openid" not in grant.scopes:
        raise OAuthError(
            "insufficient_scope",
            "the access token lacks the openid scope (OIDC Core section 5.3)",
            status=403,
            www_authenticate='Bearer realm="mockidp", error="insufficient_scope", scope="openid"',
        )
    ex.record.user = grant.user.sub
    body = claims_for_scopes(grant.user, grant.scopes, grant.userinfo_claims)
    body.update(grant.extra_claims)
    body["sub"] = grant.user.sub
    return json_response(body)
