"""``python -m fastapi_api``: serve the API on http://localhost:8081 (settings from OIDC_ISSUER, OIDC_AUDIENCE)."""

from __future__ import annotations

import uvicorn

from fastapi_api import create_app


def main() -> None:
    uvicorn.run(create_app(), host="localhost", port=8081)


if __name__ == "__main__":
    main()
