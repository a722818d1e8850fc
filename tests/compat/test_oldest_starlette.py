"""The plugin on the oldest releases mockidp supports (``pyproject.toml``'s lower bounds), in a virtualenv.

Starlette 0.40, joserfc 1.5, anyio 4.4, uvicorn 0.30 and sniffio 1.3, with httpx (no httpx2) and authlib
1.3. Starlette's TestClient changed under the plugin: before 0.44 it takes no ``client`` address, and
before 1.9 it runs a request in two portal calls instead of streaming the response. A login through
``app_client`` (which runs the flow in one portal call) and ``async_app_client``, a streamed response and
the loopback server must work there as they do today. The suite below runs under pytest in that
environment, with mockidp and the plugin from this tree.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.compat._seedenv import REPO, clean_env

pytestmark = pytest.mark.compat

SUITE = """
import os

import pytest
from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route


def create_login_app():
    oidc = OAuth().register(
        "idp",
        server_metadata_url=os.environ["SERVER_METADATA_URL"],
        client_id=os.environ["CLIENT_ID"],
        client_secret=os.environ["CLIENT_SECRET"],
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )

    async def home(request):
        user = request.session.get("user")
        if user is None:
            return await oidc.authorize_redirect(request, "http://testserver/callback")
        return JSONResponse(user)

    async def callback(request):
        token = await oidc.authorize_access_token(request)
        request.session["user"] = {"sub": token["userinfo"]["sub"], "email": token["userinfo"]["email"]}
        return RedirectResponse("/", status_code=303)

    routes = [Route("/", home), Route("/callback", callback)]
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, secret_key="test-only")])


@pytest.mark.app_factory("test_oldest:create_login_app")
def test_a_login_through_app_client(idp, app_client):
    result = idp.login(app_client, "/")

    assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}
    assert app_client.get("/").json() == {"sub": "alice", "email": "alice@example.com"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.app_factory("test_oldest:create_login_app")
async def test_an_async_login(idp, async_app_client):
    result = await idp.alogin(async_app_client, "/")

    assert result.response.json() == {"sub": "alice", "email": "alice@example.com"}


def test_the_loopback_server(idp_live):
    import json
    import urllib.request

    with urllib.request.urlopen(idp_live.metadata_url) as answer:
        assert json.load(answer)["issuer"] == idp_live.issuer


async def chunks():
    for chunk in (b"first ", b"second"):
        yield chunk


def create_streaming_app():
    return Starlette(routes=[Route("/", lambda request: StreamingResponse(chunks()))])


@pytest.mark.app_factory("test_oldest:create_streaming_app")
def test_plain_and_streamed_responses(app_client):
    assert app_client.get("/").text == "first second"
    with app_client.stream("GET", "/") as response:
        assert b"".join(response.iter_raw()) == b"first second"
"""

INI = """[pytest]
addopts = -p pytest_mockidp -p no:cacheprovider --strict-markers --strict-config
filterwarnings =
    error
    ignore:The anyio.abc.BlockingPortal alias is deprecated:DeprecationWarning
"""


def test_the_plugin_on_the_oldest_supported_releases(oldest_python: Path, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_oldest.py").write_text(SUITE)
    path = os.pathsep.join([str(tmp_path), str(REPO), str(REPO / "plugin")])

    done = subprocess.run(  # noqa: S603 (argv built here, no shell)
        [str(oldest_python), "-m", "pytest", "-q"],
        cwd=tmp_path,
        env=clean_env({"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
