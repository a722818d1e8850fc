"""The device authorization grant's token request: RFC 8628 §3.4 and §3.5.

The device polls with its ``device_code``: ``authorization_pending`` until a person approves or
denies it, ``slow_down`` (and an interval 5 s longer from then on) when it polls sooner than its
interval after its last poll, ``access_denied`` once denied, ``expired_token`` once the code expired,
and the tokens once approved. The interval is measured between polls that find the request
pending; the poll that collects the tokens is never told to slow down.
"""

from __future__ import annotations

from mockidp import _device as device_flow
from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._state import Grant
from mockidp._tokens import TokenSet


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx, state = ex.ctx, ex.ctx.state
    value = require(ex, "device_code")
    now = ctx.now()
    with state.lock:
        device = state.device_codes.get(value)
        if device is None:
            raise OAuthError("invalid_grant", "the device code is not known to this provider")
        if device.client.client_id != client.client_id:
            raise OAuthError("invalid_grant", f"the device code was issued to another client, not {client.client_id!r}")
        if device.status == "used":
            raise OAuthError("invalid_grant", "the device code was already used to get tokens (RFC 8628 section 3.5)")
        if now >= device.expires_at:
            raise OAuthError(
                "expired_token",
                f"the device code expired (it lives {ctx.config.device_code_ttl} s); start a new device authorization"
                " (RFC 8628 section 3.5)",
            )
        if device.status == "denied":
            raise OAuthError("access_denied", "the user denied the device authorization request (RFC 8628 section 3.5)")
        if device.status == "pending":
            last, device.last_poll = device.last_poll, now
            if last is not None and now - last < device.interval:
                waited = now - last
                device.interval += device_flow.SLOW_DOWN_STEP
                raise OAuthError(
                    "slow_down",
                    f"polled {round(waited, 1):g} s after the last poll, sooner than the interval; wait at least"
                    f" {device.interval} s between polls from now on (RFC 8628 section 3.5)",
                )
            raise OAuthError(
                "authorization_pending",
                f"the user has not yet approved or denied user code {device_flow.display(device.user_code)};"
                f" poll again in {device.interval} s (RFC 8628 section 3.5)",
            )
        device.status = "used"
        user = device.user
    ex.record.user = user.sub if user is not None else None
    grant = Grant(client=client, user=user, scopes=device.scopes, auth_time=device.auth_time)
    return ctx.minter.issue(
        grant,
        id_token="openid" in device.scopes and user is not None,
        refresh_token="refresh_token" in client.grant_types,
    )
