"""Values the test settings in pyproject.toml name, and a header helper."""

from __future__ import annotations

ALLOWED_ORIGIN = "https://app.example.test"
OTHER_ORIGIN = "https://evil.example.test"
AUDIENCE = "https://api.example.test"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
