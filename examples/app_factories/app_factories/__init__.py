"""App factories for debug and production, with CORS on /v1 only and a bearer-protected /v1/me."""

from app_factories.app import AppConfig, create_app, create_debug_app, create_production_app

__all__ = ["AppConfig", "create_app", "create_debug_app", "create_production_app"]
