"""Users and clients written as one line of text, for every place that takes them as text.

``mockidp serve --user/--client``, the ``mockidp_users`` / ``mockidp_clients`` ini options, the
``--mockidp-user/--mockidp-client`` flags, the ``users=`` / ``clients=`` of ``@pytest.mark.mockidp``
and string entries in a config file's ``users`` and ``clients`` lists all read this one grammar::

    USER   = USERNAME *( "," CLAIM "=" VALUE )
    CLIENT = CLIENT_ID [ ":" SECRET ] *( "," FIELD "=" VALUE )

A user's claims are OIDC Core §5.1 claims (plus ``sub`` and ``password``); a client's fields are its
RFC 7591 §2 metadata (``redirect_uris``, ``grant_types``, ``token_endpoint_auth_method``, ...). A
field that holds a list takes several values, separated by spaces or given by repeating the field;
``true`` and ``false`` are booleans. Anything else is refused with the accepted form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mockidp._config import Client, User
from mockidp._errors import ConfigError, unknown

USER_FORM = "USERNAME[,claim=value...], e.g. 'bob,email=bob@corp.example,roles=admin'"
CLIENT_FORM = (
    "CLIENT_ID[:SECRET][,field=value...], e.g."
    " 'web:s3cret,redirect_uris=https://app.example/callback,grant_types=authorization_code refresh_token'"
)

#: Client fields that hold a list; the others hold one value.
_CLIENT_LISTS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scope", "default_acr_values")
#: Client fields that hold a whole number.
_CLIENT_NUMBERS = ("default_max_age",)
#: Client fields that hold true or false.
_CLIENT_FLAGS = tuple(f.name for f in dataclasses.fields(Client) if f.type in ("bool", bool))
#: A JWK Set (or a table of other metadata) does not fit in one line of the grammar: a spec names its jwks_uri instead.
_CLIENT_FIELDS = tuple(
    f.name for f in dataclasses.fields(Client) if f.name not in ("client_id", "client_secret", "jwks", "metadata")
)


class SpecError(ConfigError):
    """A user or client spec that does not follow the grammar; the message shows the accepted form."""


def _value(text: str) -> str | bool:
    stripped = text.strip()
    return stripped.lower() == "true" if stripped.lower() in ("true", "false") else stripped


def _pairs(kind: str, text: str, form: str, pairs: list[str]) -> list[tuple[str, str]]:
    parsed = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"{kind} {text!r}: expected name=value after the first comma, got {pair!r}; write {form}")
        parsed.append((name.strip(), value))
    return parsed


def parse_user(text: str) -> User:
    """``bob`` or ``bob,email=bob@corp.example,roles=admin,roles=dev`` (a repeated claim is a list)."""
    username, *rest = text.split(",")
    if not username.strip() or "=" in username:
        raise SpecError(f"user {text!r}: a user needs a username first; write {USER_FORM}")
    claims: dict[str, Any] = {}
    for name, raw in _pairs("user", text, USER_FORM, rest):
        value = _value(raw)
        if name in claims:
            previous = claims[name]
            claims[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            claims[name] = value
    try:
        return User.named(username.strip(), **claims)
    except ConfigError as exc:
        raise SpecError(f"user {text!r}: {exc}") from None


def parse_client(text: str) -> Client:
    """``spa`` (public), ``web:s3cret`` (confidential), then ``,field=value`` pairs of client metadata."""
    head, *rest = text.split(",")
    client_id, sep, secret = head.partition(":")
    if "=" in client_id:
        raise SpecError(f"client {text!r}: a client needs its id first; write {CLIENT_FORM}")
    fields: dict[str, Any] = {}
    for name, raw in _pairs("client", text, CLIENT_FORM, rest):
        if name not in _CLIENT_FIELDS:
            raise SpecError(f"client {text!r}: {unknown('client field', name, _CLIENT_FIELDS)}; write {CLIENT_FORM}")
        if name in _CLIENT_LISTS:
            fields[name] = (*fields.get(name, ()), *raw.split())
        elif name in fields:
            raise SpecError(f"client {text!r}: {name} was given twice; it holds one value")
        elif name in _CLIENT_FLAGS:
            fields[name] = _value(raw)
        elif name in _CLIENT_NUMBERS:
            fields[name] = int(raw) if raw.strip().isdigit() else raw.strip()  # Client refuses what is not a number
        else:
            fields[name] = raw.strip()
    try:
        return Client(client_id=client_id.strip(), client_secret=secret if sep else None, **fields)
    except ConfigError as exc:
        raise SpecError(f"client {text!r}: {exc}") from None
