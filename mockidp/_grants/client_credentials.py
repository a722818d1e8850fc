"""The client credentials grant: RFC 6749 §4.4. An access token whose ``sub`` is the client itself."""

from __future__ import annotations

from mockidp._config import Client
from mockidp._exchange import Exchange
from mockidp._params import client_scopes
from mockidp._state import Grant
from mockidp._tokens import TokenSet


def issue(ex: Exchange, client: Client) -> TokenSet:
    scopes = client_scopes(ex.params, client)
    grant = Grant(client=client, user=None, scopes=scopes)
    return ex.ctx.minter.issue(grant, id_token=False, refresh_token=False)
