"""Suite-wide defaults: ``--mockidp-*`` command-line options and ``mockidp_*`` ini options.

Both are generated from ``ProviderConfig``'s fields by ``mockidp._options``, the same table that
makes ``mockidp serve``'s flags. Precedence, lowest first: ``ProviderConfig``'s defaults, the file
named by ``mockidp_config`` / ``--mockidp-config``, ``mockidp_<field>`` ini options, ``--mockidp-*``
flags, then ``@pytest.mark.mockidp`` markers from the module down to the test. The defaults are read
and checked once, when pytest starts, so a bad value stops the run with one clear message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockidp._config import ProviderConfig
from mockidp._errors import ConfigError
from mockidp._options import load_file, options

DEFAULT_ENV = (
    "SERVER_METADATA_URL={metadata_url}",
    "CLIENT_ID={client_id}",
    "CLIENT_SECRET={client_secret}",
    "OIDC_ISSUER={issuer}",
)

_DEFAULTS = pytest.StashKey[dict[str, Any]]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockidp", "mockidp: in-process OpenID provider")
    group.addoption(
        "--mockidp-config",
        dest="mockidp_config",
        metavar="FILE",
        help="a TOML or JSON file of provider options, as for `mockidp serve --config`",
    )
    parser.addini("mockidp_config", "a TOML or JSON file of provider options (relative to the rootdir)")
    parser.addini("mockidp_app_factory", "package.module:callable that builds the `app` fixture")
    parser.addini(
        "mockidp_reuse_app",
        "keep the `app` and `app_client` of a test for the next one that takes app_client and builds the"
        " same app (the client's cookies and settings reset; the app's own state stays)",
        type="bool",
        default=False,
    )
    parser.addini(
        "mockidp_env",
        "lines of NAME={placeholder} that idp_env sets, e.g. SERVER_METADATA_URL={metadata_url}",
        type="linelist",
    )
    for option in options():
        dest = f"mockidp_{option.field}"
        kwargs = {**option.kwargs, "dest": dest}
        if option.kind == "bool":
            group.addoption(
                f"--mockidp-{option.flag}",
                action=argparse.BooleanOptionalAction,
                dest=dest,
                default=None,
                help=kwargs["help"],
            )
            parser.addini(dest, option.kwargs["help"], type="bool", default=None)
        elif option.kind == "list":
            group.addoption(f"--mockidp-{option.flag}", action="append", **kwargs)
            parser.addini(dest, option.kwargs["help"] + " (one per line)", type="linelist", default=None)
        else:
            group.addoption(f"--mockidp-{option.flag}", **kwargs)
            parser.addini(dest, option.kwargs["help"], default=None)


SEE_CONFIGURATION = "see: python -m mockidp docs configuration"


def _from_ini(name: str, raw: Any, convert: Callable[[str], Any], kind: str) -> Any:
    if kind == "bool":
        return raw
    try:
        return tuple(convert(v) for v in raw) if kind == "list" else convert(raw)
    except ValueError as exc:
        detail = f"expected a whole number, got {raw!r}" if convert is int else str(exc)
        raise pytest.UsageError(f"mockidp: the ini option {name}: {detail}\n{SEE_CONFIGURATION}") from None


def read_defaults(config: pytest.Config) -> dict[str, Any]:
    """Provider options set for the whole run, by file, ini and command line, in that order; checked."""
    values: dict[str, Any] = {}
    path = config.getoption("mockidp_config") or config.getini("mockidp_config")
    if path:
        try:
            values.update(load_file(Path(config.rootpath, path)))
        except ConfigError as exc:
            raise pytest.UsageError(f"mockidp: {exc}\n{SEE_CONFIGURATION}") from None
    for option in options():
        dest = f"mockidp_{option.field}"
        raw = config.getini(dest)
        if raw is not None and raw != []:
            values[option.field] = _from_ini(dest, raw, option.kwargs.get("type", str), option.kind)
        flag = config.getoption(dest)
        if flag is not None:
            values[option.field] = tuple(flag) if isinstance(flag, list) else flag
    try:
        ProviderConfig.from_dict(values)
    except (ConfigError, TypeError) as exc:
        raise pytest.UsageError(
            f"mockidp: the provider options of this run (file, ini, flags): {exc}\n{SEE_CONFIGURATION}"
        ) from None
    return values


def configure(config: pytest.Config) -> None:
    config.stash[_DEFAULTS] = read_defaults(config)


def suite_defaults(config: pytest.Config) -> dict[str, Any]:
    """The options ``configure`` read when pytest started (a copy, for one test to add its markers to)."""
    defaults: dict[str, Any] = config.stash[_DEFAULTS]
    return dict(defaults)
