"""Signing keys and the JWK Set (RFC 7517 §5; RFC 7518 §3 and RFC 8037 / RFC 9864 for the algorithms).

Key generation is slow (about 40 ms for RSA-2048), so keys come from a ``KeyPool`` that makes each
key once and hands it to every provider that asks; a test session shares one pool. Each provider
keeps its own ``KeyRing``: the key it signs with now, and older keys that stay published after a
rotation until they are retired.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from typing import Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, KeyParameters, KeySet, OKPKey, RSAKey

from mockidp._config import ALGORITHMS, Algorithm
from mockidp._errors import ConfigError, unknown

SigningKey = RSAKey | ECKey | OKPKey

#: The algorithms joserfc flags as deprecated (RFC 9864 replaces ``EdDSA`` with ``Ed25519``); clients
#: still ask for them, so the provider signs and verifies them without the warning.
_QUIET_ALGORITHMS = frozenset({"EdDSA"})


def _generate(alg: Algorithm) -> SigningKey:
    params: KeyParameters = {"use": "sig", "alg": alg}
    key: SigningKey
    if alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(2048, parameters=params)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters=params)
    else:
        key = OKPKey.generate_key("Ed25519", parameters=params)
    key.ensure_kid()
    return key


class KeyPool:
    """Makes signing keys once and lends them out; safe to share between providers and threads."""

    def __init__(self) -> None:
        self._keys: dict[str, list[SigningKey]] = {}
        self._lock = threading.Lock()

    def take(self, alg: str, *, exclude: Iterable[str] = ()) -> SigningKey:
        """A key for ``alg`` whose ``kid`` is not in ``exclude``, made now only if none is cached."""
        if alg not in ALGORITHMS:
            raise ConfigError(unknown("algorithm", alg, ALGORITHMS))
        taken = set(exclude)
        with self._lock:
            cached = self._keys.setdefault(alg, [])
            for key in cached:
                if key.kid not in taken:
                    return key
            key = _generate(alg)
            cached.append(key)
            return key


class KeyRing:
    """One provider's keys: the current signing key first, then older keys still published."""

    def __init__(self, pool: KeyPool, alg: str) -> None:
        self._pool = pool
        self._keys: list[SigningKey] = [pool.take(alg)]
        #: Every kid this ring has signed with: a retired key never comes back, or its tokens would verify again.
        self._used: set[str] = {str(self._keys[0].kid)}
        self._strangers: dict[str, SigningKey] = {}

    @property
    def current(self) -> SigningKey:
        return self._keys[0]

    @property
    def alg(self) -> str:
        return str(self.current.alg)

    @property
    def kids(self) -> list[str]:
        return [str(k.kid) for k in self._keys]

    def rotate(self, alg: str | None = None) -> str:
        """Sign with a new key from now on (optionally of another algorithm); keep the old ones published."""
        key = self._pool.take(alg or self.alg, exclude=self._used)
        self._used.add(str(key.kid))
        self._keys.insert(0, key)
        return str(key.kid)

    def retire(self, kid: str | None = None) -> list[str]:
        """Stop publishing ``kid``, or every key but the current one; returns the kids retired."""
        if kid is None:
            retired, self._keys = self._keys[1:], self._keys[:1]
            return [str(k.kid) for k in retired]
        if kid == self.current.kid:
            raise ConfigError(f"key {kid!r} is the current signing key; rotate_keys() before retiring it")
        if kid not in self.kids:
            raise ConfigError(f"no published key has kid {kid!r}; published: {', '.join(self.kids)}")
        self._keys = [k for k in self._keys if k.kid != kid]
        return [kid]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5), as served at the ``jwks_uri``."""
        return dict(KeySet(list(self._keys)).as_dict(private=False))

    def algorithms(self) -> list[str]:
        return sorted({str(k.alg) for k in self._keys})

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT", header: dict[str, Any] | None = None) -> str:
        return _sign(self.current, claims, typ=typ, header=header)

    def sign_as_stranger(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        """Sign with a key of the current algorithm that this ring does not publish and never will:
        a token a relying party must refuse (``unknown_kid`` forgeries)."""
        key = self._strangers.get(self.alg)
        if key is None:
            key = self._strangers[self.alg] = self._pool.take(self.alg, exclude=self._used)
            self._used.add(str(key.kid))  # so no later rotation publishes it
        return _sign(key, claims, typ=typ)

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The header and claims of a token signed by one of the published keys.

        Raises ``JoseError`` or ``ValueError`` for anything else; expiry is the caller's to check.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            decoded = jwt.decode(token, KeySet(list(self._keys)), algorithms=self.algorithms())
        return dict(decoded.header), dict(decoded.claims)


def _sign(key: SigningKey, claims: dict[str, Any], *, typ: str, header: dict[str, Any] | None = None) -> str:
    alg = str(key.alg)
    full_header = {"alg": alg, "kid": key.kid, "typ": typ, **(header or {})}
    with warnings.catch_warnings():
        if alg in _QUIET_ALGORITHMS:
            warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(full_header, claims, key, algorithms=[alg])
