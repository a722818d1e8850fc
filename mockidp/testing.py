"""Assertions for tests of apps that log users in: login redirects, redirects, CORS, bearer APIs.

They need no pytest: each raises ``AssertionError`` with a message that says what was expected,
what came (status, ``Location``, the relevant headers) and the nearest thing that would have
passed. CORS follows the Fetch standard's CORS protocol (§3.2); login redirects follow OIDC Core
§3.1.2.1 and RFC 7636; bearer APIs, RFC 6750 §3 (``WWW-Authenticate``) and RFC 9068 §4 (the checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

from mockidp._errors import ConfigError, hide_frames, see, unknown
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
    "aassert_api",
    "assert_api",
    "assert_cors",
    "assert_login_redirect",
    "assert_no_cors",
    "assert_redirect",
    "explain",
    "preflight",
]

#: Under pytest, an error raised at the test author shows their line, not these frames.
__tracebackhide__ = hide_frames

T = TypeVar("T")
DOCS = see("assertions")


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
    required = _pkce_required(idp, client, params) if no_pkce else None
    nearest = None
    if required is not None:
        # pkce=False would pass the assertion and leave a login the provider itself refuses: the app must change.
        nearest = (
            f"none that skips PKCE: {required}, so pkce=False would only hide a login that fails. Fix the app:"
            " send a code_challenge with code_challenge_method=S256 (with authlib:"
            " client_kwargs={'code_challenge_method': 'S256'})"
        )
    elif not problems and (missing or no_pkce):
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


def _pkce_required(idp: MockIdP, client: Any, params: dict[str, str]) -> str | None:
    """Why the provider itself would refuse this request's PKCE (RFC 9700 §2.1.1), or ``None`` if it would not."""
    if idp.config.strict:
        return (
            "in strict mode (ProviderConfig(strict=True)) the provider refuses an authorization request"
            " without PKCE S256"
        )
    if client is not None and client.is_public and params.get("code_challenge") is None:
        return (
            f"client {client.client_id!r} is public (no secret): the provider refuses its requests without a"
            " code_challenge"
        )
    return None


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


# -- bearer APIs (RFC 6750, RFC 9068) ---------------------------------------------------------------

#: The status an API answers a refused bearer token with (RFC 6750 §3.1, ``invalid_token``).
REFUSED = 401
#: The claims an API checks, shown first and one by one; any others are listed by name.
CHECKED_CLAIMS = ("iss", "sub", "aud", "scope", "client_id", "exp", "nbf", "iat")


def _segment(part: str) -> dict[str, Any]:
    """One JSON segment of a JWS in compact form, or ``{}`` if it is not one."""
    import base64
    import json

    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}, {}
    return _segment(parts[0]), _segment(parts[1])


def _bearer_of(response: Response) -> str | None:
    try:
        header = str(response.request.headers.get("authorization", ""))  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError for a response built without a request
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _when(seconds: int) -> str:
    return "now" if seconds == 0 else f"in {seconds} s" if seconds > 0 else f"{-seconds} s ago"


def _claim_lines(idp: MockIdP, token: str) -> list[str]:
    """The token's header and claims, the time claims relative to the provider's clock."""
    header, claims = _decode_unverified(token)
    if not claims:
        return ["    token: not a JWT (three base64url segments of JSON)"]
    now = int(idp.now())
    shown = []
    for name in CHECKED_CLAIMS:
        if name not in claims:
            shown.append(f"{name}=(missing)")
        elif name in ("exp", "nbf", "iat") and isinstance(claims[name], int):
            shown.append(f"{name}={_when(claims[name] - now)}")
        else:
            shown.append(f"{name}={claims[name]!r}")
    lines = [
        f"    header: {', '.join(f'{k}={v}' for k, v in sorted(header.items()))}",
        f"    claims: {', '.join(shown)}",
    ]
    others = sorted(set(claims) - set(CHECKED_CLAIMS))
    if others:
        lines.append(f"    other claims: {', '.join(others)}")
    return lines


def _challenge(response: Response) -> str:
    """What the API said about its refusal: ``WWW-Authenticate`` (RFC 6750 §3), else the start of the body."""
    challenge = response.headers.get("www-authenticate")
    if challenge is not None:
        return f"WWW-Authenticate: {challenge}"
    text = str(getattr(response, "text", "") or "").strip()
    return f"no WWW-Authenticate header; body: {text[:200]}" if text else "no WWW-Authenticate header, empty body"


def _checks(idp: MockIdP, token: str, audience: Iterable[str] | str | None, client_id: str) -> list[str]:
    """How the token fares against the checks an API makes, each with the change that would make it pass."""
    header, claims = _decode_unverified(token)
    lines: list[str] = []
    try:
        idp.keys.verify(token)
    except Exception as exc:  # joserfc's JoseError, or ValueError for a malformed token
        lines.append(f"- signature: does not verify with the provider's JWKS ({type(exc).__name__}: {exc})")
    else:
        lines.append(f"- signature: verifies with the provider's JWKS ({header.get('alg')}, kid {header.get('kid')})")
    if claims.get("iss") != idp.issuer:
        lines.append(f"- iss: {claims.get('iss')!r} is not this provider's issuer {idp.issuer!r}")
    asked = [audience] if isinstance(audience, str) else list(audience or ())
    expected = asked or [idp.config.access_token_audience or client_id]
    source = (
        "as asked"
        if asked
        else "ProviderConfig.access_token_audience"
        if idp.config.access_token_audience
        else "the client id, as no audience was asked and ProviderConfig.access_token_audience is not set"
    )
    got = claims.get("aud")
    lines.append(
        f"- aud: {got!r} ({source}); if the API expects another audience, mint with audience='...'"
        " or set @pytest.mark.mockidp(access_token_audience='...')"
        if got == (expected[0] if len(expected) == 1 else expected)
        else f"- aud: {got!r}, not the {expected!r} asked"
    )
    now = int(idp.now())
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, int) and exp <= now:
        lines.append(f"- exp: expired {now - exp} s ago, by the provider's clock (is time frozen or moved?)")
    if isinstance(nbf, int) and nbf > now:
        lines.append(f"- nbf: not valid for another {nbf - now} s")
    return lines


def explain(
    idp: MockIdP,
    response: Response,
    *,
    audience: Iterable[str] | str | None = None,
    client: str | None = None,
) -> str:
    """Why an API answered ``response`` to a bearer token: its status and ``WWW-Authenticate``, the token's
    claims, and how they fare against the checks an API makes. For ``assert r.status_code == 200, explain(idp, r)``.

    ``audience`` and ``client`` are what the token was minted with (``issue_tokens``' arguments), if not the defaults.
    """
    token = _bearer_of(response)
    method = _request_method(response) or "GET"
    try:
        url = str(response.url)
    except RuntimeError:  # httpx, for a response built without a request
        url = "(no request)"
    lines = [f"mockidp: {method} {url} answered {response.status_code}", f"  {_challenge(response)}"]
    if token is None:
        lines.append("  the request carried no bearer token (Authorization: Bearer ...)")
    else:
        lines.append("  the bearer token sent:")
        lines.extend(_claim_lines(idp, token))
        lines.append("  against the checks an API makes:")
        lines.extend(f"    {line}" for line in _checks(idp, token, audience, client or idp.client.client_id))
    lines.append(see("api-tokens"))
    return "\n".join(lines)


class _RequestClient(Protocol[T]):  # type: ignore[misc]
    def request(self, method: str, url: str, *, headers: Mapping[str, str]) -> T: ...


def _bearer_cases(idp: MockIdP, refuses: Iterable[str] | None, issue: dict[str, Any]) -> list[tuple[str, str]]:
    """``("valid", token)`` and ``(kind, forged token)`` for each kind to refuse, all minted from ``issue``."""
    kinds = list(FORGE_KINDS) if refuses is None else list(refuses)
    for kind in kinds:
        if kind not in FORGE_KINDS:
            raise ConfigError(f"assert_api(refuses=...): {unknown('kind', kind, FORGE_KINDS)}", topic="api-tokens")
    valid = idp.issue_tokens(**issue, refresh_token=False).access_token
    return [("valid", valid), *((kind, str(idp.forge(kind, **issue))) for kind in kinds)]


def _api_verdict(
    idp: MockIdP, method: str, path: str, answers: list[tuple[str, str, Response]], issue: dict[str, Any]
) -> AssertionError | None:
    """The failure of ``assert_api``, listing each token's expected and actual answer, or ``None`` if all held."""
    wrong = 0
    lines: list[str] = []
    width = max(len(label) for label, _, _ in answers)
    for label, token, response in answers:
        status = response.status_code
        if label == "valid":
            ok, expected = 200 <= status < 300, "accepted (2xx)"
        else:
            ok, expected = status == REFUSED, f"refused ({REFUSED})"
        if ok:
            lines.append(f"  {label:<{width}}  {expected}: got {status}")
            continue
        wrong += 1
        what = FORGE_KINDS.get(label, "valid for the user and audience asked")
        lines.append(f"  {label:<{width}}  expected {expected}, got {status}; the token: {what}")
        lines.append(f"    {_challenge(response)}")
        lines.extend(_claim_lines(idp, token))
        if label == "valid":
            lines.extend(f"    {line}" for line in _checks(idp, token, issue.get("audience"), _client_id(idp, issue)))
    summary = f"mockidp: the API {method} {path} answered {wrong} of {len(answers)} bearer tokens wrongly"
    return AssertionError("\n".join([summary, *lines, see("api-tokens")])) if wrong else None


def _client_id(idp: MockIdP, issue: dict[str, Any]) -> str:
    client = issue.get("client")
    if client is None:
        return idp.client.client_id
    return client if isinstance(client, str) else str(client.client_id)


def assert_api(
    idp: MockIdP,
    client: _RequestClient[Any],
    path: str,
    /,
    *,
    refuses: Iterable[str] | None = None,
    method: str = "GET",
    **issue: Any,
) -> None:
    """The API at ``path`` accepts a valid access token (a 2xx) and refuses (401) each forged kind in ``refuses``
    (default: every one of ``FORGE_KINDS``). Tokens are minted with ``issue_tokens(**issue)``: ``audience=``,
    ``scope=``, ``user=``, ``client=`` ... For an async client, use ``aassert_api``.
    """
    __tracebackhide__ = True
    cases = _bearer_cases(idp, refuses, issue)
    answers = [
        (label, token, client.request(method, path, headers={"Authorization": f"Bearer {token}"}))
        for label, token in cases
    ]
    failure = _api_verdict(idp, method, path, answers, issue)
    if failure is not None:
        raise failure


async def aassert_api(
    idp: MockIdP,
    client: _RequestClient[Any],
    path: str,
    /,
    *,
    refuses: Iterable[str] | None = None,
    method: str = "GET",
    **issue: Any,
) -> None:
    """``assert_api`` for an async client."""
    __tracebackhide__ = True
    cases = _bearer_cases(idp, refuses, issue)
    answers = [
        (label, token, await client.request(method, path, headers={"Authorization": f"Bearer {token}"}))
        for label, token in cases
    ]
    failure = _api_verdict(idp, method, path, answers, issue)
    if failure is not None:
        raise failure
