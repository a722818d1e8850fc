"""Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 (one document serves both).

Every required field, and every optional field that is true of this server, including the ones
whose spec default would be wrong here (``request_uri_parameter_supported`` defaults to true: this
provider takes only the request_uris of its own PAR endpoint, RFC 9126, and fetches none by URL).
``id_token_signing_alg_values_supported`` always includes RS256, as §3 requires: a client registers
it (or any other supported algorithm) with ``id_token_signed_response_alg`` (OIDC Registration §2).
The endpoints listed are those of ``mockidp._endpoints.TABLE`` that this provider serves; the
document is served at §4's path under the issuer and at RFC 8414 §3's path-inserted form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from mockidp import _client_assertion as client_assertion
from mockidp import _dpop as dpop
from mockidp import _grants
from mockidp import _pkce as pkce
from mockidp import _request_objects as request_objects
from mockidp._config import AUTH_METHODS
from mockidp._exchange import Exchange, json_response
from mockidp._login_form import PROMPTS
from mockidp._redirects import RESPONSE_MODES
from mockidp._tokens import ID_TOKEN_CLAIMS, STANDARD_CLAIMS, SUPPORTED_SCOPES

if TYPE_CHECKING:
    from mockidp._context import Context

OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"


async def discovery(ex: Exchange) -> Response:
    await ex.checkpoint()
    return json_response(metadata(ex.ctx), headers={"Cache-Control": "no-cache"})


def metadata(ctx: Context) -> dict[str, Any]:
    from mockidp._endpoints import TABLE  # the table lists this module's handler

    issuer = ctx.issuer
    config = ctx.config
    secret_methods = [m for m in AUTH_METHODS if m != "none"]
    document: dict[str, Any] = {"issuer": issuer}
    document.update({e.metadata: issuer + e.path for e in TABLE if e.metadata is not None and e.enabled(config)})
    document.update(
        {
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": list(RESPONSE_MODES),
            "grant_types_supported": _grants.offered(config),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": id_token_algorithms(ctx),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(client_assertion.SIGNING_ALGORITHMS),
            "introspection_endpoint_auth_methods_supported": secret_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": list(client_assertion.SIGNING_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_signing_alg_values_supported": list(client_assertion.SIGNING_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"] if config.strict else list(pkce.METHODS),
            "claims_supported": sorted(STANDARD_CLAIMS | ID_TOKEN_CLAIMS),
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": True,
            "request_parameter_supported": True,
            "request_uri_parameter_supported": False,
            "prompt_values_supported": list(PROMPTS),
            "authorization_response_iss_parameter_supported": True,
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            # OIDC Discovery §3, RFC 9101 §10.5 (request objects); RFC 9126 §5 (PAR); RFC 9449 §5.1 (DPoP)
            "request_object_signing_alg_values_supported": list(request_objects.SIGNING_ALGORITHMS),
            "require_pushed_authorization_requests": config.require_pushed_authorization_requests,
            "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
        }
    )
    if config.acr_values:
        document["acr_values_supported"] = list(config.acr_values)
    return document


def id_token_algorithms(ctx: Context) -> list[str]:
    """§3: RS256 (which the spec requires), the published keys' algorithms and the clients' registered ones."""
    registered = {c.id_token_signed_response_alg for c in list(ctx.clients.values())}
    return sorted({"RS256", *ctx.keys.algorithms(), *(alg for alg in registered if alg is not None)})
