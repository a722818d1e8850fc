"""DPoP, RFC 9449: proofs of possession of a client's key, binding tokens to that key.

A proof is a JWT in the ``DPoP`` request header (§4.2): ``typ`` ``dpop+jwt``, an asymmetric ``alg``,
the public ``jwk`` that verifies it, and the claims ``jti``, ``htm``, ``htu``, ``iat`` (and ``ath``, the
hash of the access token, when one is sent with it; ``nonce`` when the provider asks for one). Each is
checked as §4.3 lists; a ``jti`` is accepted once (§11.1).

At the token endpoint (§5) a proof binds the access token to its key: ``token_type`` ``DPoP`` and
``cnf.jkt``, the key's RFC 7638 thumbprint (§6.1); a public client's refresh tokens are bound too, and
refreshing needs a proof with the same key. A client registered with ``dpop_bound_access_tokens``
(§5.2) must send a proof. With ``ProviderConfig.dpop_nonce`` every proof must carry a nonce the provider
issued, and a proof without one gets ``use_dpop_nonce`` and a ``DPoP-Nonce`` header (§8, §9). At the
userinfo endpoint a bound token comes as ``Authorization: DPoP <token>`` with a proof of the same key
(§7.1); sent as a bearer token it is refused, and errors answer a ``WWW-Authenticate: DPoP`` challenge.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry

from mockidp._config import Client
from mockidp._errors import ErrorCode, OAuthError, wire_text
from mockidp._state import Seen, new_id

if TYPE_CHECKING:
    from mockidp._context import Context
    from mockidp._exchange import Exchange

#: RFC 9449 §5.1 ``dpop_signing_alg_values_supported``: asymmetric algorithms only.
ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA", "Ed25519")
TYP = "dpop+jwt"
#: How old (seconds, by the provider's clock) a proof's ``iat`` may be, and how far ahead of the clock.
MAX_AGE = 300
MAX_AHEAD = 60
#: How long a nonce the provider issued stays good.
NONCE_TTL = 300
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The largest proof header taken: a public RSA-4096 JWK in it is about 1,000 bytes (joserfc stops at 512).
MAX_HEADER_BYTES = 4096


@dataclass(frozen=True)
class Proof:
    """A verified proof: the thumbprint of its key (RFC 7638) and its claims."""

    jkt: str
    claims: dict[str, Any]


def access_token_hash(token: str) -> str:
    """§4.2 ``ath``: the base64url SHA-256 of the access token."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _error(code: ErrorCode, description: str, *, resource: bool, headers: dict[str, str] | None = None) -> OAuthError:
    """§7.1 at a resource (401 with a ``DPoP`` challenge), RFC 6749 §5.2 at the token endpoint (400)."""
    if not resource:
        return OAuthError(code, description, headers=headers)
    challenge = f'DPoP algs="{" ".join(ALGORITHMS)}", error="{code}", error_description="{wire_text(description)}"'
    return OAuthError(code, description, status=401, www_authenticate=challenge, headers=headers)


def _normal_url(url: str) -> str:
    """``url`` as §4.3 compares ``htu``: no query or fragment, scheme and host lower case, no default port."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def new_nonce(ctx: Context) -> str:
    """A nonce for ``DPoP-Nonce`` (§8), good for ``NONCE_TTL`` seconds."""
    nonce = new_id(16)
    ctx.state.dpop_nonces[nonce] = Seen(expires_at=ctx.now() + NONCE_TTL)
    return nonce


def check_proof(ex: Exchange, *, access_token: str | None = None, resource: bool = False) -> Proof | None:
    """The request's verified ``DPoP`` proof, ``None`` if it has none, or ``invalid_dpop_proof``/``use_dpop_nonce``."""
    values = ex.request.headers.getlist("dpop")
    if not values:
        return None

    def bad(description: str) -> OAuthError:
        return _error("invalid_dpop_proof", description, resource=resource)

    if len(values) > 1:
        raise bad(f"send one DPoP header, got {len(values)} (RFC 9449 section 4.3)")
    proof = values[0].strip()
    registry = JWSRegistry(algorithms=list(ALGORITHMS))
    registry.max_header_length = MAX_HEADER_BYTES
    try:
        header = dict(jws.extract_compact(proof.encode("utf-8"), registry=registry).headers())
    except (JoseError, ValueError, TypeError) as exc:
        raise bad(f"the DPoP proof is not a signed JWT in compact form ({exc}); see RFC 9449 section 4.2") from None
    if header.get("typ") != TYP:
        raise bad(f"the DPoP proof's typ must be {TYP!r}, got {header.get('typ')!r} (RFC 9449 section 4.2)")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise bad(f"DPoP proof alg {alg!r} is not supported; use one of {', '.join(ALGORITHMS)}")
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise bad("the DPoP proof has no jwk header: put the public key that verifies it there (RFC 9449 section 4.2)")
    if "d" in jwk or "p" in jwk:
        raise bad("the DPoP proof's jwk carries a private key: send the public key only (RFC 9449 section 4.2)")
    try:
        key = import_key(dict(jwk))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            claims = dict(jwt.decode(proof, key, algorithms=[str(alg)], registry=registry).claims)
    except BadSignatureError:
        raise bad("the DPoP proof's signature does not verify with the jwk in its header") from None
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise bad(f"the DPoP proof could not be verified with the jwk in its header ({exc})") from None
    for name, kinds in (("jti", str), ("htm", str), ("htu", str), ("iat", int | float)):
        value = claims.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, kinds) or value == "":
            raise bad(f"the DPoP proof has no valid {name} claim (RFC 9449 section 4.2)")
    if claims["htm"] != ex.request.method:
        raise bad(f"the DPoP proof's htm is {claims['htm']!r}, but the request is a {ex.request.method}")
    url = _normal_url(str(ex.request.url))
    if _normal_url(claims["htu"]) != url:
        raise bad(f"the DPoP proof's htu is {claims['htu']!r}, but the request went to {url!r} (RFC 9449 section 4.3)")
    ctx = ex.ctx
    now = ctx.now()
    if now - claims["iat"] > MAX_AGE:
        raise bad(f"the DPoP proof is too old: its iat is more than {MAX_AGE} s before the provider's clock")
    if claims["iat"] - now > MAX_AHEAD:
        raise bad(f"the DPoP proof's iat is more than {MAX_AHEAD} s ahead of the provider's clock")
    if ctx.config.dpop_nonce:
        _check_nonce(ctx, claims.get("nonce"), resource=resource)
    if access_token is not None:
        ath = claims.get("ath")
        if ath is None:
            raise bad(
                "the DPoP proof has no ath: a proof sent with an access token carries its hash (RFC 9449 section 4.2)"
            )
        if ath != access_token_hash(access_token):
            raise bad("the DPoP proof's ath is not the hash of this access token (RFC 9449 section 4.3)")
    seen = f"{url} {claims['jti']}"
    with ctx.state.lock:
        if seen in ctx.state.dpop_jtis:
            raise bad("the DPoP proof was already used (its jti was seen before): make a new proof for each request")
        ctx.state.dpop_jtis[seen] = Seen(expires_at=now + MAX_AGE + MAX_AHEAD)
    return Proof(jkt=key.thumbprint(), claims=claims)


def _check_nonce(ctx: Context, nonce: object, *, resource: bool) -> None:
    """§8, §9: the proof carries a live nonce the provider issued, or ``use_dpop_nonce`` hands out one."""
    if isinstance(nonce, str):
        with ctx.state.lock:
            known = ctx.state.dpop_nonces.get(nonce)
        if known is not None and ctx.now() < known.expires_at:
            return
        why = "the DPoP proof's nonce is not one the provider issued, or it expired"
    else:
        why = "the provider requires a nonce in DPoP proofs"
    raise _error(
        "use_dpop_nonce",
        f"{why}: make a new proof with the nonce in the DPoP-Nonce header (RFC 9449 section 8)",
        resource=resource,
        headers={"DPoP-Nonce": new_nonce(ctx)},
    )


def at_token(ex: Exchange, client: Client, params: Mapping[str, str]) -> Proof | None:
    """The proof of a token request (§5), checked against the client's registration and the refresh token's key."""
    proof = check_proof(ex)
    if proof is None and client.dpop_bound_access_tokens:
        raise OAuthError(
            "invalid_dpop_proof",
            f"client {client.client_id!r} is registered with dpop_bound_access_tokens: send a DPoP proof"
            " (RFC 9449 section 5.2)",
        )
    if params.get("grant_type") == "refresh_token":
        with ex.ctx.state.lock:
            record = ex.ctx.state.refresh_tokens.get(params.get("refresh_token", ""))
        bound = record.grant.jkt if record is not None else None
        if bound is not None and proof is None:
            raise OAuthError(
                "invalid_dpop_proof",
                "the refresh token is bound to a DPoP key: send a proof signed with it (RFC 9449 section 5)",
            )
        if bound is not None and proof is not None and proof.jkt != bound:
            raise OAuthError(
                "invalid_dpop_proof",
                "the DPoP proof is signed with another key than the one the refresh token is bound to"
                " (RFC 9449 section 5)",
            )
    if proof is not None:
        ex.record.dpop_jkt = proof.jkt
    return proof


def at_resource(ex: Exchange, token: str, claims: Mapping[str, Any], *, scheme: str) -> None:
    """§7.1: a DPoP-bound access token comes with the DPoP scheme and a proof of its key; others as Bearer."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
    if jkt is None:
        if scheme == "dpop":
            raise _error(
                "invalid_token",
                "the access token is not DPoP-bound: send it as 'Authorization: Bearer <access token>'",
                resource=True,
            )
        return
    if scheme != "dpop":
        raise _error(
            "invalid_token",
            "the access token is DPoP-bound: send it as 'Authorization: DPoP <access token>' with a DPoP proof"
            " (RFC 9449 section 7.1)",
            resource=True,
        )
    proof = check_proof(ex, access_token=token, resource=True)
    if proof is None:
        raise _error(
            "invalid_dpop_proof",
            "no DPoP header: a DPoP-bound access token comes with a proof (RFC 9449 section 7.1)",
            resource=True,
        )
    ex.record.dpop_jkt = proof.jkt
    if proof.jkt != jkt:
        raise _error(
            "invalid_dpop_proof",
            "the DPoP proof is signed with another key than the one the access token is bound to (cnf.jkt)",
            resource=True,
        )
