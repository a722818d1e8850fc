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

from mockidp._forgery import FORGE_KINDS, TAMPER_KINDS, ForgedToken
from mockidp._login import REDIRECTS, Hop, LoginError, LoginResult

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

__all__ = [
    "FORGE_KINDS",
    "TAMPER_KINDS",
    "ForgedToken",
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


def _received(response: Response, headers: Iterable[str]) -> list[str]:
    """``Received: <status>`` and the response's headers that ``headers`` name (``name*`` is a prefix)."""
    reason = getattr(response, "reason_phrase", "") or ""
    lines = [f"Received: {response.status_code} {reason}".rstrip()]
    wanted = list(headers)
    for key, value in response.headers.items():
        name = key.lower()
        if any(name == w or (w.endswith("*") and name.startswith(w[:-1])) for w in wanted):
            lines.append(f"  {name}: {value}")
    if len(lines) == 1:
        lines.append(f"  (no {' or '.join(h.replace('*', '...') for h in wanted)} header)")
    return lines


def _fail(
    summary: str,
    response: Response,
    *,
    problems: Sequence[str] = (),
    details: Sequence[str] = (),
    nearest: str | None = None,
    headers: Iterable[str] = ("location",),
) -> AssertionError:
    """An ``AssertionError`` saying what was expected, what came, what is wrong and what would have passed."""
    lines = [f"mockidp: {summary}", *_received(response, headers)]
    if problems:
        lines.append("Problems:")
        lines.extend(f"  - {p}" for p in problems)
    lines.extend(details)
    if nearest is not None:
        lines.append(f"Nearest: {nearest}")
    lines.append(DOCS)
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
    """The response redirects to ``to``: a path (``/login``, on the app's own origin) or a full URL; a query
    in ``to`` must match too.

    Returns the full ``Location``.
    """
    __tracebackhide__ = True
    location = _location(response)
    if response.status_code not in REDIRECTS or location is None:
        raise _fail(f"expected a redirect to {to}, got no redirect", response)
    # A path means the app's own origin: a redirect to https://elsewhere.example/login is not "/login".
    got, want = urlsplit(location), urlsplit(urljoin(str(response.url), to))
    query = f"?{got.query}" if want.query and got.query else ""
    same_origin = (got.scheme, got.netloc) == (want.scheme, want.netloc)
    matched = same_origin and got.path == want.path and (not want.query or got.query == want.query)
    if to.startswith("/") and same_origin:
        nearest = got.path + query
    else:
        nearest = f"{got.scheme}://{got.netloc}{got.path}{query}"
    if not matched:
        raise _fail(f"expected a redirect to {to}", response, nearest=f"assert_redirect(response, {nearest!r}) passes")
    return location


def _authorization_problems(
    idp: MockIdP, params: dict[str, str], scopes: Iterable[str], pkce: bool
) -> tuple[list[str], str | None]:
    """What makes ``params`` an unsound authorization request, and the nearest call that would pass."""
    from mockidp._redirects import redirect_uri_allowed

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
    if "openid" not in requested:
        problems.append(f"scope {params.get('scope', '')!r} lacks openid (an OpenID Connect request needs it)")
    missing = [s for s in scopes if s not in requested]
    for name in ("state", "nonce"):
        if name not in params:
            problems.append(f"{name} is missing")
    no_pkce = pkce and (params.get("code_challenge") is None or params.get("code_challenge_method") != "S256")
    nearest = None
    if not problems and (missing or no_pkce):
        changes = []
        if missing:
            granted = [s for s in scopes if s in requested]
            changes.append(f"scopes={granted!r}")
        if no_pkce:
            changes.append("pkce=False")
        nearest = f"assert_login_redirect(response, {', '.join(changes)}) passes"
    if missing:
        problems.append(f"scope {params.get('scope', '')!r} lacks {' '.join(missing)}")
    if no_pkce:
        problems.append(
            "PKCE is missing: expected code_challenge with code_challenge_method=S256, got"
            f" code_challenge_method={params.get('code_challenge_method')!r}"
        )
    return problems, nearest


def assert_login_redirect(
    idp: MockIdP, response: Response, *, scopes: Iterable[str] | None = None, pkce: bool = True
) -> LoginRedirect:
    """The response sends the browser to ``idp``'s authorization endpoint with a sound OIDC request.

    Checks a known ``client_id``, a ``redirect_uri`` registered for it, ``response_type=code``,
    ``openid`` (and ``scopes``) in the scope, a ``state``, a ``nonce`` and, unless ``pkce=False``,
    PKCE with S256. Returns the parsed request.
    """
    __tracebackhide__ = True
    endpoint = idp.endpoint("authorization_endpoint")
    location = _location(response)
    if response.status_code not in REDIRECTS or location is None:
        raise _fail(
            f"expected a redirect to the provider's authorization endpoint {endpoint}, got no redirect", response
        )
    destination, _, query = location.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    if destination != endpoint:
        hint = " (an authorization request to another provider?)" if "client_id" in params else ""
        raise _fail(
            f"expected a redirect to the provider's authorization endpoint {endpoint}",
            response,
            nearest=f"the redirect goes to {destination}{hint}",
        )
    problems, nearest = _authorization_problems(idp, params, scopes or (), pkce)
    if problems:
        sent = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        raise _fail(
            "the login redirect is not a sound authorization request",
            response,
            problems=problems,
            details=[f"Parameters sent: {sent}"],
            nearest=nearest,
        )
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


def _request_method(response: Response) -> str | None:
    try:
        return str(response.request.method)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError for a response built without a request
        return None


def assert_cors(
    response: Response,
    *,
    origin: str,
    credentials: bool | None = None,
    methods: Iterable[str] | None = None,
    headers: Iterable[str] | None = None,
) -> None:
    """The response lets ``origin`` read it (and, if given, allows credentials, methods and headers).

    With credentials, ``*`` in ``Access-Control-Allow-Methods`` or ``-Headers`` is a name, not a
    wildcard (Fetch §3.2.3), so it grants nothing here either.
    """
    __tracebackhide__ = True
    allowed = response.headers.get("access-control-allow-origin")
    with_credentials = response.headers.get("access-control-allow-credentials") == "true"
    problems: list[str] = []
    if _request_method(response) == "OPTIONS" and response.status_code >= 400:
        problems.append(f"the preflight was refused with {response.status_code}")
    if allowed is None:
        problems.append(f"Access-Control-Allow-Origin is missing; expected {origin}")
    elif allowed not in (origin, "*"):
        problems.append(f"Access-Control-Allow-Origin is {allowed!r}; expected {origin!r}")
    if credentials is True and not with_credentials:
        problems.append("Access-Control-Allow-Credentials is not 'true'")
    if credentials is True and allowed == "*":
        problems.append("Access-Control-Allow-Origin is '*', which browsers refuse with credentials")
    if credentials is False and with_credentials:
        problems.append("Access-Control-Allow-Credentials is 'true'; expected none")
    nearest_args = [f"origin={(origin if allowed == '*' else allowed)!r}"]
    if credentials is not None:
        nearest_args.append(f"credentials={with_credentials}")
    for label, wanted, header in (
        ("Methods", methods, "access-control-allow-methods"),
        ("Headers", headers, "access-control-allow-headers"),
    ):
        if wanted is None:
            continue
        granted = _listed(response.headers.get(header))
        wildcard = "*" in granted and not with_credentials
        wanted = list(wanted)
        missing = [w for w in wanted if w.lower() not in granted and not wildcard]
        if missing:
            problems.append(f"Access-Control-Allow-{label} lacks {', '.join(missing)}")
        passing = [w for w in wanted if w not in missing]
        if passing:
            nearest_args.append(f"{label.lower()}={passing!r}")
    if problems:
        refused = allowed is None or (allowed == "*" and with_credentials) or response.status_code >= 400
        raise _fail(
            f"expected CORS to allow {origin}",
            response,
            problems=problems,
            nearest=None if refused else f"assert_cors(response, {', '.join(nearest_args)}) passes",
            headers=("access-control-*", "vary"),
        )


def assert_no_cors(response: Response) -> None:
    """The response lets no other origin read it: no ``Access-Control-Allow-Origin``."""
    __tracebackhide__ = True
    allowed = response.headers.get("access-control-allow-origin")
    if allowed is not None:
        raise _fail(
            f"expected no CORS headers, but the response allows the origin {allowed!r}",
            response,
            nearest=f"assert_cors(response, origin={allowed!r}) passes",
            headers=("access-control-*", "vary"),
        )
