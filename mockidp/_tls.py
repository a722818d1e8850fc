"""One default TLS context per process for the httpx clients an app builds while a provider is active.

Building an ``SSLContext`` with the default trust store loads the whole CA bundle: about 30 ms, and
httpx does it for every client. authlib builds a client for each call it makes (discovery, token,
JWKS), so a simulated login paid that three or four times although no request ever left the
process. While ``intercept()`` is active, each package's transports get the context made for the
default settings (``verify=True``, no client certificate) from this cache, keyed by what decides
its contents (``trust_env`` and the ``SSL_CERT_FILE``/``SSL_CERT_DIR`` variables). Any other
``verify`` or ``cert`` is built as usual. Python's ``SSLContext`` is safe to share between
connections; httpcore only sets its ALPN protocols, to the same values for the same ``http2`` flag.
"""

from __future__ import annotations

import functools
import importlib
import os
import ssl
from collections.abc import Callable
from types import ModuleType
from typing import Any


@functools.cache
def _default_context(config_module: str, trust_env: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """The package's own default context, made once per distinct setting (the arguments are the key)."""
    del cafile, capath  # part of the cache key: create_ssl_context reads them from the environment
    create: Callable[..., ssl.SSLContext] = importlib.import_module(config_module).create_ssl_context
    return create(verify=True, cert=None, trust_env=trust_env)


def sharing_create_ssl_context(package: ModuleType, original: Callable[..., ssl.SSLContext]) -> Callable[..., Any]:
    """A drop-in for ``package``'s ``create_ssl_context`` that shares the default context."""

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None:
            env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else (None, None)
            return _default_context(f"{package.__name__}._config", trust_env, *env)
        return original(verify=verify, cert=cert, trust_env=trust_env)

    return create_ssl_context


def transport_module(package: ModuleType) -> ModuleType:
    """The module whose ``create_ssl_context`` the package's ``HTTPTransport`` calls."""
    return importlib.import_module(f"{package.__name__}._transports.default")
