"""``mockidp serve``: the provider as a standalone server on a real socket; ``mockidp docs``: the README.

The flags are generated from ``ProviderConfig``'s fields (``mockidp._options``), so the CLI, the
library and the pytest plugin accept the same options under the same names. A TOML or JSON file (``--config``) gives the
same options, with ``[[users]]`` and ``[[clients]]`` tables; flags override the file.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from mockidp._clock import OffsetClock
from mockidp._config import ProviderConfig
from mockidp._errors import ConfigError
from mockidp._options import given, load_file, options
from mockidp._provider import MockIdP

LOOPBACK = ("127.0.0.1", "::1", "localhost")

#: The standalone server shows its login form (ad-hoc users welcome) and the debugger unless told not to; the
#: library logs in at once. It may run for hours under load, so it keeps the last 1,000 requests, codes,
#: tokens and sessions of each kind.
CLI_DEFAULTS: dict[str, Any] = {
    "interactive": True,
    "adhoc_users": True,
    "debugger": True,
    "state_limit": 1000,
    "request_log_limit": 1000,
}
CLI_HELP = {
    "issuer": "issuer URL to announce (default: the server's own loopback URL)",
    "interactive": "show a login form instead of logging the first user in at once (default: on)",
    "adhoc_users": "let the login form log in any username typed, as a new user with that sub (default: on)",
    "debugger": "serve the token debugger page at /debugger under the issuer (default: on)",
}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("provider options (ProviderConfig fields)")
    for option in options():
        kwargs = {**option.kwargs, "help": CLI_HELP.get(option.field, option.kwargs["help"])}
        if option.kind == "bool":
            group.add_argument(f"--{option.flag}", action=argparse.BooleanOptionalAction, **kwargs)
        elif option.kind == "list":
            group.add_argument(f"--{option.flag}", action="append", **kwargs)
        else:
            group.add_argument(f"--{option.flag}", **kwargs)


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
    serve.add_argument(
        "--control",
        action="store_true",
        help="serve the HTTP control API under /_mockidp (described at /_mockidp/openapi.json), to loopback only",
    )
    serve.add_argument(
        "--control-remote",
        action="store_true",
        help="let the control API answer clients that are not on loopback (another container, say)",
    )
    _add_config_flags(serve)
    docs = commands.add_parser(
        "docs",
        help="print a section of the README",
        description="Print a section of mockidp's README; without a topic, list the topics.",
    )
    docs.add_argument("topic", nargs="?", help="a section's anchor, e.g. assertions (see the list without one)")
    return parser


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """Provider options from the CLI's defaults, then the file, then the flags."""
    values: dict[str, Any] = dict(CLI_DEFAULTS)
    if args.config is not None:
        values.update(load_file(args.config))
    values.update(given(args))
    return values


def describe(idp: MockIdP, out: TextIO, listening: str | None = None, *, control: bool = False) -> None:
    lines = [
        f"mockidp serving {idp.issuer}",
        f"  metadata:  {idp.metadata_url}",
        f"  jwks:      {idp.jwks_uri}",
    ]
    if listening is not None and listening != idp.issuer:  # an --issuer of its own: say where it listens too
        lines.append(f"  listening: {listening}")
    if idp.config.debugger:
        lines.append(f"  debugger:  {idp.endpoint('debugger')}")
    if control:
        lines.append(f"  control:   {idp.issuer}/_mockidp (OpenAPI: {idp.issuer}/_mockidp/openapi.json)")
    for client in idp.clients.values():
        secret = client.client_secret if client.client_secret is not None else "(public client: none, PKCE)"
        lines.append(f"  client:    {client.client_id}  secret: {secret}")
    for user in idp.users.values():
        lines.append(f"  user:      {user.username}  ({user.claims.get('email', user.sub)})")
    lines.append("Press Ctrl+C to stop.")
    print("\n".join(lines), file=out, flush=True)


def provider(values: dict[str, Any]) -> MockIdP:
    """The provider ``mockidp serve`` runs, from its options, on a clock the control API can move."""
    return MockIdP(ProviderConfig.from_dict(values), clock=OffsetClock())


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    values = config_values(args)
    idp = provider(values)
    if args.host not in LOOPBACK:
        print(
            f"mockidp: WARNING: listening on {args.host}, not loopback. mockidp is a test tool: anyone who can"
            " reach it can log in as any user and its keys are not secret.",
            file=err,
            flush=True,
        )
    if args.control_remote:
        print(
            "mockidp: WARNING: the control API answers clients that are not on loopback: anyone who reaches it"
            " can add users, log in as anyone and move the clock.",
            file=err,
            flush=True,
        )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # An issuer the user named is kept (a proxy may front it); otherwise the loopback URL is the issuer.
        control = args.control or args.control_remote
        with idp.serve(
            args.host, args.port, keep_issuer="issuer" in values, control=control, control_remote=args.control_remote
        ) as listening:
            describe(idp, out, listening, control=control)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mockidp stopped.", file=out, flush=True)
    return 0


def docs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mockidp._docs import contents, lookup

    if args.topic is None:
        print(contents(), file=out, end="")
        return 0
    try:
        section = lookup(args.topic)
    except LookupError as exc:
        print(f"mockidp: error: {exc.args[0]}", file=err, flush=True)
        return 2
    print(section.text, file=out, end="")
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "docs":
        return docs(args, out, err)
    try:
        return serve(args, out, err)
    except (ConfigError, OSError) as exc:
        print(f"mockidp: error: {exc}", file=err, flush=True)
        if isinstance(exc, ConfigError):
            print("\n".join(exc.__notes__), file=err, flush=True)
        return 2
