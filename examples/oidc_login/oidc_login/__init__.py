"""An app that logs users in with OpenID Connect (authlib on Starlette) and keeps their tokens in SQL."""

from oidc_login.app import create_app
from oidc_login.db import DB
from oidc_login.settings import Settings

__all__ = ["DB", "Settings", "create_app"]
