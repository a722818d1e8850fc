"""The token exchange grant: RFC 8693 §2 (request and response), §3 (token types), §4.1 (``act``) and
§4.4 (``may_act``).

The subject token, and the actor token if one comes, is an access token or ID token this provider
issued (a live one: an access token must still be known here and not revoked) or a JWT of an issuer
it trusts (``MockIdP.trust``), checked against that issuer's keys and unexpired. The new token is
about the subject token's ``sub``; an actor adds ``act: {"sub": actor}`` (with the actor's ``iss``
when another issuer vouches for it), and an ``act`` the subject token already had nests inside it.
``audience`` and ``resource`` become the new token's ``aud`` (``ProviderConfig.token_exchange_targets``,
when set, lists the ones allowed); ``scope`` may narrow the subject token's scope, never widen it.

As §2.2.2 says, a subject or actor token that is invalid or unacceptable is an ``invalid_request``;
a target the provider will not issue for is an ``invalid_target``.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError

from mockidp._config import Client, User
from mockidp._errors import OAuthError, unknown
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._params import client_scopes
from mockidp._state import Grant
from mockidp._tokens import TokenSet
from mockidp._trust import unverified_claims

ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
#: §3: the token types taken as subject and actor tokens, and the ones issued.
TOKEN_TYPES = (ACCESS_TOKEN, ID_TOKEN, JWT)


def _invalid(role: str, why: str) -> OAuthError:
    return OAuthError("invalid_request", f"the {role}_token {why} (RFC 8693 section 2.2.2)")


def _token_type(ex: Exchange, name: str) -> str:
    value = require(ex, name)
    if value not in TOKEN_TYPES:
        raise OAuthError("invalid_request", f"{unknown(name, value, TOKEN_TYPES)} (RFC 8693 section 3)")
    return value


def _times(role: str, claims: dict[str, Any], now: float, *, exp_required: bool) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is None and exp_required:
        raise _invalid(role, "has no exp claim")
    for name, value in (("exp", exp), ("nbf", nbf)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _invalid(role, f"has a {name} claim that is not a number: {value!r}")
    if exp is not None and now >= exp:
        raise _invalid(role, "expired")
    if nbf is not None and now < nbf:
        raise _invalid(role, "is not valid yet (its nbf is in the future)")


def _check(ex: Exchange, role: str, token: str, token_type: str) -> dict[str, Any]:
    """The claims of a subject or actor token, once it proved to be live and issued by someone trusted."""
    ctx = ex.ctx
    try:
        issuer = unverified_claims(token).get("iss")
    except ValueError as exc:
        raise _invalid(role, f"is not usable: {exc}") from None
    if not isinstance(issuer, str):
        raise _invalid(role, "has no iss claim naming who issued it")
    if issuer == ctx.issuer:
        if token_type == ACCESS_TOKEN:
            try:
                _, claims = ctx.minter.check_access_token(token)
            except OAuthError as error:
                raise _invalid(role, f"is not a live access token of this provider: {error.description}") from None
            return claims
        try:
            header, claims = ctx.keys.verify(token)
        except (JoseError, ValueError, TypeError):
            raise _invalid(role, "names this provider as its issuer, but its signature does not verify") from None
        if token_type == ID_TOKEN and header.get("typ") == "at+jwt":
            raise _invalid(role, f"is an access token, not an ID token: send {role}_token_type {ACCESS_TOKEN}")
    else:
        trusted = ctx.trust.issuers()
        if issuer not in trusted:
            raise _invalid(
                role,
                f"was issued by {issuer!r}, which this provider does not trust; trusted issuers:"
                f" {', '.join([ctx.issuer, *trusted])} (MockIdP.trust adds one)",
            )
        try:
            _, claims = ctx.trust.verify(token, issuer)
        except ValueError as exc:
            raise _invalid(role, f"was not signed by {issuer!r}: {exc}") from None
    _times(role, claims, ctx.now(), exp_required=token_type != JWT)
    return claims


def _subject(claims: dict[str, Any], role: str) -> str:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _invalid(role, "has no sub claim naming whom it is about")
    return sub


def _targets(ex: Exchange) -> tuple[str, ...]:
    """``audience`` and ``resource`` (§2.1): the new token's ``aud``."""
    allowed = ex.ctx.config.token_exchange_targets
    audience, resource = ex.params.get("audience"), ex.params.get("resource")
    if resource is not None:
        parts = urlsplit(resource)
        if not parts.scheme or not parts.netloc or parts.fragment:
            raise OAuthError(
                "invalid_target",
                f"resource {resource!r} must be an absolute URI without a fragment (RFC 8693 section 2.1)",
            )
    targets = tuple(t for t in (audience, resource) if t is not None)
    for target in targets:
        if allowed and target not in allowed:
            raise OAuthError(
                "invalid_target",
                f"{unknown('token exchange target', target, allowed)} (ProviderConfig.token_exchange_targets)",
            )
    return targets


def _scopes(ex: Exchange, client: Client, claims: dict[str, Any]) -> tuple[str, ...]:
    requested = client_scopes(ex.params, client)
    held = claims.get("scope")
    if not isinstance(held, str):
        return requested
    held_scopes = tuple(held.split())
    extra = [s for s in requested if s not in held_scopes]
    if extra:
        raise OAuthError(
            "invalid_scope",
            f"a token exchange may narrow the subject token's scope, not widen it; not in it: {' '.join(extra)}",
        )
    return requested or held_scopes


def _act(ex: Exchange, subject: dict[str, Any]) -> dict[str, Any] | None:
    """§4.1: the new token's ``act``: the actor, with the subject token's own ``act`` nested inside."""
    actor_token = ex.params.get("actor_token")
    prior = subject.get("act") if isinstance(subject.get("act"), dict) else None
    if actor_token is None:
        if "actor_token_type" in ex.params:
            raise OAuthError(
                "invalid_request", "actor_token_type was sent without an actor_token (RFC 8693 section 2.1)"
            )
        return prior
    if "actor_token_type" not in ex.params:
        raise OAuthError("invalid_request", "actor_token_type is required with an actor_token (RFC 8693 section 2.1)")
    actor = _check(ex, "actor", actor_token, _token_type(ex, "actor_token_type"))
    act: dict[str, Any] = {"sub": _subject(actor, "actor")}
    if actor.get("iss") != ex.ctx.issuer:
        act["iss"] = actor["iss"]
    may_act = subject.get("may_act")
    if isinstance(may_act, dict):
        actor_issuer = actor.get("iss")
        if may_act.get("sub") != act["sub"] or may_act.get("iss", actor_issuer) != actor_issuer:
            raise _invalid(
                "actor",
                f"is about {act['sub']!r}, whom the subject token's may_act does not name ({may_act!r},"
                " RFC 8693 section 4.4)",
            )
    if prior is not None:
        act["act"] = prior
    return act


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx = ex.ctx
    subject_token = require(ex, "subject_token")
    subject = _check(ex, "subject", subject_token, _token_type(ex, "subject_token_type"))
    sub = _subject(subject, "subject")
    requested_type = ex.params.get("requested_token_type", ACCESS_TOKEN)
    if requested_type not in TOKEN_TYPES:
        raise OAuthError(
            "invalid_request",
            f"this provider cannot issue a token of type {requested_type!r}; requested_token_type may be"
            f" {', '.join(TOKEN_TYPES)} (RFC 8693 section 2.1)",
        )
    act = _act(ex, subject)
    audience = _targets(ex)
    scopes = _scopes(ex, client, subject)
    # The subject is one of this provider's users when it issued the token; anyone else is known by sub alone.
    user = ctx.users.get(sub) if subject.get("iss") == ctx.issuer else None
    auth_time = subject.get("auth_time")
    grant = Grant(
        client=client,
        user=user or User(sub=sub),
        scopes=scopes,
        auth_time=auth_time if isinstance(auth_time, int) and not isinstance(auth_time, bool) else None,
        audience=audience,
        extra_claims={"act": act} if act is not None else {},
    )
    ex.record.user = sub
    if requested_type == ID_TOKEN:
        id_token = ctx.minter.id_token(grant, ctx.minter.now())
        return TokenSet(
            access_token=id_token,
            expires_in=ctx.config.id_token_ttl,
            scope=" ".join(scopes),
            token_type="N_A",
            issued_token_type=ID_TOKEN,
        )
    tokens = ctx.minter.issue(grant, id_token=False, refresh_token=False)
    return dataclasses.replace(tokens, issued_token_type=requested_type)
