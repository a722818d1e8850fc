"""Authorization endpoint: OIDC Core §3.1.2 (authorization code flow) over RFC 6749 §4.1.

With PKCE (RFC 7636), the ``iss`` response parameter (RFC 9207), response modes ``query``,
``fragment`` (OAuth 2.0 Multiple Response Types §2) and ``form_post`` (OAuth 2.0 Form Post Response
Mode), loopback redirect URIs on any port (RFC 8252 §7.3) and, in strict mode, the client rules of
RFC 9700 §2.1.

Errors about the client or its redirect URI are shown as a page; every later error goes back to the
client's verified redirect URI (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from mockidp._config import Client, User
from mockidp._errors import OAuthError
from mockidp._http import NO_STORE, Exchange, error_page, page
from mockidp._params import read_form, read_query, scopes_of
from mockidp._state import AuthorizationCode, Grant, Session, new_id

RESPONSE_MODES = ("query", "fragment", "form_post")
PROMPTS = ("none", "login", "consent", "select_account")
PKCE_METHODS = ("S256", "plain")
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "localhost")
#: Form fields the login page posts back; namespaced so they never clash with a client's parameters.
USERNAME_FIELD = "mockidp_username"
ACTION_FIELD = "mockidp_action"


def redirect_uri_allowed(registered: tuple[str, ...], uri: str) -> bool:
    """Exact match (RFC 6749 §3.1.2.3), an opted-in ``*`` prefix, or a loopback URI on any port (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment:
        return False
    for entry in registered:
        if entry.endswith("*"):
            base = urlsplit(entry[:-1])
            if _same_origin(base.scheme, base.netloc, parts.scheme, parts.netloc) and parts.path.startswith(
                base.path or "/"
            ):
                return True
        elif entry == uri:
            return True
        else:
            reg = urlsplit(entry)
            if (
                reg.scheme == "http"
                and reg.hostname in ("127.0.0.1", "::1", "localhost")
                and reg.port is None
                and _same_origin(reg.scheme, reg.netloc, parts.scheme, parts.netloc)
                and (reg.path, reg.query) == (parts.path, parts.query)
            ):
                return True
    return False


def _same_origin(scheme: str, netloc: str, other_scheme: str, other_netloc: str) -> bool:
    """Same scheme and host; for an ``http`` loopback host any port matches (RFC 8252 §7.3)."""
    if scheme != other_scheme:
        return False
    host = netloc.rsplit("@", 1)[-1]
    other = other_netloc.rsplit("@", 1)[-1]
    if host == other:
        return True
    bare, other_bare = _strip_port(host), _strip_port(other)
    return scheme == "http" and bare == other_bare and bare in LOOPBACK_HOSTS and host == bare


def _strip_port(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc.split("]", 1)[0] + "]"
    return netloc.split(":", 1)[0]


def add_params(uri: str, params: dict[str, str], *, fragment: bool = False) -> str:
    parts = urlsplit(uri)
    encoded = urlencode(params)
    if fragment:
        return urlunsplit((*parts[:4], encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def respond(redirect_uri: str, mode: str, params: dict[str, str]) -> Response:
    """Deliver an authorization response in the requested response mode."""
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        document = (
            "<!doctype html><html><head><meta charset=utf-8><title>Submit</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(redirect_uri)}">{fields}'
            "<noscript><button type=submit>Continue</button></noscript></form></body></html>"
        )
        return HTMLResponse(document, headers=NO_STORE)
    return RedirectResponse(add_params(redirect_uri, params, fragment=mode == "fragment"), 302, headers=NO_STORE)


class AuthorizationRequest:
    """The checked parameters of one authorization request."""

    def __init__(self, ex: Exchange, params: dict[str, str]) -> None:
        self.ex = ex
        self.params = params
        self.client = self._client()
        self.redirect_uri, self.redirect_uri_sent = self._redirect_uri()
        mode = params.get("response_mode", "query")
        self.response_mode = mode if mode in RESPONSE_MODES else "query"
        self.state = params.get("state")

    def _client(self) -> Client:
        client_id = self.params.get("client_id")
        if client_id is None:
            raise OAuthError("invalid_request", "client_id is required (RFC 6749 §4.1.1)")
        client = self.ex.idp.clients.get(client_id)
        if client is None:
            known = ", ".join(sorted(self.ex.idp.clients)) or "none"
            raise OAuthError("invalid_request", f"unknown client_id {client_id!r}; registered clients: {known}")
        self.ex.record.client_id = client_id
        return client

    def _redirect_uri(self) -> tuple[str, bool]:
        uri = self.params.get("redirect_uri")
        if uri is None:
            exact = [u for u in self.client.redirect_uris if not u.endswith("*")]
            if len(exact) == 1:
                return exact[0], False
            raise OAuthError("invalid_request", "redirect_uri is required (OIDC Core §3.1.2.1)")
        if not redirect_uri_allowed(self.client.redirect_uris, uri):
            registered = ", ".join(self.client.redirect_uris) or "none"
            raise OAuthError(
                "invalid_request",
                f"redirect_uri {uri!r} is not registered for client {self.client.client_id!r};"
                f" registered: {registered}",
            )
        return uri, True

    def error(self, error: OAuthError) -> Response:
        params = {"error": error.error, "error_description": error.description}
        if self.state is not None:
            params["state"] = self.state
        params["iss"] = self.ex.idp.issuer
        return respond(self.redirect_uri, self.response_mode, params)


def _check(req: AuthorizationRequest) -> tuple[tuple[str, ...], str | None, str | None, set[str], int | None]:
    """Validate what may be reported back to the client; returns scopes, PKCE, prompts, max_age."""
    params, idp = req.params, req.ex.idp
    mode = params.get("response_mode")
    if mode is not None and mode not in RESPONSE_MODES:
        raise OAuthError(
            "invalid_request",
            f"response_mode {mode!r} is not supported; use one of {', '.join(RESPONSE_MODES)}",
        )
    response_type = params.get("response_type")
    if response_type is None:
        raise OAuthError("invalid_request", "response_type is required (RFC 6749 §4.1.1)")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", f"response_type {response_type!r} is not supported; use 'code'")
    if "authorization_code" not in req.client.grant_types:
        raise OAuthError(
            "unauthorized_client", f"client {req.client.client_id!r} may not use the authorization code grant"
        )
    for unsupported in ("request", "request_uri"):
        if unsupported in params:
            code = "request_not_supported" if unsupported == "request" else "request_uri_not_supported"
            raise OAuthError("invalid_request", f"{code}: the {unsupported} parameter is not supported")
    scopes = scopes_of(params)
    req.ex.record.scopes = scopes
    if req.client.scope is not None:
        unknown = [s for s in scopes if s not in req.client.scope]
        if unknown:
            raise OAuthError(
                "invalid_scope",
                f"client {req.client.client_id!r} may not ask for {', '.join(unknown)};"
                f" allowed: {' '.join(req.client.scope)}",
            )

    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if method is not None and challenge is None:
        raise OAuthError("invalid_request", "code_challenge_method was sent without a code_challenge")
    if challenge is not None:
        method = method or "plain"
        if method not in PKCE_METHODS:
            raise OAuthError("invalid_request", f"code_challenge_method {method!r} is not supported; use S256")
        if not _PKCE_VALUE.match(challenge):
            raise OAuthError(
                "invalid_request", "code_challenge must be 43 to 128 unreserved characters (RFC 7636 §4.2)"
            )
    elif req.client.is_public:
        raise OAuthError(
            "invalid_request",
            f"client {req.client.client_id!r} is public and must use PKCE: send a code_challenge (RFC 9700 §2.1.1)",
        )
    req.ex.record.pkce = challenge is not None

    if idp.config.strict:
        if challenge is None:
            raise OAuthError("invalid_request", "strict mode: send a PKCE code_challenge (RFC 9700 §2.1.1)")
        if method == "plain":
            raise OAuthError(
                "invalid_request", "strict mode: use code_challenge_method S256, not plain (RFC 9700 §2.1.1)"
            )
        if req.state is None:
            raise OAuthError("invalid_request", "strict mode: send a state to protect against CSRF (RFC 9700 §4.7.1)")
        if "openid" in scopes and "nonce" not in params:
            raise OAuthError("invalid_request", "strict mode: send a nonce with an OpenID request (RFC 9700 §4.5.3.2)")

    prompts = set(params.get("prompt", "").split())
    unknown_prompts = sorted(prompts - set(PROMPTS))
    if unknown_prompts:
        raise OAuthError(
            "invalid_request",
            f"prompt {' '.join(unknown_prompts)!r} is not supported; use {', '.join(PROMPTS)}",
        )
    if "none" in prompts and len(prompts) > 1:
        raise OAuthError(
            "invalid_request", "prompt=none cannot be combined with other prompt values (OIDC Core §3.1.2.1)"
        )

    max_age: int | None = None
    if "max_age" in params:
        raw = params["max_age"]
        if not raw.isdigit() or len(raw) > 12:
            raise OAuthError("invalid_request", f"max_age must be a whole number of seconds, got {raw!r}")
        max_age = int(raw)
    return scopes, challenge, method, prompts, max_age


async def authorize(ex: Exchange) -> Response:
    request = ex.request
    if request.method == "POST":
        params = await read_form(request, required=True)
    else:
        params = read_query(request)
    ex.params.update(params)
    ex.record.params = dict(params)
    try:
        req = AuthorizationRequest(ex, params)
    except OAuthError as error:
        ex.record.error, ex.record.error_description = error.error, error.description
        return error_page(error)
    try:
        await ex.checkpoint()
        return _authorize(req)
    except OAuthError as error:
        ex.record.error, ex.record.error_description = error.error, error.description
        return req.error(error)


def _authorize(req: AuthorizationRequest) -> Response:
    ex, params, idp = req.ex, req.params, req.ex.idp
    scopes, challenge, method, prompts, max_age = _check(req)
    now = idp.now()

    form_action = params.get(ACTION_FIELD) if ex.request.method == "POST" else None
    if form_action == "deny":
        raise OAuthError("access_denied", "the user denied the request")

    hint = params.get("login_hint")
    hinted = idp.find_user(hint) if hint is not None else None
    session = idp.current_session(ex.request)
    if session is not None:
        too_old = max_age is not None and now - session.auth_time > max_age
        other_user = hinted is not None and hinted.sub != session.user.sub
        if too_old or other_user or "login" in prompts or form_action == "login":
            if "none" in prompts:
                reason = "the session is older than max_age" if too_old else "login_hint names another user"
                raise OAuthError("login_required", f"prompt=none, but {reason}")
            session = None

    if session is None:
        if "none" in prompts:
            raise OAuthError("login_required", "prompt=none, but the user has no session at the provider")
        user: User | None
        if form_action == "login":
            username = params.get(USERNAME_FIELD, "")
            user = idp.find_user(username)
            if user is None:
                return login_form(req, f"No user named {username!r}.")
        elif (queued := idp.take_queued_login()) is not None:
            user = queued
        elif idp.config.interactive:
            return login_form(req, None)
        else:
            user = hinted
            if user is None and hint is not None:
                raise OAuthError("login_required", f"login_hint {hint!r} names no known user")
            user = user or idp.default_user()
            if user is None:
                raise OAuthError("login_required", "the provider has no users to log in; add one with add_user()")
        session = Session(id=new_id(), user=user, auth_time=int(now), expires_at=now + idp.config.session_ttl)
        idp.state.sessions[session.id] = session

    ex.record.user = session.user.sub
    grant = Grant(
        client=req.client,
        user=session.user,
        scopes=scopes,
        auth_time=session.auth_time,
        nonce=params.get("nonce"),
        session_id=session.id,
    )
    code = new_id(32)
    idp.state.codes[code] = AuthorizationCode(
        grant=grant,
        redirect_uri=req.redirect_uri,
        redirect_uri_sent=req.redirect_uri_sent,
        code_challenge=challenge,
        code_challenge_method=method,
        expires_at=now + idp.config.code_ttl,
    )
    answer = {"code": code}
    if req.state is not None:
        answer["state"] = req.state
    answer["iss"] = idp.issuer
    response = respond(req.redirect_uri, req.response_mode, answer)
    idp.set_session_cookie(response, session)
    return response


def login_form(req: AuthorizationRequest, message: str | None) -> Response:
    """The interactive login page: pick a known user or type a username; or deny the request."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in req.params.items()
        if k not in (USERNAME_FIELD, ACTION_FIELD)
    )
    options = "".join(
        f'<option value="{html.escape(u.username)}">{html.escape(u.username)}'
        f" ({html.escape(str(u.claims.get('email', u.sub)))})</option>"
        for u in req.ex.idp.users.values()
    )
    note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    body = (
        f"<p>Log in to <code>{html.escape(req.client.client_id)}</code>.</p>{note}"
        f'<form method="post" action="{html.escape(req.ex.idp.endpoint("authorization_endpoint"))}">{hidden}'
        f'<label>Username <input name="{USERNAME_FIELD}" list="mockidp-users" autofocus></label>'
        f'<datalist id="mockidp-users">{options}</datalist> '
        f'<button name="{ACTION_FIELD}" value="login">Log in</button> '
        f'<button name="{ACTION_FIELD}" value="deny">Deny</button></form>'
    )
    return page("mockidp: log in", body, 200)
