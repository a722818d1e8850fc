"""``mockidp serve``: the provider as a standalone server on a real socket.

The flags are generated from ``ProviderConfig``'s fields, so the CLI, the library and the pytest
marker accept the same options under the same names. A TOML or JSON file (``--config``) gives the
same options, with ``[[users]]`` and ``[[clients]]`` tables; flags override the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, get_args, get_origin

from mockidp._config import Client, ProviderConfig, User
from mockidp._errors import ConfigError
from mockidp._provider import MockIdP

LOOPBACK = ("127.0.0.1", "::1", "localhost")

#: Help for each ProviderConfig field; a field without an entry here fails the CLI's own test.
FIELD_HELP = {
    "issuer": "issuer URL to announce (default: the server's own loopback URL)",
    "users": "a user to log in: USERNAME or USERNAME,claim=value,... (repeatable; replaces the default user)",
    "clients": "a client: ID:SECRET for a confidential client, or ID for a public one (repeatable)",
    "algorithm": "signing algorithm of ID and access tokens",
    "access_token_ttl": "access token lifetime, seconds",
    "id_token_ttl": "ID token lifetime, seconds",
    "refresh_token_ttl": "refresh token lifetime, seconds",
    "code_ttl": "authorization code lifetime, seconds",
    "session_ttl": "IdP login session lifetime, seconds",
    "access_token_audience": "the aud of access tokens (default: the client id)",
    "interactive": "show a login form instead of logging the first user in at once (default: on)",
    "strict": "also reject what RFC 9700 says clients should not do (no PKCE, plain PKCE, no state, no nonce)",
    "password_grant": "enable the resource owner password grant",
    "cors_origins": "an origin browsers may call the token, userinfo, JWKS and discovery endpoints from (repeatable)",
}

#: The standalone server shows its login form unless told not to; the library logs in at once.
CLI_DEFAULTS: dict[str, Any] = {"interactive": True}


def parse_user(text: str) -> User:
    """``alice`` or ``alice,email=a@corp.example,name=Alice A`` (claims after the username)."""
    username, *pairs = text.split(",")
    claims: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"expected claim=value after the username, got {pair!r}")
        claims[name.strip()] = _scalar(value.strip())
    if not username.strip():
        raise argparse.ArgumentTypeError(f"a user needs a username first, got {text!r}")
    return User.named(username.strip(), **claims)


def _scalar(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return value


def parse_client(text: str) -> Client:
    """``ID:SECRET`` (confidential) or ``ID`` (public)."""
    client_id, sep, secret = text.partition(":")
    try:
        return Client(client_id=client_id, client_secret=secret if sep else None)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _flag(name: str) -> str:
    return "--" + {"users": "user", "clients": "client", "cors_origins": "cors-origin"}.get(name, name).replace(
        "_", "-"
    )


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ProviderConfig field, typed from the field's annotation."""
    hints = typing.get_type_hints(ProviderConfig)
    group = parser.add_argument_group("provider options (ProviderConfig fields)")
    for field in dataclasses.fields(ProviderConfig):
        kind = hints[field.name]
        help_text = FIELD_HELP[field.name]
        common: dict[str, Any] = {"dest": field.name, "default": None, "help": help_text}
        if field.name == "users":
            group.add_argument(_flag(field.name), action="append", type=parse_user, metavar="USER", **common)
        elif field.name == "clients":
            group.add_argument(_flag(field.name), action="append", type=parse_client, metavar="CLIENT", **common)
        elif kind is bool:
            group.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, **common)
        elif kind is int:
            group.add_argument(_flag(field.name), type=int, metavar="SECONDS", **common)
        elif get_origin(kind) is typing.Literal:
            group.add_argument(_flag(field.name), choices=get_args(kind), **common)
        elif get_origin(kind) is tuple:
            group.add_argument(_flag(field.name), action="append", metavar="VALUE", **common)
        elif kind is str or (get_origin(kind) is types.UnionType and str in get_args(kind)):
            group.add_argument(_flag(field.name), metavar="VALUE", **common)
        else:  # a new field type must be taught to the CLI
            raise TypeError(f"no CLI flag for ProviderConfig.{field.name} of type {kind!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockidp", description="A mock OpenID Connect provider for tests.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the provider on a real socket",
        description="Run the provider standalone. With no options: http://127.0.0.1:8900, one user, one client.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8900, help="port to bind; 0 picks a free one (default: 8900)")
    serve.add_argument("--config", type=Path, metavar="FILE", help="a TOML or JSON file of provider options")
    _add_config_flags(serve)
    return parser


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


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """Provider options from the CLI's defaults, then the file, then the flags."""
    values: dict[str, Any] = dict(CLI_DEFAULTS)
    if args.config is not None:
        values.update(load_file(args.config))
    for field in dataclasses.fields(ProviderConfig):
        given = getattr(args, field.name)
        if given is not None:
            values[field.name] = tuple(given) if isinstance(given, list) else given
    return values


def describe(idp: MockIdP, host: str, out: TextIO) -> None:
    lines = [
        f"mockidp serving {idp.issuer}",
        f"  metadata:  {idp.metadata_url}",
        f"  jwks:      {idp.jwks_uri}",
    ]
    for client in idp.clients.values():
        secret = client.client_secret if client.client_secret is not None else "(public client: none, PKCE)"
        lines.append(f"  client:    {client.client_id}  secret: {secret}")
    for user in idp.users.values():
        lines.append(f"  user:      {user.username}  ({user.claims.get('email', user.sub)})")
    lines.append("Press Ctrl+C to stop.")
    print("\n".join(lines), file=out, flush=True)


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    values = config_values(args)
    idp = MockIdP(ProviderConfig.from_dict(values))
    if args.host not in LOOPBACK:
        print(
            f"mockidp: WARNING: listening on {args.host}, not loopback. mockidp is a test tool: anyone who can"
            " reach it can log in as any user and its keys are not secret.",
            file=err,
            flush=True,
        )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # An issuer the user named is kept (a proxy may front it); otherwise the loopback URL is the issuer.
        with idp.serve(args.host, args.port, keep_issuer="issuer" in values):
            describe(idp, args.host, out)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mockidp stopped.", file=out, flush=True)
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return serve(args, out, err)
    except (ConfigError, OSError) as exc:
        print(f"mockidp: error: {exc}", file=err, flush=True)
        return 2
