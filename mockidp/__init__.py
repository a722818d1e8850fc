"""mockidp: a real, spec-following OpenID Connect provider that runs inside your test process."""

from mockidp._config import Client, ProviderConfig, User
from mockidp._errors import ConfigError, OAuthError
from mockidp._journal import RequestRecord
from mockidp._keys import KeyPool
from mockidp._provider import MockIdP
from mockidp._tokens import TokenSet
from mockidp._version import __version__

__all__ = [
    "Client",
    "ConfigError",
    "KeyPool",
    "MockIdP",
    "OAuthError",
    "ProviderConfig",
    "RequestRecord",
    "TokenSet",
    "User",
    "__version__",
]
