"""A lean simulated browser: raw ASGI calls (ASGI 3.0 HTTP) and a small cookie jar (RFC 6265 §5.2-5.4).

A simulated login makes four to six requests. Made through an httpx client, each pays for URL and
header models, a request and a response object and ``http.cookiejar``'s policy checks on the way out
and in: ~0.3 ms a request, more than the provider's own work for it. When the app is an ASGI app the
client only hands requests to (a Starlette ``TestClient`` in its portal, an httpx ``AsyncClient`` on an
``ASGITransport``), the browser here calls the app and the provider directly with the scope that
transport would build, keeps the cookies in a jar of its own while the flow runs, and at the end hands
the final response back as the client's package's ``Response`` and the cookies back to the client's
jar as ``http.cookiejar`` would have stored them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

import anyio

from mockidp._login import LoginResult, Steps, _app_raised

if TYPE_CHECKING:
    from mockidp._login import Flow
    from mockidp._provider import MockIdP

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
_FORM = b"application/x-www-form-urlencoded"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Cookie:
    """One stored cookie (RFC 6265 §5.3), its domain as ``http.cookiejar`` keeps it (host-only cookies
    of a dotless host get ``.local``), so cookies taken from and handed to an httpx jar compare alike."""

    name: str
    value: str | None  # None: a Set-Cookie with a name only, sent back as just the name (as http.cookiejar does)
    domain: str
    host_only: bool
    path: str
    secure: bool
    expires: float | None
    path_specified: bool = True
    rest: dict[str, str | None] = field(default_factory=dict)  # HttpOnly, SameSite, as http.cookiejar keeps them
    origin: Any = None  # the http.cookiejar.Cookie it was taken from, unchanged


def _to_cookiejar(cookie: Cookie) -> Any:
    """``cookie`` as ``http.cookiejar`` would have stored it from its ``Set-Cookie``."""
    if cookie.origin is not None:
        return cookie.origin
    from http.cookiejar import Cookie as JarCookie

    expires = int(cookie.expires) if cookie.expires is not None else None
    return JarCookie(
        0,
        cookie.name,
        cookie.value,
        None,
        False,
        cookie.domain,
        not cookie.host_only,
        cookie.domain.startswith("."),
        cookie.path,
        cookie.path_specified,
        cookie.secure,
        expires,
        expires is None,
        None,
        None,
        cookie.rest,  # type: ignore[arg-type]  # http.cookiejar keeps None for a flag (HttpOnly)
    )


def _effective_host(host: str) -> str:
    """``http.cookiejar``'s effective request host: a host without a dot gets ``.local``."""
    host = host.lower()
    return host if "." in host else host + ".local"


def _path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path) : len(cookie_path) + 1] == "/"
    )


def _domain_matches(cookie: Cookie, host: str) -> bool:
    if cookie.host_only:
        return cookie.domain == host
    dotted = cookie.domain if cookie.domain.startswith(".") else "." + cookie.domain
    return ("." + host).endswith(dotted)


def _default_path(request_path: str) -> str:
    """RFC 6265 §5.1.4: the request path up to, not including, its last ``/``; ``/`` if that is empty."""
    cut = request_path.rfind("/")
    return request_path[:cut] if cut > 0 else "/"


@dataclass
class Jar:
    """The cookies of one simulated flow."""

    cookies: list[Cookie] = field(default_factory=list)

    @classmethod
    def of(cls, jar: Any) -> Jar:
        """The cookies of an ``http.cookiejar.CookieJar``."""
        return cls(
            [Cookie(c.name, c.value, c.domain, not c.domain_specified, c.path, c.secure, c.expires) for c in jar]
        )

    def header(self, scheme: str, host: str, path: str) -> bytes | None:
        """The ``Cookie`` header for a request (RFC 6265 §5.4: longer paths first, then older cookies)."""
        now = time.time()
        host = _effective_host(host)
        chosen = [
            c
            for c in self.cookies
            if _domain_matches(c, host)
            and _path_matches(path, c.path)
            and (scheme == "https" or not c.secure)
            and (c.expires is None or c.expires > now)
        ]
        if not chosen:
            return None
        chosen.sort(key=lambda c: len(c.path), reverse=True)
        return "; ".join(c.name if c.value is None else f"{c.name}={c.value}" for c in chosen).encode("latin-1")

    def store(self, header: str, host: str, path: str) -> None:
        """Keep (or drop) the cookie of one ``Set-Cookie`` header (RFC 6265 §5.2, §5.3)."""
        pair, _, rest = header.partition(";")
        name, equals, value = pair.partition("=")
        name = name.strip()
        if not name:
            return  # §5.2: ignore a cookie without a name
        host = _effective_host(host)
        kept = value.strip() if equals else None
        cookie = Cookie(name, kept, host, True, _default_path(path), False, None, path_specified=False)
        max_age: float | None = None
        for attribute in rest.split(";"):
            given, equals, arg = attribute.partition("=")
            given, arg = given.strip(), arg.strip()
            key = given.lower()
            if key == "max-age":
                try:
                    max_age = float(int(arg))
                except ValueError:
                    return  # http.cookiejar refuses the cookie (RFC 6265 would ignore the attribute)
            elif key == "expires" and max_age is None:
                try:
                    cookie.expires = parsedate_to_datetime(arg).timestamp()
                except (TypeError, ValueError):
                    continue
            elif key == "domain" and arg:
                domain = arg.lower()
                cookie.domain, cookie.host_only = (domain if domain.startswith(".") else "." + domain), False
            elif key == "path" and arg:  # as given, as http.cookiejar keeps it (a relative one matches nothing)
                cookie.path = arg
                cookie.path_specified = True
            elif key == "secure":
                cookie.secure = True
            elif key in ("httponly", "samesite"):  # http.cookiejar keeps these as given
                cookie.rest[given] = arg if equals else None
        if max_age is not None:
            cookie.expires = time.time() + max_age
        if not cookie.host_only and not _domain_matches(cookie, host):
            return  # a domain the request's host is not in
        self.cookies = [
            c for c in self.cookies if (c.name, c.domain, c.path) != (cookie.name, cookie.domain, cookie.path)
        ]
        if cookie.expires is None or cookie.expires > time.time():
            self.cookies.append(cookie)


@dataclass
class Answer:
    """A response as the flow reads it: status, headers (lower-case names, the last of each) and body."""

    status_code: int
    raw_headers: list[tuple[bytes, bytes]]
    content: bytes
    method: str
    url: str
    request_headers: list[tuple[bytes, bytes]]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Site:
    """An ASGI app and what its transport puts into each request's scope."""

    app: ASGIApp
    client: tuple[str, int]
    root_path: str = ""
    raise_errors: bool = True
    state: dict[str, Any] | None = None  # a TestClient's lifespan state, copied into each request


@dataclass
class Browser:
    """Sends a flow's requests to its app and its provider, with one jar across both."""

    app: Site
    base_url: str  # the client's, ending in "/"
    headers: list[tuple[bytes, bytes]]  # the client's default headers, lower-case names
    jar: Jar

    async def request(self, site: Site, method: str, url: str, form: dict[str, str] | None) -> Answer:
        """One request, as httpx's ``ASGITransport`` would make it (ASGI 3.0 HTTP connection scope)."""
        if "://" not in url:
            url = self.base_url + url.lstrip("/")
        parts = urlsplit(url)
        scheme, host, port = parts.scheme, parts.hostname or "", parts.port
        raw_path = parts.path or "/"
        body = urlencode(form).encode() if form is not None else b""
        headers = [(b"host", parts.netloc.encode("ascii")), *self.headers]
        if form is not None:
            headers += [(b"content-length", str(len(body)).encode()), (b"content-type", _FORM)]
        cookie = self.jar.header(scheme, host, unquote(raw_path))
        if cookie is not None:
            headers.append((b"cookie", cookie))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "headers": headers,
            "scheme": scheme,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("ascii"),
            "query_string": parts.query.encode("ascii"),
            "server": (host, port),
            "client": site.client,
            "root_path": site.root_path,
        }
        if site.state is not None:
            scope["state"] = site.state.copy()
        status, raw, content = await _exchange(site, scope, body, method == "HEAD")
        answer = Answer(status, raw, content, method, url, headers)
        cookies: list[str] = []
        for key, value in raw:
            name, text = key.decode("latin-1").lower(), value.decode("latin-1")
            answer.headers[name] = text
            if name == "set-cookie":
                cookies.append(text)
        for text in cookies:
            self.jar.store(text, host, unquote(raw_path))
        return answer


async def _exchange(site: Site, scope: dict[str, Any], body: bytes, head: bool) -> tuple[int, Any, bytes]:
    """Run ``site``'s app for one request; its status, headers and body (errors as ``ASGITransport``)."""
    status: int | None = None
    headers: Any = []
    chunks: list[bytes] = []
    complete = anyio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await complete.wait()
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, headers
        kind = message["type"]
        if kind == "http.response.start":
            status, headers = message["status"], message.get("headers", [])
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk and not head:
                chunks.append(chunk)
            if not message.get("more_body", False):
                complete.set()

    try:
        await site.app(scope, receive, send)
    except Exception:
        if site.raise_errors:
            raise
        if status is None:
            status = 500
    finally:
        complete.set()
    if status is None:
        raise RuntimeError(f"the app returned without a response to {scope['method']} {scope['path']}")
    return status, headers, b"".join(chunks)


def _plain(client: Any) -> bool:
    """Whether the client adds nothing of its own to a request: no auth, event hooks or default params."""
    hooks = getattr(client, "_event_hooks", {})
    return client.auth is None and not any(hooks.values()) and not client.params


def asgi_site(package: Any, client: Any) -> Site | None:
    """The app of an httpx ``AsyncClient`` that hands every request to one ``ASGITransport``, else ``None``."""
    transport: Any = getattr(client, "_transport", None)
    if type(transport) is not package.ASGITransport or getattr(client, "_mounts", None) or not _plain(client):
        return None
    return Site(transport.app, transport.client, transport.root_path, transport.raise_app_exceptions)


def portal_site(client: Any) -> Site:
    """The app of an entered Starlette ``TestClient``, with the scope parts its transport adds."""
    transport = client._transport  # Starlette keeps the request scope's parts there
    address = getattr(transport, "client", ("testclient", 50000))  # fixed before Starlette 0.44
    return Site(client.app, address, transport.root_path, transport.raise_server_exceptions, client.app_state)


def browser_for(client: Any, app: Site) -> Browser:
    base = str(client.base_url)
    headers = [(k.lower(), v) for k, v in client.headers.raw]
    return Browser(app, base if base.endswith("/") else base + "/", headers, Jar.of(client.cookies.jar))


def _provider_site(idp: MockIdP) -> Site:
    return Site(idp.app, ("127.0.0.1", 123))  # what the provider's own ASGITransport puts in the scope


async def adrive_lean(idp: MockIdP, browser: Browser, flow: Flow, steps: Steps) -> Answer:
    """Pump ``steps`` (of ``flow``) through ``browser``; returns the flow's final answer."""
    __tracebackhide__ = True
    provider = _provider_site(idp)
    try:
        step = next(steps)
        while True:
            if step.target == "app":
                try:
                    response = await browser.request(browser.app, step.method, step.url, step.form)
                except Exception as exc:  # the app raised (its transport re-raises)
                    raise _app_raised(flow, step, exc) from exc
            else:
                response = await browser.request(provider, step.method, step.url, step.form)
            step = steps.send(response)
    except StopIteration as done:
        answer: Answer = done.value
        return answer
    except BaseException:
        idp.context.controls.forget()  # a broken flow must not log the next one in as its user
        raise


def hand_back_cookies(client: Any, browser: Browser) -> None:
    """The flow's cookies into the client's jar, as ``http.cookiejar`` would have kept them (the same jar
    object, updated in place: a test may hold on to ``client.cookies``)."""
    jar = client.cookies.jar
    jar.clear()
    for cookie in browser.jar.cookies:
        jar.set_cookie(_to_cookiejar(cookie))


def result_of(package: Any, flow: Flow, answer: Answer) -> LoginResult:
    """The flow's final answer as the client's package's ``Response``, read, with its request."""
    request = package.Request(answer.method, answer.url, headers=answer.request_headers)
    stream = package.ByteStream(answer.content)
    response = package.Response(answer.status_code, headers=answer.raw_headers, stream=stream, request=request)
    response.read()
    return LoginResult(response, flow.trail)


async def adrive(idp: MockIdP, client: Any, package: Any, site: Site, flow: Flow, steps: Steps) -> LoginResult:
    """``mockidp._login.adrive`` for a client on an ASGI app: the lean browser, then the client's cookies."""
    __tracebackhide__ = True
    browser = browser_for(client, site)
    try:
        answer = await adrive_lean(idp, browser, flow, steps)
    finally:
        hand_back_cookies(client, browser)
    return result_of(package, flow, answer)


def drive_in_portal(
    idp: MockIdP, client: Any, package: Any, portal: Any, site: Site, flow: Flow, steps: Steps
) -> LoginResult:
    """The whole flow on an entered TestClient's event loop, in one call into its portal."""
    __tracebackhide__ = True
    browser = browser_for(client, site)
    try:
        answer: Answer = portal.call(adrive_lean, idp, browser, flow, steps)
    finally:
        hand_back_cookies(client, browser)
    return result_of(package, flow, answer)
