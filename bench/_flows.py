"""The logins the benchmarks time, all through the canonical app (examples/oidc_login: authlib on Starlette).

The flow is the app's own: GET a protected path, follow the redirect to the provider, let the
provider log the user in, return to the app's callback (which redeems the code, validates the ID
token, stores the tokens and sets the session), and follow the app's redirect back to the page.

- in-process: ``idp.login(TestClient)`` / ``await idp.alogin(AsyncClient)`` with the plugin's
  routed clients, the provider reached through ``idp.intercept()`` (no socket anywhere);
- over a socket: the same app, its authlib talking to a provider on 127.0.0.1, the browser's hop to
  the provider made with an httpx2 client over the socket too (``browser_login``), so mockidp's
  loopback server and the peer ``oidc-provider-mock`` run exactly the same steps.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from _common import EXAMPLE

CLIENT_SECRET_FOR_PEER = "bench-secret"
SECRET_KEY = "not-a-secret-only-for-benchmarks"


class BenchError(RuntimeError):
    """A flow did not do what it should: the benchmark stops with a non-zero exit."""


def check(ok: bool, message: str) -> None:
    if not ok:
        raise BenchError(message)


def example_app(metadata_url: str, client_id: str, client_secret: str) -> Any:
    """The seed 000 example app (examples/oidc_login), configured for one provider."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    try:
        from oidc_login import create_app
    except ImportError as exc:  # pragma: no cover - the example is part of the repository
        raise BenchError(f"cannot import the example app from {EXAMPLE}: {exc}") from exc
    from starlette.config import Config

    environ = {
        "SERVER_METADATA_URL": metadata_url,
        "CLIENT_ID": client_id,
        "CLIENT_SECRET": client_secret,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": "sqlite://",
    }
    return create_app(Config(environ=environ))


def app_for(idp: Any) -> Any:
    """The example app configured for ``idp``'s issuer and default client."""
    return example_app(idp.metadata_url, idp.client.client_id, idp.client.client_secret or "")


def checked_login(result: Any) -> None:
    check(result.status_code == 200, f"the simulated login did not end on a 200 page:\n{result}")
    body = result.response.json()
    check(body == {"email": "alice@example.com"}, f"unexpected page after login: {body!r}")


ProviderStep = Callable[[Any, str], Any]


def mockidp_step(browser: Any, authorize_url: str) -> Any:
    """mockidp (non-interactive, its default): a GET of the authorization URL logs the default user in."""
    return browser.get(authorize_url)


def peer_step(browser: Any, authorize_url: str) -> Any:
    """oidc-provider-mock: POST its login form (the subject) to the authorization URL, as its README does."""
    return browser.post(authorize_url, data={"sub": "alice@example.com"})


def browser_login(app_client: Any, browser: Any, provider_step: ProviderStep, *, email: str) -> None:
    """The login with the app through ``app_client`` and the provider through ``browser`` (over a socket)."""
    first = app_client.get("/other")
    check(first.status_code in (302, 303, 307), f"the app did not redirect to the provider: {first.status_code}")
    authorize_url = first.headers["location"]
    answer = provider_step(browser, authorize_url)
    check(answer.status_code in (302, 303), f"the provider did not redirect back: {answer.status_code} {answer.text}")
    callback = app_client.get(answer.headers["location"])
    check(callback.status_code == 303, f"the app's callback answered {callback.status_code}: {callback.text}")
    page = app_client.get(callback.headers["location"])
    check(page.status_code == 200, f"the page after login answered {page.status_code}")
    check(page.json() == {"email": email}, f"unexpected page after login: {page.text}")
