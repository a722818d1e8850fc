"""Test controls: what a test arms for the provider's next answers, beyond faults (``mockidp._faults``).

A user queued by ``MockIdP.login_as`` is logged in by the next authorization request that may show a
login; an ID token defect armed by ``MockIdP.tamper_next_id_token`` goes into the next token
response. Both are taken once; a simulated login that breaks before using them forgets them.
"""

from __future__ import annotations

import threading

from mockidp._config import User


class Controls:
    """One provider's armed test controls; safe to use from several threads."""

    def __init__(self) -> None:
        self._queued_logins: list[User] = []
        self._tamper: str | None = None
        self._lock = threading.Lock()

    def queue_login(self, user: User) -> None:
        with self._lock:
            self._queued_logins.append(user)

    def take_queued_login(self) -> User | None:
        with self._lock:
            return self._queued_logins.pop(0) if self._queued_logins else None

    def arm_tamper(self, kind: str) -> None:
        with self._lock:
            self._tamper = kind

    def take_tamper(self) -> str | None:
        with self._lock:
            kind, self._tamper = self._tamper, None
            return kind

    def forget(self) -> None:
        """Drop everything armed (a simulated login broke before using it)."""
        with self._lock:
            self._queued_logins.clear()
            self._tamper = None
