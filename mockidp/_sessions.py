"""IdP login sessions and the browser cookie that names them (OIDC Core §3.1.2.3, "End-User authenticated").

The cookie is scoped to the issuer's path, ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` on an https
issuer. A session ends when it expires (``session_ttl``), at RP-initiated logout, or when a test ends
them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from mockidp._config import User
from mockidp._state import Session, new_id

if TYPE_CHECKING:
    from mockidp._context import Context

SESSION_COOKIE = "mockidp_session"


def current(ctx: Context, request: Request) -> Session | None:
    """The live session the request's cookie names, if any."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is None:
        return None
    session = ctx.state.sessions.get(session_id)
    if session is None or ctx.now() >= session.expires_at:
        return None
    return session


def start(ctx: Context, user: User, *, acr: str | None = None) -> Session:
    """A new session for ``user``, authenticated now, at the authentication context class ``acr``."""
    now = ctx.now()
    session = Session(id=new_id(), user=user, auth_time=int(now), expires_at=now + ctx.config.session_ttl, acr=acr)
    ctx.state.sessions[session.id] = session
    return session


def cookie_path(ctx: Context) -> str:
    return urlsplit(ctx.config.issuer).path or "/"


def set_cookie(ctx: Context, response: Response, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        path=cookie_path(ctx),
        httponly=True,
        samesite="lax",
        secure=ctx.issuer.startswith("https://"),
    )


def clear_cookie(ctx: Context, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(ctx))
