"""An items API on FastAPI whose routes need bearer tokens with the right scopes."""

from fastapi_api.app import Item, NewItem, Settings, create_app

__all__ = ["Item", "NewItem", "Settings", "create_app"]
