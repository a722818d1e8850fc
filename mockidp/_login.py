"""Simulated logins: drive an app's whole authorization code flow against the provider, as a browser would.

The flow is written once, as a generator that yields the next request (to the app, or to the
provider) and receives its response; ``drive`` and ``adrive`` pump it with a sync or an async
client. App requests go through the caller's client (a Starlette ``TestClient``, an httpx client on
an ``ASGITransport``, ...); provider requests go through the provider's in-process transport but
share the client's cookie jar, so the client is one browser across both.
"""

from __future__ import annotations

import html
import html.parser
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

from mockidp._errors import MockidpError, hide_frames
from mockidp._login_form import ACTION_FIELD, USERNAME_FIELD
from mockidp._transports import installed_packages

if TYPE_CHECKING:
    from mockidp._browser import Site
    from mockidp._provider import MockIdP

#: Under pytest, a ``LoginError`` shows the test's line and the message, not the driver's frames.
__tracebackhide__ = hide_frames

MAX_HOPS = 20
REDIRECTS = (301, 302, 303, 307, 308)
Target = Literal["app", "idp"]


@dataclass(frozen=True)
class Step:
    target: Target
    method: str
    url: str
    form: dict[str, str] | None = None


@dataclass(frozen=True)
class Hop:
    """One request of a simulated login and what came back."""

    target: Target
    method: str
    url: str
    status: int
    location: str | None

    def __str__(self) -> str:
        arrow = f" -> {self.location}" if self.location else ""
        return f"{self.target:>3}  {self.method} {self.url}  {self.status}{arrow}"


@dataclass
class LoginResult:
    """The app's final response, and every hop on the way (``trail``)."""

    response: Any
    trail: list[Hop] = field(default_factory=list)

    @property
    def status_code(self) -> int:
        return int(self.response.status_code)

    def __str__(self) -> str:
        return "\n".join(str(hop) for hop in self.trail)


class LoginError(MockidpError, AssertionError):
    """A simulated login broke; the message says where and why, then lists the hops."""

    __module__ = "mockidp.testing"  # where users import it from, and what a traceback shows
    topic = "simulated-logins"

    def __init__(self, message: str, trail: list[Hop]) -> None:
        lines = [f"mockidp: {message}"]
        if trail:
            lines.append("The hops so far:")
            lines.extend(f"  {hop}" for hop in trail)
        super().__init__("\n".join(lines))
        self.trail = trail


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")


def parse_form(text: str) -> tuple[str | None, dict[str, str]]:
    """The action and hidden fields of the first form in a page the provider served."""
    parser = _FormParser()
    parser.feed(text)
    return parser.action, parser.fields


def _location(step: Step, response: Any) -> str | None:
    if response.status_code not in REDIRECTS or "location" not in response.headers:
        return None
    return urljoin(step.url, str(response.headers["location"]))


class Flow:
    """The login as a sequence of steps; ``run`` is the generator the drivers pump."""

    def __init__(self, idp: MockIdP, path: str, *, deny: bool, expect_failure: bool) -> None:
        self.idp = idp
        self.path = path
        self.deny = deny
        self.expect_failure = expect_failure
        self.trail: list[Hop] = []
        self.first_record = idp.requests.total

    def fail(self, message: str) -> LoginError:
        return LoginError(message, self.trail)

    def _is_authorize(self, url: str | None) -> bool:
        return url is not None and url.split("?")[0] == self.idp.endpoint("authorization_endpoint")

    def _send(self, step: Step) -> Generator[Step, Any, Any]:
        response = yield step
        self.trail.append(Hop(step.target, step.method, step.url, response.status_code, _location(step, response)))
        return response

    def _within_app(self, step: Step) -> Generator[Step, Any, tuple[Step, Any]]:
        """Send ``step`` to the app and follow the app's own redirects; stop at one to the provider."""
        __tracebackhide__ = True
        response = yield from self._send(step)
        for _ in range(MAX_HOPS):
            location = _location(step, response)
            if location is None or location.startswith(self.idp.issuer):
                return step, response
            step = Step("app", "GET", location)
            response = yield from self._send(step)
        raise self.fail(f"the app redirected more than {MAX_HOPS} times without settling")

    def _authorize(self, authorize_url: str) -> Generator[Step, Any, Step]:
        """Answer the authorization request as the user would; returns the request back to the app."""
        __tracebackhide__ = True
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        if self.deny and not self.idp.config.interactive:
            # No login form to press Deny on: post what its Deny button would (no form, no CSRF token).
            form = {**params, ACTION_FIELD: "deny"}
            idp_step = Step("idp", "POST", self.idp.endpoint("authorization_endpoint"), form)
        else:
            idp_step = Step("idp", "GET", authorize_url)
        answer = yield from self._send(idp_step)
        if answer.status_code == 200 and ACTION_FIELD in answer.text:
            # The interactive login form: log in the provider's default user (or deny), as a person would.
            # Its hidden fields carry the CSRF token whose cookie the client's jar now holds.
            _, fields = parse_form(answer.text)
            choice = {ACTION_FIELD: "deny"} if self.deny else {USERNAME_FIELD: self.idp.user.username}
            form = {**fields, ACTION_FIELD: "login", **choice}
            idp_step = Step("idp", "POST", self.idp.endpoint("authorization_endpoint"), form)
            answer = yield from self._send(idp_step)
        back = _location(idp_step, answer)
        if back is not None:
            return Step("app", "GET", back)
        if answer.status_code == 200 and "<form" in answer.text:
            action, fields = parse_form(answer.text)  # response_mode=form_post
            return Step("app", "POST", action or "", fields)
        raise self.fail(f"the provider refused the authorization request: {_page_error(answer.text)}")

    def run(self) -> Generator[Step, Any, Any]:
        __tracebackhide__ = True
        step, response = yield from self._within_app(Step("app", "GET", self.path))
        authorize_url = _location(step, response)
        if authorize_url is None or not self._is_authorize(authorize_url):
            got = f"a redirect to {authorize_url}" if authorize_url else f"{response.status_code} (not a redirect)"
            raise self.fail(
                f"the app did not redirect to the provider: GET {step.url} answered {got}; expected a redirect"
                f" to {self.idp.endpoint('authorization_endpoint')}"
            )
        callback = yield from self._authorize(authorize_url)
        step, response = yield from self._within_app(callback)
        retry = _location(step, response)
        if retry is not None and self._is_authorize(retry) and _callback_error(callback) is not None:
            # The provider answered with an error (login_required after prompt=none, ...) and the app
            # asks again, as apps that try a silent login first do: a browser follows, once.
            callback = yield from self._authorize(retry)
            step, response = yield from self._within_app(callback)
        if self._is_authorize(_location(step, response)):
            raise self.fail(
                "the app sent the browser back to the provider after the callback (a login loop); "
                + self._diagnosis(callback)
            )
        if response.status_code >= 400 and not self.expect_failure:
            raise self.fail(
                f"the app answered {response.status_code} after the login ({step.method} {step.url}); "
                + self._diagnosis(callback)
            )
        return response

    def run_logout(self) -> Generator[Step, Any, Any]:
        """GET the app's logout path, through the provider's end-session endpoint, and back to the app."""
        __tracebackhide__ = True
        end_session = self.idp.endpoint("end_session_endpoint")
        step, response = yield from self._within_app(Step("app", "GET", self.path))
        location = _location(step, response)
        if location is None or location.split("?")[0] != end_session:
            got = f"a redirect to {location}" if location else f"{response.status_code} (not a redirect)"
            raise self.fail(
                f"the app did not send the browser to the provider's end-session endpoint: GET {step.url} answered"
                f" {got}; expected a redirect to {end_session}"
            )
        idp_step = Step("idp", "GET", location)
        answer = yield from self._send(idp_step)
        back = _location(idp_step, answer)
        if back is None:
            if answer.status_code >= 400:
                raise self.fail(f"the provider refused the logout request: {_page_error(answer.text)}")
            return answer  # no post_logout_redirect_uri: the provider's own "logged out" page
        _, response = yield from self._within_app(Step("app", "GET", back))
        return response

    def _diagnosis(self, callback: Step) -> str:
        """Why the app did not log the user in, from what the provider sent back and its request log."""
        error = _callback_error(callback)
        if error is not None:
            return f"the provider sent the app error={error}"
        records = self.idp.requests.since(self.first_record)
        token_requests = [r for r in records if r.endpoint == "token"]
        if not token_requests:
            return (
                "the app never redeemed the code at the token endpoint: did the state round-trip"
                " (is the app's session cookie kept between requests)?"
            )
        last = token_requests[-1]
        if last.error:
            return f"the app's token request was rejected by the provider: {last.error}: {last.error_description}"
        return "the provider issued tokens, so the app refused them or failed after redeeming the code"


def _callback_error(callback: Step) -> str | None:
    """The OAuth error (and its description) the provider sent the app to its callback with, if any."""
    params = callback.form if callback.form is not None else dict(parse_qsl(urlsplit(callback.url).query))
    error = params.get("error")
    if error is None:
        return None
    description = params.get("error_description")
    return f"{error} ({description})" if description else error


def _page_error(text: str) -> str:
    start = text.find("<code>")
    end = text.find("</p>", start)
    if start == -1 or end == -1:
        return text[:200]
    return html.unescape(text[start:end].replace("<code>", "").replace("</code>", ""))


def package_of(client: Any) -> Any:
    for package in installed_packages():
        if isinstance(client, package.Client | package.AsyncClient):
            return package
    raise TypeError(f"expected an httpx or httpx2 client (a Starlette TestClient is one), got {type(client).__name__}")


Steps = Generator[Step, Any, Any]


def _app_raised(flow: Flow, step: Step, exc: Exception) -> LoginError:
    return flow.fail(f"{step.method} {step.url} raised {type(exc).__name__}: {exc}")


def drive(idp: MockIdP, client: Any, flow: Flow, steps: Steps) -> LoginResult:
    """Pump ``steps`` (of ``flow``) with a sync client."""
    __tracebackhide__ = True
    portal = running_portal(client)
    if portal is not None:
        return _drive_in_portal(idp, client, portal, flow, steps)
    if "starlette.testclient" in sys.modules:
        from starlette.testclient import TestClient

        if isinstance(client, TestClient):
            from mockidp import _browser

            remember(idp, client, _browser.portal_site(client))
    transport = idp.transport(package_of(client))
    try:
        step = next(steps)
        while True:
            if step.target == "app":
                try:
                    response = client.request(step.method, step.url, data=step.form, follow_redirects=False)
                except Exception as exc:  # the app raised (a TestClient re-raises), or the request failed
                    raise _app_raised(flow, step, exc) from exc
            else:
                request = client.build_request(step.method, step.url, data=step.form)
                response = transport.handle_request(request)
                response.read()
                response.request = request
                client.cookies.extract_cookies(response)
            step = steps.send(response)
    except StopIteration as done:
        return LoginResult(done.value, flow.trail)
    except BaseException:
        idp.context.controls.forget()  # a broken flow must not log the next one in as its user
        raise


async def adrive(idp: MockIdP, client: Any, flow: Flow, steps: Steps) -> LoginResult:
    """Pump ``steps`` (of ``flow``) with an async client."""
    __tracebackhide__ = True
    from mockidp import _browser

    package = package_of(client)
    site = _browser.asgi_site(package, client)
    if site is not None:  # an app the client only hands requests to: raw ASGI calls (mockidp/_browser.py)
        remember(idp, None, site, str(client.base_url))
        return await _browser.adrive(idp, client, package, site, flow, steps)
    transport = idp.async_transport(package)
    try:
        step = next(steps)
        while True:
            if step.target == "app":
                try:
                    response = await client.request(step.method, step.url, data=step.form, follow_redirects=False)
                except Exception as exc:  # the app raised (an ASGITransport re-raises), or the request failed
                    raise _app_raised(flow, step, exc) from exc
            else:
                request = client.build_request(step.method, step.url, data=step.form)
                response = await transport.handle_async_request(request)
                await response.aread()
                response.request = request
                client.cookies.extract_cookies(response)
            step = steps.send(response)
    except StopIteration as done:
        return LoginResult(done.value, flow.trail)
    except BaseException:
        idp.context.controls.forget()  # a broken flow must not log the next one in as its user
        raise


def remember(idp: MockIdP, client: Any, site: Site, base_url: str | None = None) -> None:
    """Keep the app a flow runs through by its origin: back-channel logout reaches it in-process there."""
    from mockidp._backchannel import AppRoute, origin

    idp.context.apps[origin(base_url or str(client.base_url))] = AppRoute(site, client)


def running_portal(client: Any) -> Any:
    """The event-loop portal of a Starlette ``TestClient`` entered with ``with``, else ``None``."""
    if "starlette.testclient" not in sys.modules:
        return None
    from starlette.testclient import TestClient

    return client.portal if isinstance(client, TestClient) else None


def _drive_in_portal(idp: MockIdP, client: Any, portal: Any, flow: Flow, steps: Steps) -> LoginResult:
    """Run the whole flow on the TestClient's own event loop, in one call into its portal.

    A TestClient crosses threads about ten times per request to stream each response; a login makes
    three or four requests to the app. Here the flow runs where the app runs, with raw ASGI calls that
    put into every request's scope what the TestClient would (its lifespan state, client address and
    root path), and shares its cookies (mockidp/_browser.py).
    """
    __tracebackhide__ = True
    from mockidp import _browser

    site = _browser.portal_site(client)
    remember(idp, client, site)
    try:
        return _browser.drive_in_portal(idp, client, package_of(client), portal, site, flow, steps)
    except MockidpError as error:
        # The error crossed the portal: anyio's and concurrent.futures' frames, then the driver's. What the
        # author needs is their own line and the message, so the traceback starts again here (a hidden frame).
        raise error.with_traceback(None)  # noqa: B904 - the same error, not a new one
