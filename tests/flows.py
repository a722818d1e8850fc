"""A minimal relying party for tests: builds authorization requests and redeems codes, in-process."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2

from mockidp import MockIdP

REDIRECT_URI = "http://testserver/callback"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class AuthRequest:
    """The parameters of one authorization request, with its PKCE verifier."""

    params: dict[str, str]
    verifier: str | None

    @property
    def state(self) -> str | None:
        return self.params.get("state")


@dataclass
class Browser:
    """A user agent at the provider: keeps the provider's cookies, never follows redirects."""

    idp: MockIdP
    client: httpx2.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx2.Client(transport=self.idp.transport(httpx2), follow_redirects=False)

    def authorize(self, request: AuthRequest) -> httpx2.Response:
        return self.client.get(self.idp.endpoint("authorization_endpoint"), params=request.params)


def auth_request(idp: MockIdP, pkce: bool = True, /, **overrides: str | None) -> AuthRequest:
    verifier = secrets.token_urlsafe(48) if pkce else None
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": idp.client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if verifier is not None:
        params.update(code_challenge=s256(verifier), code_challenge_method="S256")
    params.update(overrides)
    return AuthRequest({k: v for k, v in params.items() if v is not None}, verifier)


def callback_params(response: httpx2.Response) -> dict[str, str]:
    """The parameters an authorization response carries back to the client (query or fragment)."""
    location = urlsplit(response.headers["location"])
    raw = location.fragment or location.query
    return {k: v[0] for k, v in parse_qs(raw).items()}


def token_request(idp: MockIdP, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> httpx2.Response:
    with httpx2.Client(transport=idp.transport(httpx2)) as client:
        return client.post(
            idp.endpoint("token_endpoint"), data=data, auth=auth if auth is not None else httpx2.USE_CLIENT_DEFAULT
        )


def client_auth(idp: MockIdP) -> tuple[str, str]:
    return idp.client.client_id, idp.client.client_secret or ""


def login(idp: MockIdP, **overrides: str | None) -> dict[str, Any]:
    """A whole code flow with the default client; returns the token response."""
    request = auth_request(idp, True, **overrides)
    response = Browser(idp).authorize(request)
    code = callback_params(response)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if request.verifier:
        data["code_verifier"] = request.verifier
    answer = token_request(idp, data, auth=client_auth(idp))
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def form(**params: str) -> str:
    return urlencode(params)
