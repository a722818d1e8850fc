"""The JWT bearer authorization grant: RFC 7523 §2.1 (the request) and §3 (what the assertion must say),
over RFC 7521 §4.1.

The ``assertion`` is a JWT signed by a key this provider trusts for its ``iss`` (``MockIdP.trust``);
its ``sub`` must name a user of this provider (by ``sub``, username or email), whom the tokens are
about; its ``aud`` must name the token endpoint or the issuer; ``exp`` is required and ``nbf``, when
given, checked, on the provider's clock and without leeway; a ``jti`` may be used once. The client
identifies itself as at every grant (RFC 7523 §3.1 lets the provider ask that). No refresh token is
issued: the client signs a new assertion instead.
"""

from __future__ import annotations

import difflib
from typing import Any

from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._params import client_scopes
from mockidp._state import Grant, SeenAssertion
from mockidp._tokens import TokenSet
from mockidp._trust import unverified_claims


def _refuse(why: str, item: int) -> OAuthError:
    return OAuthError("invalid_grant", f"the assertion {why} (RFC 7523 section 3, item {item})")


def _nearest(value: str, choices: list[str]) -> str:
    close = [c for c in choices if c.lower() == value.lower()] or difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(seconds: float) -> str:
    """A time as the JWT writes it: whole seconds without a fraction."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _number(claims: dict[str, Any], name: str, item: int) -> float | None:
    value = claims.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _refuse(f"has a {name} that is not a number of seconds: {value!r}", item)
    return value


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx, state = ex.ctx, ex.ctx.state
    assertion = require(ex, "assertion")
    try:
        issuer = unverified_claims(assertion).get("iss")
    except ValueError as exc:
        raise _refuse(f"is not usable: {exc}", 9) from None
    if not isinstance(issuer, str) or not issuer:
        raise _refuse("has no iss claim naming who signed it", 1)
    trusted = ctx.trust.issuers()
    if issuer not in trusted:
        raise _refuse(
            f"is from {issuer!r}{_nearest(issuer, trusted)}, which this provider does not trust; trusted:"
            f" {', '.join(trusted) or 'none'} (MockIdP.trust registers an issuer's key)",
            1,
        )
    try:
        _, claims = ctx.trust.verify(assertion, issuer)
    except ValueError as exc:
        raise _refuse(f"from {issuer!r} is refused: {exc}", 9) from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _refuse("has no sub claim naming the user it is about", 2)
    user = ctx.find_user(sub)
    if user is None:
        known = [u.username for u in list(ctx.users.values())]
        raise _refuse(
            f"is about {sub!r}{_nearest(sub, known)}, who is not a user of this provider; users:"
            f" {', '.join(known) or 'none'} (MockIdP.add_user adds one)",
            2,
        )
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    accepted = (ctx.url("token"), ctx.issuer)
    if not any(a in accepted for a in audiences):
        raise _refuse(
            f"has the aud {aud!r}; it must name this provider's token endpoint {accepted[0]!r} or its issuer"
            f" {accepted[1]!r}",
            3,
        )
    now = ctx.now()
    exp = _number(claims, "exp", 4)
    if exp is None:
        raise _refuse("has no exp claim", 4)
    if now >= exp:
        raise _refuse(f"expired: its exp {_shown(exp)} is not after now ({_shown(now)})", 4)
    nbf = _number(claims, "nbf", 5)
    if nbf is not None and now < nbf:
        raise _refuse(f"is not valid yet: its nbf {_shown(nbf)} is after now ({_shown(now)})", 5)
    _number(claims, "iat", 6)
    jti = claims.get("jti")
    if jti is not None:
        if not isinstance(jti, str) or not jti:
            raise _refuse(f"has a jti that is not a non-empty string: {jti!r}", 7)
        key = f"{issuer} {jti}"
        with state.lock:
            if key in state.assertions:
                raise _refuse(f"with jti {jti!r} from {issuer!r} was already used; an assertion is used once", 7)
            state.assertions[key] = SeenAssertion(issuer=issuer, jti=jti, expires_at=exp)
    scopes = client_scopes(ex.params, client)
    ex.record.user = user.sub
    grant = Grant(client=client, user=user, scopes=scopes)
    return ctx.minter.issue(grant, id_token="openid" in scopes, refresh_token=False)
