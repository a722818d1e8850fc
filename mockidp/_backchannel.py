"""OpenID Connect Back-Channel Logout 1.0: a logout token (§2.4) POSTed to each client's
``backchannel_logout_uri`` (§2.5) when an IdP session ends, and what the client answered (§2.8).

A session ends at RP-initiated logout (the end-session endpoint) or at ``MockIdP.end_sessions()``.
Every client that was given a code in it and registered a ``backchannel_logout_uri`` gets one logout
token: ``iss``, ``aud`` (the client), ``iat``, ``exp``, ``jti``, ``sub``, ``sid`` and the back-channel
logout event, never a ``nonce``, with the JWT type ``logout+jwt`` (§2.4), signed as the client's ID
tokens are.

Where the token goes: to an app a simulated login has run through (``MockIdP.login``, ``logout`` and
``refuse`` remember the app behind the client, by its origin, as the plugin's ``app_client`` does when
it is entered) the POST is an in-process ASGI call, on
the app's own event loop (an entered ``TestClient``'s portal), whoever ends the session;
to any other URI it goes over the network with the installed httpx, as a real provider's would. The
provider waits for the answers (at most ``TIMEOUT`` seconds each) and never fails the logout for one:
each delivery, answered or not, is kept in ``MockIdP.backchannel_logouts`` (the newest
``request_log_limit`` of them, where that is set).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from mockidp._config import Client
from mockidp._state import Session, new_id

if TYPE_CHECKING:
    from mockidp._browser import Site
    from mockidp._context import Context

#: §2.6 item 6: the event a logout token carries.
EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: How long a logout token lives (§2.4 recommends a short lifetime; two minutes, as most providers).
LIFETIME = 120
#: How long the provider waits for a client's answer over the network, in seconds.
TIMEOUT = 5.0


@dataclass(frozen=True)
class AppRoute:
    """An app a simulated login ran through: its ASGI site, and the client that reached it (a Starlette
    ``TestClient`` runs its app on its portal's event loop, where a sync caller must send to it)."""

    site: Site
    client: Any = None


@dataclass(frozen=True)
class BackchannelLogout:
    """One logout token sent to a client (OIDC Back-Channel Logout 1.0 §2.5) and what came back.

    ``status_code`` is the client's HTTP status (§2.8: 200 or 204 when it logged the user out, 400 when
    it could not), ``None`` when no answer came; ``error`` then says why.
    """

    client_id: str
    uri: str
    logout_token: str
    claims: dict[str, Any]
    status_code: int | None
    error: str | None = None
    #: ``in-process`` (an app a simulated login ran through) or ``network``.
    route: str = "network"

    @property
    def ok(self) -> bool:
        return self.status_code in (200, 204)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-case, as the in-process apps are kept by."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def pending(ctx: Context, ended: Iterable[Session]) -> list[tuple[str, str, dict[str, Any], str]]:
    """The logout tokens the ended sessions owe: ``(client_id, uri, claims, token)`` per client told."""
    now = int(ctx.now())
    owed = []
    for session in ended:
        for client in _told(ctx, [session]):
            if client.backchannel_logout_uri is None:
                continue
            claims: dict[str, Any] = {
                "iss": ctx.issuer,
                "sub": session.user.sub,
                "aud": client.client_id,
                "iat": now,
                "exp": now + LIFETIME,
                "jti": new_id(16),
                "sid": session.id,
                "events": {EVENT: {}},
            }
            key = ctx.keys.signing_key(client.id_token_signed_response_alg)
            token = ctx.keys.sign(claims, key=key, typ="logout+jwt")
            owed.append((client.client_id, client.backchannel_logout_uri, claims, token))
    return owed


async def deliver(ctx: Context, ended: Iterable[Session]) -> list[BackchannelLogout]:
    """Send the logout tokens the ended sessions owe, in this event loop; each result is also kept."""
    results = []
    for client_id, uri, claims, token in pending(ctx, ended):
        route = ctx.apps.get(origin(uri))
        sent = BackchannelLogout(client_id, uri, token, claims, None)
        try:
            if route is not None:
                status = await _post_to_app(route, uri, token)
                sent = dataclasses.replace(sent, route="in-process", status_code=status)
            else:
                sent = dataclasses.replace(sent, status_code=await _post_over_network(uri, token))
        except Exception as exc:  # the client's failure is the client's: the logout itself goes on
            sent = dataclasses.replace(sent, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        results.append(sent)
    limit = ctx.requests.limit  # kept as the request log is: ``mockidp serve`` keeps the newest 1,000
    with ctx.lock:
        ctx.backchannel_logouts.extend(results)
        if limit is not None and len(ctx.backchannel_logouts) > limit:
            del ctx.backchannel_logouts[: len(ctx.backchannel_logouts) - limit]
    return results


def deliver_sync(ctx: Context, ended: list[Session]) -> list[BackchannelLogout]:
    """``deliver`` from sync code, on an event loop of its own (``mockidp._transports.run_sync``)."""
    from mockidp._transports import run_sync

    if not any(c.backchannel_logout_uri is not None for c in _told(ctx, ended)):
        return []
    return run_sync(lambda: deliver(ctx, ended))


async def _post_to_app(route: AppRoute, uri: str, token: str) -> int:
    """POST the token to the app in-process, on its own event loop: an entered ``TestClient``'s portal, unless
    this is that loop already (a login drives its flow there), else this one. At most ``TIMEOUT`` seconds:
    an app that does not answer, or whose loop is blocked waiting for this very logout (a sync httpx call
    to the provider from an async route), is recorded as not answering."""
    from mockidp._login import running_portal

    portal = running_portal(route.client) if route.client is not None else None
    if portal is None or getattr(portal, "_event_loop_thread_id", None) == threading.get_ident():
        try:
            with anyio.fail_after(TIMEOUT):
                return await _post_in_process(route.site, uri, token)
        except TimeoutError:
            raise TimeoutError(f"the app did not answer in {TIMEOUT:g} s") from None
    sending = _InPortal(portal)
    try:  # the portal may be blocked (even to start a task): the wait is abandoned, and the task cancelled
        with anyio.fail_after(TIMEOUT):
            status: int = await anyio.to_thread.run_sync(sending.send, route.site, uri, token, abandon_on_cancel=True)
    except TimeoutError:
        sending.abandon()
        raise TimeoutError(
            f"the app did not answer in {TIMEOUT:g} s (is its event loop blocked, waiting for this logout?)"
        ) from None
    return status


class _InPortal:
    """One POST run as a task in a portal, from a worker thread, which the caller may give up on: the task is
    then cancelled as soon as it exists, so the portal (and the TestClient's exit) never waits for it."""

    def __init__(self, portal: Any) -> None:
        self.portal = portal
        self.lock = threading.Lock()
        self.future: concurrent.futures.Future[int] | None = None
        self.abandoned = False

    def send(self, site: Site, uri: str, token: str) -> int:
        future: concurrent.futures.Future[int] = self.portal.start_task_soon(_post_in_process, site, uri, token)
        with self.lock:
            self.future = future
            if self.abandoned:
                future.cancel()
        return future.result()

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True
            if self.future is not None:
                self.future.cancel()


def _told(ctx: Context, ended: Iterable[Session]) -> list[Client]:
    return [c for s in ended for cid in s.clients if (c := ctx.clients.get(cid)) is not None]


async def _post_in_process(site: Site, uri: str, token: str) -> int:
    from mockidp._browser import Browser, Jar

    browser = Browser(site, origin(uri) + "/", [(b"user-agent", b"mockidp")], Jar())
    answer = await browser.request(site, "POST", uri, {"logout_token": token})
    return answer.status_code


async def _post_over_network(uri: str, token: str) -> int:
    from mockidp._transports import resolve

    package = resolve(None)
    async with package.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        response = await client.post(uri, data={"logout_token": token})
    status: int = response.status_code
    return status
