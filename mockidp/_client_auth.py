"""Client authentication at the token, introspection, revocation, PAR and device authorization endpoints.

RFC 6749 §2.3.1 (``client_secret_basic``: HTTP Basic with form-urlencoded id and secret, and
``client_secret_post``), OIDC Core §9 (``none`` for public clients; ``client_secret_jwt`` and
``private_key_jwt``, RFC 7523 §2.2, in ``mockidp._client_assertion``). A client may use only one
method per request (RFC 6749 §2.3). A client that registered a ``token_endpoint_auth_method`` must use
it (OIDC Registration §2); one that registered none may use any its credentials allow, as most
providers' default clients do. A public client that sends Basic credentials with an empty password (as
requests-oauthlib does by default) only identifies itself: that counts as ``none``.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from mockidp import _client_assertion as assertions
from mockidp._config import AuthMethod, Client
from mockidp._errors import OAuthError, invalid_client
from mockidp._exchange import Exchange
from mockidp._params import read_form

_ENCODE_HINT = "form-urlencode the id and secret before base64 in Basic credentials (RFC 6749 section 2.3.1)"


@dataclass(frozen=True)
class _Basic:
    client_id: str
    secret: str
    raw_id: str  # before form-urldecoding, to explain a client that forgot to encode
    raw_secret: str


def _basic_credentials(header: str) -> _Basic | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, non-ASCII input and UnicodeDecodeError are all ValueErrors
        raise invalid_client("the Basic credentials are not valid base64 of UTF-8 text") from None
    if ":" not in decoded:
        raise invalid_client("the Basic credentials must be client_id:client_secret (RFC 6749 section 2.3.1)")
    client_id, _, secret = decoded.partition(":")
    return _Basic(unquote_plus(client_id), unquote_plus(secret), client_id, secret)


def authenticate_client(
    clients: Mapping[str, Client], params: Mapping[str, str], authorization: str | None
) -> tuple[Client, AuthMethod]:
    """The client authenticated with a secret or none, and the method it used, or an ``invalid_client`` /
    ``invalid_request``."""
    basic = _basic_credentials(authorization) if authorization else None
    method: AuthMethod
    if basic is not None and "client_secret" in params:
        raise OAuthError("invalid_request", "the client authenticated twice (Basic and client_secret); use one method")
    if basic is not None:
        client_id, secret = basic.client_id, basic.secret
        if "client_id" in params and params["client_id"] != client_id:
            raise OAuthError("invalid_request", "client_id in the body differs from the Basic credentials")
        method = "client_secret_basic"
    elif "client_secret" in params:
        client_id, secret = params.get("client_id", ""), params["client_secret"]
        method = "client_secret_post"
        if not client_id:
            raise invalid_client("client_secret was sent without a client_id")
    elif "client_id" in params:
        client_id, secret, method = params["client_id"], "", "none"
    else:
        raise invalid_client("no client authentication: send Basic credentials, client_secret or client_id")

    client = clients.get(client_id)
    if client is None and basic is not None and basic.raw_id in clients:
        raise invalid_client(f"unknown client {client_id!r}: {_ENCODE_HINT}")
    if client is None:
        known = ", ".join(sorted(clients)) or "none"
        raise invalid_client(f"unknown client {client_id!r}; registered clients: {known}")
    if client.is_public:
        if method == "client_secret_basic" and secret == "":
            return client, "none"
        if method != "none":
            raise invalid_client(f"client {client_id!r} is public and must not send a secret")
        return client, method
    if client.client_secret is None:  # private_key_jwt: it holds keys, not a secret
        raise invalid_client(
            f"client {client_id!r} authenticates with private_key_jwt: send a client_assertion signed with a key"
            " of its jwks (RFC 7523 section 2.2)"
        )
    if method == "none":
        raise invalid_client(f"client {client_id!r} is confidential: authenticate with its secret")
    expected = (client.client_secret or "").encode("utf-8")
    if not hmac.compare_digest(secret.encode("utf-8"), expected):
        if basic is not None and hmac.compare_digest(basic.raw_secret.encode("utf-8"), expected):
            raise invalid_client(f"wrong client_secret for client {client_id!r}: {_ENCODE_HINT}")
        raise invalid_client(f"wrong client_secret for client {client_id!r}")
    return client, method


#: Parameters the request log leaves out: a client's secret and a user's password.
SECRET_PARAMS = frozenset({"client_secret", "password"})

#: How each method is used, for the error a client gets when it used another than it registered.
_HOW: dict[AuthMethod, str] = {
    "client_secret_basic": "HTTP Basic credentials with its id and secret",
    "client_secret_post": "client_id and client_secret in the form",
    "client_secret_jwt": "a client_assertion signed with its secret (HS256)",
    "private_key_jwt": "a client_assertion signed with a key of its jwks",
    "none": "its client_id alone, with no secret",
}


def enforce(client: Client, method: AuthMethod) -> None:
    """OIDC Registration §2: a client that registered a ``token_endpoint_auth_method`` authenticates with it."""
    registered = client.token_endpoint_auth_method
    if registered is not None and method != registered:
        raise invalid_client(
            f"client {client.client_id!r} registered token_endpoint_auth_method {registered!r}, so it must send"
            f" {_HOW[registered]}; it used {method!r}"
        )


async def authenticated_form(ex: Exchange, endpoint: str, spec: str) -> tuple[Client, dict[str, str]]:
    """The form of a back-channel POST (token, introspection, revocation) and the client that sent it.

    ``endpoint`` and ``spec`` name the endpoint and its spec section for the error a non-POST gets. The request
    log gets the parameters (without secrets), the grant type, and the client as soon as it is known.
    """
    if ex.request.method != "POST":
        raise OAuthError("invalid_request", f"the {endpoint} takes POST only ({spec})")
    params = await read_form(ex.request, required=True)
    ex.params.update(params)
    ex.record.params = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
    ex.record.grant_type = params.get("grant_type")
    ex.record.client_id = params.get("client_id")
    authorization = ex.request.headers.get("authorization")
    if assertions.is_assertion(params):
        client, method = await assertions.authenticate(ex, params, authorization)
    else:
        client, method = authenticate_client(ex.ctx.clients, params, authorization)
    enforce(client, method)
    ex.record.client_id, ex.record.client_auth_method = client.client_id, method
    return client, params
