"""What every endpoint shares: the exchange being answered (its provider ``Context``, request, parameters
and log entry), and how answers and errors are rendered.

JSON errors follow RFC 6749 §5.2 (with ``Cache-Control: no-store``, §5.1); pages the provider
shows a person (error pages, the login form, the logout page) are plain, escaped HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mockidp import _clock
from mockidp._errors import OAuthError
from mockidp._journal import RequestRecord

if TYPE_CHECKING:
    from mockidp._context import Context

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass
class Exchange:
    """One request being answered: the provider's context, the request, its parameters and its log entry."""

    ctx: Context
    request: Request
    record: RequestRecord
    params: dict[str, str]

    async def checkpoint(self) -> None:
        """Apply the next injected fault for this endpoint: wait its delay, then raise its error, if any."""
        fault = self.ctx.faults.take(self.record.endpoint)
        if fault is None:
            return
        if fault.delay:
            await _clock.real_sleep(fault.delay)
        error = fault.as_error()
        if error is not None:
            raise error


def json_response(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def error_json(error: OAuthError) -> Response:
    headers = {"WWW-Authenticate": error.www_authenticate} if error.www_authenticate else {}
    headers.update(error.headers)
    return json_response(error.as_dict(), error.status, headers)


def page(title: str, body: str, status: int = 200, *, style: str = "", heading: bool = True) -> HTMLResponse:
    """A page for a person: escaped ``title``, ``body`` as given (already escaped), readable on a phone."""
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}"
        f"code{{background:#eee;padding:0 .2em}}{style}</style></head>"
        f"<body>{'<h1>' + html.escape(title) + '</h1>' if heading else ''}{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=NO_STORE)


def error_page(error: OAuthError) -> HTMLResponse:
    """For errors that must not be sent back to an unverified redirect URI (RFC 6749 §4.1.2.1), and for
    injected outages (``MockIdP.fail`` with a ``status``)."""
    why = (
        "because a fault was injected with this status"
        if error.as_page
        else "because it could not trust the redirect URI"
    )
    body = (
        f"<p><code>{html.escape(error.error)}</code>: {html.escape(error.description)}</p>"
        f"<p>mockidp did not redirect back to the application, {why}.</p>"
    )
    return page("mockidp: authorization error", body, error.status)
