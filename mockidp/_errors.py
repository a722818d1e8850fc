"""Errors: RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization endpoint), RFC 6750 §3 (bearer).

``OAuthError`` is what an endpoint raises; the app renders it as JSON, as a redirect back to the
client, or as an HTML error page when the redirect URI cannot be trusted.
"""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "invalid_token",
    "insufficient_scope",
    "invalid_request_uri",
    "unsupported_token_type",
]


class ConfigError(ValueError):
    """The provider was configured with something it cannot use; the message says what to change."""


class OAuthError(Exception):
    """An OAuth 2.0 error response: a code from the RFCs, a human description and an HTTP status."""

    def __init__(
        self,
        error: ErrorCode,
        description: str,
        *,
        status: int = 400,
        www_authenticate: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error: ErrorCode = error
        self.description = description
        self.status = status
        self.www_authenticate = www_authenticate

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_client(description: str, *, scheme: str = "Basic") -> OAuthError:
    """RFC 6749 §5.2: failed client authentication answers 401 with a ``WWW-Authenticate`` challenge."""
    return OAuthError("invalid_client", description, status=401, www_authenticate=f'{scheme} realm="mockidp"')


def invalid_token(description: str) -> OAuthError:
    """RFC 6750 §3.1: a bearer token that is missing, malformed, expired or revoked."""
    quoted = description.replace("\\", "\\\\").replace('"', "'")
    return OAuthError(
        "invalid_token",
        description,
        status=401,
        www_authenticate=f'Bearer realm="mockidp", error="invalid_token", error_description="{quoted}"',
    )
