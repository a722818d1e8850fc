"""The provider's endpoints: one row each, one name each, laid out along the specs they implement.

A row's ``name`` is what ``MockIdP.fail(name)``, ``requests.filter(endpoint=name)`` and
``MockIdP.endpoint(name)`` take; ``metadata`` is its key in the discovery document (OIDC Discovery 1.0
§3, RFC 8414 §2), which ``endpoint()`` takes too. Routes (``mockidp._app``), discovery and the fault
targets are all made from this table, so a new endpoint is one module plus one row here (and its name
in ``mockidp._journal.Endpoint``, which a test keeps equal to the table).

Each handler takes the ``Exchange`` being answered (``mockidp._exchange``), whose ``ctx`` is the
provider's ``Context``: the narrow seam endpoints see of their provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import Response

from mockidp._config import ProviderConfig
from mockidp._endpoints import (
    authorize,
    debugger,
    device_authorization,
    device_verification,
    discovery,
    end_session,
    introspection,
    jwks,
    par,
    registration,
    revocation,
    token,
    userinfo,
)
from mockidp._errors import ConfigError, hide_frames, unknown
from mockidp._exchange import Exchange
from mockidp._journal import Endpoint as EndpointName

__tracebackhide__ = hide_frames

Handler = Callable[[Exchange], Awaitable[Response]]


def always(config: ProviderConfig) -> bool:
    del config
    return True


def _device_grant(config: ProviderConfig) -> bool:
    """The device grant's endpoints are served while the grant is offered (RFC 8628 section 4)."""
    from mockidp._grants import BY_NAME  # the grants' table sees the endpoints' modules

    return BY_NAME["urn:ietf:params:oauth:grant-type:device_code"].enabled(config)


def _registration(config: ProviderConfig) -> bool:
    return config.registration


@dataclass(frozen=True)
class Endpoint:
    name: EndpointName
    #: Its key in the provider metadata, or None for the discovery document itself.
    metadata: str | None
    #: Under the issuer; a ``{client_id}`` in it is a path parameter (RFC 7592's ``registration_client_uri``).
    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET", "POST")
    #: Browsers may call it across origins: CORS is answered for ``ProviderConfig.cors_origins``.
    cors: bool = False
    #: Its GET changes state (issues a code, ends a session): HEAD must not run it (RFC 9110 §9.3.2).
    unsafe_get: bool = False
    #: Whether this provider serves (and advertises) it.
    enabled: Callable[[ProviderConfig], bool] = always
    #: The spec section it implements, for the README's endpoint table and error messages.
    spec: str = ""


TABLE: tuple[Endpoint, ...] = (
    Endpoint("discovery", None, discovery.OIDC_WELL_KNOWN, discovery.discovery, ("GET",), cors=True,
             spec="OIDC Discovery 1.0 section 4, RFC 8414 section 3"),
    Endpoint("jwks", "jwks_uri", "/jwks", jwks.jwks, ("GET",), cors=True, spec="RFC 7517 section 5"),
    Endpoint("authorize", "authorization_endpoint", "/authorize", authorize.authorize, unsafe_get=True,
             spec="OIDC Core 1.0 section 3.1.2, RFC 6749 section 4.1"),
    Endpoint("token", "token_endpoint", "/token", token.token, cors=True, spec="RFC 6749 section 3.2"),
    Endpoint("userinfo", "userinfo_endpoint", "/userinfo", userinfo.userinfo, cors=True,
             spec="OIDC Core 1.0 section 5.3"),
    Endpoint("introspection", "introspection_endpoint", "/introspect", introspection.introspect,
             spec="RFC 7662 section 2"),
    Endpoint("revocation", "revocation_endpoint", "/revoke", revocation.revoke, spec="RFC 7009 section 2"),
    Endpoint("end_session", "end_session_endpoint", "/logout", end_session.end_session, unsafe_get=True,
             spec="OIDC RP-Initiated Logout 1.0 section 2"),
    Endpoint("par", "pushed_authorization_request_endpoint", "/par", par.par, cors=True, spec="RFC 9126 section 2"),
    Endpoint("device_authorization", "device_authorization_endpoint", "/device_authorization",
             device_authorization.device_authorization, ("POST",), enabled=_device_grant,
             spec="RFC 8628 section 3.1"),
    Endpoint("device_verification", None, "/device", device_verification.device_verification,
             enabled=_device_grant, spec="RFC 8628 section 3.3"),
    Endpoint("debugger", None, "/debugger", debugger.debugger, unsafe_get=True, enabled=lambda c: c.debugger,
             spec="OIDC Core 1.0 section 3.1 (a relying party for people to try the provider with)"),
    Endpoint("registration", "registration_endpoint", "/register", registration.register_endpoint, ("POST",),
             cors=True, enabled=_registration, spec="RFC 7591 section 3, OIDC Registration 1.0 section 3"),
    Endpoint("client_configuration", None, "/register/{client_id}", registration.configure, ("GET", "PUT", "DELETE"),
             cors=True, enabled=_registration, spec="RFC 7592 section 2"),
)  # fmt: skip

BY_NAME: dict[str, Endpoint] = {e.name: e for e in TABLE}
BY_METADATA: dict[str, Endpoint] = {e.metadata: e for e in TABLE if e.metadata is not None}
NAMES = tuple(BY_NAME)


def find(name: str) -> Endpoint:
    """The endpoint named ``name`` or listed under the metadata key ``name``, or a ``ValueError``."""
    found = BY_NAME.get(name) or BY_METADATA.get(name)
    if found is None:
        raise ConfigError(unknown("endpoint", name, [*NAMES, *BY_METADATA]), topic="endpoints")
    return found


def path_of(name: str) -> str:
    return find(name).path
