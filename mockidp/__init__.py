"""mockidp: a real, spec-following OpenID Connect provider that runs inside your test process.

The names below load on first use (PEP 562), so ``import mockidp`` stays cheap for the pytest
plugin's start-up; ``from mockidp import MockIdP`` works as usual.
"""

import importlib as _importlib
import typing as _typing

from mockidp._version import __version__

if _typing.TYPE_CHECKING:
    from mockidp._backchannel import BackchannelLogout
    from mockidp._config import Client, ProviderConfig, User
    from mockidp._endpoints.registration import Registration
    from mockidp._errors import ConfigError, NotRegisteredError, OAuthError
    from mockidp._journal import RequestRecord
    from mockidp._keys import KeyPool
    from mockidp._provider import MockIdP
    from mockidp._tokens import TokenSet

_EXPORTS = {
    "BackchannelLogout": "mockidp._backchannel",
    "Client": "mockidp._config",
    "ConfigError": "mockidp._errors",
    "KeyPool": "mockidp._keys",
    "MockIdP": "mockidp._provider",
    "NotRegisteredError": "mockidp._errors",
    "OAuthError": "mockidp._errors",
    "ProviderConfig": "mockidp._config",
    "Registration": "mockidp._endpoints.registration",
    "RequestRecord": "mockidp._journal",
    "TokenSet": "mockidp._tokens",
    "User": "mockidp._config",
}

__all__ = [
    "BackchannelLogout",
    "Client",
    "ConfigError",
    "KeyPool",
    "MockIdP",
    "NotRegisteredError",
    "OAuthError",
    "ProviderConfig",
    "Registration",
    "RequestRecord",
    "TokenSet",
    "User",
    "__version__",
]


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mockidp' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {name for name in globals() if name.startswith("_")})
