"""RP-Initiated Logout: OpenID Connect RP-Initiated Logout 1.0 §2 (request), §3 (redirection), §4 (validation).

The provider ends the IdP session named by the browser's cookie and by the ``sid`` of the
``id_token_hint``, tells the clients of those sessions that registered a ``backchannel_logout_uri``
(OIDC Back-Channel Logout 1.0, ``mockidp._backchannel``), and redirects only to a
``post_logout_redirect_uri`` registered for the client the hint (or ``client_id``) identifies, and
otherwise shows a page.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from mockidp import _backchannel as backchannel
from mockidp import _sessions as sessions
from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import NO_STORE, Exchange, error_page, page
from mockidp._params import read_form, read_query
from mockidp._redirects import add_params, redirect_uri_allowed


async def end_session(ex: Exchange) -> Response:
    try:
        return await _end_session(ex)
    except OAuthError as error:
        ex.record.error, ex.record.error_description = error.error, error.description
        return error_page(error)


async def _end_session(ex: Exchange) -> Response:
    ctx = ex.ctx
    params = await read_form(ex.request, required=True) if ex.request.method == "POST" else read_query(ex.request)
    ex.params.update(params)
    ex.record.params = dict(params)
    await ex.checkpoint()
    client: Client | None = None
    sid: str | None = None
    hint = params.get("id_token_hint")
    if hint is not None:
        try:
            header, claims = ctx.keys.verify(hint)
        except Exception:
            raise OAuthError("invalid_request", "id_token_hint is not an ID token signed by this provider") from None
        # §2: the OP MUST validate that it issued the hint (providers of a test session share keys;
        # ``serve()`` changes the issuer); an expired hint is fine. An access token is not an ID token.
        if claims.get("iss") not in (ctx.issuer, ctx.config.issuer) or header.get("typ") == "at+jwt":
            raise OAuthError("invalid_request", "id_token_hint is not an ID token issued by this provider")
        aud = claims.get("aud")
        client_id = aud[0] if isinstance(aud, list) and aud else aud
        client = ctx.clients.get(str(client_id))
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    if "client_id" in params:
        named = ctx.clients.get(params["client_id"])
        if named is None:
            raise OAuthError("invalid_request", f"unknown client_id {params['client_id']!r}")
        if client is not None and client.client_id != named.client_id:
            raise OAuthError("invalid_request", "client_id differs from the audience of id_token_hint (section 2)")
        client = named
    ex.record.client_id = client.client_id if client else None

    target = params.get("post_logout_redirect_uri")
    if target is not None:
        if client is None:
            raise OAuthError(
                "invalid_request",
                "post_logout_redirect_uri needs id_token_hint or client_id to identify the client (section 3)",
            )
        if not redirect_uri_allowed(client.post_logout_redirect_uris, target):
            raise OAuthError(
                "invalid_request",
                f"post_logout_redirect_uri {target!r} is not registered for client {client.client_id!r}",
            )

    session = sessions.current(ctx, ex.request)
    ended = ctx.state.end_sessions(session.id) if session is not None else []
    if sid is not None:
        ended += ctx.state.end_sessions(sid)
    # OIDC Back-Channel Logout 1.0 §2.5: each client of the ended sessions that asked is told, before the answer.
    told = await backchannel.deliver(ctx, ended)
    ex.record.backchannel_logout = tuple(t.client_id for t in told)

    response: Response
    if target is not None:
        extra = {"state": params["state"]} if "state" in params else {}
        response = RedirectResponse(add_params(target, extra) if extra else target, 302, headers=NO_STORE)
    else:
        response = page("mockidp: logged out", "<p>You are logged out of mockidp.</p>")
    sessions.clear_cookie(ctx, response)
    return response
