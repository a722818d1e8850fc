"""``MockIdP``: one OpenID provider, its registered users and clients, keys, state and request log.

It is a plain object that needs no pytest: its ``app`` is a Starlette ASGI app, its transports
reach that app in-process, ``intercept()`` routes a whole process's httpx/httpx2 calls to it, and
``serve()`` puts it on a loopback socket.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mockidp._app import create_app
from mockidp._clock import Clock, system_clock
from mockidp._config import Client, ProviderConfig, User
from mockidp._discovery import OIDC_WELL_KNOWN, PATHS
from mockidp._errors import ConfigError, ErrorCode, unknown
from mockidp._faults import Fault, Faults
from mockidp._intercept import intercept
from mockidp._journal import ENDPOINTS, RequestRecord
from mockidp._keys import KeyPool, KeyRing
from mockidp._server import base_url, bind, serve_socket
from mockidp._state import Grant, ProviderState, Session
from mockidp._tls import shared_default_context
from mockidp._tokens import PROTECTED_CLAIMS, TokenMinter, TokenSet
from mockidp._transports import async_transport, installed_packages, resolve, sync_transport

if TYPE_CHECKING:
    from mockidp._forgery import ForgedToken
    from mockidp._login import Flow, LoginResult, Steps
    from mockidp.testing import LoginRedirect

SESSION_COOKIE = "mockidp_session"
#: Every this many requests, the provider forgets what expired (see ``ProviderState.prune``).
PRUNE_EVERY = 1024


class RequestLog(list[RequestRecord]):
    """Every request the provider answered, oldest first; ``filter`` picks entries by their fields.

    With a ``limit``, only the last ``limit`` requests are kept (``mockidp serve`` keeps 1,000: nobody
    reads its log, and a server under load answers hundreds of requests a second).
    """

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or at least 0, got {limit}")
        self.limit = limit
        #: Every request ever logged, kept or not: where a flow's requests start (see ``since``).
        self.total = 0
        self._adding = threading.Lock()  # sync transports may answer from several threads at once

    def add(self, record: RequestRecord) -> int:
        """Log ``record``, forgetting the oldest entry past the limit; returns the new ``total``."""
        with self._adding:
            self.append(record)
            self.total += 1
            if self.limit is not None and len(self) > self.limit:
                del self[: len(self) - self.limit]
            return self.total

    def since(self, total: int) -> list[RequestRecord]:
        """The entries still kept of those logged after ``total`` requests."""
        count = self.total - total
        return list(self[max(0, len(self) - count) :]) if count > 0 else []

    def filter(self, **fields: Any) -> list[RequestRecord]:
        """Entries whose attributes equal ``fields``, e.g. ``filter(endpoint="token", grant_type="refresh_token")``."""
        names = sorted(f.name for f in dataclasses.fields(RequestRecord))
        for name in sorted(fields):
            if name not in names:
                raise TypeError(unknown("RequestRecord field", name, names))
        if "endpoint" in fields and fields["endpoint"] not in ENDPOINTS:
            raise ValueError(unknown("endpoint", fields["endpoint"], ENDPOINTS))
        return [r for r in self if all(getattr(r, k) == v for k, v in fields.items())]


class MockIdP:
    """An in-process OpenID Connect provider.

    ``config`` is what the provider started from and never changes; ``users`` and ``clients`` are the
    live registries that ``add_user`` and ``add_client`` extend, and ``issuer`` is the loopback URL
    while ``serve()`` runs. ``requests`` logs every request answered, or the last ``request_log_limit``.

    >>> idp = MockIdP()
    >>> idp.issuer
    'https://idp.mockidp.test'
    >>> idp.client.client_id, idp.user.sub
    ('mockidp-client', 'alice')
    """

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        keys: KeyPool | None = None,
        clock: Clock | None = None,
        request_log_limit: int | None = None,
    ) -> None:
        self.config = config if config is not None else ProviderConfig()
        if not isinstance(self.config, ProviderConfig):
            raise TypeError(f"config must be a ProviderConfig, got {type(config).__name__}")
        self.clock: Clock = clock or system_clock
        self.users: dict[str, User] = {u.sub: u for u in self.config.users}
        self.clients: dict[str, Client] = {c.client_id: c for c in self.config.clients}
        self.keys = KeyRing(keys or KeyPool(), self.config.algorithm)
        for client in self.clients.values():
            self._publish_key_for(client)
        self.state = ProviderState(issuer=self.config.issuer)
        self.minter = TokenMinter(self.config, self.keys, self.state, self.clock)
        self.faults = Faults()
        self.requests = RequestLog(request_log_limit)
        self._queued_logins: list[User] = []
        self._tamper: str | None = None
        self._app: Starlette | None = None
        self._lock = threading.Lock()
        self._transports: dict[tuple[str, bool], Any] = {}

    def __repr__(self) -> str:
        return f"<MockIdP issuer={self.issuer!r} users={len(self.users)} clients={len(self.clients)}>"

    # -- URLs -----------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The issuer identifier; while ``serve()`` runs, the loopback URL (with the configured path)."""
        return self.state.issuer

    @property
    def metadata_url(self) -> str:
        return self.issuer + OIDC_WELL_KNOWN

    @property
    def jwks_uri(self) -> str:
        return self.endpoint("jwks_uri")

    def endpoint(self, name: str) -> str:
        """The URL of an endpoint by its metadata name, e.g. ``endpoint("token_endpoint")``."""
        if name not in PATHS:
            raise ValueError(unknown("endpoint", name, PATHS))
        return self.issuer + PATHS[name]

    # -- users and clients ----------------------------------------------------------------------

    @property
    def user(self) -> User:
        """The default user: the first one configured."""
        user = self.default_user()
        if user is None:
            raise LookupError("this provider has no users; add one with add_user()")
        return user

    @property
    def client(self) -> Client:
        """The default client: the first one configured."""
        for client in self.clients.values():
            return client
        raise LookupError("this provider has no clients; add one with add_client()")

    def default_user(self) -> User | None:
        return next(iter(self.users.values()), None)

    def add_user(self, user: User | str, /, **claims: Any) -> User:
        """Register a user: a ``User``, or a username with claims (see ``User.named``)."""
        if isinstance(user, str):
            user = User.named(user, **claims)
        elif claims:
            raise TypeError("pass claims with a username, not with a User object")
        with self._lock:
            if user.sub in self.users:
                raise ConfigError(f"a user with sub {user.sub!r} is already registered")
            if self.find_user(user.username) is not None:
                raise ConfigError(f"a user named {user.username!r} is already registered")
            self.users[user.sub] = user
        return user

    def add_client(self, client: Client) -> Client:
        """Register a client; its ``client_id`` must be new.

        A key for its ``id_token_signed_response_alg`` is published at once, before its first ID token.
        """
        with self._lock:
            if client.client_id in self.clients:
                raise ConfigError(f"a client with id {client.client_id!r} is already registered")
            self._publish_key_for(client)
            self.clients[client.client_id] = client
        return client

    def _publish_key_for(self, client: Client) -> None:
        """OIDC Registration §2: publish a key of the client's ID token algorithm, if it registered one."""
        if client.id_token_signed_response_alg is not None:
            self.keys.require(client.id_token_signed_response_alg)

    def find_user(self, name: str) -> User | None:
        """The user whose ``sub``, username or email is ``name``."""
        if name in self.users:
            return self.users[name]
        for user in self.users.values():
            if name in (user.username, user.claims.get("email")):
                return user
        return None

    def _user_arg(self, user: User | str | Mapping[str, Any] | None) -> User:
        if user is None:
            return self.user
        if isinstance(user, str):
            found = self.find_user(user)
            if found is None:
                known = ", ".join(u.username for u in self.users.values()) or "none"
                raise LookupError(f"no user named {user!r}; known users: {known}")
            return found
        if not isinstance(user, User):
            user = User.from_dict(user)
        return user if user.sub in self.users else self.add_user(user)

    def _client_arg(self, client: Client | str | None) -> Client:
        if client is None:
            return self.client
        client_id = client.client_id if isinstance(client, Client) else client
        if client_id not in self.clients:
            if isinstance(client, Client):
                return self.add_client(client)
            raise LookupError(f"no client {client_id!r}; registered: {', '.join(self.clients) or 'none'}")
        return self.clients[client_id]

    def login_as(self, user: User | str | Mapping[str, Any]) -> User:
        """Log ``user`` in at the next authorization request (not ``prompt=none``), instead of the default
        user or the login form; an IdP session of another user does not stand in the way.

        Takes a username (or sub or email) of a known user, a ``User``, or claims for a new user.
        """
        chosen = self._user_arg(user)
        with self._lock:
            self._queued_logins.append(chosen)
        return chosen

    def _forget_pending_login(self) -> None:
        """Drop what a simulated login armed (its user, a tampered ID token) when it broke before using it."""
        with self._lock:
            self._queued_logins.clear()
            self._tamper = None

    def _take_queued_login(self) -> User | None:
        with self._lock:
            return self._queued_logins.pop(0) if self._queued_logins else None

    # -- time, sessions, logging ----------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def _current_session(self, request: Request) -> Session | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id is None:
            return None
        session = self.state.sessions.get(session_id)
        if session is None or self.now() >= session.expires_at:
            return None
        return session

    def _cookie_path(self) -> str:
        return urlsplit(self.config.issuer).path or "/"

    def _set_session_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            path=self._cookie_path(),
            httponly=True,
            samesite="lax",
            secure=self.issuer.startswith("https://"),
        )

    def _clear_session_cookie(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=self._cookie_path())

    def end_sessions(self) -> None:
        """Log every user out at the provider: the next authorization request needs a new login."""
        self.state.end_sessions()

    def _record(self, record: RequestRecord) -> None:
        if self.requests.add(record) % PRUNE_EVERY == 0:
            self.state.prune(self.now())

    # -- tokens and keys ------------------------------------------------------------------------

    def issue_tokens(
        self,
        *,
        user: User | str | Mapping[str, Any] | None = None,
        client: Client | str | None = None,
        scope: str | Iterable[str] = "openid profile email",
        audience: str | Iterable[str] | None = None,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
        refresh_token: bool = True,
    ) -> TokenSet:
        """Mint tokens without a flow, as if ``user`` had logged in to ``client`` just now.

        ``user`` is a known username, a ``User``, or claims for a new user; ``claims`` are added to
        both tokens. ``audience`` sets the access token's ``aud``.
        """
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
        reserved = sorted(set(claims or {}) & PROTECTED_CLAIMS)
        if reserved:
            raise ValueError(f"claims may not set {', '.join(reserved)}: mockidp sets them itself")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
            raise TypeError(f"expires_in must be a whole number of seconds, got {expires_in!r}")
        grant = Grant(
            client=self._client_arg(client),
            user=self._user_arg(user),
            scopes=scopes,
            auth_time=int(self.now()),
            audience=(audience,) if isinstance(audience, str) else tuple(audience or ()),
            extra_claims=dict(claims or {}),
        )
        return self.minter.issue(grant, id_token="openid" in scopes, refresh_token=refresh_token, expires_in=expires_in)

    def rotate_keys(self, algorithm: str | None = None) -> str:
        """Sign with a new key (optionally of another algorithm) from now on; returns its ``kid``.

        The keys for clients' ``id_token_signed_response_alg`` are renewed too. The old public keys
        stay in the JWKS, so tokens signed before still verify, until retired.
        """
        return self.keys.rotate(algorithm)

    def retire_keys(self, kid: str | None = None) -> list[str]:
        """Stop publishing an old key (or every key a rotation replaced); tokens it signed stop verifying.

        The current keys, the provider's and those of clients' ID token algorithms, stay published.
        """
        return self.keys.retire(kid)

    def forge(self, kind: str, **issue: Any) -> ForgedToken:
        """An access token as ``issue_tokens(**issue)`` would mint it, with the one defect ``kind`` names
        (``expired``, ``wrong_issuer``, ``alg_none``, ...): for tests that prove an API refuses it."""
        from mockidp._forgery import forge_access_token

        return forge_access_token(self, kind, **issue)

    def tamper_next_id_token(self, kind: str) -> None:
        """Make the next token response carry an ID token with one defect (``nonce``, ``iss``, ``aud``,
        ``signature``, ``expired``, ``alg_none``, ``unknown_kid``, ``at_hash``): the app must refuse it."""
        from mockidp._forgery import TAMPER_KINDS, check_kind

        check_kind(kind, TAMPER_KINDS)
        with self._lock:
            self._tamper = kind

    def _apply_tamper(self, tokens: TokenSet) -> TokenSet:
        """``tokens``, with the ID token tampered if ``tamper_next_id_token`` asked for it."""
        with self._lock:
            kind, self._tamper = self._tamper, None
        if kind is None or tokens.id_token is None:
            return tokens
        from mockidp._forgery import tamper_id_token

        return dataclasses.replace(tokens, id_token=tamper_id_token(self, tokens.id_token, kind))

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set, as served at ``jwks_uri``."""
        return self.keys.jwks()

    # -- faults ---------------------------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        *,
        error: ErrorCode = "server_error",
        status: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Make the next ``times`` calls of ``endpoint`` answer with ``error`` (and ``status``)."""
        return self.faults.add(endpoint, error=error, status=status, description=description, times=times)

    def slow(self, endpoint: str, seconds: float, *, times: int = 1) -> Fault:
        """Make the next ``times`` calls of ``endpoint`` wait ``seconds`` (real time) before answering."""
        return self.faults.add(endpoint, error=None, delay=seconds, times=times)

    # -- simulated logins (see mockidp._login) ---------------------------------------------------

    def _steps(
        self,
        kind: Literal["login", "refuse", "logout"],
        path: str,
        user: User | str | Mapping[str, Any] | None = None,
        tamper: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> tuple[Flow, Steps]:
        """Arm the provider for one simulated flow (its user, a tampered ID token) and lay out its steps."""
        from mockidp._login import Flow

        if claims:
            user = self._adhoc_user(user, claims)
        if user is not None:
            self.login_as(user)
        if tamper is not None:
            self.tamper_next_id_token(tamper)
        flow = Flow(self, path, deny=kind == "refuse", expect_failure=kind != "login" or tamper is not None)
        return flow, flow.run_logout() if kind == "logout" else flow.run()

    def _adhoc_user(self, user: User | str | Mapping[str, Any] | None, claims: dict[str, Any]) -> User:
        if isinstance(user, (User, Mapping)):
            raise TypeError("pass claims with a username (or alone), not with a User or a mapping")
        if user is None:
            user = str(claims.pop("sub", None) or f"user-{len(self.users) + 1}")
        existing = self.find_user(user)
        if existing is not None:
            raise ValueError(f"user {user!r} already exists; log it in by name, without claims")
        return self.add_user(user, **claims)

    def login(
        self,
        client: Any,
        path: str = "/",
        *,
        user: User | str | Mapping[str, Any] | None = None,
        tamper: str | None = None,
        **claims: Any,
    ) -> LoginResult:
        """Log a user in to the app behind ``client`` (a Starlette ``TestClient`` or an httpx client).

        Requests ``path``, follows the app's redirect to this provider, logs in ``user`` (a known
        username, a ``User``, claims for a new user as keywords, or by default the first user; an
        existing IdP session logs in silently), returns to the app's callback and follows the app's
        redirects. Returns the final response and every hop (``.trail``); raises ``LoginError``
        saying where and why when the flow breaks. ``tamper`` hands the app a bad ID token instead.
        """
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import drive

        return drive(self, client, *self._steps("login", path, user, tamper, claims))

    async def alogin(
        self,
        client: Any,
        path: str = "/",
        *,
        user: User | str | Mapping[str, Any] | None = None,
        tamper: str | None = None,
        **claims: Any,
    ) -> LoginResult:
        """``login`` for an async client (``httpx.AsyncClient`` on the app)."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import adrive

        return await adrive(self, client, *self._steps("login", path, user, tamper, claims))

    def refuse(self, client: Any, path: str = "/") -> LoginResult:
        """Like ``login``, but the user denies the request: the app gets ``error=access_denied`` back."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import drive

        return drive(self, client, *self._steps("refuse", path))

    async def arefuse(self, client: Any, path: str = "/") -> LoginResult:
        """``refuse`` for an async client."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import adrive

        return await adrive(self, client, *self._steps("refuse", path))

    def logout(self, client: Any, path: str = "/logout") -> LoginResult:
        """GET the app's logout ``path``, follow it through this provider's end-session endpoint and back."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import drive

        return drive(self, client, *self._steps("logout", path))

    async def alogout(self, client: Any, path: str = "/logout") -> LoginResult:
        """``logout`` for an async client."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp._login import adrive

        return await adrive(self, client, *self._steps("logout", path))

    def assert_login_redirect(
        self, response: Any, *, scopes: Iterable[str] | None = None, pkce: bool = True
    ) -> LoginRedirect:
        """Assert ``response`` redirects to this provider's authorization endpoint with a sound OIDC
        request (see ``mockidp.testing.assert_login_redirect``); returns the parsed request."""
        __tracebackhide__ = True  # a failing login shows the test's line, not this method
        from mockidp.testing import assert_login_redirect

        return assert_login_redirect(self, response, scopes=scopes, pkce=pkce)

    # -- serving --------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        """The provider as an ASGI app."""
        if self._app is None:
            self._app = create_app(self)
        return self._app

    def transport(self, package: ModuleType | str | None = None) -> Any:
        """A sync transport of ``package`` (``httpx2``, ``httpx``, default: the installed one) into this provider."""
        return self._transport(package, asynchronous=False)

    def async_transport(self, package: ModuleType | str | None = None) -> Any:
        """An async transport of ``package`` into this provider."""
        return self._transport(package, asynchronous=True)

    def _transport(self, package: ModuleType | str | None, *, asynchronous: bool) -> Any:
        module = resolve(package)
        key = (module.__name__, asynchronous)
        found = self._transports.get(key)
        if found is None:
            found = (async_transport if asynchronous else sync_transport)(self.app, module)
            self._transports[key] = found
        return found

    def intercept(self, *packages: ModuleType | str) -> Any:
        """Route every httpx/httpx2 request to this issuer into the provider while the block runs.

        Requests to other hosts go where they would have gone. Providers may be nested or active
        side by side (other hosts, or other issuer paths on one host).
        """
        return intercept(self, list(packages) if packages else None)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0, *, keep_issuer: bool = False) -> Iterator[str]:
        """Serve the provider on a real socket in a background thread; yields where it listens.

        The URL yielded is the loopback URL plus the configured issuer's path. While the block runs,
        that URL is also the issuer, unless ``keep_issuer`` is set (e.g. when a proxy in front serves
        the configured issuer).
        """
        path = urlsplit(self.config.issuer).path.rstrip("/")
        sock = bind(host, port)
        previous = self.state.issuer
        url = base_url(sock) + path
        try:
            # Everything the provider announces is settled before its first answer: a readiness check may
            # already wait in the socket's backlog, and a client that caches discovery keeps what it read.
            with shared_default_context(installed_packages()):
                if not keep_issuer:
                    self.state.issuer = url
                with serve_socket(self.app, sock):
                    yield url
        finally:
            self.state.issuer = previous
            sock.close()
