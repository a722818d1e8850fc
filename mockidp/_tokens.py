"""Minting tokens: ID tokens (OIDC Core §2, §3.1.3.6 ``at_hash``; signed with the client's
``id_token_signed_response_alg``, OIDC Dynamic Client Registration 1.0 §2), JWT access tokens
(RFC 9068), opaque rotating refresh tokens (RFC 6749 §6), and claims released by scope (OIDC Core §5.4).
Access tokens issued under ``TokenMinter.bound_to`` are DPoP-bound (RFC 9449 §6: ``cnf.jkt``, type ``DPoP``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError

from mockidp._clock import Clock
from mockidp._config import ProviderConfig, User
from mockidp._errors import invalid_token
from mockidp._keys import KeyRing
from mockidp._state import AccessToken, Grant, ProviderState, RefreshToken, new_id

#: OIDC Core §5.4: the standard claims each scope releases.
SCOPE_CLAIMS: Mapping[str, frozenset[str]] = {
    "profile": frozenset(
        {
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        }
    ),
    "email": frozenset({"email", "email_verified"}),
    "address": frozenset({"address"}),
    "phone": frozenset({"phone_number", "phone_number_verified"}),
}
STANDARD_CLAIMS = frozenset().union(*SCOPE_CLAIMS.values())
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS, "offline_access")

#: OIDC Core §2: the claims an ID token carries besides the user's (``sid``: Front-Channel Logout §3).
ID_TOKEN_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "acr", "amr"}
)

#: Claims the provider sets itself in an ID token or an access token (RFC 9068 §2.2); a caller's
#: extra claims may not name them, as they would be silently replaced or contradict the token.
PROTECTED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "typ", "scope", "auth_time", "at_hash", "sid"}
)


def claims_for_scopes(user: User, scopes: Iterable[str], asked: Iterable[str] = ()) -> dict[str, Any]:
    """The user's claims that ``scopes`` allow (standard ones by scope, non-standard ones always), and those
    ``asked`` for by name (the ``claims`` parameter, OIDC Core §5.5)."""
    allowed = set(asked).union(*(SCOPE_CLAIMS.get(s, frozenset()) for s in scopes))
    return {k: v for k, v in user.claims.items() if k in allowed or k not in STANDARD_CLAIMS}


def token_digest(token: str) -> bytes:
    """What the provider keeps of an issued token to know it again, byte for byte."""
    return hashlib.sha256(token.encode("ascii")).digest()


def half_hash(value: str, alg: str) -> str:
    """``at_hash``: the left half of the token's hash, with the hash of the signing algorithm (Core §3.1.3.6)."""
    digest = hashlib.sha512 if alg in ("EdDSA", "Ed25519") else hashlib.sha256
    raw = digest(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returns (RFC 6749 §5.1), also handed out by ``MockIdP.issue_tokens``."""

    access_token: str
    expires_in: int
    scope: str
    id_token: str | None = None
    refresh_token: str | None = None
    token_type: str = "Bearer"
    #: RFC 8693 §2.2.1: what a token exchange issued (its ``access_token`` may be an ID token or a JWT).
    issued_token_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.issued_token_type is not None:
            body["issued_token_type"] = self.issued_token_type
        return body


def _context_claims(grant: Grant) -> dict[str, Any]:
    """OIDC Core §2 (RFC 9068 §2.2.3.1 for access tokens): the login's ``acr`` and ``amr``; a user's own
    claims of those names, or a test's extra claims, win over them."""
    claims: dict[str, Any] = {}
    if grant.acr is not None:
        claims["acr"] = grant.acr
    if grant.amr:
        claims["amr"] = list(grant.amr)
    return claims


class TokenMinter:
    """Signs tokens for one provider and records them in its state."""

    def __init__(
        self,
        config: ProviderConfig,
        keys: KeyRing,
        state: ProviderState,
        clock: Clock,
    ) -> None:
        self.config = config
        self.keys = keys
        self.state = state
        self.clock = clock
        #: The DPoP key (its thumbprint) tokens issued now in this thread are bound to (``bound_to``).
        self._binding = threading.local()

    @contextmanager
    def bound_to(self, jkt: str | None) -> Iterator[None]:
        """Bind the tokens this thread issues in the block to the DPoP key ``jkt`` (RFC 9449 §5); ``None``: none."""
        previous = getattr(self._binding, "jkt", None)
        self._binding.jkt = jkt
        try:
            yield
        finally:
            self._binding.jkt = previous

    def now(self) -> int:
        return int(self.clock())

    def issue(
        self,
        grant: Grant,
        *,
        id_token: bool,
        refresh_token: bool,
        expires_in: int | None = None,
    ) -> TokenSet:
        now = self.now()
        lifetime = expires_in if expires_in is not None else self.config.access_token_ttl
        jkt: str | None = getattr(self._binding, "jkt", None)
        if jkt is not None and grant.client.is_public and grant.jkt is None:
            grant.jkt = jkt  # RFC 9449 §5: a public client's refresh tokens are bound to the key too
        access = self._access_token(grant, now, lifetime, jkt)
        refresh = None
        if refresh_token:
            refresh = new_id(32)
            with self.state.lock:
                self.state.refresh_tokens[refresh] = RefreshToken(
                    value=refresh, grant=grant, expires_at=now + self.config.refresh_token_ttl
                )
                grant.refresh_tokens.append(refresh)
        return TokenSet(
            access_token=access,
            expires_in=lifetime,
            scope=" ".join(grant.scopes),
            id_token=self.id_token(grant, now, access_token=access) if id_token else None,
            refresh_token=refresh,
            token_type="Bearer" if jkt is None else "DPoP",
        )

    def _access_token(self, grant: Grant, now: int, lifetime: int, jkt: str | None = None) -> str:
        """RFC 9068 §2.2: ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``, ``iat``, ``jti``, ``scope``."""
        jti = new_id(16)
        audience = list(grant.audience) or [self.config.access_token_audience or grant.client.client_id]
        claims: dict[str, Any] = _context_claims(grant)
        if grant.user is not None:
            claims.update(claims_for_scopes(grant.user, grant.scopes))
        claims.update(grant.extra_claims)
        claims.update(
            {
                "iss": self.state.issuer,
                "sub": grant.user.sub if grant.user is not None else grant.client.client_id,
                "aud": audience[0] if len(audience) == 1 else audience,
                "exp": now + lifetime,
                "iat": now,
                "nbf": now,
                "jti": jti,
                "client_id": grant.client.client_id,
                "scope": " ".join(grant.scopes),
            }
        )
        if grant.auth_time is not None:
            claims["auth_time"] = grant.auth_time
        if grant.session_id is not None:
            claims["sid"] = grant.session_id
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        token = self.keys.sign(claims, typ="at+jwt")
        record = AccessToken(jti=jti, grant=grant, expires_at=now + lifetime, digest=token_digest(token))
        with self.state.lock:
            self.state.access_tokens[jti] = record
            grant.access_jtis.append(jti)
        return token

    def id_token(self, grant: Grant, now: int, *, access_token: str | None = None) -> str:
        """OIDC Core §2: the ID token, with the user's claims that the granted scopes allow."""
        if grant.user is None:
            raise ValueError("an ID token needs a user; this grant has none")
        claims: dict[str, Any] = _context_claims(grant)
        claims.update(claims_for_scopes(grant.user, grant.scopes, grant.id_token_claims))
        claims.update(grant.extra_claims)
        claims.update(
            {
                "iss": self.state.issuer,
                "sub": grant.user.sub,
                "aud": grant.client.client_id,
                "azp": grant.client.client_id,
                "exp": now + self.config.id_token_ttl,
                "iat": now,
            }
        )
        if grant.auth_time is not None:
            claims["auth_time"] = grant.auth_time
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if grant.session_id is not None:
            claims["sid"] = grant.session_id
        # OIDC Registration §2: the client's id_token_signed_response_alg, else the provider's key.
        key = self.keys.signing_key(grant.client.id_token_signed_response_alg)
        if access_token is not None:
            claims["at_hash"] = half_hash(access_token, str(key.alg))
        return self.keys.sign(claims, key=key)

    def check_access_token(self, token: str) -> tuple[AccessToken, dict[str, Any]]:
        """The record and claims of a live access token this provider issued, or ``invalid_token``."""
        try:
            header, claims = self.keys.verify(token)
        except (JoseError, ValueError, TypeError) as exc:
            raise invalid_token(f"the token is not a JWT signed by this provider ({exc})") from None
        if header.get("typ") != "at+jwt":
            raise invalid_token("the token is not an access token (typ is not at+jwt, RFC 9068 section 2.1)")
        with self.state.lock:
            record = self.state.access_tokens.get(str(claims.get("jti")))
        if record is None:
            raise invalid_token("the access token was not issued by this provider instance")
        if record.revoked:
            raise invalid_token("the access token was revoked")
        now = self.now()
        # The claims are checked too: a token re-signed with other times (a forgery) must not pass.
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int):
            raise invalid_token("the access token has no whole-number exp (RFC 9068 section 2.2)")
        if not isinstance(nbf, int):
            raise invalid_token("the access token's nbf is not a whole number (RFC 7519 section 4.1.5)")
        if now >= min(record.expires_at, exp):
            raise invalid_token("the access token expired")
        if now < nbf:
            raise invalid_token("the access token is not valid yet (nbf)")
        if not hmac.compare_digest(record.digest, token_digest(token)):
            raise invalid_token("the access token was altered: its jti belongs to another token this provider issued")
        return record, claims

    def check_refresh_token(self, value: str) -> RefreshToken | None:
        """A live refresh token, or ``None``."""
        with self.state.lock:
            record = self.state.refresh_tokens.get(value)
        if record is None or record.revoked or self.now() >= record.expires_at:
            return None
        return record
