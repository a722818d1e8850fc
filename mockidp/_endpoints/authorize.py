"""Authorization endpoint: OIDC Core §3.1.2 (authorization code flow) over RFC 6749 §4.1.

With PKCE (RFC 7636), the ``iss`` response parameter (RFC 9207), response modes ``query``,
``fragment`` (OAuth 2.0 Multiple Response Types §2) and ``form_post`` (OAuth 2.0 Form Post Response
Mode), loopback redirect URIs on any port (RFC 8252 §7.3), in strict mode the client rules of
RFC 9700 §2.1, request objects (``request``, OIDC Core §6.1, ``mockidp._request_objects``) and pushed
requests (``request_uri``, RFC 9126 §4, ``mockidp._endpoints.par``).

Errors about the client or its redirect URI are shown as a page; every later error goes back to the
client's verified redirect URI (RFC 6749 §4.1.2.1). A request object or request_uri that cannot be used
sends its error back to the redirect URI of the parameters sent beside it, if they name a verified one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from mockidp import _acr as acr
from mockidp import _claims_request as claims_request
from mockidp import _pkce as pkce
from mockidp import _request_objects as request_objects
from mockidp import _sessions as sessions
from mockidp._config import Client, User
from mockidp._endpoints import par
from mockidp._errors import ConfigError, OAuthError
from mockidp._exchange import Exchange, error_page
from mockidp._login_form import (
    ACTION_FIELD,
    ACTIONS,
    CLAIMS_FIELD,
    CSRF_MESSAGE,
    PROMPTS,
    USERNAME_FIELD,
    ClaimsError,
    csrf_ok,
    csrf_token,
    login_form,
    parse_claims,
)
from mockidp._params import (
    FORM_TYPE,
    MAX_FIELDS,
    MAX_VALUE_CHARS,
    client_scopes,
    form_content_type,
    not_a_form,
    parse_pairs,
    read_body_text,
    scopes_of,
)
from mockidp._redirects import RESPONSE_MODES, redirect_uri_allowed, respond
from mockidp._state import AuthorizationCode, Grant, Session, new_id

if TYPE_CHECKING:
    from mockidp._context import Context

_MAX_AGE = re.compile(r"[0-9]{1,12}")


class AuthorizationRequest:
    """The checked parameters of one authorization request."""

    def __init__(self, ex: Exchange, params: dict[str, str]) -> None:
        self.ex = ex
        self.params = params
        self.client = self._client()
        self.redirect_uri, self.redirect_uri_sent = self._redirect_uri()
        mode = params.get("response_mode")
        if mode not in RESPONSE_MODES:
            # Errors for a response type that issues tokens go in the fragment (RFC 6749 §4.2.2.1).
            implicit = {"token", "id_token"} & set(params.get("response_type", "").split())
            mode = "fragment" if implicit else "query"
        self.response_mode = mode
        self.state = params.get("state")
        #: The login page was shown: the request was not answered yet (a request_uri stays unused).
        self.login_shown = False

    def _client(self) -> Client:
        client_id = self.params.get("client_id")
        if client_id is None:
            raise OAuthError("invalid_request", "client_id is required (RFC 6749 section 4.1.1)")
        client = self.ex.ctx.clients.get(client_id)
        if client is None:
            known = ", ".join(sorted(self.ex.ctx.clients)) or "none"
            raise OAuthError("invalid_request", f"unknown client_id {client_id!r}; registered clients: {known}")
        self.ex.record.client_id = client_id
        return client

    def _redirect_uri(self) -> tuple[str, bool]:
        uri = self.params.get("redirect_uri")
        if uri is None:
            # OIDC requires the parameter; a plain OAuth request may leave it out when a single,
            # complete registration stands in for it (RFC 6749 §3.1.2.3).
            only = self.client.redirect_uris
            openid = "openid" in self.params.get("scope", "").split()
            if not openid and len(only) == 1 and not only[0].endswith("*"):
                return only[0], False
            raise OAuthError("invalid_request", "redirect_uri is required (OIDC Core section 3.1.2.1)")
        debugger = self.ex.ctx.config.debugger and uri == self.ex.ctx.url("debugger")  # any client may use it
        if not debugger and not redirect_uri_allowed(self.client.redirect_uris, uri):
            registered = ", ".join(self.client.redirect_uris) or "none"
            raise OAuthError(
                "invalid_request",
                f"redirect_uri {uri!r} is not registered for client {self.client.client_id!r};"
                f" registered: {registered}",
            )
        return uri, True

    def error(self, error: OAuthError) -> Response:
        params = error.as_dict()
        if self.state is not None:
            params["state"] = self.state
        params["iss"] = self.ex.ctx.issuer
        return respond(self.redirect_uri, self.response_mode, params)


@dataclass(frozen=True)
class Checked:
    """What a valid authorization request asks for."""

    scopes: tuple[str, ...]
    challenge: str | None
    method: str | None
    prompts: set[str]
    #: §3.1.2.1: the longest a session may have lasted since its login (the client's default_max_age).
    max_age: int | None
    #: §5.5: the claims asked for by name.
    claims: claims_request.ClaimsRequest
    #: §2: the authentication context class a login for this request reaches (``mockidp._acr``).
    acr: str | None
    #: Whether the request asked for an acr at all (a session at another one is not reused).
    acr_asked: bool


def _check(req: AuthorizationRequest) -> Checked:
    """Validate what may be reported back to the client."""
    params, ctx = req.params, req.ex.ctx
    mode = params.get("response_mode")
    if mode is not None and mode not in RESPONSE_MODES:
        raise OAuthError(
            "invalid_request",
            f"response_mode {mode!r} is not supported; use one of {', '.join(RESPONSE_MODES)}",
        )
    response_type = params.get("response_type")
    if response_type is None:
        raise OAuthError("invalid_request", "response_type is required (RFC 6749 section 4.1.1)")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", f"response_type {response_type!r} is not supported; use 'code'")
    if "authorization_code" not in req.client.grant_types:
        raise OAuthError(
            "unauthorized_client", f"client {req.client.client_id!r} may not use the authorization code grant"
        )
    req.ex.record.scopes = scopes_of(params)
    scopes = client_scopes(params, req.client)

    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if method is not None and challenge is None:
        raise OAuthError("invalid_request", "code_challenge_method was sent without a code_challenge")
    if challenge is not None:
        method = method or "plain"
        if method not in pkce.METHODS:
            raise OAuthError("invalid_request", f"code_challenge_method {method!r} is not supported; use S256")
        if not pkce.well_formed(challenge):
            raise OAuthError(
                "invalid_request", "code_challenge must be 43 to 128 unreserved characters (RFC 7636 section 4.2)"
            )
    elif req.client.is_public:
        raise OAuthError(
            "invalid_request",
            f"client {req.client.client_id!r} is public and must use PKCE:"
            " send a code_challenge (RFC 9700 section 2.1.1)",
        )
    req.ex.record.pkce = challenge is not None

    if ctx.config.strict:
        if challenge is None:
            raise OAuthError("invalid_request", "strict mode: send a PKCE code_challenge (RFC 9700 section 2.1.1)")
        if method == "plain":
            raise OAuthError(
                "invalid_request", "strict mode: use code_challenge_method S256, not plain (RFC 9700 section 2.1.1)"
            )
        if req.state is None:
            raise OAuthError(
                "invalid_request", "strict mode: send a state to protect against CSRF (RFC 9700 section 4.7.1)"
            )
        if "openid" in scopes and "nonce" not in params:
            raise OAuthError(
                "invalid_request", "strict mode: send a nonce with an OpenID request (RFC 9700 section 4.5.3.2)"
            )

    prompts = set(params.get("prompt", "").split())
    unknown_prompts = sorted(prompts - set(PROMPTS))
    if unknown_prompts:
        raise OAuthError(
            "invalid_request",
            f"prompt {' '.join(unknown_prompts)!r} is not supported; use {', '.join(PROMPTS)}",
        )
    if "none" in prompts and len(prompts) > 1:
        raise OAuthError(
            "invalid_request", "prompt=none cannot be combined with other prompt values (OIDC Core section 3.1.2.1)"
        )

    max_age = req.client.default_max_age
    if "max_age" in params:
        raw = params["max_age"]
        if not _MAX_AGE.fullmatch(raw):
            raise OAuthError("invalid_request", f"max_age must be a whole number of seconds, got {raw!r}")
        max_age = int(raw)
    claims = claims_request.parse(params.get("claims"))
    wanted, essential = acr.asked(params, req.client, claims)
    reached = acr.reach(ctx.config, wanted, essential)
    return Checked(scopes, challenge, method, prompts, max_age, claims, reached, bool(wanted))


def validate(ex: Exchange, params: dict[str, str]) -> None:
    """Check ``params`` as an authorization request, without answering it (RFC 9126 §2.1)."""
    _check(AuthorizationRequest(ex, params))


def _expand(ex: Exchange, params: dict[str, str]) -> dict[str, str]:
    """The request's parameters, with its pushed request (RFC 9126 §4) or request object (OIDC Core §6.1)."""
    if "request" in params and "request_uri" in params:
        raise OAuthError("invalid_request", "send request or request_uri, not both (OIDC Core section 6)")
    if "request_uri" in params:
        return par.resolve(ex, params)
    client = ex.ctx.clients.get(params.get("client_id", ""))
    if "request" not in params or client is None:  # an unknown client gets its error page next
        return params
    ex.record.request_object = True
    return request_objects.merge(ex.ctx, client, params)


async def authorize(ex: Exchange) -> Response:
    try:
        raw = await _raw_params(ex.request)
    except OAuthError as error:
        return _refuse(ex, error)
    try:
        params = parse_pairs(raw, where="request body" if ex.request.method == "POST" else "query string")
    except OAuthError as error:
        # Duplicated, oversized or broken parameters: still an error for the client (RFC 6749
        # §4.1.2.1), if the parameters that say where to send it can be trusted.
        routing = _routing_params(raw)
        if routing is None:
            return _refuse(ex, error)
        ex.record.params = dict(routing)
        try:
            req = AuthorizationRequest(ex, routing)
        except OAuthError as untrusted:
            return _refuse(ex, untrusted)
        _log_error(ex, error)
        return req.error(error)
    ex.params.update(params)
    ex.record.params = dict(params)
    try:
        expanded = _expand(ex, params)
    except OAuthError as error:
        try:
            req = AuthorizationRequest(ex, params)
        except OAuthError:
            return _refuse(ex, error)
        _log_error(ex, error)
        return req.error(error)
    if expanded is not params:
        ex.record.params = dict(expanded)
    try:
        req = AuthorizationRequest(ex, expanded)
    except OAuthError as error:
        return _refuse(ex, error)
    try:
        await ex.checkpoint()
        response = _authorize(req)
    except OAuthError as error:
        if error.as_page:  # an injected outage: the provider answers with its status, not a redirect
            return _refuse(ex, error)
        _log_error(ex, error)
        par.spend(ex.ctx, expanded)
        return req.error(error)
    if not req.login_shown:
        par.spend(ex.ctx, expanded)
    return response


def _log_error(ex: Exchange, error: OAuthError) -> None:
    ex.record.error, ex.record.error_description = error.error, error.description


def _refuse(ex: Exchange, error: OAuthError) -> Response:
    """An error page: the client or its redirect URI is unknown, so nothing is sent back (RFC 6749 §4.1.2.1)."""
    _log_error(ex, error)
    return error_page(error)


async def _raw_params(request: Request) -> str:
    """The query string of a GET, or the form body of a POST (OIDC Core §3.1.2.1), undecoded."""
    if request.method != "POST":
        return request.url.query
    if form_content_type(request) is None:
        raise not_a_form(
            request, f"a POST to the authorization endpoint needs an {FORM_TYPE} body (OIDC Core section 3.1.2.1)"
        )
    return await read_body_text(request)


#: What decides where an error goes. A doubtful state or response_type is left out; a doubtful
#: client_id, redirect_uri or response_mode means no redirect at all.
_ROUTING = ("client_id", "redirect_uri", "response_mode", "response_type", "state")
_DROPPABLE = ("response_type", "state")


def _routing_params(raw: str) -> dict[str, str] | None:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return None
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in _ROUTING and value:
            values.setdefault(name, []).append(value)
    routing: dict[str, str] = {}
    for name, found in values.items():
        if len(found) == 1 and len(found[0]) <= MAX_VALUE_CHARS and "\x00" not in found[0]:
            routing[name] = found[0]
        elif name not in _DROPPABLE:
            return None
    return routing


def _authorize(req: AuthorizationRequest) -> Response:
    ex, params, ctx = req.ex, req.params, req.ex.ctx
    checked = _check(req)
    scopes, prompts = checked.scopes, checked.prompts
    par.require_pushed(ctx, req.client, params)
    now = ctx.now()

    form_action = params.get(ACTION_FIELD) if ex.request.method == "POST" else None
    if form_action is None and ex.request.method == "POST" and USERNAME_FIELD in params:
        form_action = "login"  # a form sent by script, or by Enter in a client that adds no button value
    if form_action is not None and ctx.config.interactive and not csrf_ok(ex.request, params):
        # A post that did not come from the page this browser was shown (OWASP: double-submit cookie).
        # Without the form (interactive off) a plain GET logs in already, so there is nothing to protect.
        return _login_page(req, scopes, CSRF_MESSAGE)
    if form_action is not None and form_action not in ACTIONS:
        return _login_page(req, scopes, f"Unknown action {form_action!r}: the form's buttons send login or deny.")
    if form_action == "deny":
        raise OAuthError("access_denied", "the user denied the request")

    hint = params.get("login_hint")
    hinted = ctx.find_user(hint) if hint is not None else None
    required_sub = _required_sub(ctx, checked.claims)
    if required_sub is not None:
        hinted = required_sub  # §5.5.1: the sub asked for names the user who must log in
    # A user chosen with login_as() is logged in by the next request that may show a login.
    queued = ctx.controls.take_queued_login() if "none" not in prompts and form_action is None else None
    session = sessions.current(ctx, ex.request)
    extra_claims: dict[str, Any] = {}
    if session is not None:
        reason = _why_login_again(req, session, now, checked, queued or hinted, form_action)
        if reason is not None:
            if "none" in prompts:
                raise OAuthError("login_required", f"prompt=none, but {reason}")
            session = None

    if session is None:
        if "none" in prompts:
            raise OAuthError("login_required", "prompt=none, but the user has no session at the provider")
        user: User | None
        if form_action == "login":
            chosen = _form_login(req, scopes)
            if isinstance(chosen, Response):
                return chosen
            user, extra_claims = chosen
        elif queued is not None:
            user = queued
        elif ctx.config.interactive:
            return _login_page(req, scopes, None)
        else:
            user = hinted
            if user is None and hint is not None:
                raise OAuthError("login_required", f"login_hint {hint!r} names no known user")
            user = user or ctx.default_user()
            if user is None:
                raise OAuthError("login_required", "the provider has no users to log in; add one with add_user()")
        session = sessions.start(ctx, user, acr=checked.acr)

    ex.record.user, ex.record.acr = session.user.sub, session.acr
    if required_sub is not None and session.user.sub != required_sub.sub:
        raise OAuthError(
            "access_denied",
            f"the claims parameter asks for sub {required_sub.sub!r}, but {session.user.sub!r} logged in"
            " (OIDC Core section 5.5.1)",
        )
    grant = Grant(
        client=req.client,
        user=session.user,
        scopes=scopes,
        auth_time=session.auth_time,
        nonce=params.get("nonce"),
        session_id=session.id,
        extra_claims=extra_claims,
        acr=session.acr,
        amr=session.amr,
        id_token_claims=frozenset(checked.claims.id_token),
        userinfo_claims=frozenset(checked.claims.userinfo),
    )
    if req.client.client_id not in session.clients:
        session.clients.append(req.client.client_id)
    code = new_id(32)
    ctx.state.codes[code] = AuthorizationCode(
        grant=grant,
        redirect_uri=req.redirect_uri,
        redirect_uri_sent=req.redirect_uri_sent,
        code_challenge=checked.challenge,
        code_challenge_method=checked.method,
        expires_at=now + ctx.config.code_ttl,
    )
    answer = {"code": code}
    if req.state is not None:
        answer["state"] = req.state
    answer["iss"] = ctx.issuer
    response = respond(req.redirect_uri, req.response_mode, answer)
    sessions.set_cookie(ctx, response, session)
    return response


def _required_sub(ctx: Context, claims: claims_request.ClaimsRequest) -> User | None:
    """The user a ``sub`` with a value in the ``claims`` parameter names (OIDC Core §5.5.1)."""
    asked = claims.wanted("sub")
    if asked is None or not asked.values:
        return None
    sub = str(asked.values[0])
    user = ctx.users.get(sub)
    if user is None:
        raise OAuthError(
            "login_required",
            f"the claims parameter asks for sub {sub!r}, which names no known user (OIDC Core section 5.5.1)",
        )
    return user


def _why_login_again(
    req: AuthorizationRequest,
    session: Session,
    now: float,
    checked: Checked,
    wanted: User | None,
    form_action: str | None,
) -> str | None:
    """Why the session cannot answer this request (OIDC Core §3.1.2.1), or ``None`` if it can."""
    prompts, max_age = checked.prompts, checked.max_age
    if checked.acr_asked and session.acr != checked.acr:
        return f"the session's acr {session.acr!r} is not the {checked.acr!r} the request asks for"
    if max_age == 0:
        return "max_age=0 asks for a new login"  # the same as prompt=login (OIDC Core §3.1.2.1)
    if max_age is not None and now - session.auth_time > max_age:
        return "the session is older than max_age"
    if wanted is not None and wanted.sub != session.user.sub:
        return "login_hint names another user"
    if "login" in prompts:
        return "prompt=login asks for a new login"
    if "select_account" in prompts and req.ex.ctx.config.interactive:
        return "prompt=select_account asks to choose a user"
    if "consent" in prompts and req.ex.ctx.config.interactive:
        return "prompt=consent asks the user to allow the request again"
    if form_action == "login":
        return "the login form was sent"
    return None


def _form_login(req: AuthorizationRequest, scopes: tuple[str, ...]) -> tuple[User, dict[str, Any]] | Response:
    """The user the login form names (new, if ad-hoc users are allowed) and the extra claims typed, or
    the form again saying what to change."""
    ctx, params = req.ex.ctx, req.params
    username = params.get(USERNAME_FIELD, "").strip()
    if not username:
        return _login_page(req, scopes, "Type a username, or pick one of the users listed.")
    try:
        claims = parse_claims(params.get(CLAIMS_FIELD, ""))
    except ClaimsError as error:
        return _login_page(req, scopes, str(error))
    user = ctx.find_user(username)
    if user is not None:
        return user, claims
    if not ctx.config.adhoc_users:
        known = ", ".join(u.username for u in ctx.users.values()) or "none"
        return _login_page(
            req,
            scopes,
            f"No user named {username!r}; known users: {known}. To log in anyone typed, start the provider with"
            " adhoc_users on (mockidp serve --adhoc-users).",
        )
    try:
        return ctx.add_user(User.named(username, **claims)), {}
    except ConfigError as error:  # a user of that name came in the meantime, or the claims do not fit
        return _login_page(req, scopes, f"Cannot make the user {username!r}: {error}.")


def _login_page(req: AuthorizationRequest, scopes: tuple[str, ...], message: str | None) -> Response:
    ctx, prompts = req.ex.ctx, req.params.get("prompt", "").split()
    title = "Choose an account" if "select_account" in prompts else "Log in again" if "login" in prompts else "Log in"
    req.login_shown = True
    return login_form(
        action=ctx.url("authorize"),
        client_id=req.client.client_id,
        scopes=scopes,
        params=req.params,
        users=list(ctx.users.values()),
        message=message,
        csrf=csrf_token(req.ex.request),
        cookie_path=sessions.cookie_path(ctx),
        secure=ctx.issuer.startswith("https://"),
        adhoc=ctx.config.adhoc_users,
        title=title,
    )
