"""The grant types the token endpoint speaks (RFC 6749 §4 and the RFCs that extend it): one row each.

A new grant is one module here with an ``issue(ex, client) -> TokenSet`` function, one row in
``TABLE``, and its name in ``mockidp._config.GRANT_TYPES`` (which a test keeps equal to this table).
``enabled`` says whether a provider offers it (and so advertises it in discovery); ``how_to_enable``
is what an ``unsupported_grant_type`` error tells a client that asked for one that is off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mockidp._config import Client, ProviderConfig
from mockidp._exchange import Exchange
from mockidp._grants import (
    authorization_code,
    client_credentials,
    device_code,
    jwt_bearer,
    password,
    refresh_token,
    token_exchange,
)
from mockidp._tokens import TokenSet


def always(config: ProviderConfig) -> bool:
    del config
    return True


@dataclass(frozen=True)
class GrantType:
    name: str
    issue: Callable[[Exchange, Client], TokenSet]
    spec: str
    enabled: Callable[[ProviderConfig], bool] = always
    how_to_enable: str = ""


TABLE: tuple[GrantType, ...] = (
    GrantType("authorization_code", authorization_code.issue, "RFC 6749 section 4.1"),
    GrantType("refresh_token", refresh_token.issue, "RFC 6749 section 6"),
    GrantType("client_credentials", client_credentials.issue, "RFC 6749 section 4.4"),
    GrantType(
        "password",
        password.issue,
        "RFC 6749 section 4.3",
        enabled=lambda config: config.password_grant,
        how_to_enable="enable it with password_grant=True",
    ),
    GrantType("urn:ietf:params:oauth:grant-type:device_code", device_code.issue, "RFC 8628 section 3.4"),
    GrantType("urn:ietf:params:oauth:grant-type:token-exchange", token_exchange.issue, "RFC 8693 section 2"),
    GrantType("urn:ietf:params:oauth:grant-type:jwt-bearer", jwt_bearer.issue, "RFC 7523 section 2.1"),
)
BY_NAME = {g.name: g for g in TABLE}


def offered(config: ProviderConfig) -> list[str]:
    """The grant types a provider with ``config`` offers, in the table's order."""
    return [g.name for g in TABLE if g.enabled(config)]
