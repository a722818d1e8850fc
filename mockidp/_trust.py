"""Issuers this provider trusts besides itself: whose JWTs it takes as token exchange subject and actor
tokens (RFC 8693 §2.1) and as JWT bearer authorization grants (RFC 7523 §2.1, §3).

Each issuer comes with its keys: another ``MockIdP`` is read live (its issuer and JWK Set as they are
when a token is checked, so its key rotations and ``serve()`` URL are followed), and a key a test
registers for an issuer name is kept as given. Verification is JWS signature checking (RFC 7515 §5.2)
with the algorithms of RFC 7518 §3; what the claims must say is each grant's to check.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, Key, KeySet, OctKey, OKPKey, RSAKey

from mockidp._errors import ConfigError

#: The signature algorithms a trusted issuer's JWT may use (RFC 7518 §3, RFC 8037, RFC 9864); never ``none``.
ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    "HS256", "HS384", "HS512",
)  # fmt: skip


@dataclass(frozen=True)
class _Source:
    """One trusted issuer: its name and its keys, each read when a token is checked."""

    issuer: Callable[[], str]
    load: Callable[[], list[Key]]


def import_keys(key: Any) -> list[Key]:
    """``key`` as joserfc keys: a joserfc key, a JWK (RFC 7517 §4) or a JWK Set (§5), as a dict or JSON text."""
    if isinstance(key, str):
        try:
            key = json.loads(key)
        except ValueError:
            raise ConfigError("a key given as text must be a JWK or JWK Set in JSON") from None
    if isinstance(key, KeySet):
        return list(key.keys)
    if isinstance(key, Mapping):
        try:
            if "keys" in key:
                return list(KeySet.import_key_set(dict(key)).keys)  # type: ignore[arg-type]
            return [JWKRegistry.import_key(dict(key))]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"the key is not a JWK or JWK Set this provider can use (RFC 7517): {exc}") from None
    if isinstance(key, RSAKey | ECKey | OKPKey | OctKey):
        return [key]
    raise ConfigError(
        f"a trusted key must be a joserfc key, a JWK or a JWK Set (a dict or its JSON), got {type(key).__name__}"
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT before its signature is checked, to learn who claims to have issued it.

    Raises ``ValueError`` saying why ``token`` is not a signed JWT (RFC 7519 §7.2).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"it is not a signed JWT (a JWS in compact form has 3 parts, this has {len(parts)})")
    try:
        decoded = json.loads(jws.extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError) as exc:  # UnicodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"it is not a JWT ({type(exc).__name__})") from None
    if not isinstance(decoded, dict):
        raise ValueError("it is not a JWT: its payload is not a JSON object")
    return decoded


class TrustedIssuers:
    """The issuers one provider trusts, each with the keys its JWTs are checked against."""

    def __init__(self) -> None:
        self._sources: list[_Source] = []
        self._lock = threading.Lock()

    def add_provider(self, issuer: Callable[[], str], jwks: Callable[[], Mapping[str, Any]]) -> None:
        """Trust another provider: ``issuer()`` names it and ``jwks()`` is its JWK Set, read at each check."""
        with self._lock:
            self._sources.append(_Source(issuer, lambda: import_keys(jwks())))

    def add_key(self, issuer: str, key: Any) -> list[str]:
        """Trust JWTs from ``issuer`` signed by ``key`` (a joserfc key, JWK or JWK Set); returns their kids."""
        if not isinstance(issuer, str) or not issuer:
            raise ConfigError(f"a trusted issuer must be a non-empty string, got {issuer!r}")
        keys = import_keys(key)
        with self._lock:
            self._sources.append(_Source(lambda: issuer, lambda: keys))
        return [str(k.kid) for k in keys if k.kid is not None]

    def issuers(self) -> list[str]:
        """The trusted issuers' names as they are now, without repeats, in the order trusted."""
        with self._lock:
            sources = list(self._sources)
        return list(dict.fromkeys(s.issuer() for s in sources))

    def keys_for(self, issuer: str) -> list[Key]:
        """Every key trusted for ``issuer`` (none if it is not trusted)."""
        with self._lock:
            sources = list(self._sources)
        return [key for source in sources if source.issuer() == issuer for key in source.load()]

    def verify(self, token: str, issuer: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The header and claims of ``token`` if a key trusted for ``issuer`` signed it; else ``ValueError``."""
        return verify_with(token, self.keys_for(issuer))


def verify_with(token: str, keys: list[Key]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``token`` if one of ``keys`` signed it, or a ``ValueError`` saying why not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        try:
            decoded = jwt.decode(token, KeySet(keys), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError, TypeError) as exc:
            name = exc.error if isinstance(exc, JoseError) else type(exc).__name__
            raise ValueError(f"its signature does not verify with the issuer's keys ({name})") from None
    return dict(decoded.header), dict(decoded.claims)
