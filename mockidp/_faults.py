"""Faults on demand: make the next N calls of an endpoint fail or be slow, to test a client's error handling.

A fault answers as the endpoint would (RFC 6749 §5.2 JSON at the token endpoint, a redirect back
to the client at the authorization endpoint). Given an explicit ``status``, the authorization and
end-session endpoints instead answer that status with an error page, as a provider that is down
would. A fault may also only delay the answer (``error=None`` and a ``delay``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mockidp._errors import ConfigError, ErrorCode, OAuthError, unknown
from mockidp._journal import ENDPOINTS, Endpoint

_DEFAULT_STATUS: dict[str, int] = {
    "server_error": 500,
    "temporarily_unavailable": 503,
    "invalid_client": 401,
    "invalid_token": 401,
    "insufficient_scope": 403,
}


@dataclass(kw_only=True)
class Fault:
    endpoint: Endpoint
    error: ErrorCode | None
    status: int
    description: str
    delay: float
    remaining: int
    explicit_status: bool = False

    def as_error(self) -> OAuthError | None:
        """The error this fault answers with, or ``None`` for a fault that only delays."""
        if self.error is None:
            return None
        challenge = None
        if self.status == 401:  # RFC 9110 §15.5.2: a 401 always carries a challenge
            if self.endpoint in ("userinfo", "client_configuration"):  # bearer tokens (RFC 6750, RFC 7592)
                challenge = f'Bearer realm="mockidp", error="{self.error}"'
            else:
                challenge = 'Basic realm="mockidp"'
        error = OAuthError(self.error, self.description, status=self.status, www_authenticate=challenge)
        error.as_page = self.explicit_status and self.endpoint in ("authorize", "end_session")
        return error


class Faults:
    """Pending faults of one provider, taken one call at a time."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        endpoint: str,
        *,
        error: ErrorCode | None = "server_error",
        status: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> Fault:
        if endpoint not in ENDPOINTS:
            raise ConfigError(unknown("endpoint", endpoint, ENDPOINTS))
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ConfigError(f"times must be a positive whole number, got {times!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < float("inf"):
            raise ConfigError(f"delay must be zero or more seconds, got {delay!r}")
        code = status if status is not None else _DEFAULT_STATUS.get(error or "", 400)
        if not 400 <= code <= 599:
            raise ConfigError(f"a fault's status must be an HTTP error status (400-599), got {code!r}")
        fault = Fault(
            endpoint=endpoint,
            error=error,
            status=code,
            description=description or f"mockidp fault injected at the {endpoint} endpoint",
            delay=delay,
            remaining=times,
            explicit_status=status is not None,
        )
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(self, endpoint: str) -> Fault | None:
        """The next fault for ``endpoint``, counted as used, or ``None``."""
        with self._lock:
            for fault in self._pending:
                if fault.endpoint == endpoint:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._pending.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
