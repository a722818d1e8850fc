"""Tokens a relying party or an API must refuse, for tests that prove they do.

ID tokens tampered per the validation rules of OIDC Core §3.1.3.7 (``iss``, ``aud``, signature,
``alg``, ``exp``, ``nonce``) and §3.1.3.8 (``at_hash``); access tokens forged against RFC 8725 (JWT
BCP) §2.1 (``alg: none``), §2.2 / §3.1 (algorithm confusion: HS256 keyed with the public key) and the
claim checks of RFC 9068 §4. Each forgery changes exactly one thing about an otherwise valid token,
so a test that accepts it names the check the app is missing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockidp._errors import ConfigError, hide_frames, unknown

#: Under pytest, an error raised at the test author shows their line, not these frames.
__tracebackhide__ = hide_frames

if TYPE_CHECKING:
    from mockidp._keys import KeyRing
    from mockidp._provider import MockIdP

#: ``tamper=`` kinds for ID tokens in a token response, with what each breaks.
TAMPER_KINDS: dict[str, str] = {
    "nonce": "the nonce is not the one the app sent",
    "iss": "the issuer is another provider",
    "aud": "the audience is another client",
    "signature": "the signature does not verify",
    "expired": "the token expired an hour ago",
    "alg_none": "the token is unsigned (alg: none)",
    "unknown_kid": "the token is signed by a key the JWKS does not publish",
    "at_hash": "at_hash does not match the access token",
}

#: ``forge()`` kinds for bearer access tokens, with what each breaks.
FORGE_KINDS: dict[str, str] = {
    "expired": "expired an hour ago",
    "not_yet_valid": "not valid for another hour (nbf and iat in the future)",
    "wrong_issuer": "issued by another provider",
    "wrong_audience": "meant for another audience",
    "bad_signature": "the signature does not verify",
    "alg_none": "unsigned (alg: none)",
    "unknown_kid": "signed by a key the JWKS does not publish",
    "hs256_public_key": "HS256, keyed with the provider's public key (algorithm confusion)",
    "missing_sub": "has no sub claim",
    "missing_exp": "has no exp claim",
}

OTHER_ISSUER = "https://attacker.mockidp.test"


class ForgedToken(str):
    """A forged bearer token (a ``str``); ``kind`` names its defect, ``reason`` says it in words."""

    kind: str

    def __new__(cls, token: str, kind: str) -> ForgedToken:
        forged = super().__new__(cls, token)
        forged.kind = kind
        return forged

    @property
    def reason(self) -> str:
        return FORGE_KINDS[self.kind]


OTHER_AUDIENCE = "another-client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + _b64(json.dumps(claims).encode())


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _segments({"alg": "none", "typ": header["typ"]}, claims) + "."


def _flip_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{payload}.{_b64(bytes(raw))}"


def _hs256_with_public_key(keys: KeyRing, header: dict[str, Any], claims: dict[str, Any]) -> str:
    public_pem = keys.current.as_pem(private=False)
    signing_input = _segments({"alg": "HS256", "typ": header["typ"], "kid": header["kid"]}, claims)
    mac = hmac.new(public_pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _with_unknown_key(keys: KeyRing, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return keys.sign_as_stranger(claims, typ=header["typ"], alg=header["alg"])


def _rewrite(keys: KeyRing, token: str, change: Callable[[dict[str, Any], dict[str, Any]], str | None]) -> str:
    header, claims = keys.verify(token)
    replaced = change(header, claims)
    if replaced is not None:
        return replaced
    # Signed again with a current key of the token's own algorithm: an ID token keeps its client's
    # id_token_signed_response_alg, so the defect is the one ``kind`` names and not the algorithm.
    return keys.sign(claims, typ=header["typ"], key=keys.signing_key(header["alg"]))


def tamper_id_token(keys: KeyRing, now_seconds: float, id_token: str, kind: str) -> str:
    """``id_token`` with the one defect ``kind`` names (see ``TAMPER_KINDS``), as of ``now_seconds``."""
    now = int(now_seconds)

    def change(header: dict[str, Any], claims: dict[str, Any]) -> str | None:
        if kind == "nonce":
            claims["nonce"] = "not-the-nonce-the-app-sent"
        elif kind == "iss":
            claims["iss"] = OTHER_ISSUER
        elif kind == "aud":
            claims["aud"] = claims["azp"] = OTHER_AUDIENCE
        elif kind == "signature":
            return _flip_signature(id_token)
        elif kind == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif kind == "alg_none":
            return _unsigned(header, claims)
        elif kind == "unknown_kid":
            return _with_unknown_key(keys, header, claims)
        else:  # at_hash
            claims["at_hash"] = _b64(hashlib.sha256(b"another access token").digest()[:16])
        return None

    check_kind(kind, TAMPER_KINDS)
    return _rewrite(keys, id_token, change)


def forge_access_token(idp: MockIdP, kind: str, **issue: Any) -> ForgedToken:
    """An access token, as ``issue_tokens(**issue)`` would mint, with the defect ``kind`` names."""
    check_kind(kind, FORGE_KINDS)
    token = idp.issue_tokens(**issue, refresh_token=False).access_token
    now = int(idp.now())

    def change(header: dict[str, Any], claims: dict[str, Any]) -> str | None:
        if kind == "expired":
            claims["iat"], claims["nbf"], claims["exp"] = now - 7200, now - 7200, now - 3600
        elif kind == "not_yet_valid":
            claims["iat"], claims["nbf"], claims["exp"] = now + 3600, now + 3600, now + 7200
        elif kind == "wrong_issuer":
            claims["iss"] = OTHER_ISSUER
        elif kind == "wrong_audience":
            claims["aud"] = OTHER_AUDIENCE
        elif kind == "bad_signature":
            return _flip_signature(token)
        elif kind == "alg_none":
            return _unsigned(header, claims)
        elif kind == "unknown_kid":
            return _with_unknown_key(idp.keys, header, claims)
        elif kind == "hs256_public_key":
            return _hs256_with_public_key(idp.keys, header, claims)
        elif kind == "missing_sub":
            del claims["sub"]
        else:  # missing_exp
            del claims["exp"]
        return None

    return ForgedToken(_rewrite(idp.keys, token, change), kind)


def check_kind(kind: str, kinds: dict[str, str]) -> None:
    """A ``ConfigError`` (a ``ValueError``) naming the nearest kind, for a kind that is not one of ``kinds``."""
    if kind not in kinds:
        raise ConfigError(unknown("kind", kind, kinds), topic="bad-tokens")
