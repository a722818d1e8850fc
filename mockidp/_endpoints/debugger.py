"""The token debugger: a relying party built into the provider (OIDC Core §3.1, the authorization code flow).

``/debugger`` under the issuer lets a person pick a client, scopes, PKCE (RFC 7636) and a response mode,
runs the flow against this provider with itself as the redirect target (which every client may use
while the debugger is on), and shows the authorization response, the token response (RFC 6749 §5.1),
the decoded ID and access tokens (OIDC Core §2, RFC 9068), userinfo (OIDC Core §5.3) and
introspection (RFC 7662), with a button for the refresh token grant (RFC 6749 §6).

The run's state, nonce and PKCE verifier live in a cookie scoped to the issuer's path. Its calls to
the token, userinfo and introspection endpoints go through the provider's own ASGI app, so they are
logged, and injected faults apply to them as to any client's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import secrets
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import RedirectResponse, Response

from mockidp import _sessions as sessions
from mockidp._exchange import NO_STORE, Exchange, page
from mockidp._params import parse_pairs, read_body_text
from mockidp._redirects import RESPONSE_MODES

if TYPE_CHECKING:
    from mockidp._context import Context

RUN_COOKIE = "mockidp_debugger"
ACTION_FIELD = "mockidp_debugger"
DEFAULT_SCOPE = "openid profile email offline_access"
PKCE_CHOICES = ("S256", "plain", "none")
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")

#: A fragment response (response_mode=fragment) never reaches a server: this turns it into a query.
_FRAGMENT_TO_QUERY = (
    "<script>if(location.hash.length>1&&!location.search)"
    "location.replace(location.pathname+'?'+location.hash.slice(1))</script>"
)

_STYLE = (
    "body{max-width:60rem;line-height:1.45}"
    "label{display:block;font-weight:600;margin:.6rem 0 .2rem}"
    "select,input{font:inherit;padding:.4rem;width:100%;max-width:28rem}"
    "button{font:inherit;padding:.5rem 1rem;margin-top:.8rem;cursor:pointer}"
    "pre{background:#f4f5f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.25rem .4rem;"
    "text-align:left;vertical-align:top;overflow-wrap:anywhere}th{width:11rem}"
    "section{margin:1.4rem 0}[role=alert]{border-left:4px solid #a3261b;background:#fdecea;padding:.5rem .75rem}"
    ".ok{color:#1d6b2a}.bad{color:#a3261b}"
)


async def debugger(ex: Exchange) -> Response:
    await ex.checkpoint()
    ctx, request = ex.ctx, ex.request
    params = dict(request.query_params)
    if request.method == "POST":
        params = parse_pairs(await read_body_text(request), where="request body")
    ex.record.params = {k: v for k, v in params.items() if k not in ("code", "refresh_token")}
    action = params.get(ACTION_FIELD)
    if action == "start":
        return _start(ctx, params)
    if action == "refresh":
        return await _refresh(ctx, params)
    if "state" in params or "error" in params or "code" in params:
        return await _callback(ctx, params, request.cookies.get(RUN_COOKIE))
    return _start_page(ctx, None, params)


# -- the start ----------------------------------------------------------------------------------


def _start_page(ctx: Context, message: str | None, params: dict[str, str]) -> Response:
    clients = [c for c in ctx.clients.values() if "authorization_code" in c.grant_types]
    chosen = params.get("client_id", clients[0].client_id if clients else "")

    def options(values: list[str], selected: str) -> str:
        return "".join(
            f'<option value="{html.escape(v)}"{" selected" if v == selected else ""}>{html.escape(v)}</option>'
            for v in values
        )

    alert = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    form = (
        f'<form method="post" action="{html.escape(ctx.url("debugger"))}">'
        f'<input type="hidden" name="{ACTION_FIELD}" value="start">'
        f'<label for="dbg-client">Client</label><select id="dbg-client" name="client_id">'
        f"{options([c.client_id for c in clients], chosen)}</select>"
        f'<label for="dbg-scope">Scopes</label><input id="dbg-scope" name="scope"'
        f' value="{html.escape(params.get("scope", DEFAULT_SCOPE))}" spellcheck="false">'
        f'<label for="dbg-pkce">PKCE</label><select id="dbg-pkce" name="pkce">'
        f"{options(list(PKCE_CHOICES), params.get('pkce', 'S256'))}</select>"
        f'<label for="dbg-mode">Response mode</label><select id="dbg-mode" name="response_mode">'
        f"{options(list(RESPONSE_MODES), params.get('response_mode', 'query'))}</select>"
        f'<label for="dbg-prompt">Prompt (optional)</label><input id="dbg-prompt" name="prompt"'
        f' value="{html.escape(params.get("prompt", ""))}">'
        "<button>Run the flow</button></form>"
        f"<p>Redirect URI: <code>{html.escape(ctx.url('debugger'))}</code>, accepted for every client while the"
        " debugger is on.</p>"
    )
    return page("mockidp: token debugger", alert + form + _FRAGMENT_TO_QUERY, 400 if message else 200, style=_STYLE)


def _challenge(verifier: str, method: str) -> str:
    """The code challenge of ``verifier`` (RFC 7636 section 4.2)."""
    if method == "plain":
        return verifier
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _encode_run(run: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(run, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_run(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        run = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(run, dict) or not all(isinstance(v, str) for v in run.values()):
        return None
    return run


def _start(ctx: Context, params: dict[str, str]) -> Response:
    client = ctx.clients.get(params.get("client_id", ""))
    if client is None:
        return _start_page(ctx, f"Pick a client; {params.get('client_id', '')!r} is not registered.", params)
    method, mode = params.get("pkce", "S256"), params.get("response_mode", "query")
    if method not in PKCE_CHOICES:
        return _start_page(ctx, f"PKCE must be one of {', '.join(PKCE_CHOICES)}, got {method!r}.", params)
    if mode not in RESPONSE_MODES:
        return _start_page(ctx, f"The response mode must be one of {', '.join(RESPONSE_MODES)}, got {mode!r}.", params)
    run = {"client_id": client.client_id, "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12)}
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": ctx.url("debugger"),
        "scope": params.get("scope", "").strip(),
        "state": run["state"],
        "nonce": run["nonce"],
        "response_mode": mode,
    }
    if method != "none":
        run["verifier"] = secrets.token_urlsafe(48)
        query["code_challenge"] = _challenge(run["verifier"], method)
        query["code_challenge_method"] = method
    if params.get("prompt", "").strip():
        query["prompt"] = params["prompt"].strip()
    response = RedirectResponse(ctx.url("authorize") + "?" + urlencode(query), 303, headers=NO_STORE)
    response.set_cookie(
        RUN_COOKIE,
        _encode_run(run),
        path=sessions.cookie_path(ctx),
        httponly=True,
        samesite="lax",
        secure=ctx.issuer.startswith("https://"),
    )
    return response


# -- calls to the provider's own endpoints ------------------------------------------------------


async def call(
    ctx: Context, method: str, endpoint: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request to this provider's ASGI app, in-process: its status and its JSON (or text) body."""
    from mockidp._app import create_app  # the app is made from the table that lists this module

    url = urlsplit(ctx.url(endpoint))
    body = urlencode(form).encode() if form is not None else b""
    raw = [(b"host", url.netloc.encode())] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if form is not None:
        raw += [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 0),
        "server": (url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
    }
    sent = False
    status, chunks = 500, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await create_app(ctx)(scope, receive, send)
    text = b"".join(chunks).decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _client_auth(ctx: Context, client_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers that authenticate ``client_id`` as it registered (RFC 6749 §2.3.1)."""
    client = ctx.clients[client_id]
    if client.client_secret is None:
        return {"client_id": client_id}, {}
    if client.token_endpoint_auth_method == "client_secret_post":
        return {"client_id": client_id, "client_secret": client.client_secret}, {}
    basic = base64.b64encode(f"{client_id}:{client.client_secret}".encode()).decode()
    return {}, {"authorization": f"Basic {basic}"}


# -- showing what came back ---------------------------------------------------------------------


def _json_block(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True) if not isinstance(value, str) else value
    return f"<pre>{html.escape(text)}</pre>"


def _when(ctx: Context, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    moment = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    delta = int(value - ctx.now())
    ago = f"in {delta} s" if delta >= 0 else f"{-delta} s ago"
    return f" <small>({moment}, {ago})</small>"


def _decoded(ctx: Context, name: str, token: Any, nonce: str | None) -> str:
    if not isinstance(token, str) or token.count(".") != 2:
        return f"<section><h2>{name}</h2><p>Not a JWT: <code>{html.escape(str(token))}</code></p></section>"
    head, payload, _ = token.split(".")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return f"<section><h2>{name}</h2><p>Not a JWT: its parts are not base64url JSON.</p></section>"
    try:
        jwt.decode(token, KeySet.import_key_set(ctx.keys.jwks()))  # type: ignore[arg-type]
        signature = '<span class="ok">valid against this provider\'s JWKS</span>'
    except (JoseError, ValueError) as exc:
        signature = f'<span class="bad">not valid: {html.escape(str(exc) or type(exc).__name__)}</span>'
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(json.dumps(v))}</code>"
        f"{_when(ctx, v) if k in TIME_CLAIMS else ''}</td></tr>"
        for k, v in claims.items()
    )
    check = ""
    if nonce is not None and "nonce" in claims:
        same = claims["nonce"] == nonce
        check = f'<p>nonce: <span class="{"ok" if same else "bad"}">{"matches" if same else "differs"}</span></p>'
    return (
        f"<section><h2>{name}</h2><p>Signature: {signature}</p>{check}<h3>Header</h3>{_json_block(header)}"
        f"<h3>Claims</h3><table>{rows}</table></section>"
    )


async def _results(ctx: Context, client_id: str, status: int, tokens: Any, nonce: str | None) -> str:
    parts = [f"<section><h2>Token response</h2><p>HTTP {status}</p>{_json_block(tokens)}</section>"]
    if status != 200 or not isinstance(tokens, dict):
        return "".join(parts)
    if "id_token" in tokens:
        parts.append(_decoded(ctx, "ID token", tokens["id_token"], nonce))
    access = tokens.get("access_token")
    if isinstance(access, str):
        parts.append(_decoded(ctx, "Access token", access, None))
        info_status, info = await call(ctx, "GET", "userinfo", headers={"authorization": f"Bearer {access}"})
        parts.append(f"<section><h2>Userinfo</h2><p>HTTP {info_status}</p>{_json_block(info)}</section>")
        if ctx.clients[client_id].is_public:
            parts.append(
                "<section><h2>Introspection</h2><p>Not asked: a public client may not introspect tokens"
                " (RFC 7662 section 2.1).</p></section>"
            )
        else:
            fields, headers = _client_auth(ctx, client_id)
            seen_status, seen = await call(ctx, "POST", "introspection", {**fields, "token": access}, headers)
            parts.append(f"<section><h2>Introspection</h2><p>HTTP {seen_status}</p>{_json_block(seen)}</section>")
    refresh = tokens.get("refresh_token")
    if isinstance(refresh, str):
        parts.append(
            f'<form method="post" action="{html.escape(ctx.url("debugger"))}">'
            f'<input type="hidden" name="{ACTION_FIELD}" value="refresh">'
            f'<input type="hidden" name="client_id" value="{html.escape(client_id)}">'
            f'<input type="hidden" name="refresh_token" value="{html.escape(refresh)}">'
            "<button>Refresh the tokens</button></form>"
        )
    return "".join(parts)


def _result_page(ctx: Context, body: str, status: int = 200) -> Response:
    again = f'<p><a href="{html.escape(ctx.url("debugger"))}">Start another run</a></p>'
    return page("mockidp: token debugger", body + again, status, style=_STYLE)


async def _callback(ctx: Context, params: dict[str, str], cookie: str | None) -> Response:
    answer = f"<section><h2>Authorization response</h2>{_json_block(params)}</section>"
    run = _decode_run(cookie)
    if run is None or run.get("state") != params.get("state") or run.get("client_id") not in ctx.clients:
        why = (
            "This browser started no debugger run (its cookie is gone)."
            if run is None
            else "The state does not match the run this browser started: the answer belongs to another run."
        )
        return _result_page(ctx, f'<p role="alert">{why}</p>{answer}', 400)
    if "code" not in params:
        return _result_page(ctx, f'<p role="alert">The provider answered with an error.</p>{answer}')
    fields, headers = _client_auth(ctx, run["client_id"])
    form = {**fields, "grant_type": "authorization_code", "code": params["code"], "redirect_uri": ctx.url("debugger")}
    if "verifier" in run:
        form["code_verifier"] = run["verifier"]
    status, tokens = await call(ctx, "POST", "token", form, headers)
    return _result_page(ctx, answer + await _results(ctx, run["client_id"], status, tokens, run["nonce"]))


async def _refresh(ctx: Context, params: dict[str, str]) -> Response:
    client_id = params.get("client_id", "")
    if client_id not in ctx.clients:
        return _result_page(ctx, f'<p role="alert">No client {client_id!r} to refresh for.</p>', 400)
    fields, headers = _client_auth(ctx, client_id)
    form = {**fields, "grant_type": "refresh_token", "refresh_token": params.get("refresh_token", "")}
    status, tokens = await call(ctx, "POST", "token", form, headers)
    return _result_page(ctx, "<h2>Refreshed</h2>" + await _results(ctx, client_id, status, tokens, None))
