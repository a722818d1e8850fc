"""What one provider remembers between requests: codes, grants, tokens and IdP sessions.

Everything lives on the provider object, none of it in module globals, so two providers in one
process (two tenants, two tests) never see each other's state. Codes follow RFC 6749 §4.1.2
(short-lived, single use; a reused code revokes what it issued, §10.5); refresh tokens rotate
(RFC 9700 §4.14.2). Device codes follow RFC 8628 §3.2 and §3.5; the ``jti`` of each JWT bearer
assertion is kept until it expires, to refuse a replay (RFC 7523 §3).

Each table keeps its entries oldest first. ``prune`` forgets what expired; a ``limit`` (``mockidp
serve`` sets one) also bounds each table under sustained load: past it, the entries that can no
longer be used go first (used codes, revoked tokens), then the oldest. A forgotten code or token is
refused as unknown (``invalid_grant``, ``invalid_token``), as an expired one is; a replayed code
revokes its grant for as long as the code is still kept.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from mockidp._config import Client, User

_Item = TypeVar("_Item")


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
    #: RFC 9449 §5: the DPoP key (its RFC 7638 thumbprint) a public client's refresh tokens are bound to.
    jkt: str | None = None
    #: OIDC Core §2: the authentication context class the login reached, and its methods (RFC 8176).
    acr: str | None = None
    amr: tuple[str, ...] = ()
    #: OIDC Core §5.5: claims the ``claims`` parameter asked for beyond the scopes, per target.
    id_token_claims: frozenset[str] = frozenset()
    userinfo_claims: frozenset[str] = frozenset()


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
    #: OIDC Core §2: the authentication context class reached at login (``mockidp._acr``), and how.
    acr: str | None = None
    amr: tuple[str, ...] = ("pwd",)
    #: The clients given a code in this session: those told of its end (OIDC Back-Channel Logout 1.0 §2.5).
    clients: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class PushedRequest:
    """RFC 9126 §2.2: a pushed authorization request, redeemed once at the authorization endpoint by its client."""

    client_id: str
    params: dict[str, str]
    expires_at: float
    used: bool = False


@dataclass(kw_only=True)
class Seen:
    """A value remembered until it expires: a DPoP proof's ``jti`` (RFC 9449 §11.1) or a DPoP nonce (§8)."""

    expires_at: float


@dataclass(kw_only=True)
class DeviceCode:
    """A device authorization (RFC 8628 §3.2): the device polls with ``device_code``, a person enters
    ``user_code`` at the verification page. ``status`` is ``pending`` until approved or denied, and
    ``used`` once its tokens were handed out; ``interval`` grows by 5 s at each ``slow_down`` (§3.5)."""

    device_code: str
    user_code: str
    client: Client
    scopes: tuple[str, ...]
    expires_at: float
    interval: int
    last_poll: float | None = None
    status: Literal["pending", "approved", "denied", "used"] = "pending"
    user: User | None = None
    auth_time: int | None = None


@dataclass(frozen=True, kw_only=True)
class Registered:
    """RFC 7592 §1: what a client registered over HTTP manages its registration with, and since when."""

    access_token: str
    issued_at: int


@dataclass(kw_only=True)
class SeenAssertion:
    """A JWT bearer assertion's ``jti`` (RFC 7523 §3, item 7), kept until the assertion expires to refuse its replay."""

    issuer: str
    jti: str
    expires_at: float


class Table(dict[str, _Item], Generic[_Item]):
    """One table of the state, oldest entry first, holding at most ``limit`` entries (``None``: no limit).

    An entry added past the limit makes room, under the state's lock: the ``spent`` entries go first,
    oldest first, then the oldest of the rest. Room is made for a sixteenth of the limit at once, so
    that the scan runs once per ``limit // 16`` additions, not on each.
    """

    def __init__(self, lock: threading.RLock, spent: Callable[[_Item], bool]) -> None:
        super().__init__()
        self.limit: int | None = None
        self._lock = lock
        self._spent = spent

    def __setitem__(self, key: str, value: _Item) -> None:
        with self._lock:
            super().__setitem__(key, value)
            if self.limit is not None and len(self) > self.limit:
                self.trim(self.limit - self.limit // 16)

    def trim(self, keep: int) -> int:
        """Forget entries, spent ones first, until at most ``keep`` are left; returns how many went."""
        with self._lock:
            excess = len(self) - keep
            if excess <= 0:
                return 0
            victims = [key for key, item in self.items() if self._spent(item)][:excess]
            if len(victims) < excess:
                chosen = set(victims)
                victims += [key for key in self if key not in chosen][: excess - len(victims)]
            for key in victims:
                del self[key]
            return len(victims)


def _used(code: AuthorizationCode) -> bool:
    return code.used


def _revoked(token: AccessToken | RefreshToken) -> bool:
    return token.revoked


def _pushed_used(pushed: PushedRequest) -> bool:
    return pushed.used


def _never(_: Session | Seen | SeenAssertion) -> bool:
    return False


def _settled(device: DeviceCode) -> bool:
    return device.status in ("used", "denied")


@dataclass
class ProviderState:
    #: The issuer as the provider announces it now: the configured one, or the loopback URL in serve().
    issuer: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    codes: Table[AuthorizationCode] = field(init=False)
    access_tokens: Table[AccessToken] = field(init=False)
    refresh_tokens: Table[RefreshToken] = field(init=False)
    sessions: Table[Session] = field(init=False)
    pushed_requests: Table[PushedRequest] = field(init=False)
    dpop_jtis: Table[Seen] = field(init=False)
    dpop_nonces: Table[Seen] = field(init=False)
    #: RFC 8628 device authorizations, by device code.
    device_codes: Table[DeviceCode] = field(init=False)
    #: RFC 7523 assertions seen, by issuer and jti.
    assertions: Table[SeenAssertion] = field(init=False)

    def __post_init__(self) -> None:
        self.codes = Table(self.lock, _used)
        self.access_tokens = Table(self.lock, _revoked)
        self.refresh_tokens = Table(self.lock, _revoked)
        self.sessions = Table(self.lock, _never)
        self.pushed_requests = Table(self.lock, _pushed_used)
        self.dpop_jtis = Table(self.lock, _never)
        self.dpop_nonces = Table(self.lock, _never)
        self.device_codes = Table(self.lock, _settled)
        self.assertions = Table(self.lock, _never)

    @property
    def tables(self) -> tuple[Table[Any], ...]:
        return (
            self.codes,
            self.access_tokens,
            self.refresh_tokens,
            self.sessions,
            self.pushed_requests,
            self.dpop_jtis,
            self.dpop_nonces,
            self.device_codes,
            self.assertions,
        )

    @property
    def limit(self) -> int | None:
        """The most entries each table keeps (codes, access tokens, refresh tokens, sessions); ``None``: no limit."""
        return self.codes.limit

    @limit.setter
    def limit(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be None or a whole number of at least 1, got {limit!r}")
        with self.lock:
            for table in self.tables:
                table.limit = limit
                if limit is not None:
                    table.trim(limit)

    def revoke_grant(self, grant: Grant) -> None:
        for jti in grant.access_jtis:
            if (access := self.access_tokens.get(jti)) is not None:  # pruned once expired
                access.revoked = True
        for value in grant.refresh_tokens:
            if (refresh := self.refresh_tokens.get(value)) is not None:
                refresh.revoked = True

    def revoke_client(self, client_id: str) -> None:
        """RFC 7592 §2.3: the tokens of a deleted client stop working at once."""
        with self.lock:
            tokens: list[AccessToken | RefreshToken] = [*self.access_tokens.values(), *self.refresh_tokens.values()]
            for token in tokens:
                if token.grant.client.client_id == client_id:
                    token.revoked = True

    def prune(self, now: float) -> int:
        """Forget codes, tokens and sessions that expired: nothing can use them any more, and a
        long-running ``mockidp serve`` must not grow for ever. Returns how many went."""
        with self.lock:
            expired = [(table, key) for table in self.tables for key, item in table.items() if now >= item.expires_at]
            for table, key in expired:
                del table[key]
        return len(expired)

    def end_sessions(self, session_id: str | None = None) -> list[Session]:
        """End one session, or every one; returns those that ended (their clients are told, if they asked)."""
        with self.lock:
            if session_id is None:
                ended = list(self.sessions.values())
                self.sessions.clear()
                return ended
            session = self.sessions.pop(session_id, None)
        return [] if session is None else [session]
