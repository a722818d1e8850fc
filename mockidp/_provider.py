"""``MockIdP``: one OpenID provider, its registered users and clients, keys, state and request log.

It is a plain object that needs no pytest: its ``app`` is a Starlette ASGI app, its transports
reach that app in-process, ``intercept()`` routes a whole process's httpx/httpx2 calls to it, and
``serve()`` puts it on a loopback socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from starlette.applications import Starlette

from mockidp import _backchannel as backchannel
from mockidp._app import create_app
from mockidp._backchannel import BackchannelLogout
from mockidp._clock import Clock, system_clock
from mockidp._config import Client, ProviderConfig, User
from mockidp._context import Context
from mockidp._endpoints import find
from mockidp._endpoints.discovery import OIDC_WELL_KNOWN
from mockidp._errors import ArgumentError, ConfigError, ErrorCode, NotRegisteredError, OAuthError, hide_frames, nearest
from mockidp._faults import Fault
from mockidp._intercept import intercept
from mockidp._keys import KeyPool
from mockidp._server import base_url, bind, serve_socket
from mockidp._state import Grant
from mockidp._tls import shared_default_context
from mockidp._tokens import PROTECTED_CLAIMS, TokenSet
from mockidp._transports import async_transport, installed_packages, resolve, sync_transport

if TYPE_CHECKING:
    from mockidp._endpoints.registration import Registration
    from mockidp._forgery import ForgedToken
    from mockidp._login import Flow, LoginResult, Steps
    from mockidp.testing import LoginRedirect

#: Under pytest, an error raised at the test author (``MockidpError``) shows their line, not these frames.
__tracebackhide__ = hide_frames


def unknown_user(name: str, known: list[str]) -> str:
    """Why ``name`` is no user, the nearest one, and the three ways to have it."""
    close = nearest(name, known)
    hint = f"; the nearest is {close!r}" if close else ""
    email = f"{name}@example.com" if "@" not in name else name
    return (
        f"mockidp: no user named {name!r}{hint} (known users: {', '.join(known) or 'none'}).\n"
        f"To log in a new user, give its claims: idp.login(client, path, user={name!r}, email={email!r});\n"
        f"or register it: idp.add_user({name!r}, email={email!r}), or for the test"
        f" @pytest.mark.mockidp(users=[User.named('alice'), User.named({name!r}, email={email!r})])"
        " (users= replaces the default users)"
    )


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
        config = config if config is not None else ProviderConfig()
        if not isinstance(config, ProviderConfig):
            raise ArgumentError(f"config must be a ProviderConfig, got {type(config).__name__}", topic="the-library")
        #: What the endpoints see of this provider (``mockidp._context``); the attributes below are its parts.
        self.context = Context(
            config, keys=keys or KeyPool(), clock=clock or system_clock, request_log_limit=request_log_limit
        )
        ctx = self.context
        self.config, self.clock, self.users, self.clients = ctx.config, ctx.clock, ctx.users, ctx.clients
        self.keys, self.state, self.minter, self.faults, self.requests = (
            ctx.keys,
            ctx.state,
            ctx.minter,
            ctx.faults,
            ctx.requests,
        )
        self._app: Starlette | None = None
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
        """An endpoint's URL by its name or metadata key: ``endpoint("token")``, ``endpoint("token_endpoint")``."""
        return self.issuer + find(name).path

    # -- users and clients ----------------------------------------------------------------------

    @property
    def user(self) -> User:
        """The default user: the first one configured."""
        user = self.default_user()
        if user is None:
            raise NotRegisteredError("this provider has no users; add one with add_user()")
        return user

    @property
    def client(self) -> Client:
        """The default client: the first one configured."""
        for client in self.clients.values():
            return client
        raise NotRegisteredError("this provider has no clients; add one with add_client()")

    def default_user(self) -> User | None:
        return self.context.default_user()

    def add_user(self, user: User | str, /, **claims: Any) -> User:
        """Register a user: a ``User``, or a username with claims (see ``User.named``)."""
        if isinstance(user, str):
            user = User.named(user, **claims)
        elif claims:
            raise ArgumentError("pass claims with a username, not with a User object", topic="users-and-clients")
        return self.context.add_user(user)

    def add_client(self, client: Client) -> Client:
        """Register a client; its ``client_id`` must be new.

        A key for its ``id_token_signed_response_alg`` is published at once, before its first ID token.
        """
        return self.context.add_client(client)

    def register(self, **metadata: Any) -> Registration:
        """Register a client as a POST to the registration endpoint would (RFC 7591 §3): ``metadata`` are its
        RFC 7591 names (``redirect_uris=[...]``, ``scope="openid email"``, ``client_name=...``), with the same
        defaults and checks; the client_id (and secret) are made up. The ``Registration`` holds the client and
        its ``registration_access_token`` for the client configuration endpoint (RFC 7592)."""
        from mockidp._endpoints import registration

        if not self.config.registration:
            raise ConfigError(
                "this provider does not offer dynamic client registration (ProviderConfig(registration=False));"
                " add a client with add_client(Client(...))",
                topic="dynamic-client-registration",
            )
        try:
            return registration.register(self.context, metadata)
        except OAuthError as error:
            raise ConfigError(f"{error.error}: {error.description}", topic="dynamic-client-registration") from None

    def find_user(self, name: str) -> User | None:
        """The user whose ``sub``, username or email is ``name``."""
        return self.context.find_user(name)

    def _user_arg(self, user: User | str | Mapping[str, Any] | None) -> User:
        if user is None:
            return self.user
        if isinstance(user, str):
            found = self.find_user(user)
            if found is None:
                raise NotRegisteredError(unknown_user(user, [u.username for u in self.users.values()]))
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
            close = nearest(client_id, self.clients)
            hint = f"; the nearest is {close!r}" if close else ""
            raise NotRegisteredError(
                f"mockidp: no client {client_id!r}{hint} (registered: {', '.join(self.clients) or 'none'});"
                " register it with idp.add_client(Client(...)), pass a Client, or list it in"
                " @pytest.mark.mockidp(clients=[...])"
            )
        return self.clients[client_id]

    def login_as(self, user: User | str | Mapping[str, Any]) -> User:
        """Log ``user`` in at the next authorization request (not ``prompt=none``), instead of the default
        user or the login form; an IdP session of another user does not stand in the way.

        Takes a username (or sub or email) of a known user, a ``User``, or claims for a new user.
        """
        chosen = self._user_arg(user)
        self.context.controls.queue_login(chosen)
        return chosen

    # -- time, sessions, logging ----------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def end_sessions(self) -> list[BackchannelLogout]:
        """Log every user out at the provider: the next authorization request needs a new login.

        Each client of an ended session that registered a ``backchannel_logout_uri`` is sent a logout
        token (OIDC Back-Channel Logout 1.0); returns those deliveries (also in ``backchannel_logouts``).
        """
        return backchannel.deliver_sync(self.context, self.state.end_sessions())

    async def aend_sessions(self) -> list[BackchannelLogout]:
        """``end_sessions`` from async code: logout tokens reach an app on this event loop (an httpx
        ``AsyncClient`` on an ``ASGITransport``)."""
        return await backchannel.deliver(self.context, self.state.end_sessions())

    @property
    def backchannel_logouts(self) -> list[BackchannelLogout]:
        """Every logout token sent to a client (OIDC Back-Channel Logout 1.0 §2.5), oldest first, with its
        claims and the client's answer."""
        return list(self.context.backchannel_logouts)

    def reset(self) -> None:
        """Back to how the provider started: only its configured users and clients, no faults, nothing
        queued or armed, no sessions, codes or tokens, an empty request log. The keys stay."""
        ctx = self.context
        with ctx.lock:
            self.users.clear()
            self.users.update({u.sub: u for u in self.config.users})
            self.clients.clear()
            self.clients.update({c.client_id: c for c in self.config.clients})
            ctx.registrations.clear()
        self.faults.clear()
        ctx.controls.forget()
        ctx.backchannel_logouts.clear()
        with self.state.lock:
            for table in self.state.tables:
                table.clear()
        self.requests.forget()

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
            raise ConfigError(f"claims may not set {', '.join(reserved)}: mockidp sets them itself", topic="api-tokens")
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
            raise ArgumentError(f"expires_in must be a whole number of seconds, got {expires_in!r}", topic="api-tokens")
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
        self.context.controls.arm_tamper(kind)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set, as served at ``jwks_uri``."""
        return self.keys.jwks()

    # -- trust, devices (RFC 8693, RFC 7523, RFC 8628) ---------------------------------------------

    def trust(self, issuer: MockIdP | str, key: Any = None) -> None:
        """Accept JWTs of another issuer as token exchange subject and actor tokens and as JWT bearer
        assertions: another ``MockIdP`` (its issuer and JWKS, read live), or an issuer name and the
        ``key`` its JWTs are signed with (a joserfc key, a JWK or a JWK Set; see ``mockidp._trust``)."""
        if isinstance(issuer, MockIdP):
            if issuer is self:
                raise ValueError("a provider trusts its own tokens already")
            if key is not None:
                raise TypeError("key= goes with an issuer name; another MockIdP's keys are read from its JWKS")
            self.context.trust.add_provider(lambda: issuer.issuer, issuer.jwks)
        elif key is None:
            raise TypeError(f"trust({issuer!r}) needs key=, the key that issuer signs with (or pass a MockIdP)")
        else:
            self.context.trust.add_key(issuer, key)

    def approve_device(self, user_code: str, *, user: User | str | Mapping[str, Any] | None = None) -> None:
        """Log ``user`` (default: the first user) in and approve the device showing ``user_code``, as a
        person at the verification page would: the device's next poll gets tokens."""
        from mockidp._device import approve

        approve(self.context, user_code, self._user_arg(user))

    def deny_device(self, user_code: str) -> None:
        """Deny the device showing ``user_code``: its next poll gets ``access_denied``."""
        from mockidp._device import deny

        deny(self.context, user_code)

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
            raise ArgumentError(
                "pass claims with a username (or alone), not with a User or a mapping", topic="simulated-logins"
            )
        if user is None:
            user = str(claims.pop("sub", None) or f"user-{len(self.users) + 1}")
        existing = self.find_user(user)
        if existing is not None:
            raise ConfigError(
                f"user {user!r} already exists; log it in by name, without claims", topic="simulated-logins"
            )
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

    def assert_api(
        self, client: Any, path: str, /, *, refuses: Iterable[str] | None = None, method: str = "GET", **issue: Any
    ) -> None:
        """Assert the API at ``path`` accepts a valid access token and refuses (401) each forged kind in ``refuses``
        (default: all); tokens as ``issue_tokens(**issue)`` mints them, ``client=`` included (see
        ``mockidp.testing.assert_api``)."""
        __tracebackhide__ = True
        from mockidp.testing import assert_api

        assert_api(self, client, path, refuses=refuses, method=method, **issue)

    async def aassert_api(
        self, client: Any, path: str, /, *, refuses: Iterable[str] | None = None, method: str = "GET", **issue: Any
    ) -> None:
        """``assert_api`` for an async client."""
        __tracebackhide__ = True
        from mockidp.testing import aassert_api

        await aassert_api(self, client, path, refuses=refuses, method=method, **issue)

    def explain(self, response: Any, *, audience: Iterable[str] | str | None = None, client: str | None = None) -> str:
        """Why an API answered ``response`` as it did to a bearer token: ``assert r.status_code == 200, idp.explain(r)``
        (see ``mockidp.testing.explain``)."""
        from mockidp.testing import explain

        return explain(self, response, audience=audience, client=client)

    # -- serving --------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        """The provider as an ASGI app."""
        if self._app is None:
            self._app = create_app(self.context)
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
    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keep_issuer: bool = False,
        control: bool = False,
        control_remote: bool = False,
    ) -> Iterator[str]:
        """Serve the provider on a real socket in a background thread; yields where it listens.

        The URL yielded is the loopback URL plus the configured issuer's path. While the block runs,
        that URL is also the issuer, unless ``keep_issuer`` is set (e.g. when a proxy in front serves
        the configured issuer). ``control`` also serves the HTTP control API under ``/_mockidp``
        (``mockidp._control``), to loopback clients only unless ``control_remote`` is set.
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
                app: Any = self.app
                if control:
                    from mockidp._control import with_control

                    app = with_control(self, remote=control_remote)
                with serve_socket(app, sock):
                    yield url
        finally:
            self.state.issuer = previous
            sock.close()
