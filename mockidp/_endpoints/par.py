"""Pushed authorization requests: RFC 9126.

The client POSTs its authorization request to this endpoint, authenticated as at the token endpoint
(§2.1), optionally as a request object (§3, RFC 9101). The request is checked as the authorization
endpoint would check it, and the answer is a ``request_uri`` (``urn:ietf:params:oauth:request_uri:...``)
and its ``expires_in``, with status 201 (§2.2). Errors are JSON (§2.3).

At the authorization endpoint, ``client_id`` and ``request_uri`` stand for the pushed request (§4): only
the pushed parameters count, the ``request_uri`` is good for one authorization response, until it
expires (``ProviderConfig.request_uri_ttl``), and only for the client that pushed it. A provider
(``ProviderConfig``) or a client (``Client``) with ``require_pushed_authorization_requests`` accepts no
other authorization request (§5, §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.responses import Response

from mockidp import _request_objects as request_objects
from mockidp._client_auth import authenticated_form
from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange, json_response
from mockidp._login_form import FORM_FIELDS
from mockidp._state import PushedRequest, new_id

if TYPE_CHECKING:
    from mockidp._context import Context

URN = "urn:ietf:params:oauth:request_uri:"
#: Parameters that authenticate the push (RFC 6749 §2.3.1, RFC 7523 §2.2), not part of the request.
_AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


async def par(ex: Exchange) -> Response:
    from mockidp._endpoints.authorize import validate  # authorize resolves request_uris with this module

    ctx = ex.ctx
    client, params = await authenticated_form(ex, "pushed authorization request endpoint", "RFC 9126 section 2.1")
    await ex.checkpoint()
    if "request_uri" in params:
        raise OAuthError(
            "invalid_request", "request_uri must not be pushed: this endpoint answers one (RFC 9126 section 2.1)"
        )
    request = {k: v for k, v in params.items() if k not in _AUTH_PARAMS}
    request["client_id"] = client.client_id  # Basic authentication leaves it out of the body
    if "request" in request:
        ex.record.request_object = True
        request = request_objects.merge(ctx, client, request)
    validate(ex, request)
    uri = URN + new_id(32)
    ttl = ctx.config.request_uri_ttl
    ctx.state.pushed_requests[uri] = PushedRequest(
        client_id=client.client_id, params=request, expires_at=ctx.now() + ttl
    )
    ex.record.request_uri = uri
    return json_response({"request_uri": uri, "expires_in": ttl}, status=201)


def resolve(ex: Exchange, params: Mapping[str, str]) -> dict[str, str]:
    """The parameters of the request pushed as ``params['request_uri']`` (RFC 9126 §4), with the
    ``request_uri`` itself and the login page's fields; or ``invalid_request_uri``."""
    ctx, uri = ex.ctx, params["request_uri"]
    client_id = params.get("client_id")
    if client_id is None:
        raise OAuthError("invalid_request", "client_id is required with a request_uri (RFC 9126 section 4)")
    ex.record.request_uri = uri
    if not uri.startswith(URN):
        raise OAuthError(
            "request_uri_not_supported",
            f"request_uri {uri!r} is not one this provider issued: it takes only the {URN}... values its"
            f" pushed authorization request endpoint {ctx.url('par')} answers (RFC 9126 section 4), and does not"
            " fetch request objects by URL (OIDC Core section 6.2)",
        )
    with ctx.state.lock:
        pushed = ctx.state.pushed_requests.get(uri)
    if pushed is None:
        raise OAuthError(
            "invalid_request_uri",
            f"the request_uri is not known to this provider: push the request to {ctx.url('par')} first"
            " (RFC 9126 section 2.1)",
        )
    if pushed.client_id != client_id:
        raise OAuthError(
            "invalid_request_uri",
            f"the request_uri was pushed by another client, not {client_id!r} (RFC 9126 section 4)",
        )
    if pushed.used:
        raise OAuthError(
            "invalid_request_uri",
            "the request_uri was already used: a pushed request is good for one authorization (RFC 9126 section 4);"
            " push it again",
        )
    if ctx.now() >= pushed.expires_at:
        raise OAuthError(
            "invalid_request_uri",
            f"the request_uri expired (it lives {ctx.config.request_uri_ttl} s, RFC 9126 section 2.2);"
            " push the request again",
        )
    form = {k: v for k, v in params.items() if k in FORM_FIELDS}  # the login page's own, posted back
    return {**pushed.params, **form, "request_uri": uri}


def spend(ctx: Context, params: Mapping[str, str]) -> None:
    """Use up the request_uri in ``params``, if any: the authorization endpoint answered the client with it."""
    uri = params.get("request_uri")
    with ctx.state.lock:
        pushed = ctx.state.pushed_requests.get(uri or "")
        if pushed is not None:
            pushed.used = True


def require_pushed(ctx: Context, client: Client, params: Mapping[str, str]) -> None:
    """RFC 9126 §5 and §6: refuse a request that did not come through the PAR endpoint where it must."""
    if "request_uri" in params:
        return
    where = f"push it to {ctx.url('par')} and send the request_uri it answers"
    if ctx.config.require_pushed_authorization_requests:
        raise OAuthError(
            "invalid_request",
            f"this provider takes only pushed authorization requests: {where} (RFC 9126 section 5)",
        )
    if client.require_pushed_authorization_requests:
        raise OAuthError(
            "invalid_request",
            f"client {client.client_id!r} must push its authorization requests: {where} (RFC 9126 section 6)",
        )
