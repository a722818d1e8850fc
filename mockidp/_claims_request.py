"""The ``claims`` request parameter: OIDC Core 1.0 §5.5 (and §5.5.1.1 for ``acr``).

A client asks for single claims, beyond what its scopes release, in the ID token (``id_token``) or at
the UserInfo endpoint (``userinfo``). Each requested claim is ``null`` (asked for, voluntarily) or an
object with ``essential``, ``value`` or ``values``. mockidp releases every requested claim the user
has; a ``sub`` with a ``value`` names the user who must log in (§5.5.1), and an ``acr`` with a ``value``
or ``values`` is the authentication context the login must reach (§5.5.1.1). Members other than
``id_token`` and ``userinfo`` are ignored, as §5.5 says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mockidp._errors import OAuthError

_SPEC = "OIDC Core section 5.5"
_TARGETS = ("id_token", "userinfo")


@dataclass(frozen=True)
class Requested:
    """One requested claim (§5.5.1): voluntary or essential, with the value(s) wanted, if any."""

    essential: bool = False
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ClaimsRequest:
    """The parsed ``claims`` parameter: the claims asked for in the ID token and at UserInfo."""

    id_token: dict[str, Requested] = field(default_factory=dict)
    userinfo: dict[str, Requested] = field(default_factory=dict)

    def wanted(self, name: str) -> Requested | None:
        """How ``name`` was asked for: in the ID token first, else at UserInfo."""
        return self.id_token.get(name) or self.userinfo.get(name)


NONE = ClaimsRequest()


def _bad(message: str) -> OAuthError:
    return OAuthError("invalid_request", f"{message} ({_SPEC})")


def parse(raw: str | None) -> ClaimsRequest:
    """The ``claims`` parameter, or ``invalid_request`` saying what in it is not as §5.5 says."""
    if raw is None:
        return NONE
    try:
        document = json.loads(raw)
    except ValueError:
        raise _bad(f'claims must be a JSON object such as {{"id_token": {{"acr": null}}}}, got {raw[:60]!r}') from None
    if not isinstance(document, dict):
        raise _bad(f"claims must be a JSON object with id_token and/or userinfo members, got {raw[:60]!r}")
    parts: dict[str, dict[str, Requested]] = {}
    for target in _TARGETS:
        members = document.get(target, {})
        if not isinstance(members, dict):
            raise _bad(f"claims.{target} must be an object of claim names, got {json.dumps(members)[:60]}")
        parts[target] = {name: _requested(target, name, spec) for name, spec in members.items()}
    return ClaimsRequest(**parts)


def _requested(target: str, name: str, spec: Any) -> Requested:
    where = f"claims.{target}.{name}"
    if spec is None:
        return Requested()
    if not isinstance(spec, dict):
        raise _bad(f'{where} must be null or an object such as {{"essential": true}}, got {json.dumps(spec)[:60]}')
    essential = spec.get("essential", False)
    if not isinstance(essential, bool):
        raise _bad(f"{where}.essential must be true or false, got {json.dumps(essential)[:60]}")
    if "value" in spec and "values" in spec:
        raise _bad(f"{where} has both value and values; send one")
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise _bad(f"{where}.values must be a non-empty array, got {json.dumps(values)[:60]}")
        return Requested(essential, tuple(values))
    if "value" in spec:
        return Requested(essential, (spec["value"],))
    return Requested(essential)
