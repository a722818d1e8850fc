"""Provider configuration: the one source of truth for the library, the CLI and the pytest marker.

Users follow OpenID Connect Core 1.0 §5.1 (standard claims); clients follow RFC 7591 §2 (client
metadata: ``redirect_uris``, ``grant_types``, ``token_endpoint_auth_method``), OpenID Connect Dynamic
Client Registration 1.0 §2 (``id_token_signed_response_alg``) and OpenID Connect RP-Initiated Logout
1.0 §3.1 (``post_logout_redirect_uris``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit

from mockidp._errors import ConfigError, hide_frames, unknown

#: Under pytest, an error raised at the test author shows their line, not these frames.
__tracebackhide__ = hide_frames

Algorithm: TypeAlias = Literal["RS256", "PS256", "ES256", "EdDSA", "Ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")

GrantType: TypeAlias = Literal[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
]
GRANT_TYPES: tuple[GrantType, ...] = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
)

AuthMethod: TypeAlias = Literal[
    "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"
]
#: RFC 6749 §2.3.1, RFC 7523 §2.2 and OIDC Core §9: how a client authenticates at the token endpoint.
AUTH_METHODS: tuple[AuthMethod, ...] = (
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
)
#: The methods that prove the client holds its ``client_secret``.
SECRET_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "client_secret_post", "client_secret_jwt")

DEFAULT_ISSUER = "https://idp.mockidp.test"

#: Redirect URIs the default client accepts: the hosts test clients use. A trailing ``*`` is a
#: prefix match that a client must opt into; every other entry is matched exactly.
TEST_REDIRECT_URIS = ("http://testserver/*", "http://localhost/*", "http://127.0.0.1/*")


def _frozen_claims(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(claims))


@dataclass(frozen=True, kw_only=True)
class User:
    """An end user the provider can log in, with the claims it releases (OIDC Core §5.1).

    ``username`` is what the login form, ``login_hint`` and the password grant accept; it defaults
    to ``preferred_username`` and then to ``sub``.
    """

    sub: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    password: str = "password"

    def __post_init__(self) -> None:
        if not isinstance(self.sub, str) or not self.sub:
            raise ConfigError(f"User.sub must be a non-empty string, got {self.sub!r}")
        if not isinstance(self.claims, Mapping):
            raise ConfigError(
                f"User {self.sub!r}: claims must be a mapping of claim names to values, got {self.claims!r}"
            )
        if not isinstance(self.password, str):
            raise ConfigError(f"User {self.sub!r}: password must be a string, got {self.password!r}")
        if "sub" in self.claims and self.claims["sub"] != self.sub:
            raise ConfigError(
                f"User {self.sub!r} has claims['sub'] = {self.claims['sub']!r}; pass the subject as sub= only"
            )
        object.__setattr__(self, "claims", _frozen_claims({k: v for k, v in self.claims.items() if k != "sub"}))

    @property
    def username(self) -> str:
        value = self.claims.get("preferred_username", self.sub)
        return str(value)

    @classmethod
    def named(cls, username: str, **claims: Any) -> User:
        """A user with the usual standard claims derived from ``username``; ``claims`` override them."""
        given = username.capitalize()
        defaults: dict[str, Any] = {
            "preferred_username": username,
            "name": f"{given} Example",
            "given_name": given,
            "family_name": "Example",
            "email": f"{username}@example.com",
            "email_verified": True,
            "locale": "en",
        }
        sub = str(claims.pop("sub", username))
        password = str(claims.pop("password", "password"))
        return cls(sub=sub, claims={**defaults, **claims}, password=password)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> User:
        """Build a user from a flat mapping of claims (as in a config file); ``sub`` is required."""
        values = dict(data)
        if "sub" not in values:
            raise ConfigError(f"a user needs a 'sub' claim; got the keys {sorted(values)}")
        sub = values.pop("sub")
        password = values.pop("password", "password")
        return cls(sub=str(sub), claims=values, password=str(password))


@dataclass(frozen=True, kw_only=True)
class Client:
    """A registered relying party (RFC 7591 §2 and OIDC Registration §2 client metadata).

    A client without a secret or keys is public: it authenticates with ``none`` and must use PKCE. A client
    with ``jwks`` or ``jwks_uri`` and no secret authenticates with ``private_key_jwt`` (RFC 7523 §2.2).
    ``token_endpoint_auth_method`` is enforced once named; left out, a client with a secret may use any
    method its secret or keys allow (``client_secret_basic``, ``client_secret_post``, ``client_secret_jwt``),
    as most providers' default clients do.
    ``scope`` limits what it may ask for; ``None`` allows any scope. ``id_token_signed_response_alg``
    is the algorithm of the ID tokens this client gets (OIDC Registration §2); ``None`` means the
    provider's ``ProviderConfig.algorithm`` (its current signing key), mockidp's default for clients
    that do not register one. Access tokens are always signed with the provider's current key.
    """

    client_id: str
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = TEST_REDIRECT_URIS
    post_logout_redirect_uris: tuple[str, ...] = TEST_REDIRECT_URIS
    grant_types: tuple[GrantType, ...] = GRANT_TYPES
    token_endpoint_auth_method: AuthMethod | None = None
    scope: tuple[str, ...] | None = None
    id_token_signed_response_alg: Algorithm | None = None
    #: RFC 9126 §6: this client's authorization requests must come through the PAR endpoint.
    require_pushed_authorization_requests: bool = False
    #: RFC 9449 §5.2: this client always uses DPoP; token requests without a proof are refused.
    dpop_bound_access_tokens: bool = False
    #: RFC 7591 §2: the client's public keys, a JWK Set (``{"keys": [...]}``), for ``private_key_jwt``
    #: and signed request objects.
    jwks: Mapping[str, Any] | None = None
    #: RFC 7591 §2: where the client's JWK Set is fetched from when a key is needed, instead of ``jwks``.
    jwks_uri: str | None = None
    #: OIDC Registration §2: the ``max_age`` of this client's authorization requests that send none.
    default_max_age: int | None = None
    #: OIDC Registration §2: the ``acr_values`` of this client's authorization requests that send none.
    default_acr_values: tuple[str, ...] = ()
    #: OIDC Back-Channel Logout 1.0 §2.2: where the provider POSTs a logout token when a session ends.
    backchannel_logout_uri: str | None = None
    #: OIDC Back-Channel Logout 1.0 §2.2: the client needs the ``sid`` claim in its logout tokens (always sent).
    backchannel_logout_session_required: bool = False
    #: RFC 7591 §2: other metadata it registered (``client_name``, ``logo_uri``, ``contacts``, ...), kept as given
    #: and answered back (§3.2.1); mockidp acts on none of it.
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ConfigError(f"Client.client_id must be a non-empty string, got {self.client_id!r}")
        alg = self.id_token_signed_response_alg
        if alg is not None and alg not in ALGORITHMS:
            raise ConfigError(f"client {self.client_id!r}: {unknown('id_token_signed_response_alg', alg, ALGORITHMS)}")
        if self.client_secret is not None and not isinstance(self.client_secret, str):
            raise ConfigError(
                f"client {self.client_id!r}: client_secret must be a string (or None for a public client),"
                f" got {self.client_secret!r}"
            )
        for name in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scope", "default_acr_values"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str):
                raise ConfigError(f"Client.{name} must be a sequence of strings, not the string {value!r}")
            value = _sequence(f"Client.{name}", value)
            wrong = [v for v in value if not isinstance(v, str)]
            if wrong:
                raise ConfigError(f"Client.{name} must be a sequence of strings, got {wrong[0]!r} in it")
            object.__setattr__(self, name, value)
        for grant in self.grant_types:
            if grant not in GRANT_TYPES:
                raise ConfigError(f"unknown grant type {grant!r}; supported: {', '.join(GRANT_TYPES)}")
        self._check_keys()
        has_keys = self.jwks is not None or self.jwks_uri is not None
        method = self.token_endpoint_auth_method
        if method is None and self.client_secret is None:
            method = "private_key_jwt" if has_keys else "none"
            object.__setattr__(self, "token_endpoint_auth_method", method)
        if method is not None and method not in AUTH_METHODS:
            raise ConfigError(f"unknown token_endpoint_auth_method {method!r}; supported: {', '.join(AUTH_METHODS)}")
        if method == "none" and self.client_secret is not None:
            raise ConfigError(f"client {self.client_id!r} has a secret but authenticates with 'none'")
        if method in SECRET_METHODS and self.client_secret is None:
            raise ConfigError(f"client {self.client_id!r} authenticates with {method!r} but has no client_secret")
        if method == "private_key_jwt" and not has_keys:
            raise ConfigError(
                f"client {self.client_id!r} authenticates with 'private_key_jwt' but has no keys: give it jwks"
                " (its public JWK Set) or jwks_uri (RFC 7591 section 2)"
            )
        if self.is_public and "client_credentials" in self.grant_types:
            object.__setattr__(self, "grant_types", tuple(g for g in self.grant_types if g != "client_credentials"))
        for name in (
            "require_pushed_authorization_requests",
            "dpop_bound_access_tokens",
            "backchannel_logout_session_required",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"client {self.client_id!r}: {name} must be true or false, got {getattr(self, name)!r}"
                )
        age = self.default_max_age
        if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
            raise ConfigError(
                f"client {self.client_id!r}: default_max_age must be a whole number of seconds, got {age!r}"
            )
        logout_uri = self.backchannel_logout_uri
        if logout_uri is not None:
            parts = urlsplit(logout_uri) if isinstance(logout_uri, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise ConfigError(
                    f"client {self.client_id!r}: backchannel_logout_uri must be an absolute http(s) URL with no"
                    f" fragment (OIDC Back-Channel Logout 1.0 section 2.2), got {logout_uri!r}"
                )
        for uri in (*self.redirect_uris, *self.post_logout_redirect_uris):
            if (problem := redirect_uri_problem(uri)) is not None:
                raise ConfigError(f"client {self.client_id!r}: redirect URI {uri!r} {problem}")
        self._check_metadata()

    def _check_metadata(self) -> None:
        if not isinstance(self.metadata, Mapping) or not all(isinstance(k, str) for k in self.metadata):
            raise ConfigError(f"client {self.client_id!r}: metadata must map names to values, got {self.metadata!r}")
        fields = sorted(set(self.metadata) & {f.name for f in dataclasses.fields(self)})
        if fields:
            raise ConfigError(f"client {self.client_id!r}: {fields[0]} is a Client field; give it as {fields[0]}=")
        object.__setattr__(self, "metadata", _frozen_claims(self.metadata))

    def _check_keys(self) -> None:
        if self.jwks is not None and self.jwks_uri is not None:
            raise ConfigError(f"client {self.client_id!r} has both jwks and jwks_uri; give one (RFC 7591 section 2)")
        if self.jwks_uri is not None:
            parts = urlsplit(self.jwks_uri) if isinstance(self.jwks_uri, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"client {self.client_id!r}: jwks_uri must be an http(s) URL, got {self.jwks_uri!r}")
        if self.jwks is None:
            return
        keys = self.jwks.get("keys") if isinstance(self.jwks, Mapping) else None
        if not isinstance(keys, list | tuple) or not keys or not all(isinstance(k, Mapping) for k in keys):
            raise ConfigError(
                f'client {self.client_id!r}: jwks must be a JWK Set, {{"keys": [{{...}}, ...]}} with at least'
                f" one key (RFC 7517 section 5), got {self.jwks!r}"
            )
        if any(k.get("kty") not in ("RSA", "EC", "OKP") for k in keys):
            raise ConfigError(
                f"client {self.client_id!r}: jwks holds public keys (kty RSA, EC or OKP); a shared secret is the"
                " client_secret, which client_secret_jwt signs with"
            )
        public = {"keys": [public_jwk(k) for k in keys]}
        object.__setattr__(self, "jwks", _frozen_claims(public))

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def to_dict(self) -> dict[str, Any]:
        """The client as JSON values (RFC 7591 §2 metadata), as ``from_dict`` takes them back."""
        return {f.name: _json_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Client:
        """Build a client from a mapping (as in a config file), with clear errors for unknown keys."""
        client: Client = _build(cls, data)
        return client


def redirect_uri_problem(uri: str) -> str | None:
    """What is wrong with ``uri`` as a registered redirect URI (a trailing ``*`` is a prefix), or None."""
    parts = urlsplit(uri.removesuffix("*"))
    if not parts.scheme or parts.fragment:
        return "must be absolute and carry no fragment (RFC 6749 section 3.1.2)"
    return None


#: Members of a JWK that are private key material (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def public_jwk(key: Mapping[str, Any]) -> dict[str, Any]:
    """``key`` without its private members: a test may register the very key its client signs with."""
    return {k: v for k, v in key.items() if k not in _PRIVATE_MEMBERS}


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    """``value`` as a tuple, or a ``ConfigError`` naming the option when it is not iterable."""
    try:
        return tuple(value)
    except TypeError:
        raise ConfigError(f"{name} must be a sequence, got {value!r}") from None


def _tables(name: str, values: Mapping[str, Any], kind: type[Any]) -> tuple[Any, ...]:
    """The entries of the ``users`` or ``clients`` list of a config file or marker: tables, specs or objects."""
    value = values[name]
    if isinstance(value, str | Mapping):
        raise ConfigError(f"{name} must be a list of tables or specs, got {value!r}")
    items = _sequence(name, value)
    for item in items:
        if not isinstance(item, kind | Mapping | str):
            raise ConfigError(f"each entry of {name} must be a table of settings or a spec string, got {item!r}")
    return items


def _entries(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with its ``users`` and ``clients`` entries built: tables, spec strings (``mockidp._specs``)
    and objects alike."""
    from mockidp import _specs as specs  # the grammar builds Users and Clients from this module

    if "users" in values:
        values["users"] = tuple(
            u if isinstance(u, User) else specs.parse_user(u) if isinstance(u, str) else User.from_dict(u)
            for u in _tables("users", values, User)
        )
    if "clients" in values:
        values["clients"] = tuple(
            c if isinstance(c, Client) else specs.parse_client(c) if isinstance(c, str) else Client.from_dict(c)
            for c in _tables("clients", values, Client)
        )
    return values


def _check_options(cls: type[Any], data: Mapping[str, Any]) -> None:
    names = sorted(f.name for f in dataclasses.fields(cls) if f.init)
    for name in sorted(data):
        if name not in names:
            raise ConfigError(unknown(f"{cls.__name__} option", name, names))


def _build(cls: type[Any], data: Mapping[str, Any]) -> Any:
    _check_options(cls, data)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


DEFAULT_USER = User.named("alice", sub="alice")
DEFAULT_CLIENT = Client(client_id="mockidp-client", client_secret="mockidp-secret")


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """Everything a provider can be told. The CLI flags and the ``mockidp`` pytest marker map onto it.

    Lifetimes are in seconds. ``interactive`` shows an HTML login form instead of logging the
    chosen user in at once; ``strict`` also rejects what RFC 9700 says a client should not do.
    """

    issuer: str = DEFAULT_ISSUER
    users: tuple[User, ...] = (DEFAULT_USER,)
    clients: tuple[Client, ...] = (DEFAULT_CLIENT,)
    algorithm: Algorithm = "RS256"
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    refresh_token_ttl: int = 86400
    code_ttl: int = 60
    session_ttl: int = 86400
    access_token_audience: str | None = None
    interactive: bool = False
    strict: bool = False
    password_grant: bool = False
    cors_origins: tuple[str, ...] = ()
    #: The most codes, access tokens, refresh tokens and IdP sessions kept of each kind (spent ones, then
    #: the oldest, go first); ``None`` keeps everything until it expires. ``mockidp serve`` keeps 1,000.
    state_limit: int | None = None
    #: The most requests ``MockIdP.requests`` keeps, the newest; ``None`` keeps every one.
    request_log_limit: int | None = None
    #: RFC 9126 §5: every authorization request must come through the PAR endpoint.
    require_pushed_authorization_requests: bool = False
    #: RFC 9126 §2.2: how long a pushed request's request_uri lives.
    request_uri_ttl: int = 60
    #: RFC 9449 §8, §9: DPoP proofs must carry a nonce from the provider (``use_dpop_nonce`` otherwise).
    dpop_nonce: bool = False
    device_code_ttl: int = 600
    device_interval: int = 5
    token_exchange_targets: tuple[str, ...] = ()
    #: The login form logs in a username it does not know as a new user (``User.named``) with that ``sub``.
    adhoc_users: bool = False
    #: Serve the token debugger page (``/debugger`` under the issuer).
    debugger: bool = False
    #: The authentication context classes logins reach (OIDC Core §2 ``acr``), the default first; empty: a
    #: login reaches whatever class the request asks for first (``mockidp._acr``).
    acr_values: tuple[str, ...] = ()
    #: RFC 7591 and RFC 7592: serve the dynamic client registration and client configuration endpoints.
    registration: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer) if isinstance(self.issuer, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise ConfigError(
                f"issuer must be an http(s) URL with a host and no query or fragment (OIDC Discovery section 2),"
                f" got {self.issuer!r}"
            )
        object.__setattr__(self, "issuer", self.issuer.rstrip("/"))
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(unknown("algorithm", self.algorithm, ALGORITHMS))
        for name, kind in (
            ("users", User),
            ("clients", Client),
            ("cors_origins", str),
            ("token_exchange_targets", str),
            ("acr_values", str),
        ):
            value = getattr(self, name)
            if isinstance(value, str | User | Client):
                raise ConfigError(f"ProviderConfig.{name} must be a sequence, got {value!r}")
            value = _sequence(f"ProviderConfig.{name}", value)
            wrong = [v for v in value if not isinstance(v, kind)]
            if wrong:
                raise ConfigError(f"ProviderConfig.{name} must hold {kind.__name__} objects, got {wrong[0]!r}")
            object.__setattr__(self, name, value)
        if any(not v or " " in v for v in self.acr_values):
            raise ConfigError(
                f"ProviderConfig.acr_values must hold class names without spaces, got {list(self.acr_values)!r}"
            )
        if "" in self.token_exchange_targets:
            raise ConfigError("ProviderConfig.token_exchange_targets must hold audiences or resource URIs, got ''")
        for origin in self.cors_origins:
            scheme, netloc, path, query, fragment = urlsplit(origin)
            if origin != "*" and (scheme not in ("http", "https") or not netloc or path or query or fragment):
                raise ConfigError(
                    f"a CORS origin is scheme://host[:port] with no path, such as 'https://app.example', got {origin!r}"
                )
        ttls = ("access_token_ttl", "id_token_ttl", "refresh_token_ttl", "code_ttl", "session_ttl", "device_code_ttl")
        for name in (*ttls, "request_uri_ttl", "device_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"ProviderConfig.{name} must be a positive number of seconds, got {value!r}")
        for name in (
            "interactive",
            "strict",
            "password_grant",
            "require_pushed_authorization_requests",
            "dpop_nonce",
            "adhoc_users",
            "debugger",
            "registration",
        ):
            value = getattr(self, name)
            if not isinstance(value, bool):  # "false" would be truthy: refuse it rather than guess
                raise ConfigError(f"ProviderConfig.{name} must be true or false, got {value!r}")
        for name in ("state_limit", "request_log_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(
                    f"ProviderConfig.{name} must be a whole number of at least 1 (or None), got {value!r}"
                )
        audience = self.access_token_audience
        if audience is not None and (not isinstance(audience, str) or not audience):
            raise ConfigError(f"ProviderConfig.access_token_audience must be a non-empty string, got {audience!r}")
        _no_duplicates("user sub", [u.sub for u in self.users])
        _no_duplicates("username", [u.username for u in self.users])
        _no_duplicates("client id", [c.client_id for c in self.clients])

    def replace(self, **changes: Any) -> ProviderConfig:
        """A copy with ``changes`` applied, validated like the original; users and clients may be specs."""
        _check_options(type(self), changes)
        return dataclasses.replace(self, **_entries(changes))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderConfig:
        """Build a config from a mapping, as read from a TOML or JSON file; users and clients are tables."""
        config: ProviderConfig = _build(cls, _entries(dict(data)))
        return config


def _no_duplicates(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"duplicate {what} {value!r}: each must be unique in one provider")
        seen.add(value)
