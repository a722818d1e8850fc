"""Command-line options derived from ``ProviderConfig``'s fields, shared by ``mockidp serve`` and pytest.

One table of help texts, one function that turns each field's type into argparse keywords: a new
field becomes a ``mockidp serve --flag`` and a ``pytest --mockidp-flag`` at once (and fails loudly
until it has a help text). Only the standard library and ``mockidp._config`` are imported here, so
the pytest plugin can register its options without loading the provider.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from mockidp import _specs as specs
from mockidp._config import Client, ProviderConfig, User
from mockidp._errors import ConfigError

#: Help for each ProviderConfig field; a field without an entry here fails the options' own test.
FIELD_HELP = {
    "issuer": "issuer URL to announce",
    "users": f"a user to log in: {specs.USER_FORM} (repeatable; replaces the default user)",
    "clients": f"a client: {specs.CLIENT_FORM}; no SECRET makes a public client (repeatable)",
    "algorithm": "signing algorithm of ID and access tokens",
    "access_token_ttl": "access token lifetime, seconds",
    "id_token_ttl": "ID token lifetime, seconds",
    "refresh_token_ttl": "refresh token lifetime, seconds",
    "code_ttl": "authorization code lifetime, seconds",
    "session_ttl": "IdP login session lifetime, seconds",
    "access_token_audience": "the aud of access tokens (default: the client id)",
    "interactive": "show a login form instead of logging the first user in at once",
    "strict": "also reject what RFC 9700 says clients should not do (no PKCE, plain PKCE, no state, no nonce)",
    "password_grant": "enable the resource owner password grant",
    "cors_origins": "an origin browsers may call the token, userinfo, JWKS and discovery endpoints from (repeatable)",
    "state_limit": "most codes, access and refresh tokens and IdP sessions kept of each kind (spent, then oldest go)",
    "request_log_limit": "most requests kept in the request log (the newest)",
    "require_pushed_authorization_requests": "accept authorization requests only through the PAR endpoint (RFC 9126)",
    "request_uri_ttl": "lifetime of a pushed authorization request's request_uri, seconds",
    "dpop_nonce": "make DPoP proofs carry a nonce from the provider (RFC 9449 section 8)",
    "device_code_ttl": "device code and user code lifetime (RFC 8628), seconds",
    "device_interval": "the least time between a device's polls of the token endpoint (RFC 8628 interval), seconds",
    "token_exchange_targets": "an audience or resource token exchange may issue for (repeatable; none given: any)",
    "adhoc_users": "let the login form log in any username typed, as a new user with that sub",
    "debugger": "serve the token debugger page at /debugger under the issuer",
    "acr_values": "an authentication context class (acr) logins can reach, the default first (repeatable; none: any)",
    "registration": "serve dynamic client registration at /register (RFC 7591, RFC 7592)",
}

_FLAG_NAMES = {
    "users": "user",
    "clients": "client",
    "cors_origins": "cors-origin",
    "token_exchange_targets": "token-exchange-target",
    "acr_values": "acr-value",
}


class OptionError(argparse.ArgumentTypeError, ValueError):
    """A command-line value that cannot become a provider option; argparse (and so pytest) shows its
    message as it is, rather than "invalid ... value"."""


def parse_user(text: str) -> User:
    """A ``--user`` value (see ``mockidp._specs``), with argparse showing the grammar's message as it is."""
    try:
        return specs.parse_user(text)
    except ConfigError as exc:
        raise OptionError(str(exc)) from None


def parse_client(text: str) -> Client:
    """A ``--client`` value (see ``mockidp._specs``)."""
    try:
        return specs.parse_client(text)
    except ConfigError as exc:
        raise OptionError(str(exc)) from None


@dataclass(frozen=True)
class Option:
    """One ProviderConfig field as a command-line option."""

    field: str
    flag: str
    kind: str  # "bool", "list" or "value"
    kwargs: dict[str, Any]


def options() -> Iterator[Option]:
    """One option per ProviderConfig field, typed from the field's annotation."""
    hints = typing.get_type_hints(ProviderConfig)
    for field in dataclasses.fields(ProviderConfig):
        annotation = hints[field.name]
        flag = _FLAG_NAMES.get(field.name, field.name).replace("_", "-")
        common: dict[str, Any] = {"dest": field.name, "default": None, "help": FIELD_HELP[field.name]}
        if field.name == "users":
            yield Option(field.name, flag, "list", {**common, "type": parse_user, "metavar": "USER"})
        elif field.name == "clients":
            yield Option(field.name, flag, "list", {**common, "type": parse_client, "metavar": "CLIENT"})
        elif annotation is bool:
            yield Option(field.name, flag, "bool", common)
        elif annotation is int:
            yield Option(field.name, flag, "value", {**common, "type": int, "metavar": "SECONDS"})
        elif annotation == int | None:
            yield Option(field.name, flag, "value", {**common, "type": int, "metavar": "COUNT"})
        elif get_origin(annotation) is typing.Literal:
            yield Option(field.name, flag, "value", {**common, "choices": get_args(annotation)})
        elif get_origin(annotation) is tuple:
            yield Option(field.name, flag, "list", {**common, "metavar": "VALUE"})
        elif annotation is str or (get_origin(annotation) is types.UnionType and str in get_args(annotation)):
            yield Option(field.name, flag, "value", {**common, "metavar": "VALUE"})
        else:  # a new field type must be taught here
            raise TypeError(f"no command-line option for ProviderConfig.{field.name} of type {annotation!r}")


def given(namespace: Any) -> dict[str, Any]:
    """The provider options a parsed command line set (lists become tuples)."""
    values: dict[str, Any] = {}
    for option in options():
        value = getattr(namespace, option.field, None)
        if value is not None:
            values[option.field] = tuple(value) if isinstance(value, list) else value
    return values


def load_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {str(path)!r}: {exc.strerror}") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError is a ValueError too
        raise ConfigError(f"{str(path)!r} is not valid {'JSON' if is_json else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{str(path)!r} must hold a table of provider options")
    return data
