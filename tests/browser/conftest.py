"""A real browser (Debian's chromium, driven by Playwright) for the pages people use: one per package run.

Playwright's sync API keeps an event loop marked running while it lives, which would break the
suite's asyncio tests run after it in the same process; the browser is package-scoped, so it is
closed before any test outside this package runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.config import Config
from starlette.types import ASGIApp

from mockidp import KeyPool, MockIdP, ProviderConfig
from mockidp._server import base_url, bind, serve_socket

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "oidc_login"))  # the seed's app, as its own README runs it

CHROMIUM = Path("/usr/bin/chromium")
#: Offline, quiet and fast: no sandbox (root in CI), no GPU, nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page, phone-sized: the pages must work there."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@contextmanager
def live(app: ASGIApp) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port; yields its URL."""
    sock = bind("127.0.0.1", 0)
    try:
        with serve_socket(app, sock):
            yield base_url(sock)
    finally:
        sock.close()


def provider(key_pool: KeyPool, **config: object) -> MockIdP:
    return MockIdP(ProviderConfig(interactive=True, **config), keys=key_pool)  # type: ignore[arg-type]


@contextmanager
def seed_app(idp: MockIdP) -> Iterator[str]:
    """The seed's app (examples/oidc_login) served live, logging users in at ``idp``."""
    from oidc_login import create_app

    config = Config(
        environ={
            "SERVER_METADATA_URL": idp.metadata_url,
            "CLIENT_ID": idp.client.client_id,
            "CLIENT_SECRET": str(idp.client.client_secret),
            "SECRET_KEY": "not-a-secret-only-for-tests",
            "DATABASE_URL": "sqlite://",
        }
    )
    with live(create_app(config)) as url:
        yield url
