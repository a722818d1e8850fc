"""What an endpoint needs from its provider, and nothing more: the seam between the endpoints and ``MockIdP``.

Every endpoint (``mockidp._endpoints``) and grant (``mockidp._grants``) is handed one ``Context``: the
configuration, the live registries of users and clients (OIDC Core §5.1 users, RFC 7591 §2 clients),
the clock, the keys and the token minter, the state (codes, tokens, IdP sessions), the injected
faults, the armed test controls, and the request log. ``MockIdP`` is a front over one ``Context``
plus its transports; nothing here, and no endpoint, imports ``mockidp._provider``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mockidp._clock import Clock
from mockidp._config import Client, ProviderConfig, User
from mockidp._controls import Controls
from mockidp._errors import ConfigError, hide_frames
from mockidp._faults import Faults
from mockidp._journal import RequestLog, RequestRecord
from mockidp._keys import KeyPool, KeyRing
from mockidp._state import ProviderState, Registered
from mockidp._tokens import TokenMinter
from mockidp._trust import TrustedIssuers

if TYPE_CHECKING:
    from mockidp._backchannel import AppRoute, BackchannelLogout

#: Under pytest, an error raised at the test author (``MockidpError``) shows their line, not these frames.
__tracebackhide__ = hide_frames

#: Every this many requests, the provider forgets what expired (see ``ProviderState.prune``).
PRUNE_EVERY = 1024


class Context:
    """One provider's configuration, registries, keys, state, faults, controls and log."""

    def __init__(
        self, config: ProviderConfig, *, keys: KeyPool, clock: Clock, request_log_limit: int | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.users: dict[str, User] = {u.sub: u for u in config.users}
        self.clients: dict[str, Client] = {c.client_id: c for c in config.clients}
        #: RFC 7592: the clients registered over HTTP (or ``MockIdP.register``), by id, oldest first.
        self.registrations: dict[str, Registered] = {}
        self.keys = KeyRing(keys, config.algorithm)
        for client in self.clients.values():
            self._publish_key_for(client)
        self.state = ProviderState(issuer=config.issuer)
        self.state.limit = config.state_limit
        self.minter = TokenMinter(config, self.keys, self.state, clock)
        self.faults = Faults()
        self.controls = Controls()
        self.requests = RequestLog(request_log_limit if request_log_limit is not None else config.request_log_limit)
        #: Issuers whose JWTs token exchange and the JWT bearer grant accept (``mockidp._trust``).
        self.trust = TrustedIssuers()
        #: Apps simulated logins ran through, by origin: back-channel logout reaches them in-process.
        self.apps: dict[str, AppRoute] = {}
        #: Every logout token sent (OIDC Back-Channel Logout 1.0, ``mockidp._backchannel``), oldest first.
        self.backchannel_logouts: list[BackchannelLogout] = []
        self.lock = threading.Lock()

    # -- where the provider is ------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The issuer as announced now: the configured one, or the loopback URL while ``serve()`` runs."""
        return self.state.issuer

    def url(self, name: str) -> str:
        """The URL of an endpoint, by its name or its discovery metadata key (``token``, ``token_endpoint``)."""
        from mockidp._endpoints import path_of  # the table imports every endpoint, each of which sees a Context

        return self.issuer + path_of(name)

    def now(self) -> float:
        return self.clock()

    # -- registries -----------------------------------------------------------------------------

    def default_user(self) -> User | None:
        return next(iter(self.users.values()), None)

    def find_user(self, name: str) -> User | None:
        """The user whose ``sub``, username or email is ``name``."""
        if name in self.users:
            return self.users[name]
        for user in self.users.values():
            if name in (user.username, user.claims.get("email")):
                return user
        return None

    def add_user(self, user: User) -> User:
        with self.lock:
            if user.sub in self.users:
                raise ConfigError(f"a user with sub {user.sub!r} is already registered")
            if self.find_user(user.username) is not None:
                raise ConfigError(f"a user named {user.username!r} is already registered")
            self.users[user.sub] = user
        return user

    def add_client(self, client: Client) -> Client:
        """Register a client; a key for its ``id_token_signed_response_alg`` is published at once."""
        with self.lock:
            if client.client_id in self.clients:
                raise ConfigError(f"a client with id {client.client_id!r} is already registered")
            self._publish_key_for(client)
            self.clients[client.client_id] = client
        return client

    def replace_client(self, client: Client) -> bool:
        """Put ``client`` in place of the client of its id (RFC 7592 §2.2); False if there is none any more."""
        with self.lock:
            if client.client_id not in self.clients:
                return False
            self._publish_key_for(client)
            self.clients[client.client_id] = client
        return True

    def remove_client(self, client_id: str) -> None:
        """Forget a client and its registration, and revoke its tokens (RFC 7592 §2.3)."""
        with self.lock:
            self.clients.pop(client_id, None)
            self.registrations.pop(client_id, None)
        self.state.revoke_client(client_id)

    def _publish_key_for(self, client: Client) -> None:
        """OIDC Registration §2: publish a key of the client's ID token algorithm, if it registered one."""
        if client.id_token_signed_response_alg is not None:
            self.keys.require(client.id_token_signed_response_alg)

    # -- the log --------------------------------------------------------------------------------

    def record(self, record: RequestRecord) -> None:
        if self.requests.add(record) % PRUNE_EVERY == 0:
            self.state.prune(self.now())

    def __repr__(self) -> str:
        details: dict[str, Any] = {"issuer": self.issuer, "users": len(self.users), "clients": len(self.clients)}
        return "<Context " + " ".join(f"{k}={v!r}" for k, v in details.items()) + ">"
