"""Checking bearer access tokens against the issuer's published keys (RFC 6750, RFC 9068, RFC 8725).

The keys come from the issuer's discovery document (OIDC Discovery 1.0 §4) and its ``jwks_uri``,
fetched with httpx2 and cached; a token signed with a key not in the cache refetches them, at most
once per ``REFRESH_INTERVAL`` seconds, so a key rotation is picked up and a flood of made-up key
ids is not. Only asymmetric algorithms are accepted (``none`` and HMAC never: RFC 8725 §2.1, §3.1).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx2
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
REFRESH_INTERVAL = 30.0


class InvalidToken(Exception):
    """The token is not one this API accepts; ``description`` says why, for the WWW-Authenticate header."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class IssuerUnavailable(Exception):
    """The issuer's discovery document or keys could not be fetched."""


def _describe(exc: JoseError) -> str:
    if isinstance(exc, ExpiredTokenError):
        return "The token has expired."
    if isinstance(exc, MissingClaimError):
        return f"The token has no {exc.claim} claim."
    if isinstance(exc, ClaimError):
        if exc.claim in ("nbf", "iat"):
            return "The token is not valid yet."
        return f"The token's {exc.claim} claim is not accepted."
    if isinstance(exc, BadSignatureError):
        return "The token's signature does not verify."
    return "The token could not be verified."


class BearerVerifier:
    """Verifies access tokens of one issuer, for one audience: signature, ``typ``, iss, aud, exp, nbf, sub."""

    def __init__(self, issuer: str, audience: str, *, leeway: int = 0) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway = leeway
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    async def _fetch_keys(self) -> KeySet:
        try:
            async with httpx2.AsyncClient(timeout=10.0) as client:
                discovery = await client.get(self.issuer + "/.well-known/openid-configuration")
                discovery.raise_for_status()
                metadata: Mapping[str, Any] = discovery.json()
                if metadata.get("issuer") != self.issuer:  # OIDC Discovery §4.3
                    raise IssuerUnavailable(f"the discovery document names the issuer {metadata.get('issuer')!r}")
                answer = await client.get(str(metadata["jwks_uri"]))
                answer.raise_for_status()
                keys = KeySet.import_key_set(answer.json())
        except (httpx2.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            raise IssuerUnavailable(f"cannot fetch the keys of {self.issuer}: {exc}") from exc
        self._keys, self._fetched_at = keys, time.time()
        return keys

    async def _key_set(self, kid: str | None) -> KeySet:
        keys = self._keys if self._keys is not None else await self._fetch_keys()
        known = {key.kid for key in keys}
        if kid not in known and time.time() - self._fetched_at >= REFRESH_INTERVAL:
            keys = await self._fetch_keys()  # the issuer may have rotated its keys
            known = {key.kid for key in keys}
        if kid not in known:
            raise InvalidToken("The token is signed by a key the issuer does not publish.")
        return keys

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, if it is a valid access token for this audience; else ``InvalidToken``."""
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise InvalidToken("The token is not a JWT.") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"The token's algorithm {alg!r} is not accepted.")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:  # RFC 9068 §4
            raise InvalidToken("The token is not an access token (typ must be at+jwt).")
        kid = header.get("kid")
        keys = await self._key_set(kid if isinstance(kid, str) else None)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            decoded = jwt.decode(token, keys, algorithms=[alg])
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise InvalidToken(_describe(exc)) from None
        return dict(decoded.claims)
