"""The app as the seed runs it: ``python -m oidc_login`` against ``mockidp serve``, over real sockets.

The browser is an httpx2 client that keeps cookies and follows redirects from the app to the
provider and back, as in the seed's walk-through: /public is not authenticated, /other sends the
browser to the provider and comes back showing the email.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

EXAMPLE = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(command: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[str]:
    """Start ``command`` and wait (by reading its output, not by sleeping) for the line saying it is ready."""
    process = subprocess.Popen(
        command, cwd=EXAMPLE, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:  # ends when the process does, so a crash cannot hang the test
        if ready in line:
            return process
    process.wait()
    pytest.fail(f"{' '.join(command)} exited with {process.returncode} before printing {ready!r}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def provider() -> Iterator[str]:
    """``mockidp serve`` on a free port, logging users in without a form; yields its issuer."""
    process = start(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--no-interactive"], {}, "mockidp serving"
    )
    try:
        yield _issuer_of(process)
    finally:
        stop(process)


def _issuer_of(process: subprocess.Popen[str]) -> str:
    # start() consumed the "mockidp serving <issuer>" line; the metadata line that follows names it too.
    assert process.stdout is not None
    metadata = process.stdout.readline().split()[-1]
    return metadata.removesuffix("/.well-known/openid-configuration")


@pytest.fixture
def app_url(provider: str) -> Iterator[str]:
    """``python -m oidc_login`` on a free port, configured for the served provider."""
    port = free_port()
    env = {
        "SERVER_METADATA_URL": f"{provider}/.well-known/openid-configuration",
        "CLIENT_ID": "mockidp-client",
        "CLIENT_SECRET": "mockidp-secret",
        "SECRET_KEY": "not-a-secret-only-for-tests",
        "DATABASE_URL": "sqlite://",
        "PORT": str(port),
    }
    process = start([sys.executable, "-m", "oidc_login"], env, "Uvicorn running on")
    try:
        yield f"http://localhost:{port}"
    finally:
        stop(process)


def test_the_seed_walk_through_against_mockidp_serve(provider: str, app_url: str) -> None:
    with httpx2.Client(follow_redirects=False) as browser:
        assert browser.get(f"{app_url}/public").json() == {"message": "User not authenticated"}

        redirect = browser.get(f"{app_url}/other")
        assert redirect.status_code in (302, 303, 307)
        assert redirect.headers["location"].startswith(f"{provider}/authorize?")

        back = browser.get(f"{app_url}/other", follow_redirects=True)

    assert back.json() == {"email": "alice@example.com"}
    assert str(back.url) == f"{app_url}/other"
