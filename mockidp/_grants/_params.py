"""What every grant reads the same way: a parameter the grant type requires (RFC 6749 §4.1.3, §6, ...)."""

from __future__ import annotations

from mockidp._errors import OAuthError
from mockidp._exchange import Exchange


def require(ex: Exchange, name: str) -> str:
    value = ex.params.get(name)
    if value is None:
        raise OAuthError("invalid_request", f"{name} is required for grant_type {ex.params['grant_type']}")
    return value
