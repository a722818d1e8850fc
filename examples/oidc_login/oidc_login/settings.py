"""Settings from the environment, then from a ``.env`` file, through ``starlette.config.Config``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from starlette.config import Config
from starlette.datastructures import Secret

#: Where settings come from when ``create_app`` is given no ``Config``: the environment, then ``.env``.
ENV_FILE = ".env"


def default_config() -> Config:
    return Config(ENV_FILE if os.path.isfile(ENV_FILE) else None)


@dataclass(frozen=True)
class Settings:
    server_metadata_url: str
    client_id: str
    client_secret: Secret
    secret_key: Secret
    database_url: str

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        """Read every setting now, so a missing one fails at start-up and names itself."""
        return cls(
            server_metadata_url=config("SERVER_METADATA_URL", cast=str),
            client_id=config("CLIENT_ID", cast=str),
            client_secret=config("CLIENT_SECRET", cast=Secret),
            secret_key=config("SECRET_KEY", cast=Secret),
            database_url=config("DATABASE_URL", cast=str, default="sqlite://"),
        )
