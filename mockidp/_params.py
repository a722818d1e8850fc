"""Reading request parameters the way RFC 6749 §3.1 and §3.2 ask.

Parameters come from the query (GET) or an ``application/x-www-form-urlencoded`` body (POST);
"parameters sent without a value MUST be treated as if they were omitted" and "MUST NOT be included
more than once". Oversized or undecodable input is an ``invalid_request``, never a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request

from mockidp._config import Client
from mockidp._errors import OAuthError

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 100
MAX_VALUE_CHARS = 8 * 1024
MAX_NAME_CHARS = 256
FORM_TYPE = "application/x-www-form-urlencoded"


def parse_pairs(raw: str, *, where: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:
        raise OAuthError("invalid_request", f"the {where} could not be parsed: {exc}") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if len(name) > MAX_NAME_CHARS:
            raise OAuthError("invalid_request", f"a parameter name is longer than {MAX_NAME_CHARS} characters")
        if len(value) > MAX_VALUE_CHARS:
            raise OAuthError("invalid_request", f"parameter {name!r} is longer than {MAX_VALUE_CHARS} characters")
        if "\x00" in name or "\x00" in value:
            raise OAuthError("invalid_request", f"parameter {name[:MAX_NAME_CHARS]!r} contains a NUL character")
        if value == "":
            continue
        if name in params:
            raise OAuthError("invalid_request", f"parameter {name!r} was sent more than once (RFC 6749 section 3.1)")
        params[name] = value
    return params


def form_content_type(request: Request) -> str | None:
    """The request's media type if it is a form, else ``None``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type if content_type == FORM_TYPE else None


def not_a_form(request: Request, needs: str) -> OAuthError:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return OAuthError("invalid_request", f"{needs}, got {content_type or 'no content type'!r}")


async def read_body_text(request: Request) -> str:
    """The body as text: at most ``MAX_BODY_BYTES``, UTF-8, or an ``invalid_request``."""
    body = bytearray()
    async with contextlib.aclosing(request.stream()) as chunks:  # closed even when we stop reading early
        async for chunk in chunks:
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                raise OAuthError("invalid_request", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the request body is not valid UTF-8") from None


async def read_form(request: Request, *, required: bool) -> dict[str, str]:
    """The form body of a POST; ``required`` makes a missing or non-form body an ``invalid_request``."""
    if form_content_type(request) is None:
        if required:
            raise not_a_form(request, f"the body must be {FORM_TYPE} (RFC 6749 section 4.1.3)")
        return {}
    return parse_pairs(await read_body_text(request), where="request body")


def read_query(request: Request) -> dict[str, str]:
    return parse_pairs(request.url.query, where="query string")


def scopes_of(params: Mapping[str, str]) -> tuple[str, ...]:
    """RFC 6749 §3.3: space-delimited, case-sensitive scope tokens of NQCHAR, in the order sent."""
    raw = params.get("scope", "")
    scopes: list[str] = []
    for token in raw.split(" "):
        if not token:
            continue
        if any(ch == '"' or ch == "\\" or not ("\x21" <= ch <= "\x7e") for ch in token):
            raise OAuthError("invalid_scope", f"scope {token!r} has a character RFC 6749 section 3.3 does not allow")
        if token not in scopes:
            scopes.append(token)
    return tuple(scopes)


def client_scopes(params: Mapping[str, str], client: Client) -> tuple[str, ...]:
    """The requested scopes, if ``client`` may ask for them all (its registered ``scope``; None: any)."""
    scopes = scopes_of(params)
    if client.scope is not None:
        refused = [s for s in scopes if s not in client.scope]
        if refused:
            raise OAuthError(
                "invalid_scope",
                f"client {client.client_id!r} may not ask for {', '.join(refused)}; allowed: {' '.join(client.scope)}",
            )
    return scopes
