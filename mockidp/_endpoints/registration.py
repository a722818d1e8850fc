"""Dynamic client registration: RFC 7591 §3, and the client configuration endpoint of RFC 7592 §2.

A client POSTs its metadata as a JSON object (RFC 7591 §2, OIDC Registration 1.0 §2) to the
``registration_endpoint`` and gets 201 with a new ``client_id``, a ``client_secret`` unless it
authenticates with ``none`` or ``private_key_jwt`` (``client_secret_expires_at`` 0: it never
expires), every metadata value as registered, defaults included (§3.2.1), a
``registration_access_token`` and the ``registration_client_uri`` where, with that token as a
bearer, it reads (GET), replaces (PUT) and deletes (DELETE, 204) its registration (RFC 7592 §2.1-2.3).
Metadata this provider does not act on (``client_name``, ``logo_uri``, ``contacts``, ...) is kept in
``Client.metadata`` and answered back. A registered client works at once in every flow; a deleted
one is unknown at once, and its tokens are revoked.

The metadata are ``Client``'s own fields, read from its dataclass, so a field added there is
registrable as it is; their JSON types come from its annotations, and ``Client`` checks the values,
its ``ConfigError`` becoming ``invalid_client_metadata`` (§3.2.2). On top, as OIDC Registration §2
asks: ``response_types`` (``code`` only) agree with ``grant_types``, the grant types are ones this
provider offers, and a client of the code flow registers a redirect URI. Redirect URIs are absolute,
without a fragment and without the ``*`` prefix match (that is for clients configured in
``ProviderConfig``); a bad one is ``invalid_redirect_uri``. The defaults are RFC 7591 §2's, not the
test-friendly ones of ``Client``: no redirect URIs, ``authorization_code``, ``client_secret_basic``.

Clients configured in ``ProviderConfig`` or added with ``MockIdP.add_client`` have no registration
access token: the client configuration endpoint answers 401 for them, as for an unknown client.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin
from urllib.parse import quote

from starlette.responses import Response

from mockidp import _grants
from mockidp._client_auth import SECRET_PARAMS
from mockidp._config import SECRET_METHODS, Client, redirect_uri_problem
from mockidp._errors import ConfigError, OAuthError, invalid_token, missing_token
from mockidp._exchange import NO_STORE, Exchange, json_response
from mockidp._params import not_a_form, read_body_text
from mockidp._state import Registered, new_id

if TYPE_CHECKING:
    from mockidp._context import Context

JSON_TYPE = "application/json"
#: Given by this provider, not registered (RFC 7591 §3.2.1).
ASSIGNED = ("client_id", "client_secret")
#: Parts of the answer, not metadata: a request must not send them (RFC 7592 §2.2).
ANSWER_ONLY = (
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
)
#: RFC 7591 §2's defaults, where ``Client``'s (made for tests: wildcard redirect URIs, every grant) differ.
DEFAULTS: dict[str, Any] = {
    "redirect_uris": (),
    "post_logout_redirect_uris": (),
    "grant_types": ("authorization_code",),
    "token_endpoint_auth_method": "client_secret_basic",
}
#: Metadata whose bad values are ``invalid_redirect_uri`` rather than ``invalid_client_metadata``.
REDIRECT_FIELDS = ("redirect_uris", "post_logout_redirect_uris")
RESPONSE_TYPES = ("code",)


@dataclass(frozen=True, kw_only=True)
class Registration:
    """A client as dynamic registration registered it (RFC 7591 §3.2.1), and what manages it (RFC 7592 §1).

    ``response()`` is the JSON the registration endpoint answers; the client configuration endpoint
    (``registration_client_uri``) takes ``registration_access_token`` as a bearer token.
    """

    client: Client
    registration_access_token: str
    registration_client_uri: str
    client_id_issued_at: int

    def response(self) -> dict[str, Any]:
        """RFC 7591 §3.2.1 (and RFC 7592 §3): the client's id, secret and every metadata value it has."""
        client = self.client
        body: dict[str, Any] = {"client_id": client.client_id}
        if client.client_secret is not None:
            body.update(client_secret=client.client_secret, client_secret_expires_at=0)
        body["client_id_issued_at"] = self.client_id_issued_at
        values = client.to_dict()
        for name in registrable():
            if values[name] is not None:
                body[name] = " ".join(values[name]) if name == "scope" else values[name]
        body.update(values["metadata"])
        body.update(
            registration_access_token=self.registration_access_token,
            registration_client_uri=self.registration_client_uri,
        )
        return body


@functools.cache
def registrable() -> dict[str, Any]:
    """The metadata a client may register: ``Client``'s fields but those the provider assigns, with their types."""
    hints = typing.get_type_hints(Client)
    names = [f.name for f in dataclasses.fields(Client) if f.init and f.name not in (*ASSIGNED, "metadata")]
    return {name: hints[name] for name in names}


def _json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _problem(name: str, annotation: Any, value: Any) -> str | None:
    """What is wrong with the JSON ``value`` of the field ``name`` typed ``annotation``, or None."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (types.UnionType, typing.Union):  # X | None: a null was left out already
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) > 1:  # a union of several types: Client checks it
            return None
        annotation = kinds[0]
        origin, args = get_origin(annotation), get_args(annotation)
    expected = None
    if annotation is bool and not isinstance(value, bool):
        expected = "true or false"
    elif annotation is str and not isinstance(value, str):
        expected = "a string"
    elif annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        expected = "a number"
    elif origin is Mapping and not isinstance(value, Mapping):
        expected = "a JSON object"
    elif origin is Literal and value not in args:
        return f"{name} {_json(value)} is not supported; this provider supports {', '.join(args)}"
    elif origin is tuple:
        if not isinstance(value, list | tuple):
            expected = "an array"
        else:
            found = (_problem(name, args[0], item) for item in value)
            return next((p for p in found if p is not None), None)
    return None if expected is None else f"{name} must be {expected}, got {_json(value)}"


def _refuse(name: str, description: str) -> OAuthError:
    code: Literal["invalid_redirect_uri", "invalid_client_metadata"] = (
        "invalid_redirect_uri" if name in REDIRECT_FIELDS else "invalid_client_metadata"
    )
    return OAuthError(code, description)


def build_client(ctx: Context, metadata: Mapping[str, Any], *, client_id: str, secret: str | None) -> Client:
    """The client ``metadata`` registers, or ``invalid_client_metadata`` / ``invalid_redirect_uri`` saying why.

    ``secret`` is the client's current secret, kept if its method still takes one (RFC 7592 §2.2).
    """
    values = {k: v for k, v in metadata.items() if v is not None}  # a null value is an omitted one
    for name in (*ASSIGNED, *ANSWER_ONLY):
        if name in values:
            raise OAuthError(
                "invalid_client_metadata",
                f"{name} is this provider's answer, not client metadata: leave it out of the request"
                " (RFC 7591 section 3.2.1, RFC 7592 section 2.2)",
            )
    fields = registrable()
    known = {k: v for k, v in values.items() if k in fields}
    extra = {k: v for k, v in values.items() if k not in fields}
    if "scope" in known:  # RFC 7591 section 2: one string of space-separated scopes
        if not isinstance(known["scope"], str):
            raise OAuthError(
                "invalid_client_metadata",
                f"scope must be a string of space-separated scopes (RFC 7591 section 2), got {_json(known['scope'])}",
            )
        known["scope"] = tuple(known["scope"].split())
    for name, value in known.items():
        if (problem := _problem(name, fields[name], value)) is not None:
            raise _refuse(name, f"{problem} (RFC 7591 section 2)")
    known = {**DEFAULTS, **known}
    grants = list(known["grant_types"])
    offered = _grants.offered(ctx.config)
    for grant in grants:
        if grant not in offered:
            raise OAuthError(
                "invalid_client_metadata",
                f"grant_types {_json(grant)} is not offered by this provider; it offers {', '.join(offered)}"
                " (grant_types_supported)",
            )
    extra["response_types"] = _response_types(extra.get("response_types"), grants)
    _check_redirect_uris(known, grants)
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise OAuthError("invalid_client_metadata", f"client metadata must be JSON values: {exc}") from None
    method = known["token_endpoint_auth_method"]
    secret = (secret or new_id(32)) if method in SECRET_METHODS else None
    try:
        return Client.from_dict({**known, "client_id": client_id, "client_secret": secret, "metadata": extra})
    except ConfigError as exc:
        raise OAuthError("invalid_client_metadata", str(exc).replace(f"client {client_id!r}", "the client")) from None


def _response_types(value: Any, grants: list[str]) -> list[str]:
    """OIDC Registration §2: ``response_types`` (default: ``code`` for a client of the code flow) and
    ``grant_types`` agree: ``code`` goes with ``authorization_code`` and the other way round."""
    code_flow = "authorization_code" in grants
    if value is None:
        return ["code"] if code_flow else []
    if not isinstance(value, list | tuple):
        raise OAuthError("invalid_client_metadata", f"response_types must be an array, got {_json(value)}")
    for item in value:
        if item not in RESPONSE_TYPES:
            raise OAuthError(
                "invalid_client_metadata",
                f"response_types {_json(item)} is not supported; this provider supports code"
                " (response_types_supported)",
            )
    if ("code" in value) != code_flow:
        raise OAuthError(
            "invalid_client_metadata",
            "response_types code goes with grant_types authorization_code, each needs the other"
            f" (OIDC Registration 1.0 section 2); got response_types {_json(list(value))} and grant_types"
            f" {_json(grants)}",
        )
    return list(value)


def _check_redirect_uris(known: Mapping[str, Any], grants: list[str]) -> None:
    for name in REDIRECT_FIELDS:
        for uri in known[name]:
            if uri.endswith("*"):
                raise OAuthError(
                    "invalid_redirect_uri",
                    f"{name} {_json(uri)}: a registered redirect URI is matched exactly, so it cannot end in *"
                    " (OIDC Registration 1.0 section 2); a prefix match is for clients configured in ProviderConfig",
                )
            if (problem := redirect_uri_problem(uri)) is not None:
                raise OAuthError("invalid_redirect_uri", f"{name} {_json(uri)} {problem}")
    if "authorization_code" in grants and not known["redirect_uris"]:
        raise OAuthError(
            "invalid_redirect_uri",
            "redirect_uris is required with grant_types authorization_code: register at least one redirect URI"
            " (OIDC Registration 1.0 section 2)",
        )


def client_uri(ctx: Context, client_id: str) -> str:
    """The client's ``registration_client_uri``: its client configuration endpoint (RFC 7592 §2)."""
    return ctx.url("client_configuration").replace("{client_id}", quote(client_id, safe=""))


def registration(ctx: Context, client: Client) -> Registration:
    registered = ctx.registrations.get(client.client_id)
    if registered is None:  # deleted by another request meanwhile
        raise invalid_token(f"no registered client {client.client_id!r}: it was deleted")
    return Registration(
        client=client,
        registration_access_token=registered.access_token,
        registration_client_uri=client_uri(ctx, client.client_id),
        client_id_issued_at=registered.issued_at,
    )


def register(ctx: Context, metadata: Mapping[str, Any]) -> Registration:
    """Register a client as RFC 7591 §3.1 asks; past ``ProviderConfig.state_limit`` registrations, the oldest goes."""
    client = ctx.add_client(build_client(ctx, metadata, client_id=new_id(16), secret=None))
    with ctx.lock:
        ctx.registrations[client.client_id] = Registered(access_token=new_id(32), issued_at=int(ctx.now()))
        answer = registration(ctx, client)
        limit = ctx.config.state_limit
        oldest = next(iter(ctx.registrations)) if limit is not None and len(ctx.registrations) > limit else None
    if oldest is not None:
        ctx.remove_client(oldest)
    return answer


async def _read_metadata(ex: Exchange) -> dict[str, Any]:
    """The request's JSON object of client metadata (RFC 7591 §3.1), logged without secrets."""
    if ex.request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON_TYPE:
        raise not_a_form(ex.request, f"the body must be {JSON_TYPE} (RFC 7591 section 3.1)")
    text = await read_body_text(ex.request)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise OAuthError("invalid_request", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OAuthError(
            "invalid_client_metadata",
            f"the body must be a JSON object of client metadata (RFC 7591 section 3.1), got {_json(data)[:80]}",
        )
    ex.record.params = {k: v if isinstance(v, str) else _json(v) for k, v in data.items() if k not in SECRET_PARAMS}
    scope = data.get("scope")
    ex.record.scopes = tuple(scope.split()) if isinstance(scope, str) else ()
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


async def register_endpoint(ex: Exchange) -> Response:
    """RFC 7591 §3.1: POST a JSON object of metadata, get 201 and the registered client."""
    metadata = await _read_metadata(ex)
    await ex.checkpoint()
    answer = register(ex.ctx, metadata)
    ex.record.client_id = answer.client.client_id
    return json_response(answer.response(), status=201)


def _authorize(ex: Exchange, client_id: str) -> Client:
    """RFC 7592 §2.1: the registered client the bearer registration access token manages, or 401 ``invalid_token``."""
    ctx = ex.ctx
    header = ex.request.headers.get("authorization")
    if header is None:
        raise missing_token(
            "no registration access token: send 'Authorization: Bearer <registration_access_token>' with the token"
            " the registration response gave (RFC 7592 section 3)"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token(
            "the Authorization header must be 'Bearer <registration_access_token>' (RFC 7592 section 3)"
        )
    with ctx.lock:
        client, registered = ctx.clients.get(client_id), ctx.registrations.get(client_id)
    if client is not None and registered is None:
        raise invalid_token(
            f"client {client_id!r} was configured, not registered: it has no registration access token and cannot be"
            " managed over HTTP (RFC 7592 section 1)"
        )
    if client is None or registered is None:
        raise invalid_token(f"no registered client {client_id!r}: it was never registered, or was deleted")
    if not hmac.compare_digest(token.strip().encode(), registered.access_token.encode()):
        raise invalid_token(f"the registration access token is not the one issued to client {client_id!r}")
    return client


def _same_secret(sent: Any, current: str | None) -> bool:
    """Whether ``sent`` is the client's ``current`` secret, compared in constant time."""
    if not isinstance(sent, str) or current is None:
        return False
    # surrogatepass: JSON may carry a lone surrogate ("\ud800"), which is simply not the secret
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), current.encode("utf-8", "surrogatepass"))


async def configure(ex: Exchange) -> Response:
    """RFC 7592 §2: read (GET), replace (PUT) or delete (DELETE) a registration."""
    ctx = ex.ctx
    client_id = ex.request.path_params["client_id"]
    ex.record.client_id = client_id
    client = _authorize(ex, client_id)
    await ex.checkpoint()
    if ex.request.method == "DELETE":
        ctx.remove_client(client_id)
        return Response(status_code=204, headers=NO_STORE)
    if ex.request.method == "PUT":
        metadata = await _read_metadata(ex)
        sent_id, sent_secret = metadata.pop("client_id", None), metadata.pop("client_secret", None)
        if sent_id != client_id:
            raise OAuthError(
                "invalid_client_metadata",
                f"client_id must be sent and be {client_id!r}, the client at this URI (RFC 7592 section 2.2);"
                f" got {_json(sent_id)}",
            )
        if sent_secret is not None and not _same_secret(sent_secret, client.client_secret):
            raise OAuthError(
                "invalid_client_metadata",
                "client_secret, when sent, must be the client's current secret (RFC 7592 section 2.2)",
            )
        client = build_client(ctx, metadata, client_id=client_id, secret=client.client_secret)
        if not ctx.replace_client(client):
            raise invalid_token(f"client {client_id!r} was deleted while it was being updated")
    return json_response(registration(ctx, client).response())
