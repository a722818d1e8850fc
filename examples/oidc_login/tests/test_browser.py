"""The app in a real browser, with pytest-playwright: the app under test on a live server, mockidp's
``idp_live`` as its provider, and the browser going through both, past mockidp's login page.

pytest-playwright's ``page`` fixture launches the browser from ``browser_type_launch_args``; here it is
Debian's chromium (``apt-get install chromium``), so nothing is downloaded.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mockidp import MockIdP
from playwright.sync_api import Page, expect
from starlette.applications import Starlette

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": args}


@pytest.fixture
def live_app(app: Starlette) -> Iterator[str]:
    """The ``app`` fixture (built by create_app for the test's provider) on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them: no need to wait for it
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.mark.mockidp(interactive=True, adhoc_users=True)
def test_a_person_logs_in_through_the_login_page(idp_live: MockIdP, live_app: str, page: Page) -> None:
    page.goto(f"{live_app}/other")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("zoe")
    page.get_by_label("Extra claims (optional)").fill('{"email": "zoe@corp.example"}')
    page.get_by_role("button", name="Log in and allow").click()

    page.wait_for_url(f"{live_app}/other")
    assert json.loads(page.locator("body").inner_text()) == {"email": "zoe@corp.example"}
    assert idp_live.requests.filter(endpoint="token")[-1].client_id == "mockidp-client"
