"""``python -m oidc_login``: serve the app on http://localhost:5001, as the seed does (``PORT`` overrides)."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from oidc_login import create_app


def main() -> None:
    for name in ("httpx", "httpx2"):  # authlib's calls to the provider, logged as the seed does
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logging.StreamHandler(sys.stdout))
    uvicorn.run(create_app(), host="localhost", port=int(os.environ.get("PORT", "5001")))


if __name__ == "__main__":
    main()
