"""Assertions for tests of apps that log users in: login redirects, redirects, CORS.

They need no pytest: each raises ``AssertionError`` with a message that says what was expected,
what came (status, ``Location``, the relevant headers) and the nearest thing that would have
passed. CORS follows the Fetch standard's CORS protocol (§3.2); login redirects follow OIDC Core
§3.1.2.1 and RFC 7636.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

from mockidp._login import REDIRECTS, Hop, LoginError, LoginResult

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

__all__ = [
    "Hop",
    "LoginError",
    "LoginRedirect",
    "LoginResult",
    "assert_cors",
    "assert_login_redirect",
    "assert_no_cors",
    "assert_redirect",
    "preflight",
]

T = TypeVar("T")
DOCS = "see README.md#assertions"


class Response(Protocol):
    """What the assertions read of an httpx or httpx2 response."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def url(self) -> Any: ...


class _OptionsClient(Protocol[T]):  # type: ignore[misc]
    def options(self, url: str, *, headers: Mapping[str, str]) -> T: ...


def _describe(response: Response, *, headers: Iterable[str] = ("location",)) -> str:
    lines = [f"  status:   {response.status_code}"]
    shown = False
    for name in headers:
        for key, value in response.headers.items():
            if key.lower() == name or (name.endswith("*") and key.lower().startswith(name[:-1])):
                lines.append(f"  {key}: {value}")
                shown = True
    if not shown:
        lines.append(f"  (no {', '.join(headers)} header)")
    return "\n".join(lines)


def _fail(
    summary: str, response: Response, details: Sequence[str] = (), *, headers: Iterable[str] = ("location",)
) -> AssertionError:
    lines = [f"mockidp: {summary}", "Received:", _describe(response, headers=headers), *details, DOCS]
    return AssertionError("\n".join(lines))


def _location(response: Response) -> str | None:
    value = response.headers.get("location")
    if value is None:
        return None
    return urljoin(str(response.url), value)


@dataclass(frozen=True)
class LoginRedirect:
    """The authorization request an app sent the browser to, parsed."""

    url: str
    params: dict[str, str]

    @property
    def client_id(self) -> str:
        return self.params["client_id"]

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]

    @property
    def scopes(self) -> list[str]:
        return self.params.get("scope", "").split()


def assert_redirect(response: Response, to: str) -> str:
    """The response redirects to ``to``: a path (``/login``) or a full URL; a query in ``to`` must match too.

    Returns the full ``Location``.
    """
    location = _location(response)
    if response.status_code not in REDIRECTS or location is None:
        raise _fail(f"expected a redirect to {to}, got no redirect", response)
    got, want = urlsplit(location), urlsplit(to)
    if to.startswith("/"):
        matched = got.path == want.path and (not want.query or got.query == want.query)
        nearest = got.path + (f"?{got.query}" if want.query else "")
    else:
        same_origin = (got.scheme, got.netloc) == (want.scheme, want.netloc)
        matched = same_origin and got.path == want.path and (not want.query or got.query == want.query)
        nearest = f"{got.scheme}://{got.netloc}{got.path}" + (f"?{got.query}" if want.query else "")
    if not matched:
        raise _fail(f"expected a redirect to {to}", response, [f"Nearest: the redirect goes to {nearest}"])
    return location


def assert_login_redirect(
    idp: MockIdP, response: Response, *, scopes: Iterable[str] | None = None, pkce: bool = True
) -> LoginRedirect:
    """The response sends the browser to ``idp``'s authorization endpoint with a sound OIDC request.

    Checks a known ``client_id``, a ``redirect_uri`` registered for it, ``response_type=code``,
    ``openid`` (and ``scopes``) in the scope, a ``state``, a ``nonce`` and, unless ``pkce=False``,
    PKCE with S256. Returns the parsed request.
    """
    from mockidp._authorize import redirect_uri_allowed

    endpoint = idp.endpoint("authorization_endpoint")
    location = _location(response)
    if response.status_code not in REDIRECTS or location is None:
        raise _fail(
            f"expected a redirect to the provider's authorization endpoint {endpoint}, got no redirect", response
        )
    if location.split("?")[0] != endpoint:
        raise _fail(
            f"expected a redirect to the provider's authorization endpoint {endpoint}",
            response,
            [f"Nearest: the redirect goes to {location.split('?')[0]}"],
        )
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    problems: list[str] = []
    client = idp.clients.get(params.get("client_id", ""))
    if client is None:
        problems.append(
            f"client_id {params.get('client_id')!r} is not registered (registered: {', '.join(idp.clients) or 'none'})"
        )
    if "redirect_uri" not in params:
        problems.append("redirect_uri is missing")
    elif client is not None and not redirect_uri_allowed(client.redirect_uris, params["redirect_uri"]):
        problems.append(
            f"redirect_uri {params['redirect_uri']!r} is not registered for {client.client_id!r}"
            f" (registered: {', '.join(client.redirect_uris)})"
        )
    if params.get("response_type") != "code":
        problems.append(f"response_type is {params.get('response_type')!r}, expected 'code'")
    requested = params.get("scope", "").split()
    missing = [s for s in ("openid", *(scopes or ())) if s not in requested]
    if missing:
        problems.append(f"scope {params.get('scope', '')!r} lacks {' '.join(missing)}")
    for name in ("state", "nonce"):
        if name not in params:
            problems.append(f"{name} is missing")
    if pkce and (params.get("code_challenge") is None or params.get("code_challenge_method") != "S256"):
        problems.append(
            "PKCE is missing: expected code_challenge with code_challenge_method=S256, got"
            f" code_challenge_method={params.get('code_challenge_method')!r}"
            " (pass pkce=False if the app does not use PKCE)"
        )
    if problems:
        listed = [f"  - {p}" for p in problems]
        sent = [f"Parameters sent: {', '.join(f'{k}={v}' for k, v in sorted(params.items()))}"]
        raise _fail("the login redirect is not a sound authorization request:", response, [*listed, *sent])
    return LoginRedirect(location, params)


def preflight(
    client: _OptionsClient[T], path: str, *, origin: str, method: str = "GET", headers: Iterable[str] = ()
) -> T:
    """Send a CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-*``).

    With an async client, await the result.
    """
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    requested = list(headers)
    if requested:
        request_headers["Access-Control-Request-Headers"] = ", ".join(requested)
    return client.options(path, headers=request_headers)


def _listed(value: str | None) -> set[str]:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def assert_cors(
    response: Response,
    *,
    origin: str,
    credentials: bool | None = None,
    methods: Iterable[str] | None = None,
    headers: Iterable[str] | None = None,
) -> None:
    """The response lets ``origin`` read it (and, if given, allows credentials, methods and headers)."""
    allowed = response.headers.get("access-control-allow-origin")
    problems: list[str] = []
    if allowed is None:
        problems.append(f"Access-Control-Allow-Origin is missing; expected {origin}")
    elif allowed not in (origin, "*"):
        problems.append(f"Access-Control-Allow-Origin is {allowed!r}; expected {origin!r}")
    with_credentials = response.headers.get("access-control-allow-credentials") == "true"
    if credentials is True and not with_credentials:
        problems.append("Access-Control-Allow-Credentials is not 'true'")
    if credentials is True and allowed == "*":
        problems.append("Access-Control-Allow-Origin is '*', which browsers refuse with credentials")
    if credentials is False and with_credentials:
        problems.append("Access-Control-Allow-Credentials is 'true'; expected none")
    if methods is not None:
        granted = _listed(response.headers.get("access-control-allow-methods"))
        missing = [m for m in methods if m.lower() not in granted and "*" not in granted]
        if missing:
            problems.append(f"Access-Control-Allow-Methods lacks {', '.join(missing)}")
    if headers is not None:
        granted = _listed(response.headers.get("access-control-allow-headers"))
        missing = [h for h in headers if h.lower() not in granted and "*" not in granted]
        if missing:
            problems.append(f"Access-Control-Allow-Headers lacks {', '.join(missing)}")
    if problems:
        raise _fail(
            f"expected CORS to allow {origin}",
            response,
            [f"  - {p}" for p in problems],
            headers=("access-control-*", "vary"),
        )


def assert_no_cors(response: Response) -> None:
    """The response lets no other origin read it: no ``Access-Control-Allow-Origin``."""
    allowed = response.headers.get("access-control-allow-origin")
    if allowed is not None:
        raise _fail(
            f"expected no CORS headers, but the response allows the origin {allowed!r}",
            response,
            headers=("access-control-*", "vary"),
        )
