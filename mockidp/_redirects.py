"""Redirect URIs and how an authorization response reaches them.

Matching: exact (RFC 6749 §3.1.2.3), an opted-in ``*`` prefix, or a loopback URI on any port (RFC 8252
§7.3), refusing what RFC 9700 §4.1.3 warns of. Delivery: response modes ``query``, ``fragment`` (OAuth
2.0 Multiple Response Types §2) and ``form_post`` (OAuth 2.0 Form Post Response Mode). Used by the
authorization endpoint, RP-initiated logout (``post_logout_redirect_uri``) and ``mockidp.testing``.
"""

from __future__ import annotations

import html
from urllib.parse import SplitResult, unquote, urlencode, urlsplit, urlunsplit

from starlette.responses import HTMLResponse, RedirectResponse, Response

from mockidp._exchange import NO_STORE

RESPONSE_MODES = ("query", "fragment", "form_post")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def redirect_uri_allowed(registered: tuple[str, ...], uri: str) -> bool:
    """Exact match (RFC 6749 §3.1.2.3), an opted-in ``*`` prefix, or a loopback URI on any port (RFC 8252 §7.3).

    An exact match may use any scheme, so a native app's private-use scheme (RFC 8252 §7.1) works.
    The other two need an absolute URL with a host and no user info, and a prefix match refuses
    dot segments, which would climb out of the registered path (RFC 9700 §4.1.3).
    """
    parts = _split(uri)
    if parts is None:
        return False
    if any(entry == uri for entry in registered if not entry.endswith("*")):
        return True
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return False
    for entry in registered:
        if entry.endswith("*"):
            base = _split(entry[:-1])
            if base is not None and _same_origin(base, parts) and _path_under(parts.path, base.path or "/"):
                return True
        else:
            reg = _split(entry)
            if (
                reg is not None
                and reg.scheme == "http"
                and reg.hostname in LOOPBACK_HOSTS
                and _same_origin(reg, parts)
                and (reg.path, reg.query) == (parts.path, parts.query)
            ):
                return True
    return False


def _split(uri: str) -> SplitResult | None:
    """``uri`` split, if it is absolute, carries no fragment and has a valid host and port."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return None
    if not parts.scheme or "#" in uri:
        return None
    return parts


def _same_origin(registered: SplitResult, parts: SplitResult) -> bool:
    """Same scheme, host and port; for an ``http`` loopback host any port matches (RFC 8252 §7.3)."""
    if (registered.scheme, registered.hostname) != (parts.scheme, parts.hostname):
        return False
    return registered.port == parts.port or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def _path_under(path: str, prefix: str) -> bool:
    segments = unquote(path).replace("\\", "/").split("/")
    return path.startswith(prefix) and "." not in segments and ".." not in segments


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
