"""Take the README's screenshots of the login page and the debugger (docs/*.png) in Debian's chromium.

Run: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mockidp import MockIdP, ProviderConfig, User  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def main() -> None:
    users = (User.named("alice", sub="alice"), User.named("bob", sub="bob", name="Bob Builder"))
    idp = MockIdP(ProviderConfig(interactive=True, adhoc_users=True, debugger=True, users=users))
    with idp.serve() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 720, "height": 900})
        page.goto(f"{url}/debugger")
        page.get_by_role("button", name="Run the flow").click()
        page.screenshot(path=ROOT / "docs" / "login-page.png", full_page=True)
        page.get_by_role("button", name="Alice Example").click()
        page.get_by_role("heading", name="ID token").wait_for()
        section = page.locator("section").filter(has=page.get_by_role("heading", name="ID token"))
        section.screenshot(path=ROOT / "docs" / "debugger.png")
        browser.close()


if __name__ == "__main__":
    main()
