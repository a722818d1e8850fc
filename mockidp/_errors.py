"""Errors: RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization endpoint), RFC 6750 §3 (bearer).

``OAuthError`` is what an endpoint raises; the app renders it as JSON, as a redirect back to the
client, or as an HTML error page when the redirect URI cannot be trusted.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "invalid_token",
    "insufficient_scope",
    "invalid_request_uri",
    "unsupported_token_type",
    # OIDC Core §3.1.2.6
    "interaction_required",
    "consent_required",
    "account_selection_required",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    # RFC 9449 §5, §7.1, §8
    "invalid_dpop_proof",
    "use_dpop_nonce",
    # RFC 8628 §3.5 (device authorization grant)
    "authorization_pending",
    "slow_down",
    "expired_token",
    # OpenID Connect Core Error Code unmet_authentication_requirements 1.0 (an essential acr not reached)
    "unmet_authentication_requirements",
    # RFC 8693 §2.2.2 (token exchange)
    "invalid_target",
    # RFC 7591 §3.2.2 (dynamic client registration)
    "invalid_redirect_uri",
    "invalid_client_metadata",
]


def unknown(what: str, value: object, choices: Iterable[str]) -> str:
    """The message for a name that is not one of ``choices``, with the nearest one if any is close:
    ``unknown endpoint 'tokens' (did you mean 'token'?); choose one of discovery, jwks, ...``."""
    options = [str(c) for c in choices]
    close: list[str] = []
    if isinstance(value, str):
        # A difference of case alone is the likeliest slip ('es256' for 'ES256'), whatever difflib says.
        close = [o for o in options if o.lower() == value.lower()] or difflib.get_close_matches(value, options, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {value!r}{hint}; choose one of {', '.join(options)}"


def see(topic: str) -> str:
    """Where to read more about ``topic``, a section of the README that every install can print."""
    return f"see: python -m mockidp docs {topic}"


def nearest(value: str, choices: Iterable[str]) -> str | None:
    """The choice nearest to ``value``, however far: one that differs only in case first, then difflib's best."""
    options = list(choices)
    same = [o for o in options if o.lower() == value.lower()]
    if same:
        return same[0]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.0)
    return close[0] if close else None


class MockidpError(Exception):
    """An error mockidp raises at the test author: it says what to change, and a note where to read more.

    Under pytest, the frames inside mockidp are hidden from such an error's traceback (see
    ``hide_frames``): the author's line and the message are what matters, not mockidp's internals.
    """

    #: The README section (``python -m mockidp docs <topic>``) that explains the error.
    topic: ClassVar[str] = "error-messages"

    def __init__(self, *args: Any, topic: str | None = None) -> None:
        super().__init__(*args)
        self.add_note(see(topic or self.topic))


def hide_frames(excinfo: Any) -> bool:
    """pytest's ``__tracebackhide__`` for mockidp's modules: hide their frames for a ``MockidpError`` only.

    A bug inside mockidp (a ``KeyError``, a ``TypeError``) keeps every frame, so it can be reported.
    """
    return excinfo is not None and isinstance(excinfo.value, MockidpError)


class ConfigError(MockidpError, ValueError):
    """The provider was configured with something it cannot use; the message says what to change."""

    __module__ = "mockidp"  # where users import it from, and what a traceback shows
    topic = "configuration"


class ArgumentError(MockidpError, TypeError):
    """A mockidp call got an argument of the wrong kind; the message says what it takes."""

    __module__ = "mockidp"


class NotRegisteredError(MockidpError, LookupError):
    """A test named a user or a client the provider does not know; the message says how to add it."""

    __module__ = "mockidp"
    topic = "users-and-clients"


class OAuthError(Exception):
    """An OAuth 2.0 error response: a code from the RFCs, a human description and an HTTP status."""

    def __init__(
        self,
        error: ErrorCode,
        description: str,
        *,
        status: int = 400,
        www_authenticate: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error: ErrorCode = error
        self.description = description
        self.status = status
        self.www_authenticate = www_authenticate
        #: Other response headers the error needs (``DPoP-Nonce``, RFC 9449 section 8).
        self.headers = dict(headers or {})
        #: Answer with an error page of ``status`` even where errors normally redirect back to the client.
        self.as_page = False

    def as_dict(self) -> dict[str, str]:
        """The error as sent: the description in the characters RFC 6749 §5.2 allows (ASCII, no quotes)."""
        return {"error": self.error, "error_description": wire_text(self.description)}


def invalid_client(description: str, *, scheme: str = "Basic") -> OAuthError:
    """RFC 6749 §5.2: failed client authentication answers 401 with a ``WWW-Authenticate`` challenge."""
    return OAuthError("invalid_client", description, status=401, www_authenticate=f'{scheme} realm="mockidp"')


def wire_text(text: str) -> str:
    """``text`` in the characters RFC 6749 §5.2 and RFC 6750 §3 allow in an ``error_description``
    (%x20-21 / %x23-5B / %x5D-7E): ASCII without double quotes or backslashes."""
    text = unicodedata.normalize("NFKD", text.replace("\u00a7", "section "))
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(ch for ch in text if " " <= ch <= "~")


def missing_token(description: str) -> OAuthError:
    """RFC 6750 §3.1: a request with no credentials at all gets a bare challenge, without an error code."""
    return OAuthError("invalid_token", description, status=401, www_authenticate='Bearer realm="mockidp"')


def invalid_token(description: str) -> OAuthError:
    """RFC 6750 §3.1: a bearer token that is missing, malformed, expired or revoked."""
    quoted = wire_text(description)
    return OAuthError(
        "invalid_token",
        description,
        status=401,
        www_authenticate=f'Bearer realm="mockidp", error="invalid_token", error_description="{quoted}"',
    )
