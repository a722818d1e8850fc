"""One default TLS context per process for the httpx clients an app builds while a provider is active.

Building an ``SSLContext`` with the default trust store loads the whole CA bundle: about 30 ms, and
httpx does it for every client. authlib builds a client for each call it makes (discovery, token,
JWKS), so a simulated login paid that three or four times although no request ever left the
process. While ``intercept()`` is active, each package's transports get the context made for the
default settings (``verify=True``, no client certificate) from this cache; so do those built while
``serve()`` runs, for an app whose OIDC client talks to the served provider, keyed by what decides
its contents (``trust_env`` and the ``SSL_CERT_FILE``/``SSL_CERT_DIR`` variables). Any other
``verify`` or ``cert`` is built as usual. Python's ``SSLContext`` is safe to share between
connections; httpcore only sets its ALPN protocols, to the same values for the same ``http2`` flag.
"""

from __future__ import annotations

import functools
import importlib
import os
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

_MARK = "__mockidp_shared_tls__"


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

    setattr(create_ssl_context, _MARK, True)
    return create_ssl_context


@contextmanager
def shared_default_context(packages: Sequence[ModuleType]) -> Iterator[None]:
    """Share the default TLS context among transports of ``packages`` built while the block runs.

    Nested blocks leave an existing patch alone; a block restores only its own patch, and only if
    nobody patched on top of it since. Sharing is an optimisation: ending it early changes no result.
    """
    restore: list[tuple[ModuleType, Callable[..., Any], Callable[..., Any]]] = []
    for package in packages:
        module = transport_module(package)
        original = module.create_ssl_context
        if getattr(original, _MARK, False):
            continue
        patch = sharing_create_ssl_context(package, original)
        setattr(module, "create_ssl_context", patch)  # noqa: B010 - a module we patch
        restore.append((module, original, patch))
    try:
        yield
    finally:
        for module, original, patch in restore:
            if module.create_ssl_context is patch:
                setattr(module, "create_ssl_context", original)  # noqa: B010


def transport_module(package: ModuleType) -> ModuleType:
    """The module whose ``create_ssl_context`` the package's ``HTTPTransport`` calls."""
    return importlib.import_module(f"{package.__name__}._transports.default")
