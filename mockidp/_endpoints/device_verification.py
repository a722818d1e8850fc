"""The device verification page: RFC 8628 §3.3 (user interaction) and §3.3.1 (``verification_uri_complete``).

A person types the user code their device shows (or arrives with it in the ``user_code`` query
parameter), sees which client asks for which scopes, names the user they log in as (a username,
email or ``sub`` of the provider's users) and approves or denies. The form posts ``user_code``,
``mockidp_username`` and ``mockidp_action`` (``approve`` or ``deny``; a post without it approves).
Everything the page echoes is escaped.
"""

from __future__ import annotations

import html

from starlette.responses import Response

from mockidp import _device as device_flow
from mockidp import _sessions as sessions
from mockidp._exchange import Exchange, page
from mockidp._login_form import ACTION_FIELD, USERNAME_FIELD
from mockidp._params import read_form, read_query
from mockidp._state import DeviceCode

ACTIONS = ("approve", "deny")


async def device_verification(ex: Exchange) -> Response:
    ctx, request = ex.ctx, ex.request
    await ex.checkpoint()
    params = read_query(request) if request.method == "GET" else await read_form(request, required=True)
    ex.record.params = dict(params)
    session = sessions.current(ctx, request)
    username = params.get(USERNAME_FIELD) or (session.user.username if session is not None else "")
    user_code = params.get("user_code")
    if user_code is None:
        message = None if request.method == "GET" else "Type the code your device shows."
        return _form(ex, "", username, None, message)
    try:
        device = device_flow.pending(ctx, user_code)
    except LookupError as exc:
        text = str(exc)
        return _form(ex, user_code, username, None, text[0].upper() + text[1:] + ".")
    ex.record.client_id, ex.record.scopes = device.client.client_id, device.scopes
    if request.method == "GET":
        return _form(ex, user_code, username, device, None)
    action = params.get(ACTION_FIELD, "approve")
    if action not in ACTIONS:
        return _form(ex, user_code, username, device, f"Unknown action {action!r}: the buttons send approve or deny.")
    if action == "deny":
        device_flow.deny(ctx, device.user_code)
        return page("mockidp: device denied", "<p>Access denied. The device is told so the next time it asks.</p>")
    if not username:
        return _form(ex, user_code, username, device, "Type a username, or pick one of the users listed.")
    user = ctx.find_user(username)
    if user is None:
        return _form(ex, user_code, username, device, f"No user named {username!r}.")
    device_flow.approve(ctx, device.user_code, user)
    ex.record.user = user.sub
    body = (
        f"<p>Device approved for <code>{html.escape(user.username)}</code>."
        " You may return to your device; it gets its tokens the next time it asks.</p>"
    )
    return page("mockidp: device approved", body)


def _form(ex: Exchange, user_code: str, username: str, device: DeviceCode | None, message: str | None) -> Response:
    """The page: the user code, who logs in, and approve or deny; ``message`` says what was wrong."""
    options = "".join(
        f'<option value="{html.escape(u.username)}">{html.escape(u.username)}'
        f" ({html.escape(str(u.claims.get('email', u.sub)))})</option>"
        for u in list(ex.ctx.users.values())
    )
    asks = ""
    if device is not None:
        scopes = " ".join(device.scopes) or "no particular scope"
        asks = (
            f"<p><code>{html.escape(device.client.client_id)}</code> asks for"
            f" <code>{html.escape(scopes)}</code> on a device.</p>"
        )
    note = f'<p role="alert">{html.escape(message)}</p>' if message else ""
    body = (
        f"{asks}{note}"
        f'<form method="post" action="{html.escape(ex.ctx.url("device_verification"))}">'
        f'<p><label>Code <input name="user_code" value="{html.escape(user_code)}" autocomplete="off"'
        ' autocapitalize="characters" required></label></p>'
        f'<p><label>Username <input name="{USERNAME_FIELD}" value="{html.escape(username)}"'
        ' list="mockidp-users"></label></p>'
        f'<datalist id="mockidp-users">{options}</datalist>'
        f'<button name="{ACTION_FIELD}" value="approve">Approve</button> '
        f'<button name="{ACTION_FIELD}" value="deny">Deny</button></form>'
    )
    return page("mockidp: connect a device", body, 400 if message else 200)
