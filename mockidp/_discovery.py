"""Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 (one document serves both).

Every required field, and every optional field that is true of this server, including the ones
whose spec default would be wrong here (``request_uri_parameter_supported`` defaults to true).
``id_token_signing_alg_values_supported`` always includes RS256, as §3 requires: a client registers
it (or any other supported algorithm) with ``id_token_signed_response_alg`` (OIDC Registration §2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockidp import _pkce as pkce
from mockidp._authorize import PROMPTS, RESPONSE_MODES
from mockidp._config import AUTH_METHODS, GRANT_TYPES
from mockidp._tokens import ID_TOKEN_CLAIMS, STANDARD_CLAIMS, SUPPORTED_SCOPES

if TYPE_CHECKING:
    from mockidp._provider import MockIdP

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks",
    "introspection_endpoint": "/introspect",
    "revocation_endpoint": "/revoke",
    "end_session_endpoint": "/logout",
}
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"


def metadata(idp: MockIdP) -> dict[str, Any]:
    issuer = idp.issuer
    secret_methods = [m for m in AUTH_METHODS if m != "none"]
    grants = [g for g in GRANT_TYPES if g != "password" or idp.config.password_grant]
    document: dict[str, Any] = {"issuer": issuer}
    document.update({name: issuer + path for name, path in PATHS.items()})
    document.update(
        {
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "grant_types_supported": grants,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": id_token_algorithms(idp),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "introspection_endpoint_auth_methods_supported": secret_methods,
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"] if idp.config.strict else list(pkce.METHODS),
            "claims_supported": sorted(STANDARD_CLAIMS | ID_TOKEN_CLAIMS),
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "prompt_values_supported": list(PROMPTS),
            "authorization_response_iss_parameter_supported": True,
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": False,
        }
    )
    return document


def id_token_algorithms(idp: MockIdP) -> list[str]:
    """§3: RS256 (which the spec requires), the published keys' algorithms and the clients' registered ones."""
    registered = {c.id_token_signed_response_alg for c in list(idp.clients.values())}
    return sorted({"RS256", *idp.keys.algorithms(), *(alg for alg in registered if alg is not None)})
