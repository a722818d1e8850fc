"""The interactive login page of the authorization endpoint (OIDC Core §3.1.2.3, "Authorization Server
Authenticates End-User", and §3.1.2.4, "Authorization Server Obtains End-User Consent/Authorization"),
and the ``prompt`` values that decide when it is shown (§3.1.2.1).

The page says which client asks for which scopes, lists the known users as one-click choices, takes
any username typed (a new user, where ``ProviderConfig.adhoc_users`` allows it) with optional extra
claims as a JSON object, and offers to deny the request. It needs no JavaScript.

It posts the authorization request back to the endpoint with fields of its own, namespaced so they
never clash with a client's parameters: ``mockidp_username`` (a username, email or ``sub``),
``mockidp_action`` (``login`` or ``deny``), ``mockidp_claims`` and ``mockidp_csrf``. The last is a
double-submit token against cross-site posts (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit
Cookie"): the same random value in a cookie scoped to the issuer's path and in a hidden field.
Everything the page echoes is escaped.
"""

from __future__ import annotations

import hmac
import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockidp._config import User
from mockidp._exchange import page
from mockidp._state import new_id
from mockidp._tokens import PROTECTED_CLAIMS

PROMPTS = ("none", "login", "consent", "select_account")
USERNAME_FIELD = "mockidp_username"
ACTION_FIELD = "mockidp_action"
CLAIMS_FIELD = "mockidp_claims"
CSRF_FIELD = "mockidp_csrf"
CSRF_COOKIE = "mockidp_csrf"
ACTIONS = ("login", "deny")
#: The fields the page adds to the authorization request; never passed on as the client's parameters.
FORM_FIELDS = (USERNAME_FIELD, ACTION_FIELD, CLAIMS_FIELD, CSRF_FIELD)

CSRF_MESSAGE = "This form expired or came from another site: nothing was sent. Check the choice and send it again."
CLAIMS_EXAMPLE = '{"roles": ["admin"], "email": "zoe@corp.example"}'

#: What each scope lets the client see, as the page tells the user (OIDC Core §5.4, §11).
SCOPE_TEXT = {
    "openid": "who you are",
    "profile": "your name and profile",
    "email": "your email address",
    "address": "your postal address",
    "phone": "your phone number",
    "offline_access": "access while you are away (a refresh token)",
}

_STYLE = (
    "*{box-sizing:border-box}"
    "body{font:16px/1.5 system-ui,sans-serif;max-width:none;margin:0;padding:1rem;background:#f4f5f7;color:#1b1f24}"
    "main{max-width:32rem;margin:1rem auto;background:#fff;border-radius:.5rem;padding:1rem 1.25rem;"
    "box-shadow:0 1px 3px #0002}"
    "h1{font-size:1.4rem;margin:.2rem 0 .8rem}"
    "fieldset{border:1px solid #d0d4da;border-radius:.4rem;margin:0 0 1rem;padding:.6rem .8rem}"
    "legend{font-weight:600;padding:0 .3rem}"
    "ul{list-style:none;margin:0;padding:0}"
    ".scopes li{margin:.15rem 0}"
    ".users{display:grid;gap:.5rem}"
    "button{font:inherit;cursor:pointer;border-radius:.4rem;border:1px solid #8a94a0;background:#fff;"
    "padding:.55rem .9rem;min-height:2.75rem}"
    ".users button{width:100%;text-align:left}"
    ".users small{display:block;color:#4a5460}"
    "button.primary{background:#1f5fbf;border-color:#1f5fbf;color:#fff}"
    "button.deny{background:#fff;color:#a3261b;border-color:#a3261b}"
    "button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f0b400;outline-offset:2px}"
    "label{display:block;font-weight:600;margin:.4rem 0 .2rem}"
    "input,textarea{font:inherit;width:100%;padding:.5rem;border:1px solid #8a94a0;border-radius:.4rem}"
    "textarea{min-height:4.5rem;font-family:ui-monospace,monospace;font-size:.9rem}"
    ".hint{color:#4a5460;font-size:.9rem;margin:.2rem 0}"
    ".actions{display:flex;flex-wrap:wrap;gap:.6rem;margin-top:.8rem}"
    "[role=alert]{border-left:4px solid #a3261b;background:#fdecea;padding:.5rem .75rem;margin:0 0 1rem}"
    "code{background:#eef0f3;padding:0 .25em;border-radius:.2rem;overflow-wrap:anywhere}"
    "@media (max-width:30rem){body{padding:0}main{margin:0;border-radius:0;box-shadow:none}"
    ".actions button{flex:1 1 100%}}"
)


class ClaimsError(ValueError):
    """Claims typed into the page that cannot be used; the message is shown on the page."""


def parse_claims(text: str) -> dict[str, Any]:
    """The claims box: empty, or a JSON object whose names the provider does not set itself."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ClaimsError(f"Claims must be a JSON object, such as {CLAIMS_EXAMPLE}; that is not JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise ClaimsError(f"Claims must be a JSON object, such as {CLAIMS_EXAMPLE}; got a {type(value).__name__}.")
    reserved = sorted(set(value) & (PROTECTED_CLAIMS | {"password"}))
    if reserved:
        raise ClaimsError(f"Claims may not set {', '.join(reserved)}: mockidp sets them itself.")
    return value


def csrf_token(request: Request) -> str:
    """The browser's token: the one its cookie already holds, or a new one."""
    held = request.cookies.get(CSRF_COOKIE, "")
    return held if 20 <= len(held) <= 64 and held.replace("-", "").replace("_", "").isalnum() else new_id()


def csrf_ok(request: Request, params: Mapping[str, str]) -> bool:
    """Whether the form's hidden token equals the cookie's (both present)."""
    held, sent = request.cookies.get(CSRF_COOKIE, ""), params.get(CSRF_FIELD, "")
    return bool(held) and hmac.compare_digest(held.encode(), sent.encode())


def _scope_list(scopes: Iterable[str]) -> str:
    items = "".join(
        f"<li><code>{html.escape(s)}</code>{': ' + SCOPE_TEXT[s] if s in SCOPE_TEXT else ''}</li>" for s in scopes
    )
    return f'<ul class="scopes">{items}</ul>' if items else "<p>No scopes.</p>"


def login_form(
    *,
    action: str,
    client_id: str,
    scopes: Iterable[str],
    params: Mapping[str, str],
    users: Iterable[User],
    message: str | None,
    csrf: str,
    cookie_path: str,
    secure: bool,
    adhoc: bool,
    title: str = "Log in",
) -> Response:
    """The page: pick a known user or type a username (with claims); or deny the request."""
    hidden = (
        "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in FORM_FIELDS
        )
        + f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">'
    )
    typed = params.get(USERNAME_FIELD) or params.get("login_hint", "")
    claims = params.get(CLAIMS_FIELD, "")
    known = list(users)
    alert = f'<p role="alert" id="mockidp-alert">{html.escape(message)}</p>' if message else ""
    ask = f'<p id="mockidp-ask"><strong>{html.escape(client_id)}</strong> asks to know:</p>{_scope_list(scopes)}'
    picks = ""
    if known:
        buttons = "".join(
            f'<li><button name="{USERNAME_FIELD}" value="{html.escape(u.username)}">'
            f"{html.escape(str(u.claims.get('name', u.username)))}"
            f"<small>{html.escape(u.username)} &middot; {html.escape(str(u.claims.get('email', u.sub)))}</small>"
            "</button></li>"
            for u in known
        )
        picks = (
            f'<form method="post" action="{html.escape(action)}" aria-labelledby="mockidp-known">{hidden}'
            f'<input type="hidden" name="{ACTION_FIELD}" value="login">'
            f'<fieldset><legend id="mockidp-known">Continue as</legend><ul class="users">{buttons}</ul></fieldset>'
            "</form>"
        )
    who = "any username: a new user is made for one not known" if adhoc else "the username, email or sub of a user"
    described = "mockidp-username-hint mockidp-alert" if message else "mockidp-username-hint"
    other = (
        f'<form method="post" action="{html.escape(action)}">{hidden}'
        f"<fieldset><legend>{'Or log in as someone else' if known else 'Log in as'}</legend>"
        f'<label for="mockidp-username">Username</label>'
        f'<input id="mockidp-username" name="{USERNAME_FIELD}" value="{html.escape(typed)}"'
        f' autocomplete="username" autocapitalize="none" spellcheck="false" aria-describedby="{described}"'
        f"{' autofocus' if typed or not known or message else ''}>"
        f'<p class="hint" id="mockidp-username-hint">Type {who}.</p>'
        f'<label for="mockidp-claims">Extra claims (optional)</label>'
        f'<textarea id="mockidp-claims" name="{CLAIMS_FIELD}" aria-describedby="mockidp-claims-hint"'
        f' spellcheck="false">{html.escape(claims)}</textarea>'
        f'<p class="hint" id="mockidp-claims-hint">A JSON object added to the tokens, such as'
        f" <code>{html.escape(CLAIMS_EXAMPLE)}</code>.</p>"
        f'<div class="actions"><button class="primary" name="{ACTION_FIELD}" value="login">Log in and allow</button>'
        f'<button class="deny" name="{ACTION_FIELD}" value="deny">Deny</button></div>'
        "</fieldset></form>"
    )
    body = f"<main><h1>{html.escape(title)}</h1>{alert}{ask}{picks}{other}</main>"
    response = page(f"mockidp: {title.lower()}", body, 200, style=_STYLE, heading=False)
    response.set_cookie(CSRF_COOKIE, csrf, path=cookie_path, httponly=True, samesite="strict", secure=secure)
    return response
