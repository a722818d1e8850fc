"""Expected answers shared by the sync and async test modules."""

from __future__ import annotations

REALM = 'Bearer realm="items"'

# Why the API refuses each forged token (the forged_token fixture's kinds): its error_description, verbatim.
REFUSALS = {
    "expired": "The token has expired.",
    "not_yet_valid": "The token is not valid yet.",
    "wrong_issuer": "The token's iss claim is not accepted.",
    "wrong_audience": "The token's aud claim is not accepted.",
    "bad_signature": "The token's signature does not verify.",
    "alg_none": "The token's algorithm 'none' is not accepted.",
    "unknown_kid": "The token is signed by a key the issuer does not publish.",
    "hs256_public_key": "The token's algorithm 'HS256' is not accepted.",
    "missing_sub": "The token has no sub claim.",
    "missing_exp": "The token has no exp claim.",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def insufficient_scope(scope: str) -> tuple[dict[str, str], str]:
    """The body and WWW-Authenticate header of a 403 for a token that lacks ``scope``."""
    description = f"This request needs the scope {scope}."
    body = {"error": "insufficient_scope", "error_description": description, "scope": scope}
    header = f'{REALM}, error="insufficient_scope", error_description="{description}", scope="{scope}"'
    return body, header
