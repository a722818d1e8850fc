"""The interactive login page of the authorization endpoint (OIDC Core §3.1.2.3, "Authorization Server
Authenticates End-User"), and the ``prompt`` values that decide when it is shown (§3.1.2.1).

The page posts the authorization request back to the endpoint with two fields of its own, namespaced
so they never clash with a client's parameters: ``mockidp_username`` (a username, email or ``sub``)
and ``mockidp_action`` (``login`` or ``deny``). Everything it echoes is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from starlette.responses import Response

from mockidp._config import User
from mockidp._exchange import page

PROMPTS = ("none", "login", "consent", "select_account")
USERNAME_FIELD = "mockidp_username"
ACTION_FIELD = "mockidp_action"
ACTIONS = ("login", "deny")


def login_form(
    *, action: str, client_id: str, params: Mapping[str, str], users: Iterable[User], message: str | None
) -> Response:
    """The page: pick a known user or type a username; or deny the request."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in (USERNAME_FIELD, ACTION_FIELD)
    )
    options = "".join(
        f'<option value="{html.escape(u.username)}">{html.escape(u.username)}'
        f" ({html.escape(str(u.claims.get('email', u.sub)))})</option>"
        for u in users
    )
    note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    body = (
        f"<p>Log in to <code>{html.escape(client_id)}</code>.</p>{note}"
        f'<form method="post" action="{html.escape(action)}">{hidden}'
        f'<label>Username <input name="{USERNAME_FIELD}" value="{html.escape(params.get("login_hint", ""))}"'
        ' list="mockidp-users" autofocus></label>'
        f'<datalist id="mockidp-users">{options}</datalist> '
        f'<button name="{ACTION_FIELD}" value="login">Log in</button> '
        f'<button name="{ACTION_FIELD}" value="deny">Deny</button></form>'
    )
    return page("mockidp: log in", body, 200)
