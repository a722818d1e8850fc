"""Signing keys and the JWK Set (RFC 7517 §5; RFC 7518 §3 and RFC 8037 / RFC 9864 for the algorithms).

Key generation is slow (about 40 ms for RSA-2048), so keys come from a ``KeyPool`` that makes each
key once and hands it to every provider that asks; a test session shares one pool. Each provider
keeps its own ``KeyRing``: the key it signs with now, a key for each other algorithm its clients
registered for their ID tokens (OIDC Dynamic Client Registration 1.0 §2,
``id_token_signed_response_alg``), and older keys that stay published after a rotation until they
are retired (OIDC Core §10.1).
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
    """One provider's keys: a current key per algorithm in use, then older keys still published.

    The provider signs with ``current`` (of ``alg``). A client that registers
    ``id_token_signed_response_alg`` (OIDC Registration §2) gets ID tokens signed with the current
    key of that algorithm, which ``require`` publishes when the client is registered, before any
    token needs it. The JWK Set lists the current keys (the provider's first, then the other
    algorithms in the order first required), then the older keys, newest first.

    ``rotate`` replaces every current key: the provider's (optionally with another algorithm) and
    one per required algorithm; the replaced keys stay published. ``retire()`` drops every key that
    is not current, so after ``rotate`` and ``retire`` no earlier token verifies, whichever key
    signed it, while every client's next ID token verifies against the JWKS as published. A current
    key cannot be retired by ``kid``: rotate first.
    """

    def __init__(self, pool: KeyPool, alg: str) -> None:
        self._pool = pool
        key = pool.take(alg)
        #: The provider's algorithm and the current key of each algorithm in use, the provider's first:
        #: replaced as a whole (never changed in place), so ``current`` needs no lock, even mid-rotation.
        self._state: tuple[str, dict[str, SigningKey]] = (str(key.alg), {str(key.alg): key})
        #: The algorithms clients registered for their ID tokens, in the order first required.
        self._required: list[str] = []
        #: Keys a rotation replaced, newest first; published until retired.
        self._old: list[SigningKey] = []
        #: Every kid this ring has signed with: a retired key never comes back, or its tokens would verify again.
        self._used: set[str] = {str(key.kid)}
        self._strangers: dict[str, SigningKey] = {}
        self._lock = threading.RLock()

    @property
    def current(self) -> SigningKey:
        """The key the provider signs with: access tokens, and ID tokens of clients that registered no algorithm."""
        alg, current = self._state
        return current[alg]

    @property
    def alg(self) -> str:
        return self._state[0]

    @property
    def kids(self) -> list[str]:
        return [str(k.kid) for k in self._published()]

    def _published(self) -> list[SigningKey]:
        with self._lock:
            return [*self._state[1].values(), *self._old]

    def _take(self, alg: str) -> SigningKey:
        key = self._pool.take(alg, exclude=self._used)
        self._used.add(str(key.kid))
        return key

    def require(self, alg: str) -> SigningKey:
        """Publish a current key for ``alg`` (if there is none yet) that every rotation renews; returns it.

        Called when a client registers ``id_token_signed_response_alg``, so the key is in the JWKS
        before the client's first ID token.
        """
        with self._lock:
            main, current = self._state
            if alg not in current:
                self._state = (main, {**current, alg: self._take(alg)})  # the pool refuses an unknown algorithm
            if alg not in self._required:
                self._required.append(alg)
            return self._state[1][alg]

    def signing_key(self, alg: str | None = None) -> SigningKey:
        """The current key for ``alg``: the provider's own for ``None`` or its algorithm, else the
        ``require``d key of ``alg`` (published now if a client was not registered with the provider)."""
        with self._lock:
            if alg is None or alg == self.alg:
                return self.current
            return self.require(alg)

    def rotate(self, alg: str | None = None) -> str:
        """Sign with new keys from now on: the provider's (optionally of another algorithm) and one per
        required algorithm. The replaced keys stay published; returns the provider's new ``kid``."""
        with self._lock:
            previous_alg, previous = self._state
            main = self._take(alg or previous_alg)
            current = {str(main.alg): main}
            for required in self._required:
                if required not in current:
                    current[required] = self._take(required)
            self._old[:0] = previous.values()
            self._state = (str(main.alg), current)  # one assignment: readers see the old keys or the new
            return str(main.kid)

    def retire(self, kid: str | None = None) -> list[str]:
        """Stop publishing ``kid``, or every key that is not current; returns the kids retired."""
        with self._lock:
            if kid is None:
                retired, self._old = self._old, []
                return [str(k.kid) for k in retired]
            if kid == self.current.kid:
                raise ConfigError(f"key {kid!r} is the current signing key; rotate_keys() before retiring it")
            for alg, key in self._state[1].items():
                if key.kid == kid:
                    raise ConfigError(
                        f"key {kid!r} is the current {alg} key, which signs the ID tokens of clients with"
                        f" id_token_signed_response_alg {alg!r}; rotate_keys() before retiring it"
                    )
            if kid not in self.kids:
                raise ConfigError(f"no published key has kid {kid!r}; published: {', '.join(self.kids)}")
            self._old = [k for k in self._old if k.kid != kid]
            return [kid]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5), as served at the ``jwks_uri``."""
        return dict(KeySet(list(self._published())).as_dict(private=False))

    def algorithms(self) -> list[str]:
        """The algorithms of the published keys, sorted."""
        return sorted({str(k.alg) for k in self._published()})

    def sign(
        self,
        claims: dict[str, Any],
        *,
        typ: str = "JWT",
        header: dict[str, Any] | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """A JWT signed with ``key`` (one of ``signing_key``), by default the provider's current key."""
        return _sign(key or self.current, claims, typ=typ, header=header)

    def sign_as_stranger(self, claims: dict[str, Any], *, typ: str = "JWT", alg: str | None = None) -> str:
        """Sign with a key of ``alg`` (by default the provider's) that this ring does not publish and
        never will: a token a relying party must refuse (``unknown_kid`` forgeries)."""
        alg = alg or self.alg
        with self._lock:
            key = self._strangers.get(alg)
            if key is None:
                key = self._strangers[alg] = self._take(alg)  # in _used, so no later rotation publishes it
        return _sign(key, claims, typ=typ)

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The header and claims of a token signed by one of the published keys, whichever its algorithm.

        Raises ``JoseError`` or ``ValueError`` for anything else; expiry is the caller's to check.
        """
        keys = self._published()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            decoded = jwt.decode(token, KeySet(list(keys)), algorithms=sorted({str(k.alg) for k in keys}))
        return dict(decoded.header), dict(decoded.claims)


def _sign(key: SigningKey, claims: dict[str, Any], *, typ: str, header: dict[str, Any] | None = None) -> str:
    alg = str(key.alg)
    full_header = {"alg": alg, "kid": key.kid, "typ": typ, **(header or {})}
    if alg not in _QUIET_ALGORITHMS:  # catch_warnings swaps the process's filters: only where needed
        return jwt.encode(full_header, claims, key, algorithms=[alg])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(full_header, claims, key, algorithms=[alg])
