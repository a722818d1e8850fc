"""Device authorizations (RFC 8628): started at the device authorization endpoint (§3.1, §3.2), decided
at the verification page or by a test (``MockIdP.approve_device`` / ``deny_device``), polled for at the
token endpoint (§3.4, §3.5).

User codes are 8 characters of the base-20 alphabet §6.1 suggests (no vowels, so no words), shown as
``WDJB-MJHT``; what a person types is read without case, dashes or spaces. A code lives
``ProviderConfig.device_code_ttl`` seconds, measured on the provider's clock.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from mockidp._config import Client, User
from mockidp._state import DeviceCode, new_id

if TYPE_CHECKING:
    from mockidp._context import Context

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 §6.1: consonants only.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
#: §3.5: each slow_down adds this much to the interval.
SLOW_DOWN_STEP = 5


def display(user_code: str) -> str:
    """``WDJBMJHT`` as a person reads it: ``WDJB-MJHT``."""
    half = len(user_code) // 2
    return f"{user_code[:half]}-{user_code[half:]}"


def normalize(text: str) -> str:
    """What a person typed, as stored: upper case, without dashes or white space (§6.1)."""
    return "".join(ch for ch in text.upper() if ch not in "- \t")


def start(ctx: Context, client: Client, scopes: tuple[str, ...]) -> DeviceCode:
    """A new pending device authorization for ``client``, kept in the provider's state."""
    state = ctx.state
    with state.lock:
        while True:
            user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
            if _by_user_code(ctx, user_code) is None:
                break
        device = DeviceCode(
            device_code=new_id(32),
            user_code=user_code,
            client=client,
            scopes=scopes,
            expires_at=ctx.now() + ctx.config.device_code_ttl,
            interval=ctx.config.device_interval,
        )
        state.device_codes[device.device_code] = device
    return device


def _by_user_code(ctx: Context, user_code: str) -> DeviceCode | None:
    wanted = normalize(user_code)
    with ctx.state.lock:
        return next((d for d in ctx.state.device_codes.values() if d.user_code == wanted), None)


def pending(ctx: Context, user_code: str) -> DeviceCode:
    """The device authorization still waiting for ``user_code``, or a ``LookupError`` saying why there is none."""
    device = _by_user_code(ctx, user_code)
    if device is None:
        raise LookupError(f"no device authorization has the user code {user_code!r}; type the code the device shows")
    shown = display(device.user_code)
    if ctx.now() >= device.expires_at:
        raise LookupError(
            f"the user code {shown} expired (device codes live {ctx.config.device_code_ttl} s);"
            " start again on the device"
        )
    if device.status != "pending":
        decided = "denied" if device.status == "denied" else "approved"
        raise LookupError(f"the user code {shown} was already {decided}")
    return device


def approve(ctx: Context, user_code: str, user: User) -> DeviceCode:
    """``user`` logs in and approves the device whose code is ``user_code``: its next poll gets tokens."""
    with ctx.state.lock:
        device = pending(ctx, user_code)
        device.status, device.user, device.auth_time = "approved", user, int(ctx.now())
    return device


def deny(ctx: Context, user_code: str) -> DeviceCode:
    """The person denies the device whose code is ``user_code``: its next poll gets ``access_denied``."""
    with ctx.state.lock:
        device = pending(ctx, user_code)
        device.status = "denied"
    return device
