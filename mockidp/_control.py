"""The HTTP control API of a served provider (``mockidp serve --control``): a thin JSON layer over
``MockIdP``'s methods, for test suites not written in Python, described by an OpenAPI 3.1 document
(OpenAPI Specification 3.1.0) served at ``/_mockidp/openapi.json`` under the issuer.

Bodies are JSON objects (RFC 8259); users and clients may also be sent as one line of the text spec
grammar (``mockidp._specs``) as ``text/plain``. Errors answer like RFC 6749 §5.2:
``{"error": ..., "error_description": ...}``. Only loopback clients are answered unless the server
was told otherwise (``--control-remote``): anyone who reaches it can log in as anyone.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockidp import _specs as specs
from mockidp._clock import OffsetClock
from mockidp._config import Client, User
from mockidp._errors import nearest, unknown
from mockidp._exchange import json_response
from mockidp._journal import ENDPOINTS

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

PREFIX = "/_mockidp"
MAX_BODY = 64 * 1024


class ControlError(Exception):
    """A control request that cannot be carried out: answered with ``status`` and an RFC 6749-style body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _bad(description: str) -> ControlError:
    return ControlError(400, "invalid_request", description)


Handler = Callable[["MockIdP", Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    body: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    status: int = 200


# -- bodies -------------------------------------------------------------------------------------


async def _read(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ControlError(413, "invalid_request", f"the body has {len(body)} bytes; at most {MAX_BODY} are read")
    return body


def _is_text(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "text/plain"


async def _object(request: Request, *, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``), with only ``allowed`` keys if given."""
    raw = await _read(request)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise _bad(f"the body must be a JSON object (Content-Type: application/json); it is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _bad(f"the body must be a JSON object, got a {type(value).__name__}")
    if allowed is not None:
        for key in sorted(value):
            if key not in allowed:
                raise _bad(unknown("field", key, allowed))
    return value


def _number(body: dict[str, Any], name: str) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{name} must be a number of seconds, got {value!r}")
    return float(value)


def _spec_or_table(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``{"spec": "..."}`` gives the spec; any other object is a table of fields."""
    if "spec" in body:
        if len(body) > 1 or not isinstance(body["spec"], str):
            raise _bad('send {"spec": "<one line of the spec grammar>"} alone, or a table of fields without "spec"')
        return body["spec"], {}
    return None, body


# -- what the API shows of the model ------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    return {"sub": user.sub, "username": user.username, "claims": dict(user.claims)}


def client_json(client: Client) -> dict[str, Any]:
    return client.to_dict()


def _clock(idp: MockIdP) -> OffsetClock:
    if not isinstance(idp.clock, OffsetClock):
        raise ControlError(
            409,
            "invalid_request",
            "this provider's clock cannot be moved: create it with MockIdP(clock=OffsetClock()), as mockidp serve does",
        )
    return idp.clock


# -- handlers -----------------------------------------------------------------------------------


async def list_users(idp: MockIdP, request: Request) -> Response:
    return json_response({"users": [user_json(u) for u in list(idp.users.values())]})


async def add_user(idp: MockIdP, request: Request) -> Response:
    if _is_text(request):
        user = specs.parse_user((await _read(request)).decode("utf-8", "replace").strip())
    else:
        spec, table = _spec_or_table(await _object(request))
        user = specs.parse_user(spec) if spec is not None else User.from_dict(table)
    return json_response(user_json(idp.add_user(user)), 201)


async def list_clients(idp: MockIdP, request: Request) -> Response:
    return json_response({"clients": [client_json(c) for c in list(idp.clients.values())]})


async def add_client(idp: MockIdP, request: Request) -> Response:
    if _is_text(request):
        client = specs.parse_client((await _read(request)).decode("utf-8", "replace").strip())
    else:
        spec, table = _spec_or_table(await _object(request))
        client = specs.parse_client(spec) if spec is not None else Client.from_dict(table)
    return json_response(client_json(idp.add_client(client)), 201)


async def login_as(idp: MockIdP, request: Request) -> Response:
    body = await _object(request, allowed=("user", "claims", "spec"))
    if "spec" in body:
        if len(body) > 1 or not isinstance(body["spec"], str):
            raise _bad('send {"spec": "<one line of the user grammar>"} alone')
        parsed = specs.parse_user(body["spec"])
        if idp.find_user(parsed.username) is not None or parsed.sub in idp.users:
            raise ControlError(
                409, "invalid_request", f'user {parsed.username!r} already exists; send {{"user": name}}'
            )
        return json_response({"queued": user_json(idp.login_as(parsed))})
    user, claims = body.get("user"), body.get("claims")
    if claims is not None and not isinstance(claims, dict):
        raise _bad(f"claims must be a JSON object, got {claims!r}")
    if isinstance(user, dict):
        if claims is not None:
            raise _bad('send the new user\'s claims in "user" alone, or a username with "claims"')
        return json_response({"queued": user_json(idp.login_as(User.from_dict(user)))})
    if user is not None and not isinstance(user, str):
        raise _bad(f"user must be a username or a table of claims with a sub, got {user!r}")
    if claims is not None:
        return json_response({"queued": user_json(idp.login_as(idp._adhoc_user(user, dict(claims))))})
    if user is None:
        raise _bad('send {"user": "<username>"}, {"user": {"sub": ...}}, {"claims": {...}} or {"spec": "..."}')
    if idp.find_user(user) is None:
        known = [u.username for u in idp.users.values()]
        close = nearest(user, known)
        hint = f"; the nearest is {close!r}" if close else ""
        raise ControlError(
            404,
            "not_found",
            f"no user named {user!r}{hint} (known users: {', '.join(known) or 'none'});"
            f' add it with POST {PREFIX}/users, or send {{"user": {json.dumps(user)}, "claims": {{...}}}}',
        )
    return json_response({"queued": user_json(idp.login_as(user))})


async def add_fault(idp: MockIdP, request: Request) -> Response:
    body = await _object(request, allowed=("endpoint", "error", "status", "description", "times", "delay"))
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str):
        raise _bad(f"endpoint is required: one of {', '.join(ENDPOINTS)}")
    times = body.get("times", 1)
    if "delay" in body:
        if {"error", "status", "description"} & set(body):
            raise _bad("a fault either delays (delay) or fails (error, status, description), not both")
        fault = idp.slow(endpoint, _number(body, "delay"), times=times)
    else:
        fault = idp.fail(
            endpoint,
            error=body.get("error", "server_error"),
            status=body.get("status"),
            description=body.get("description"),
            times=times,
        )
    answer = {"endpoint": fault.endpoint, "error": fault.error, "status": fault.status, "delay": fault.delay}
    return json_response({**answer, "times": fault.remaining}, 201)


async def clear_faults(idp: MockIdP, request: Request) -> Response:
    idp.faults.clear()
    return json_response({"cleared": True})


async def rotate_keys(idp: MockIdP, request: Request) -> Response:
    body = await _object(request, allowed=("algorithm",))
    algorithm = body.get("algorithm")
    if algorithm is not None and not isinstance(algorithm, str):
        raise _bad(f"algorithm must be a string, got {algorithm!r}")
    kid = idp.rotate_keys(algorithm)
    return json_response({"kid": kid, "jwks": idp.jwks()})


async def read_clock(idp: MockIdP, request: Request) -> Response:
    clock = _clock(idp)
    return json_response({"now": idp.now(), "offset": clock.offset})


async def move_clock(idp: MockIdP, request: Request) -> Response:
    body = await _object(request, allowed=("advance", "offset"))
    clock = _clock(idp)
    if len(body) != 1:
        raise _bad('send {"advance": seconds} to move the clock on, or {"offset": seconds} to set its offset')
    if "advance" in body:
        clock.offset += _number(body, "advance")
    else:
        clock.offset = _number(body, "offset")
    return json_response({"now": idp.now(), "offset": clock.offset})


async def read_requests(idp: MockIdP, request: Request) -> Response:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise _bad(f"since must be a whole number of requests (a total read before), got {since!r}")
    records = idp.requests.since(int(since)) if int(since) else list(idp.requests)
    return json_response({"total": idp.requests.total, "requests": [dataclasses.asdict(r) for r in records]})


async def reset(idp: MockIdP, request: Request) -> Response:
    idp.reset()
    if isinstance(idp.clock, OffsetClock):
        idp.clock.offset = 0.0
    return json_response({"reset": True})


async def openapi(idp: MockIdP, request: Request) -> Response:
    return json_response(openapi_document(idp), headers={"Cache-Control": "no-cache"})


# -- the table, and the OpenAPI document made from it -------------------------------------------

_OBJECT: dict[str, Any] = {"type": "object"}
_STRING: dict[str, Any] = {"type": "string"}
_SECONDS: dict[str, Any] = {"type": "number"}
_USER: dict[str, Any] = {
    "type": "object",
    "properties": {"sub": _STRING, "username": _STRING, "claims": _OBJECT},
    "required": ["sub", "username", "claims"],
}
_SPEC_OR_TABLE = {
    "oneOf": [
        {"type": "object", "properties": {"spec": _STRING}, "required": ["spec"], "additionalProperties": False},
        {"type": "object", "description": "a table of fields, as in a config file"},
    ]
}
_CLOCK = {"type": "object", "properties": {"now": _SECONDS, "offset": _SECONDS}}

TABLE: tuple[Operation, ...] = (
    Operation("GET", "/openapi.json", openapi, "This document", answer=_OBJECT),
    Operation("GET", "/users", list_users, "The registered users",
              answer={"type": "object", "properties": {"users": {"type": "array", "items": _USER}}}),
    Operation("POST", "/users", add_user,
              f"Register a user: a table of claims with a sub, or a spec ({specs.USER_FORM})",
              body=_SPEC_OR_TABLE, answer=_USER, status=201),
    Operation("GET", "/clients", list_clients, "The registered clients",
              answer={"type": "object", "properties": {"clients": {"type": "array", "items": _OBJECT}}}),
    Operation("POST", "/clients", add_client,
              f"Register a client: a table of RFC 7591 metadata, or a spec ({specs.CLIENT_FORM})",
              body=_SPEC_OR_TABLE, answer=_OBJECT, status=201),
    Operation("POST", "/login-as", login_as,
              "Log this user in at the next authorization request (MockIdP.login_as): a known username, a table"
              " of claims with a sub, a username with claims for a new user, or a spec",
              body={"type": "object", "properties": {"user": {"oneOf": [_STRING, _OBJECT]}, "claims": _OBJECT,
                                                     "spec": _STRING}, "additionalProperties": False},
              answer={"type": "object", "properties": {"queued": _USER}}),
    Operation("POST", "/faults", add_fault,
              "Make the next calls of an endpoint fail (MockIdP.fail) or wait (MockIdP.slow, with delay)",
              body={"type": "object", "required": ["endpoint"], "additionalProperties": False, "properties": {
                  "endpoint": {"enum": list(ENDPOINTS)}, "error": _STRING, "status": {"type": "integer"},
                  "description": _STRING, "times": {"type": "integer", "minimum": 1}, "delay": _SECONDS}},
              answer=_OBJECT, status=201),
    Operation("DELETE", "/faults", clear_faults, "Forget every pending fault", answer=_OBJECT),
    Operation("POST", "/keys/rotate", rotate_keys, "Sign with a new key from now on (MockIdP.rotate_keys)",
              body={"type": "object", "properties": {"algorithm": _STRING}, "additionalProperties": False},
              answer={"type": "object", "properties": {"kid": _STRING, "jwks": _OBJECT}}),
    Operation("GET", "/clock", read_clock, "The provider's time and its offset from the system clock",
              answer=_CLOCK),
    Operation("POST", "/clock", move_clock, "Move the provider's clock: advance it, or set its offset",
              body={"type": "object", "properties": {"advance": _SECONDS, "offset": _SECONDS},
                    "additionalProperties": False}, answer=_CLOCK),
    Operation("GET", "/requests", read_requests,
              "The request log (MockIdP.requests); ?since=TOTAL gives only the requests after a total read before",
              answer={"type": "object", "properties": {"total": {"type": "integer"},
                                                       "requests": {"type": "array", "items": _OBJECT}}}),
    Operation("POST", "/reset", reset,
              "Back to the starting users and clients, no faults, sessions, tokens or log, the clock unmoved",
              answer=_OBJECT),
)  # fmt: skip

_ERROR = {
    "description": "An RFC 6749-style error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": _STRING, "error_description": _STRING},
                "required": ["error", "error_description"],
            }
        }
    },
}


def openapi_document(idp: MockIdP) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this API, its server URL the provider's control base."""
    paths: dict[str, dict[str, Any]] = {}
    for op in TABLE:
        words = op.path.replace("-", "/").replace(".", "/").split("/")
        ok = {"description": "OK", "content": {"application/json": {"schema": op.answer or _OBJECT}}}
        operation: dict[str, Any] = {
            "operationId": op.method.lower() + "".join(w.capitalize() for w in words if w),
            "summary": op.summary,
            "responses": {str(op.status): ok, "default": _ERROR},
        }
        if op.body is not None:
            content: dict[str, Any] = {"application/json": {"schema": op.body}}
            if op.handler in (add_user, add_client):
                content["text/plain"] = {"schema": {"type": "string", "description": "one line of the spec grammar"}}
            operation["requestBody"] = {"required": False, "content": content}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "mockidp control API", "version": "1"},
        "servers": [{"url": idp.issuer + PREFIX}],
        "paths": paths,
    }


# -- serving ------------------------------------------------------------------------------------


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


async def answer(idp: MockIdP, request: Request, *, remote: bool) -> Response:
    """The control API's answer to ``request`` (whose path is under the control prefix)."""
    base = urlsplit(idp.config.issuer).path.rstrip("/") + PREFIX
    path = request.url.path.removeprefix(base)
    try:
        if not remote and not _loopback(request):
            raise ControlError(
                403,
                "access_denied",
                "the control API answers only clients on loopback; start mockidp serve with --control-remote"
                " to let others in",
            )
        ops = [op for op in TABLE if op.path == path]
        if not ops:
            raise ControlError(404, "not_found", unknown("control path", path, sorted({op.path for op in TABLE})))
        for op in ops:
            if op.method == request.method:
                return await op.handler(idp, request)
        allowed = ", ".join(op.method for op in ops)
        raise ControlError(405, "invalid_request", f"{request.method} {path} is not supported; use {allowed}")
    except ControlError as error:
        return json_response({"error": error.error, "error_description": error.description}, error.status)
    except LookupError as error:  # an unknown user or client named
        return json_response({"error": "not_found", "error_description": str(error.args[0])}, 404)
    except (ValueError, TypeError) as error:  # ConfigError and SpecError are ValueErrors; the message says what to send
        return json_response({"error": "invalid_request", "error_description": str(error)}, 400)


def with_control(idp: MockIdP, *, remote: bool = False) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The provider's ASGI app with the control API under ``<issuer path>/_mockidp``."""
    base = urlsplit(idp.config.issuer).path.rstrip("/") + PREFIX
    app = idp.app

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] + "/").startswith(base + "/"):
            response = await answer(idp, Request(scope, receive), remote=remote)
            await response(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi
