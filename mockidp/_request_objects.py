"""Request objects: OIDC Core 1.0 §6.1 (``request``, passed by value) and RFC 9101 (JAR), also inside a
pushed authorization request (RFC 9126 §3).

A request object is a JWT the client signs: with its ``client_secret`` (HS256, HS384, HS512) or with a
key of its registered ``jwks`` (RS256, PS256, ES256, EdDSA, Ed25519). Its claims are authorization
request parameters; they override the parameters sent beside it (OIDC Core §6.3.3). It must name the
provider's issuer as its ``aud`` and carry an ``exp`` (RFC 9101 §4, §10.2); an ``iss`` or ``client_id``
claim must be the client's id. Unsigned objects (``alg`` ``none``) are refused: a test provider should
not teach a client that they work. Encrypted objects (JWE) are not supported.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import KeySet, OctKey

from mockidp._config import Client
from mockidp._errors import OAuthError

if TYPE_CHECKING:
    from mockidp._context import Context

SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
#: What discovery lists as ``request_object_signing_alg_values_supported`` (OIDC Discovery §3).
SIGNING_ALGORITHMS = (*KEY_ALGORITHMS, *SECRET_ALGORITHMS)
#: RFC 9101 §10.8: the media type of a request object, or the generic JWT.
TYPES = ("oauth-authz-req+jwt", "JWT")
#: JWT claims of the object itself (RFC 7519 §4.1), not authorization request parameters.
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
_SPEC = "RFC 9101 section 4"


def _bad(description: str) -> OAuthError:
    return OAuthError("invalid_request_object", description)


def _key_for(client: Client, alg: str) -> Any:
    """The key ``client`` signs ``alg`` request objects with: its secret, or its registered JWK Set."""
    if alg in SECRET_ALGORITHMS:
        if client.client_secret is None:
            raise _bad(
                f"the request object is signed with {alg}, but client {client.client_id!r} is public and has no"
                f" client_secret; sign it with a key of the client's jwks ({', '.join(KEY_ALGORITHMS)})"
            )
        return OctKey.import_key(client.client_secret)
    jwks = client.jwks
    if jwks is None:
        uri = " (only a jwks_uri, which request objects are not checked against)" if client.jwks_uri else ""
        raise _bad(
            f"the request object is signed with {alg}, but client {client.client_id!r} registered no jwks{uri}"
            " to verify it with; register its public keys, or sign with its client_secret (HS256)"
        )
    try:
        return KeySet.import_key_set({"keys": [dict(k) for k in jwks["keys"]]})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise _bad(f"the jwks of client {client.client_id!r} is not a usable JWK Set ({exc})") from None


def verify(ctx: Context, client: Client, token: str) -> dict[str, Any]:
    """The claims of ``client``'s request object ``token``, verified, or an ``invalid_request_object``."""
    if token.count(".") == 4:
        raise _bad("encrypted request objects (JWE) are not supported: send a signed JWT (RFC 9101 section 4)")
    try:
        header = dict(jws.extract_compact(token.encode("utf-8")).headers())
    except (JoseError, ValueError, TypeError) as exc:
        raise _bad(f"the request object is not a signed JWT in compact form ({exc}); see {_SPEC}") from None
    alg = header.get("alg")
    if alg == "none":
        raise _bad(
            "the request object is unsigned (alg none), and mockidp refuses unsigned request objects:"
            " sign it with the client's secret (HS256) or its key (RFC 9101 section 10.2)"
        )
    if alg not in SIGNING_ALGORITHMS:
        raise _bad(f"request object alg {alg!r} is not supported; use one of {', '.join(SIGNING_ALGORITHMS)}")
    typ = header.get("typ")
    if typ is not None and typ not in TYPES:
        raise _bad(f"request object typ {typ!r} is not one of {', '.join(TYPES)} (RFC 9101 section 10.8)")
    key = _key_for(client, str(alg))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            claims = dict(jwt.decode(token, key, algorithms=[str(alg)]).claims)
    except BadSignatureError:
        what = "client_secret" if alg in SECRET_ALGORITHMS else "jwks"
        raise _bad(
            f"the request object's signature does not verify with the {what} of client {client.client_id!r}"
        ) from None
    except (JoseError, ValueError, TypeError) as exc:
        raise _bad(f"the request object could not be verified ({str(exc).rstrip(': ')}); see {_SPEC}") from None
    _check_claims(ctx, client, claims)
    return claims


def _check_claims(ctx: Context, client: Client, claims: dict[str, Any]) -> None:
    for name in ("iss", "client_id"):
        if name in claims and claims[name] != client.client_id:
            raise _bad(f"the request object's {name} is {claims[name]!r}, not the client's id {client.client_id!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if ctx.issuer not in audiences:
        got = "no aud" if aud is None else f"aud {aud!r}"
        raise _bad(f"the request object has {got}; its aud must be the issuer {ctx.issuer!r} ({_SPEC})")
    now = ctx.now()
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise _bad("the request object has no exp: give it a lifetime (RFC 9101 section 10.2)")
    if now >= exp:
        raise _bad("the request object expired (its exp has passed)")
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, int | float) or now < nbf):
        raise _bad("the request object is not valid yet (its nbf is in the future or not a number)")
    for nested in ("request", "request_uri"):
        if nested in claims:
            raise _bad(f"a request object must not contain {nested} (OIDC Core section 6.1)")


def parameters(claims: Mapping[str, Any]) -> dict[str, str]:
    """The authorization request parameters a request object's claims carry, as strings: numbers as
    digits, objects (``claims``) as JSON (OIDC Core §6.1)."""
    params: dict[str, str] = {}
    for name, value in claims.items():
        if name in _JWT_CLAIMS:
            continue
        if isinstance(value, str):
            params[name] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            params[name] = str(value)
        elif isinstance(value, dict):
            params[name] = json.dumps(value, separators=(",", ":"))
        else:
            raise _bad(f"request object claim {name!r} must be a string, got {type(value).__name__} {value!r}")
    return params


def merge(ctx: Context, client: Client, params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with its ``request`` object unpacked: the object's parameters override the others
    (OIDC Core §6.3.3)."""
    claims = parameters(verify(ctx, client, params["request"]))
    merged = {k: v for k, v in params.items() if k != "request"}
    merged.update(claims)
    return merged
