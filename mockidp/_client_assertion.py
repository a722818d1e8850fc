"""Client authentication with a signed JWT: RFC 7523 §2.2 and §3, OIDC Core 1.0 §9.

The client sends ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and a
``client_assertion`` JWT whose ``iss`` and ``sub`` are its ``client_id``, whose ``aud`` names this provider
(its issuer, its token endpoint, or the endpoint called), with an ``exp`` and a ``jti`` used once.
``client_secret_jwt`` signs it with the client's secret (HS256, HS384, HS512); ``private_key_jwt`` with a key
of the client's registered ``jwks`` or ``jwks_uri`` (fetched when a key is needed, so the client may rotate).
Every failure is ``invalid_client`` (RFC 6749 §5.2) with a description that says which check failed.
"""

from __future__ import annotations

import difflib
import json
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import Key, KeySet, OctKey

from mockidp._config import AuthMethod, Client
from mockidp._errors import OAuthError, invalid_client
from mockidp._state import SeenAssertion

if TYPE_CHECKING:
    from mockidp._exchange import Exchange

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
#: What discovery lists as ``token_endpoint_auth_signing_alg_values_supported`` (OIDC Discovery §3).
SIGNING_ALGORITHMS = (*KEY_ALGORITHMS, *SECRET_ALGORITHMS)
#: How long a ``jwks_uri`` may take to answer before the authentication fails.
JWKS_TIMEOUT = 5.0
_SPEC = "RFC 7523 section 3"


def is_assertion(params: Mapping[str, str]) -> bool:
    return "client_assertion" in params or "client_assertion_type" in params


def _refuse(what: str) -> OAuthError:
    return invalid_client(f"the client_assertion {what} ({_SPEC})")


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if token.count(".") != 2:
        raise _refuse("is not a signed JWT in compact form (three base64url parts joined by dots)")
    try:
        compact = jws.extract_compact(token.encode("utf-8"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise _refuse(f"is not a readable JWT ({exc})") from None
    if not isinstance(claims, dict):
        raise _refuse("has a payload that is not a JSON object of claims")
    return dict(compact.headers()), claims


async def authenticate(ex: Exchange, params: Mapping[str, str], authorization: str | None) -> tuple[Client, AuthMethod]:
    """The client that signed ``params['client_assertion']`` and the method it used, or an ``OAuthError``."""
    kind = params.get("client_assertion_type")
    if kind != ASSERTION_TYPE:
        got = "is missing" if kind is None else f"is {kind!r}"
        raise OAuthError("invalid_request", f"client_assertion_type {got}; send {ASSERTION_TYPE!r} ({_SPEC})")
    token = params.get("client_assertion")
    if not token:
        raise OAuthError("invalid_request", f"client_assertion_type was sent without a client_assertion ({_SPEC})")
    if authorization or "client_secret" in params:
        raise OAuthError(
            "invalid_request", "the client authenticated twice (a client_assertion and a secret); use one method"
        )
    header, claims = _unverified(token)
    client = _client_of(ex, params, claims)
    alg = header.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise _refuse(f"is signed with alg {alg!r}; sign it with one of {', '.join(SIGNING_ALGORITHMS)}")
    method: AuthMethod = "client_secret_jwt" if alg in SECRET_ALGORITHMS else "private_key_jwt"
    if method == "client_secret_jwt":
        _verify(token, str(alg), [_secret_of(client, str(alg))], client, "client_secret")
    else:
        _verify(token, str(alg), _candidates(await _keys_of(ex, client), header), client, "registered keys")
    _check_claims(ex, client, claims)
    return client, method


def _verify(token: str, alg: str, keys: list[Any], client: Client, what: str) -> None:
    """Check the signature with each candidate key: a client need not name its key (a ``kid``) when it has one."""
    failure: Exception | None = None
    for key in keys:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SecurityWarning)  # a short test secret is the test's business
                jwt.decode(token, key, algorithms=[alg])
        except BadSignatureError:
            continue
        except (JoseError, ValueError, TypeError) as exc:
            failure = exc
            continue
        return
    if failure is not None and len(keys) == 1:
        raise _refuse(f"could not be verified ({str(failure).rstrip(': ') or type(failure).__name__})")
    raise _refuse(f"signature does not verify with the {what} of client {client.client_id!r}")


#: The key type each algorithm family signs with (RFC 7518 §3.1, RFC 8037 §3.1).
_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _candidates(keys: list[Key], header: dict[str, Any]) -> list[Key]:
    """The keys that may have signed a JWT with this header: the one its ``kid`` names, else those of its type."""
    kid, kty = header.get("kid"), _KTY.get(str(header.get("alg"))[:2])
    if kid is not None:
        named = [k for k in keys if k.kid == kid]
        if not named:
            raise _refuse(f"names the key {kid!r}, which is not among the client's keys ({', '.join(_kids(keys))})")
        return named
    typed = [k for k in keys if k.key_type == kty]
    if not typed:
        held = ", ".join(f"{kid} {k.key_type}" for kid, k in zip(_kids(keys), keys, strict=True)) or "none"
        raise _refuse(f"is signed with {header.get('alg')}, but the client's keys hold no {kty} key (its keys: {held})")
    return typed


def _kids(keys: list[Key]) -> list[str]:
    return [k.kid or "(no kid)" for k in keys]


def _client_of(ex: Exchange, params: Mapping[str, str], claims: dict[str, Any]) -> Client:
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _refuse("has no sub: it must be the client_id")
    if iss != sub:
        raise _refuse(f"has iss {iss!r} and sub {sub!r}; both must be the client_id")
    if "client_id" in params and params["client_id"] != sub:
        raise OAuthError(
            "invalid_request", f"client_id {params['client_id']!r} differs from the client_assertion's sub {sub!r}"
        )
    ex.record.client_id = sub
    client = ex.ctx.clients.get(sub)
    if client is None:
        known = sorted(ex.ctx.clients)
        close = difflib.get_close_matches(sub, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise invalid_client(f"unknown client {sub!r}{hint}; registered clients: {', '.join(known) or 'none'}")
    return client


def _secret_of(client: Client, alg: str) -> OctKey:
    if client.client_secret is None:
        raise _refuse(
            f"is signed with {alg}, but client {client.client_id!r} has no client_secret; sign it with a key of"
            " the client's jwks (private_key_jwt)"
        )
    return OctKey.import_key(client.client_secret)


async def _keys_of(ex: Exchange, client: Client) -> list[Key]:
    if client.jwks is not None:
        data: Any = {"keys": [dict(k) for k in client.jwks["keys"]]}
    elif client.jwks_uri is not None:
        data = await _fetch(client)
    else:
        raise _refuse(
            f"is signed with a key, but client {client.client_id!r} registered no jwks or jwks_uri to verify it"
            " with; register its public keys, or sign with its client_secret (client_secret_jwt)"
        )
    try:
        return list(KeySet.import_key_set(data).keys)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise _refuse(f"cannot be checked: the keys of client {client.client_id!r} are no JWK Set ({exc})") from None


async def _fetch(client: Client) -> Any:
    """The client's JWK Set from its ``jwks_uri``, with the installed httpx (routed in-process where a test routes)."""
    from mockidp._transports import resolve

    package = resolve(None)
    uri = str(client.jwks_uri)
    try:
        async with package.AsyncClient(timeout=JWKS_TIMEOUT) as http:
            answer = await http.get(uri, headers={"Accept": "application/json"})
    except Exception as exc:
        raise _refuse(
            f"cannot be checked: the jwks_uri {uri!r} of client {client.client_id!r} failed: {exc!r}"
        ) from None
    if answer.status_code != 200:
        raise _refuse(f"cannot be checked: the jwks_uri {uri!r} answered HTTP {answer.status_code}")
    try:
        return answer.json()
    except ValueError:
        raise _refuse(f"cannot be checked: the jwks_uri {uri!r} answered no JSON") from None


def _check_claims(ex: Exchange, client: Client, claims: dict[str, Any]) -> None:
    ctx = ex.ctx
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    here = str(ex.request.url.replace(query="", fragment=""))
    accepted = (ctx.issuer, ctx.url("token"), here)
    if not any(a in accepted for a in audiences):
        got = "has no aud" if aud is None else f"has aud {aud!r}"
        raise _refuse(f"{got}; its aud must be the token endpoint {accepted[1]!r} or the issuer {accepted[0]!r}")
    now = ctx.now()
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise _refuse("has no exp: give it a short lifetime")
    if now >= exp:
        raise _refuse(f"expired: its exp {_shown(exp)} is not after now ({_shown(now)})")
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, int | float) or now < nbf):
        raise _refuse("is not valid yet: its nbf is in the future or not a number")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _refuse("has no jti: give each assertion a unique one (OIDC Core section 9)")
    key = f"client {client.client_id} {jti}"
    with ctx.state.lock:
        if key in ctx.state.assertions:
            raise _refuse(f"with jti {jti!r} was already used; make a new assertion for each request")
        ctx.state.assertions[key] = SeenAssertion(issuer=client.client_id, jti=jti, expires_at=float(exp))


def _shown(value: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
