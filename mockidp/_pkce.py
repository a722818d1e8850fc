"""Proof Key for Code Exchange: RFC 7636 §4.1 (verifier), §4.2 (challenge), §4.6 (verification)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

METHODS = ("S256", "plain")
#: 43 to 128 unreserved characters, and nothing after them (``fullmatch``: no trailing newline).
_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def well_formed(value: str) -> bool:
    """Whether ``value`` is a well-formed verifier or challenge (RFC 7636 §4.1, §4.2)."""
    return _VALUE.fullmatch(value) is not None


def matches(method: str, challenge: str, verifier: str) -> bool:
    """Whether ``verifier`` answers ``challenge`` under ``method`` (RFC 7636 §4.6), in constant time."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(verifier, challenge)
