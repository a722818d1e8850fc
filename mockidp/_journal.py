"""The request log: one entry per request the provider answered, in protocol terms.

Each entry knows its endpoint and, where it applies, the grant type, the client and how it
authenticated (RFC 6749 §2.3, OIDC Core §9), whether a PKCE verifier came (RFC 7636), the scopes
and the OAuth error the provider answered with. Tests assert on ``MockIdP.requests`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Endpoint: TypeAlias = Literal[
    "discovery", "jwks", "authorize", "token", "userinfo", "introspection", "revocation", "end_session"
]
ENDPOINTS: tuple[Endpoint, ...] = (
    "discovery",
    "jwks",
    "authorize",
    "token",
    "userinfo",
    "introspection",
    "revocation",
    "end_session",
)


@dataclass(kw_only=True)
class RequestRecord:
    """One request as the provider understood it."""

    endpoint: Endpoint
    method: str
    url: str
    time: float
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    error: str | None = None
    error_description: str | None = None
    client_id: str | None = None
    client_auth_method: str | None = None
    grant_type: str | None = None
    scopes: tuple[str, ...] = ()
    pkce: bool | None = None
    user: str | None = None

    def __str__(self) -> str:
        detail = [f"{self.method} {self.endpoint} -> {self.status}"]
        if self.grant_type:
            detail.append(f"grant_type={self.grant_type}")
        if self.client_id:
            detail.append(f"client_id={self.client_id}")
        if self.error:
            detail.append(f"error={self.error} ({self.error_description})")
        return " ".join(detail)
