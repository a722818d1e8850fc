"""Suite-wide defaults: ``--mockidp-*`` command-line options and ``mockidp_*`` ini options.

Both are generated from ``ProviderConfig``'s fields by ``mockidp._options``, the same table that
makes ``mockidp serve``'s flags. Precedence, lowest first: ``ProviderConfig``'s defaults, the file
named by ``mockidp_config`` / ``--mockidp-config``, ``mockidp_<field>`` ini options, ``--mockidp-*``
flags, then ``@pytest.mark.mockidp`` markers from the module down to the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockidp._options import load_file, options

DEFAULT_ENV = (
    "SERVER_METADATA_URL={metadata_url}",
    "CLIENT_ID={client_id}",
    "CLIENT_SECRET={client_secret}",
    "OIDC_ISSUER={issuer}",
)


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
        "mockidp_env",
        "lines of NAME={placeholder} that idp_env sets, e.g. SERVER_METADATA_URL={metadata_url}",
        type="linelist",
    )
    for option in options():
        dest = f"mockidp_{option.field}"
        kwargs = {**option.kwargs, "dest": dest}
        if option.kind == "bool":
            group.addoption(
                f"--mockidp-{option.flag}", action="store_true", dest=dest, default=None, help=kwargs["help"]
            )
            parser.addini(dest, option.kwargs["help"], type="bool", default=None)
        elif option.kind == "list":
            group.addoption(f"--mockidp-{option.flag}", action="append", **kwargs)
            parser.addini(dest, option.kwargs["help"] + " (one per line)", type="linelist", default=None)
        else:
            group.addoption(f"--mockidp-{option.flag}", **kwargs)
            parser.addini(dest, option.kwargs["help"], default=None)


def suite_defaults(config: pytest.Config) -> dict[str, Any]:
    """Provider options set for the whole run, by file, ini and command line, in that order."""
    values: dict[str, Any] = {}
    path = config.getoption("mockidp_config") or config.getini("mockidp_config")
    if path:
        values.update(load_file(Path(config.rootpath, path)))
    for option in options():
        dest = f"mockidp_{option.field}"
        raw = config.getini(dest)
        if raw is not None and raw != []:
            convert = option.kwargs.get("type", str)
            values[option.field] = (
                tuple(convert(v) for v in raw)
                if option.kind == "list"
                else (raw if option.kind == "bool" else convert(raw))
            )
        flag = config.getoption(dest)
        if flag is not None:
            values[option.field] = tuple(flag) if isinstance(flag, list) else flag
    return values
