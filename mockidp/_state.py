"""What one provider remembers between requests: codes, grants, tokens and IdP sessions.

Everything lives on the provider object, none of it in module globals, so two providers in one
process (two tenants, two tests) never see each other's state. Codes follow RFC 6749 §4.1.2
(short-lived, single use; a reused code revokes what it issued, §10.5); refresh tokens rotate
(RFC 9700 §4.14.2).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from mockidp._config import Client, User


def new_id(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(kw_only=True)
class Grant:
    """One authorization: who (if anyone) allowed which client what, and every token it produced."""

    client: Client
    user: User | None
    scopes: tuple[str, ...]
    auth_time: int | None = None
    nonce: str | None = None
    audience: tuple[str, ...] = ()
    extra_claims: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    access_jtis: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class AuthorizationCode:
    grant: Grant
    redirect_uri: str
    redirect_uri_sent: bool
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False


@dataclass(kw_only=True)
class AccessToken:
    jti: str
    grant: Grant
    expires_at: int
    digest: bytes
    revoked: bool = False


@dataclass(kw_only=True)
class RefreshToken:
    value: str
    grant: Grant
    expires_at: float
    revoked: bool = False


@dataclass(kw_only=True)
class Session:
    """An IdP login session: the browser's cookie names it (OIDC Core §3.1.2.3, "End-User authenticated")."""

    id: str
    user: User
    auth_time: int
    expires_at: float


@dataclass
class ProviderState:
    #: The issuer as the provider announces it now: the configured one, or the loopback URL in serve().
    issuer: str
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def revoke_grant(self, grant: Grant) -> None:
        for jti in grant.access_jtis:
            if (access := self.access_tokens.get(jti)) is not None:  # pruned once expired
                access.revoked = True
        for value in grant.refresh_tokens:
            if (refresh := self.refresh_tokens.get(value)) is not None:
                refresh.revoked = True

    def prune(self, now: float) -> int:
        """Forget codes, tokens and sessions that expired: nothing can use them any more, and a
        long-running ``mockidp serve`` must not grow for ever. Returns how many went."""
        with self.lock:
            tables: list[dict[str, Any]] = [self.codes, self.access_tokens, self.refresh_tokens, self.sessions]
            expired = [(table, key) for table in tables for key, item in table.items() if now >= item.expires_at]
            for table, key in expired:
                del table[key]
        return len(expired)

    def end_sessions(self, session_id: str | None = None) -> None:
        if session_id is None:
            self.sessions.clear()
        else:
            self.sessions.pop(session_id, None)
