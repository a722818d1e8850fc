"""The resource owner password credentials grant: RFC 6749 §4.3, off unless ``ProviderConfig.password_grant``."""

from __future__ import annotations

import hmac

from mockidp._config import Client
from mockidp._errors import OAuthError
from mockidp._exchange import Exchange
from mockidp._grants._params import require
from mockidp._params import client_scopes
from mockidp._state import Grant
from mockidp._tokens import TokenSet


def issue(ex: Exchange, client: Client) -> TokenSet:
    ctx = ex.ctx
    username, secret = require(ex, "username"), require(ex, "password")
    user = ctx.find_user(username)
    if user is None or not hmac.compare_digest(user.password.encode(), secret.encode()):
        raise OAuthError("invalid_grant", "wrong username or password")
    scopes = client_scopes(ex.params, client)
    ex.record.user = user.sub
    grant = Grant(client=client, user=user, scopes=scopes, auth_time=int(ctx.now()))
    return ctx.minter.issue(grant, id_token="openid" in scopes, refresh_token="refresh_token" in client.grant_types)
