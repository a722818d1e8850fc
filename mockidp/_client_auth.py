"""Client authentication at the token, introspection and revocation endpoints.

RFC 6749 §2.3.1 (``client_secret_basic``: HTTP Basic with form-urlencoded id and secret, and
``client_secret_post``), OIDC Core §9 (``none`` for public clients). A client may use only one
method per request. Confidential clients may use either secret method, as most providers allow.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from mockidp._config import Client
from mockidp._errors import OAuthError, invalid_client


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("the Basic credentials are not valid base64 of UTF-8 text") from None
    if ":" not in decoded:
        raise invalid_client("the Basic credentials must be client_id:client_secret (RFC 6749 §2.3.1)")
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    clients: Mapping[str, Client], params: Mapping[str, str], authorization: str | None
) -> tuple[Client, str]:
    """The authenticated client and the method it used, or an ``invalid_client`` / ``invalid_request``."""
    basic = _basic_credentials(authorization) if authorization else None
    if basic is not None and "client_secret" in params:
        raise OAuthError("invalid_request", "the client authenticated twice (Basic and client_secret); use one method")
    if basic is not None:
        client_id, secret = basic
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
    if client is None:
        known = ", ".join(sorted(clients)) or "none"
        raise invalid_client(f"unknown client {client_id!r}; registered clients: {known}")
    if client.is_public:
        if method != "none":
            raise invalid_client(f"client {client_id!r} is public and must not send a secret")
        return client, method
    if method == "none":
        raise invalid_client(f"client {client_id!r} is confidential: authenticate with its secret")
    expected = client.client_secret or ""
    if not hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8")):
        raise invalid_client(f"wrong client_secret for client {client_id!r}")
    return client, method
