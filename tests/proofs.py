"""What a client signs for the provider, made with joserfc: DPoP proofs (RFC 9449 §4.2) and request
objects (OIDC Core §6.1, RFC 9101)."""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from mockidp import Client
from mockidp._dpop import access_token_hash

Key = ECKey | RSAKey | OctKey


def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256")


def dpop_proof(
    key: ECKey | RSAKey,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A proof for ``method url``, by ``key``; ``claims`` override (``None`` drops a claim)."""
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    body: dict[str, Any] = {"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": int(time.time())}
    if access_token is not None:
        body["ath"] = access_token_hash(access_token)
    body.update(claims)
    full = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False), **(header or {})}
    return jwt.encode(
        {k: v for k, v in full.items() if v is not None}, {k: v for k, v in body.items() if v is not None}, key
    )


def request_object(client: Client, issuer: str, claims: dict[str, Any] | None = None, *, key: Key | None = None) -> str:
    """A request object of ``client`` for the provider ``issuer``: signed with its secret (HS256) unless
    ``key`` is given; ``claims`` override (``None`` drops a claim)."""
    signing = key if key is not None else OctKey.import_key(client.client_secret or "")
    alg = {ECKey: "ES256", RSAKey: "RS256", OctKey: "HS256"}[type(signing)]
    body: dict[str, Any] = {
        "iss": client.client_id,
        "client_id": client.client_id,
        "aud": issuer,
        "exp": int(time.time()) + 300,
    }
    body.update(claims or {})
    header: dict[str, Any] = {"alg": alg, "typ": "oauth-authz-req+jwt"}
    if key is not None and key.kid is not None:
        header["kid"] = key.kid
    return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, signing)


def with_jwks(client: Client, *keys: ECKey | RSAKey | dict[str, Any]) -> Client:
    """``client`` with its public keys registered as ``jwks`` (RFC 7591 §2), where request objects are verified."""
    jwks = {"keys": [k if isinstance(k, dict) else dict(k.as_dict(private=False)) for k in keys]}
    if "jwks" in {f.name for f in dataclasses.fields(Client)}:
        changes: dict[str, Any] = {"jwks": jwks}
        return dataclasses.replace(client, **changes)
    object.__setattr__(client, "jwks", jwks)  # until Client has the field: the provider reads it as an attribute
    return client
