"""Authentication context: ``acr`` and ``amr`` (OIDC Core 1.0 §2), ``acr_values`` (§3.1.2.1), an essential
``acr`` in the ``claims`` parameter (§5.5.1.1), and a client's ``default_acr_values`` (OIDC Registration §2).

A login reaches one authentication context class. The request names the ones it wants, in order of
preference: the ``values`` of ``claims.id_token.acr``, else ``acr_values``, else the client's
``default_acr_values``. Where ``ProviderConfig.acr_values`` is empty the provider reaches whatever is
asked first; otherwise the first asked that it lists, and, when none is, its own first. An essential
``acr`` it cannot reach fails the request with ``unmet_authentication_requirements`` (OpenID Connect
Core Error Code unmet_authentication_requirements 1.0). A session at another level than the one a
request reaches is not reused: the user logs in again (step-up). ``amr`` is ``["pwd"]`` (RFC 8176 §2):
mockidp's users log in with a password.
"""

from __future__ import annotations

from collections.abc import Mapping

from mockidp._claims_request import ClaimsRequest
from mockidp._config import Client, ProviderConfig
from mockidp._errors import OAuthError

#: RFC 8176 §2: how mockidp's users authenticate.
AMR: tuple[str, ...] = ("pwd",)


def asked(params: Mapping[str, str], client: Client, claims: ClaimsRequest) -> tuple[tuple[str, ...], bool]:
    """The classes the request asks for, most preferred first, and whether the ``acr`` is essential."""
    requested = claims.id_token.get("acr")
    essential = requested is not None and requested.essential and bool(requested.values)  # §5.5.1.1: with values
    if requested is not None and requested.values:
        return tuple(str(v) for v in requested.values), essential
    raw = params.get("acr_values", "")
    return (tuple(raw.split()) if raw.strip() else client.default_acr_values), essential


def reach(config: ProviderConfig, wanted: tuple[str, ...], essential: bool) -> str | None:
    """The class a login for this request reaches, ``None`` when nothing asks for one and none is configured."""
    supported = config.acr_values
    for value in wanted:
        if not supported or value in supported:
            return value
    if essential and wanted:
        raise OAuthError(
            "unmet_authentication_requirements",
            f"the claims parameter asks for acr {' or '.join(map(repr, wanted))} as essential; this provider"
            f" reaches {', '.join(map(repr, supported))} (ProviderConfig.acr_values; OIDC Core section 5.5.1.1)",
        )
    return supported[0] if supported else None
