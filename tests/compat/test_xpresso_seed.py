"""The Xpresso CORS tutorial app (seed 004), checked with mockidp.testing's CORS helpers (Fetch standard §3.2).

The tutorial puts Starlette's ``CORSMiddleware`` on the router mounted at ``/v1`` only, with credentials
allowed for the origins of ``AppConfig.cors_origins``; ``/health`` stays outside it. The app runs as its
``create_production_app`` factory under uvicorn in its own environment (see ``_seedenv``), configured from
the ``CORS_ORIGINS`` environment variable as the tutorial's pydantic ``BaseSettings`` read it (JSON).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest

from mockidp.testing import assert_cors, assert_no_cors, preflight
from tests.compat._seedenv import SEED_COMPAT, AppFailed, running

pytestmark = pytest.mark.compat

APP_DIR = SEED_COMPAT / "xpresso_app"
ALLOWED = "https://app.example"
OTHER = "https://elsewhere.example"
TLS = ssl.create_default_context()  # one CA bundle load for every client of this module


@pytest.fixture(scope="module")
def app_url(xpresso_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    argv: list[str | Path] = [
        xpresso_python,
        "-m",
        "uvicorn",
        "--factory",
        "app:create_production_app",
        "--app-dir",
        APP_DIR,
    ]
    argv += ["--host", "127.0.0.1", "--port", "0"]
    env = {"CORS_ORIGINS": json.dumps([ALLOWED])}
    with ExitStack() as stack:
        try:
            url = stack.enter_context(running(argv, env=env, cwd=tmp_path_factory.mktemp("xpresso-seed")))
        except AppFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        yield url


@pytest.fixture
def client(app_url: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=app_url, verify=TLS, timeout=30) as client:
        yield client


def test_preflight_from_an_allowed_origin_is_allowed_with_credentials(client: httpx2.Client) -> None:
    response = preflight(client, "/v1/landing", origin=ALLOWED, method="GET", headers=["Authorization"])

    assert response.status_code == 200
    assert_cors(response, origin=ALLOWED, credentials=True, methods=["GET"], headers=["Authorization"])


def test_an_allowed_origin_reads_the_landing_page(client: httpx2.Client) -> None:
    response = client.get("/v1/landing", headers={"Origin": ALLOWED})

    assert response.json() == {"message": "Hello!"}
    assert_cors(response, origin=ALLOWED, credentials=True)


def test_preflight_from_another_origin_is_refused(client: httpx2.Client) -> None:
    response = preflight(client, "/v1/landing", origin=OTHER, method="GET")

    assert (response.status_code, response.text) == (400, "Disallowed CORS origin")
    assert_no_cors(response)
    with pytest.raises(AssertionError, match="Access-Control-Allow-Origin is missing; expected https://elsewhere"):
        assert_cors(response, origin=OTHER)


@pytest.mark.parametrize("origin", [ALLOWED, OTHER])
def test_health_carries_no_cors_headers(client: httpx2.Client, origin: str) -> None:
    response = client.get("/health", headers={"Origin": origin})

    assert response.json() == {"okay": True}
    assert_no_cors(response)
