"""The request log: one entry per request the provider answered, in protocol terms.

Each entry knows its endpoint and, where it applies, the grant type, the client and how it
authenticated (RFC 6749 §2.3, OIDC Core §9), whether a PKCE verifier came (RFC 7636), the scopes
and the OAuth error the provider answered with. Tests assert on ``MockIdP.requests`` directly.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from mockidp._errors import unknown

Endpoint: TypeAlias = Literal[
    "discovery",
    "jwks",
    "authorize",
    "token",
    "userinfo",
    "introspection",
    "revocation",
    "end_session",
    "par",
    "device_authorization",
    "device_verification",
    "debugger",
    "registration",
    "client_configuration",
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
    "par",
    "device_authorization",
    "device_verification",
    "debugger",
    "registration",
    "client_configuration",
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
    #: RFC 9126: the request_uri the PAR endpoint answered, or the authorization endpoint was sent.
    request_uri: str | None = None
    #: OIDC Core §6.1, RFC 9101: whether the request came as a signed request object.
    request_object: bool | None = None
    #: RFC 9449: the thumbprint (RFC 7638) of the DPoP key whose proof came with the request.
    dpop_jkt: str | None = None
    #: OIDC Core §2: the authentication context class the login reached (``acr``), at the authorization endpoint.
    acr: str | None = None
    #: OIDC Back-Channel Logout 1.0 §2.5: the clients the request's logout sent a logout token to.
    backchannel_logout: tuple[str, ...] = ()

    def __str__(self) -> str:
        detail = [f"{self.method} {self.endpoint} -> {self.status}"]
        if self.grant_type:
            detail.append(f"grant_type={self.grant_type}")
        if self.client_id:
            detail.append(f"client_id={self.client_id}")
        if self.error:
            detail.append(f"error={self.error} ({self.error_description})")
        return " ".join(detail)


class RequestLog(list[RequestRecord]):
    """Every request the provider answered, oldest first; ``filter`` picks entries by their fields.

    With a ``limit``, only the last ``limit`` requests are kept (``mockidp serve`` keeps 1,000: nobody
    reads its log, and a server under load answers hundreds of requests a second).
    """

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or at least 0, got {limit}")
        self.limit = limit
        #: Every request ever logged, kept or not: where a flow's requests start (see ``since``).
        self.total = 0
        self._adding = threading.Lock()  # sync transports may answer from several threads at once

    def add(self, record: RequestRecord) -> int:
        """Log ``record``, forgetting the oldest entry past the limit; returns the new ``total``."""
        with self._adding:
            self.append(record)
            self.total += 1
            if self.limit is not None and len(self) > self.limit:
                del self[: len(self) - self.limit]
            return self.total

    def forget(self) -> None:
        """Drop every entry; ``total`` keeps counting, so ``since`` stays right."""
        with self._adding:
            self.clear()

    def since(self, total: int) -> list[RequestRecord]:
        """The entries still kept of those logged after ``total`` requests."""
        count = self.total - total
        return list(self[max(0, len(self) - count) :]) if count > 0 else []

    def filter(self, **fields: Any) -> list[RequestRecord]:
        """Entries whose attributes equal ``fields``, e.g. ``filter(endpoint="token", grant_type="refresh_token")``."""
        names = sorted(f.name for f in dataclasses.fields(RequestRecord))
        for name in sorted(fields):
            if name not in names:
                raise TypeError(unknown("RequestRecord field", name, names))
        if "endpoint" in fields and fields["endpoint"] not in ENDPOINTS:
            raise ValueError(unknown("endpoint", fields["endpoint"], ENDPOINTS))
        return [r for r in self if all(getattr(r, k) == v for k, v in fields.items())]
